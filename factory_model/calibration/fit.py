"""Fit the model's efficiency factors to measured operating points; calibration profiles as YAML.

A session's operating points (operating_point.py) feed the same bounded least-squares fit as the reference
calibration (fitting.py), restricted to what a few points on one system can pin down:

* the weight-streaming memory efficiency of the model's op class (``gemm`` or ``moe``) in its precision — always;
* the compute efficiency of that op class as well, once there are four or more points (it shows in how TPOT
  grows with batch).

Fixed latencies are not fitted: a session measures one deployment, where per-layer latency and weight-streaming
time are both constant in batch and cannot be told apart; the reference fit, which spans tp = 1…8, sets them.

The profile records the fitted values, their priors, the error before and after, the measured GPU power as a
fraction of TDP, and its provenance (GPU name, driver, date, server, points, whether the data is synthetic). The
Frontier page can apply a profile (its factors override the catalog's for that system); the Methodology page
lists applied profiles.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import yaml

from .. import schemas
from ..catalog import Catalog, load_catalog
from ..errors import FactoryModelError
from ..estimate import estimate
from ..factors import EFFICIENCY_PRECISIONS, OP_CLASSES, Factors, load_factors
from ..fitting import fit
from ..precision import resolve_precision
from ..reference import predict
from ..validation import add_errors
from .operating_point import as_reference_rows, operating_points
from .session import Session

COMPUTE_FIT_MIN_POINTS = 4


@dataclass
class CalibrationResult:
    name: str
    points: pd.DataFrame                 # measured operating points
    comparison: pd.DataFrame             # measured vs model before/after, per point
    parameters: list[tuple[str, str, str, str]]
    prior: np.ndarray
    fitted: np.ndarray
    error_before_pct: dict[str, float]
    error_after_pct: dict[str, float]
    power: dict[str, float]
    provenance: dict = field(default_factory=dict)

    def factors(self, base: Factors | None = None) -> Factors:
        base = base or load_factors()
        return base.with_overrides(dict(zip(self.parameters, map(float, self.fitted))),
                                   source=f"calibration profile '{self.name}'")


def session_parameters(points: pd.DataFrame, catalog: Catalog) -> list[tuple[str, str, str, str]]:
    row = points.iloc[0]
    system, model = catalog.system(row["system"]), catalog.model(row["model"])
    rp = resolve_precision(system, model, catalog.precision(row["precision"]))
    op = "moe" if model.is_moe else "gemm"
    key = system.factor_id
    params = [(key, rp.gemm_efficiency_key, op, "memory_fraction")]
    if len(points) >= COMPUTE_FIT_MIN_POINTS:
        params.append((key, rp.gemm_efficiency_key, op, "compute_fraction"))
    return params


def _errors(frame: pd.DataFrame) -> dict[str, float]:
    out = {}
    for name in ("tpot", "ttft", "output_tokens_per_s_per_gpu"):
        err = frame[f"{name}_error"].dropna()
        out[f"{name}_mdape_pct"] = float(np.median(np.abs(err)) * 100) if len(err) else float("nan")
    return out


def calibrate(session: Session, name: str = "session", *, base: Factors | None = None,
              catalog: Catalog | None = None, max_nfev: int = 40) -> CalibrationResult:
    """Measure the session's operating points and fit factors to them (deterministic for a given file)."""
    catalog = catalog or load_catalog()
    m = session.metadata
    provenance = {"gpu_name": m.get("gpu_name", ""), "driver": m.get("driver", ""),
                  "server": m.get("server", m.get("engine", "")), "recorded": m.get("created", ""),
                  "synthetic": session.synthetic}
    return calibrate_points(operating_points(session, catalog), name, provenance, base=base, catalog=catalog,
                            max_nfev=max_nfev)


