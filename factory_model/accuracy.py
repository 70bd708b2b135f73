"""How far to trust a modelled curve: out-of-sample error bands, provenance badges, matching measured points.

Pure Python (pandas); no Streamlit. Three questions a chart answers next to every modelled curve:

* **band** — :func:`curve_band`: the out-of-sample error of the modelled frontier against the best measured
  stacks where the scenario was measured at frontier level (``metric = frontier_ratio``), else of the model's
  output tokens/s per GPU at configuration level, from
  ``data/validation/out_of_sample.csv`` (written by the validation work; columns ``system, model, precision,
  level`` (config | frontier), ``metric`` (tpot | ttft | output_tokens_per_s_per_gpu | frontier_ratio |
  frontier_ratio_measured_configs, the last a diagnostic no band uses), ``points, median_abs_error_pct,
  median_ratio, share_within_0_75_1_5, share_within_0_85_1_25, method, command``; ``model`` and ``precision``
  may be ``*`` for a per-system aggregate). The band is the modelled value × [1 / (1 + e),
  1 + e] with e the median absolute error: half of held-out measurements fell inside it. The config-level row of
  the system × model × precision is used, else the system's ``*`` row, else there is no band (and the chart says
  "no out-of-sample figure yet").
* **badge** — :func:`badge`: "calibrated on measurements of this system", "transferred from <sibling> (same
  silicon)", vendor-level or global factors (data/silicon.yaml, fitting.load_transfer_map) and "preliminary"
  (systems catalog flag); user-defined systems say whose factors they keep.
* **measured points** — :func:`measured_points`: the reference measurements (``measured_agg_points.csv`` and the
  InferenceX ``measured_serving_points.csv``) of one system × model × precision × ISL/OSL, labelled with source.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import DATA_DIR, System

OUT_OF_SAMPLE_PATH = DATA_DIR / "validation" / "out_of_sample.csv"
THINNED_PATH = DATA_DIR / "validation" / "out_of_sample_thinned.csv"  # validate --cross --thin --write
FOLDS_DIR = DATA_DIR / "validation" / "folds"  # each fold's fitted factors (validate --cross --write)
LOSO_METHOD = "leave-one-system-out"  # the ``method`` of each table's rows (cross_validation writes them)
THINNED_METHOD = "leave-one-system-out, 4/5 of the other systems' configurations"
REFERENCE_PATH = DATA_DIR / "reference" / "measured_agg_points.csv"
SERVING_REFERENCE_PATH = DATA_DIR / "reference" / "measured_serving_points.csv"
OUT_OF_SAMPLE_COLUMNS = ["system", "model", "precision", "level", "metric", "points", "median_abs_error_pct",
                         "median_ratio", "share_within_0_75_1_5", "share_within_0_85_1_25", "method", "command"]
BAND_METRIC = "output_tokens_per_s_per_gpu"
FRONTIER_METRIC = "frontier_ratio"
MEASURED_SOURCE = ("measured: public TensorRT-LLM / vLLM / SGLang benchmark runs (subset of ai-dynamo/aiconfigurator "
                   "silicon_sample.csv; data/reference/PROVENANCE.md)")
NO_BAND = "no out-of-sample figure yet"


@dataclass(frozen=True)
class Band:
    """Multiplicative band around a modelled curve and the sentence that says where it comes from."""

    low_factor: float
    high_factor: float
    label: str

    def __iter__(self):  # (low, high, label) unpacking
        return iter((self.low_factor, self.high_factor, self.label))


def load_out_of_sample(path: str | Path | None = None) -> pd.DataFrame:
    """The out-of-sample error table; an empty frame with the expected columns when the file does not exist."""
    path = Path(path) if path else OUT_OF_SAMPLE_PATH
    return _load(str(path), path.stat().st_mtime if path.exists() else 0.0)


@functools.lru_cache(maxsize=4)
def _load(path: str, _mtime: float) -> pd.DataFrame:
    if not Path(path).exists():
        return pd.DataFrame(columns=OUT_OF_SAMPLE_COLUMNS)
    frame = pd.read_csv(path, dtype={"system": str, "model": str, "precision": str, "level": str, "metric": str})
    missing = [c for c in ("system", "model", "precision", "level", "metric", "median_abs_error_pct") if c not in frame]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def stability_table(out_of_sample: pd.DataFrame, thinned: pd.DataFrame) -> pd.DataFrame:
    """Per system: leave-one-system-out TPOT |error| % and frontier share within [0.75, 1.5] (%), beside the same
    figures with each fold fitted on 4/5 of the other systems' configurations (``validate --cross --thin``).

    The gap between the two columns of a pair is how far a figure moves when a fifth of what the left-out
    system learns from is dropped; empty when either table is missing.
    """
    def per_system(table: pd.DataFrame, method: str) -> pd.DataFrame:
        t = table[(table["model"] == "*") & (table["method"] == method)].set_index("system")
        tpot = t[(t["level"] == "config") & (t["metric"] == "tpot")]["median_abs_error_pct"]
        front = t[(t["level"] == "frontier") & (t["metric"] == FRONTIER_METRIC)]["share_within_0_75_1_5"]
        return pd.DataFrame({"tpot": tpot, "frontier": 100 * front})

    full, thin = per_system(out_of_sample, LOSO_METHOD), per_system(thinned, THINNED_METHOD)
    out = full.merge(thin, left_index=True, right_index=True, suffixes=("_full", "")).rename_axis(
        "system").reset_index()
    return pd.DataFrame({"system": out["system"], "TPOT |error| %": out["tpot_full"],
                         "TPOT |error| %, 4/5 of training": out["tpot"], "frontier in band %": out["frontier_full"],
                         "frontier in band %, 4/5 of training": out["frontier"]})


def curve_band(system_id: str, model_id: str, precision_id: str, path: str | Path | None = None,
               calibration_system: str | None = None) -> Band | None:
    """The out-of-sample band of one modelled curve, or None when no figure exists for it.

    ``calibration_system``: a user-defined system looks up the errors of the system it was copied from.
    Cached per file version (a dashboard rerun asks for every curve's band; Band is immutable).
    """
    path = Path(path) if path else OUT_OF_SAMPLE_PATH
    return _curve_band(system_id, model_id, precision_id, str(path), path.stat().st_mtime if path.exists() else 0.0,
                       calibration_system)


@functools.lru_cache(maxsize=1024)
def _curve_band(system_id: str, model_id: str, precision_id: str, path: str, _mtime: float,
                calibration_system: str | None) -> Band | None:
    table = load_out_of_sample(path)
    if not len(table):
        return None
    sid = calibration_system or system_id
    proxy = ""
    if not (table["system"] == sid).any():
        # an unmeasured system: the leave-one-system-out error of the measured system its factors come from is
        # the closest figure for "a system the fit never saw" (labelled as a proxy)
        source = _transfers().get(sid, ("", ""))[0]
        if source and source != "*" and (table["system"] == source).any():
            proxy, sid = source, source
    # a frontier curve's own error where it was measured (model optimum vs the best measured stacks), else the
    # configuration-level throughput error
    frontier_rows = table[(table["system"] == sid) & (table["metric"] == FRONTIER_METRIC)]
    frontier_rows = frontier_rows[frontier_rows.get("method", pd.Series("", index=frontier_rows.index))
                                  == "leave-one-system-out"]
    frontier_exact = frontier_rows[(frontier_rows["model"] == model_id) & (frontier_rows["precision"] == precision_id)]
    if len(frontier_exact):
        row = frontier_exact.iloc[0]
        error = float(row["median_abs_error_pct"]) / 100.0
        if np.isfinite(error) and error >= 0:
            where = f"{model_id} {precision_id} on " + (f"{proxy}, whose factors this system takes (proxy)" if proxy
                                                         else "this system")
            share = row.get("share_within_0_75_1_5")
            share_text = (f"; {float(share):.0%} of measured frontier points within 0.75-1.5x"
                          if share is not None and np.isfinite(float(share)) else "")
            label = (f"±{error * 100:.0f} % median out-of-sample error of the frontier against the best measured "
                     f"stacks ({where}; {int(row['points'])} points, leave-one-system-out{share_text})")
            return Band(1.0 / (1.0 + error), 1.0 + error, label)
    rows = table[(table["system"] == sid) & (table["metric"] == BAND_METRIC)]
    if "method" in rows and (rows["method"] == "leave-one-system-out").any():  # out-of-sample rows only
        rows = rows[rows["method"] == "leave-one-system-out"]
    elif "method" in rows and len(rows):
        rows = rows[rows["method"] != "in-sample"]
    exact = rows[(rows["model"] == model_id) & (rows["precision"] == precision_id) & (rows["level"] == "config")]
    scope = f"{model_id} {precision_id} on this system"
    if not len(exact):
        exact = rows[(rows["model"] == "*") & (rows["precision"] == "*")]
        exact = exact[exact["level"] == "config"] if (exact["level"] == "config").any() else exact
        scope = "all models measured on this system"
    if not len(exact):
        return None
    row = exact.iloc[0]
    error = float(row["median_abs_error_pct"]) / 100.0
    if not np.isfinite(error) or error < 0:
        return None
    points = row.get("points")
    method = row.get("method") if isinstance(row.get("method"), str) else "out-of-sample"
    count = f"{int(points)} points, " if points is not None and np.isfinite(float(points)) else ""
    if proxy:
        scope = f"proxy: {model_id} {precision_id} on {proxy}, whose factors this system takes" \
            if "this system" in scope else f"proxy: all models measured on {proxy}, whose factors this system takes"
    label = (f"±{error * 100:.0f} % median out-of-sample error of output tokens/s per GPU ({scope}; {count}{method})")
    return Band(1.0 / (1.0 + error), 1.0 + error, label)


@functools.lru_cache(maxsize=2)
def _measured_systems() -> frozenset:
    out = set()
    for path in (REFERENCE_PATH, SERVING_REFERENCE_PATH):
        if path.exists():
            out |= set(pd.read_csv(path, usecols=["system"])["system"].unique())
    return frozenset(out)


@functools.lru_cache(maxsize=2)
def _transfers() -> dict:
    from .fitting import load_transfer_map

    try:
        return load_transfer_map()
    except Exception:  # noqa: BLE001 - a badge is never worth a crash; the chart then says "not calibrated"
        return {}


def badge(system: System, name_of=None) -> str:
    """Provenance of a system's modelled curve, in words (``name_of``: id -> display name of a sibling)."""
    name_of = name_of or (lambda system_id: system_id)
    parts = []
    base = system.calibration_system or system.id
    if system.user_defined:
        parts.append(f"user-defined (efficiency factors of {name_of(base)})")
    if base in _measured_systems():
        parts.append("calibrated on measurements of this system" if not system.user_defined
                     else f"{name_of(base)} calibrated on its measurements")
    elif base in _transfers():
        source, reason = _transfers()[base]
        if "same" in reason and "silicon" in reason:
            parts.append(f"transferred from {name_of(source)} (same silicon)")
        elif source != "*":
            parts.append(f"vendor-level factors (fitted on {name_of(source)} and its vendor's other systems; "
                         "no measured system of this silicon)")
        else:
            parts.append("global factors (no measured system of this vendor)")
    else:
        parts.append("not calibrated (sourced priors only)")
    if system.preliminary:
        parts.insert(0, "preliminary")
    return "; ".join(parts)


@functools.lru_cache(maxsize=2)
def _reference() -> pd.DataFrame:
    if not REFERENCE_PATH.exists():
        return pd.DataFrame()
    return pd.read_csv(REFERENCE_PATH)


def measured_points(system_id: str, model_id: str, precision_id: str, isl: int, osl: int) -> pd.DataFrame:
    """See :func:`_measured_points` (a copy of the cached frame, so callers may edit it)."""
    return _measured_points(system_id, model_id, precision_id, int(isl), int(osl)).copy()


@functools.lru_cache(maxsize=256)
def _measured_points(system_id: str, model_id: str, precision_id: str, isl: int, osl: int) -> pd.DataFrame:
    """Measured points of exactly this system, model, precision and ISL/OSL (may be empty): the aggregated
    reference set and the InferenceX serving points (aggregated, disaggregated, MTP; the latest run of each
    configuration), with ``tokens_per_s_per_user``, ``output_tokens_per_s_per_gpu`` and ``source``."""
    ref = _reference()
    parts = []
    if len(ref):
        keep = ((ref["system"] == system_id) & (ref["model"] == model_id) & (ref["precision"] == precision_id)
                & (ref["isl"] == int(isl)) & (ref["osl"] == int(osl)))
        out = ref[keep].copy()
        out["source"] = MEASURED_SOURCE
        parts.append(out)
    serving = _serving_reference()
    if len(serving):
        keep = ((serving["system"] == system_id) & (serving["model"] == model_id)
                & (serving["precision_id"] == precision_id) & (serving["isl"] == int(isl))
                & (serving["osl"] == int(osl)))
        out = serving[keep].copy()
        out["backend"] = out["framework"]
        out["source"] = ("measured: InferenceX " + out["framework"] + " " + out["serving"]
                         + np.where(out["mtp"] > 0, " + MTP", "") + " (" + out["run_url"] + ")")
        parts.append(out)
    if not parts:
        return ref
    return pd.concat(parts, ignore_index=True)


@functools.lru_cache(maxsize=2)
def _serving_reference() -> pd.DataFrame:
    from .serving_reference import load_serving_reference

    if not SERVING_REFERENCE_PATH.exists():
        return pd.DataFrame()
    return load_serving_reference()