def calibrate_points(points: pd.DataFrame, name: str, provenance: dict, *, base: Factors | None = None,
                     catalog: Catalog | None = None, max_nfev: int = 40) -> CalibrationResult:
    """Fit factors to operating points (operating_point.POINT_COLUMNS, e.g. from a session or a benchmark
    file); power columns may be empty."""
    catalog = catalog or load_catalog()
    base = base or load_factors()
    if points["system"].nunique() != 1 or points["model"].nunique() != 1 or points["precision"].nunique() != 1:
        raise FactoryModelError("calibrate one system × model × precision at a time")
    rows = as_reference_rows(points)
    if not len(rows):
        raise FactoryModelError("no operating point has both TTFT and TPOT: nothing to fit")
    params = session_parameters(points, catalog)
    result = fit(points=rows, base=base, catalog=catalog, only=params, max_nfev=max_nfev, length_factor=1.0)
    before = add_errors(predict(rows, base, catalog, 1.0))
    after = add_errors(predict(rows, result.factors, catalog, 1.0))
    kept = points.dropna(subset=["ttft_s", "tpot_s"]).reset_index(drop=True)
    comparison = pd.DataFrame({
        "phase": kept["phase"], "concurrency": rows["concurrency"], "measured_tpot_ms": rows["tpot_ms"],
        "model_tpot_ms_before": before["pred_tpot_ms"], "model_tpot_ms_after": after["pred_tpot_ms"],
        "measured_ttft_ms": rows["ttft_ms"], "model_ttft_ms_before": before["pred_ttft_ms"],
        "model_ttft_ms_after": after["pred_ttft_ms"],
        "measured_tokens_per_s_per_gpu": rows["output_tokens_per_s_per_gpu"],
        "model_tokens_per_s_per_gpu_before": before["pred_output_tokens_per_s_per_gpu"],
        "model_tokens_per_s_per_gpu_after": after["pred_output_tokens_per_s_per_gpu"]})
    system = catalog.system(points["system"].iloc[0])
    watts = float(np.nanmean(points["power_w_per_gpu"])) if points["power_w_per_gpu"].notna().any() else np.nan
    power = {"measured_w_per_gpu_mean": watts, "tdp_w": system.gpu_tdp_w,
             "fraction_of_tdp": watts / system.gpu_tdp_w,
             "all_in_kw_per_gpu_measured": float(np.nanmean(points["all_in_kw_per_gpu"]))
             if points["all_in_kw_per_gpu"].notna().any() else np.nan}
    first = points.iloc[0]
    provenance = {"gpu_name": "", "driver": "", "server": "", **provenance,
                  "date": _dt.date.today().isoformat(), "points": int(len(rows)), "system": str(first["system"]),
                  "model": str(first["model"]), "precision": str(first["precision"]), "isl": int(first["isl"]),
                  "osl": int(first["osl"]), "tp": int(first["tp"])}
    return CalibrationResult(name, points, comparison, list(params), result.prior, result.fitted,
                             _errors(before), _errors(after), power, provenance)


# --------------------------------------------------------------------------------------------- profiles


def profile_yaml(result: CalibrationResult) -> str:
    doc = {
        "profile": result.name,
        "provenance": result.provenance,
        "factors": [{"system": s, "precision": p, "op_class": o, "parameter": k, "value": round(float(v), 6),
                     "prior": round(float(pr), 6)}
                    for (s, p, o, k), v, pr in zip(result.parameters, result.fitted, result.prior)],
        "power": {k: round(float(v), 4) for k, v in result.power.items()},
        "error_before_pct": {k: round(v, 2) for k, v in result.error_before_pct.items()},
        "error_after_pct": {k: round(v, 2) for k, v in result.error_after_pct.items()},
    }
    header = "# AI Factory Frontier calibration profile" + (" — SYNTHETIC data" if result.provenance.get(
        "synthetic") else "") + "\n"
    return header + yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Profile:
    name: str
    provenance: dict
    overrides: dict[tuple[str, str, str, str], float]
    power: dict
    errors: dict

    def factors(self, base: Factors | None = None) -> Factors:
        base = base or load_factors()
        who = ", ".join(str(self.provenance.get(k)) for k in ("gpu_name", "date") if self.provenance.get(k))
        return base.with_overrides(self.overrides, source=f"calibration profile '{self.name}' ({who})")

    def table(self) -> pd.DataFrame:
        """The overridden factors, one row each (system, precision, op_class, parameter, value)."""
        return pd.DataFrame([{"system": k[0], "precision": k[1], "op_class": k[2], "parameter": k[3], "value": v}
                             for k, v in self.overrides.items()])

    def describe(self) -> str:
        p = self.provenance
        tag = "SYNTHETIC " if p.get("synthetic") else ""
        return (f"{tag}profile '{self.name}': {p.get('system')} · {p.get('model')} · {p.get('precision')}, "
                f"{p.get('points')} points, {p.get('gpu_name') or 'GPU ?'}, driver {p.get('driver') or '?'}, "
                f"{p.get('date')}")


def load_profile(text: str | bytes, catalog: Catalog | None = None) -> Profile:
    """Parse and validate a profile YAML; wrong or missing fields give a one-line error naming them."""
    catalog = catalog or load_catalog()
    doc = schemas.load_yaml(text, "calibration profile")
    if not isinstance(doc, dict):
        raise FactoryModelError("calibration profile: expected a mapping with 'profile', 'provenance', 'factors'")
    for key in ("profile", "provenance", "factors"):
        if key not in doc:
            raise FactoryModelError(f"calibration profile: missing '{key}'")
    if not isinstance(doc["provenance"], dict) or not isinstance(doc["factors"], list) or not doc["factors"]:
        raise FactoryModelError("calibration profile: 'provenance' must be a mapping and 'factors' a non-empty list")
    doc = schemas.validate(schemas.ProfileDoc, doc, "calibration profile").model_dump()
    overrides = {}
    for i, f in enumerate(doc["factors"]):
        where = f"calibration profile factors[{i}]"
        system, precision, op_class, parameter = (str(f[k]) for k in ("system", "precision", "op_class", "parameter"))
        if system != "*" and system not in catalog.systems:
            raise FactoryModelError(f"{where}: unknown system '{system[:40]}'")
        if precision not in EFFICIENCY_PRECISIONS:
            raise FactoryModelError(f"{where}: unknown precision '{precision[:40]}'")
        if op_class not in OP_CLASSES or parameter not in OP_CLASSES[op_class]:
            raise FactoryModelError(f"{where}: unknown factor {op_class[:40]}.{parameter[:40]}")
        value = f["value"]
        if parameter.endswith("_fraction") and not 0 < value <= 1:
            raise FactoryModelError(f"{where}: a fraction must lie in (0, 1], got {value}")
        if not parameter.endswith("_fraction") and not value < 1e6:
            raise FactoryModelError(f"{where}: value {value:g} is out of range; use a value below 1e6")
        overrides[(system, precision, op_class, parameter)] = float(value)
    return Profile(str(doc["profile"]), doc["provenance"], overrides, doc.get("power") or {},
                   {"before": doc.get("error_before_pct", {}), "after": doc.get("error_after_pct", {})})


# ------------------------------------------------------------------------------------------ model curves


def deployment_curves(points: pd.DataFrame, factors: dict[str, Factors], *, catalog: Catalog | None = None,
                      n: int = 40) -> pd.DataFrame:
    """The model's curve for the measured deployment across concurrency, once per set of factors.

    The measured points are one deployment (tp, ep, dp_attention, pp) at a few loads; the curve runs the same
    deployment from concurrency 1 to 2× the largest measured load (at least 64), so measured points and model lie
    on comparable axes. Columns: ``factors`` (the dict's key), ``concurrency``, ``tokens_per_s_per_user``,
    ``output_tokens_per_s_per_gpu`` (output token basis), ``ttft_s``, ``tpot_s``. Rows that cannot run are dropped.
    """
    catalog = catalog or load_catalog()
    first = points.iloc[0]
    top = max(64.0, 2.0 * float(np.nanmax(points["concurrency"])))
    concurrency = np.unique(np.round(np.geomspace(1, top, n))).astype(int)
    frames = []
    for label, f in factors.items():
        e = estimate(str(first["system"]), str(first["model"]), str(first["precision"]), int(first["isl"]),
                     int(first["osl"]), int(first["tp"]), int(first["ep"]), int(first["dp_attention"]),
                     int(first["pp"]), concurrency, catalog=catalog, factors=f)
        e = e[e["reason"] == ""]
        frames.append(e[["concurrency", "tokens_per_s_per_user", "output_tokens_per_s_per_gpu", "ttft_s",
                         "tpot_s"]].assign(factors=label))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
