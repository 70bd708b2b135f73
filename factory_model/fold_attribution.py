"""What each leave-one-system-out fold learned, and which fitted factor carries a left-out system's error.

``python -m factory_model validate --cross --write`` stores every fold's fitted factors beside the out-of-sample
table (``data/validation/folds/leave_out_<system>.csv``, the calibration-profile format: fitted rows at their
level plus the fitted serving values). ``validate --cross --attribute`` then reads them, without refitting, and
for left-out system S scores S's measured configurations (TPOT, both reference sets, best framework per
configuration) under

* the fold's factors as fitted without S (the out-of-sample figure of the table),
* the in-sample profile (``data/calibration/default.csv``, fitted with S),
* the fold's factors with one family — one ``op_class.parameter`` at every level and precision, or one serving
  parameter — taken from the in-sample profile instead.

A family whose swap closes most of the gap between the first two rows is what S could not learn from the
other systems (e.g. H200's FP8 MoE weight-streaming efficiency, which a fold without H200 takes from B200). The
swaps are one at a time, so families that compensate each other show only jointly: read the rows as
attribution by substitution, not as a decomposition that sums to the gap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .accuracy import FOLDS_DIR
from .catalog import Catalog, load_catalog
from .errors import FactoryModelError
from .factors import (SERVING_PARAMETERS, STACK_SERVING_PARAMETERS, UNCALIBRATED, Factors, FactorRow,
                      load_factors, load_levels, read_factor_csv, write_factor_csv)

SERVING = "serving"
ATTRIBUTION_COLUMNS = ["factor", "points", "tpot_median_abs_error_pct", "tpot_median_ratio",
                       "change_pct_points"]
LEFT_OUT_ROW = "left out: the fold's factors"
IN_SAMPLE_ROW = "in-sample profile"


def fold_path(system: str, folds_dir: str | Path | None = None) -> Path:
    """Where the leave-``system``-out fold's factors are stored."""
    return Path(folds_dir or FOLDS_DIR) / f"leave_out_{system}.csv"


def write_fold(system: str, level_rows: tuple[dict, dict], source: str,
               folds_dir: str | Path | None = None) -> Path:
    """Store one fold's fitted rows (``FitResult.level_rows``: {(level, precision, op_class, parameter): value},
    {serving parameter: value}) with ``source`` as every row's provenance."""
    fitted, serving = level_rows
    rows = [FactorRow(*key, float(value), source) for key, value in sorted(fitted.items())]
    rows += [FactorRow("*", "*", SERVING, name, float(value), source) for name, value in sorted(serving.items())]
    path = fold_path(system, folds_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_factor_csv(path, rows)
    return path


def load_fold(system: str, folds_dir: str | Path | None = None, catalog: Catalog | None = None) -> Factors:
    """The leave-``system``-out fold's factors: the uncalibrated priors overlaid with its stored rows."""
    path = fold_path(system, folds_dir)
    if not path.exists():
        stored = sorted(p.stem.removeprefix("leave_out_") for p in path.parent.glob("leave_out_*.csv"))
        if stored:
            raise FactoryModelError(f"no stored fold leaves out '{system}'; stored: {', '.join(stored)}")
        raise FactoryModelError(f"{path.name} not found: run python -m factory_model validate --cross --write "
                                f"(it stores every fold's factors in {path.parent.name}/)")
    catalog = catalog or load_catalog()
    levels = load_levels()
    known = set(catalog.systems) | {x for lv in levels.values() for x in lv}
    fitted: dict = {}
    serving: dict = {}
    for row in read_factor_csv(path, systems=known):
        if row.op_class == SERVING:
            serving[row.parameter] = row.value
        else:
            fitted[(row.system, row.precision, row.op_class, row.parameter)] = row.value
    return load_factors(UNCALIBRATED).with_fitted(fitted, source=f"{path.name}").with_serving(**serving)


def _tpot_ratios(system: str, factors: Factors, catalog: Catalog, model: str | None) -> np.ndarray:
    from .fitting import predict_all, training_data

    agg, serving = training_data()
    agg, serving = agg[agg["system"] == system], serving[serving["system"] == system]
    if model is not None:
        agg, serving = agg[agg["model"] == model], serving[serving["model"] == model]
    a, b = predict_all(agg.reset_index(drop=True), serving.reset_index(drop=True), factors, catalog)
    ratios = [f["pred_tpot_ms"].to_numpy(float) / f["tpot_ms"].to_numpy(float) for f in (a, b) if len(f)]
    r = np.concatenate(ratios) if ratios else np.zeros(0)
    return r[np.isfinite(r)]


def _serving_values(factors: Factors) -> dict[str, float]:
    return {k: v for k, (v, _) in factors.serving_values.items()
            if k in SERVING_PARAMETERS + STACK_SERVING_PARAMETERS}


def attribute(system: str, fold: Factors, in_sample: Factors, model: str | None = None,
              catalog: Catalog | None = None) -> pd.DataFrame:
    """Rows (ATTRIBUTION_COLUMNS) for ``system``: its TPOT error under the fold's factors, the in-sample ones, and
    the fold's with each family that differs swapped for the in-sample rows (module docstring), best first.

    ``change_pct_points`` = the row's median absolute % error − the fold's. ``model`` restricts the points."""
    catalog = catalog or load_catalog()
    base = load_factors(UNCALIBRATED)
    fold_rows = {k: r.value for k, r in fold.fitted.items()}
    own_rows = {k: r.value for k, r in in_sample.fitted.items()}
    fold_serving, own_serving = _serving_values(fold), _serving_values(in_sample)

    def build(rows: dict, serving: dict) -> Factors:
        return base.with_fitted(rows).with_serving(**serving)

    variants: list[tuple[str, Factors]] = [(LEFT_OUT_ROW, build(fold_rows, fold_serving)),
                                           (IN_SAMPLE_ROW, build(own_rows, own_serving))]
    families = sorted({(k[2], k[3]) for k in set(fold_rows) | set(own_rows)})
    for op_class, parameter in families:
        keys = {k for k in set(fold_rows) | set(own_rows) if (k[2], k[3]) == (op_class, parameter)}
        if all(fold_rows.get(k) == own_rows.get(k) for k in keys):
            continue
        rows = {k: v for k, v in fold_rows.items() if k not in keys}
        rows.update({k: own_rows[k] for k in keys if k in own_rows})
        variants.append((f"{op_class}.{parameter}", build(rows, fold_serving)))
    for name in sorted(set(fold_serving) | set(own_serving)):
        if name in own_serving and fold_serving.get(name) != own_serving[name]:
            variants.append((f"{SERVING}.{name}", build(fold_rows, {**fold_serving, name: own_serving[name]})))
    out = []
    for label, factors in variants:
        r = _tpot_ratios(system, factors, catalog, model)
        out.append({"factor": label, "points": len(r),
                    "tpot_median_abs_error_pct": float(np.median(np.abs(r - 1)) * 100) if len(r) else np.nan,
                    "tpot_median_ratio": float(np.median(r)) if len(r) else np.nan})
    frame = pd.DataFrame(out)
    frame["change_pct_points"] = frame["tpot_median_abs_error_pct"] - frame["tpot_median_abs_error_pct"].iloc[0]
    head, swaps = frame.iloc[:2], frame.iloc[2:].sort_values("tpot_median_abs_error_pct", kind="stable")
    return pd.concat([head, swaps], ignore_index=True)[ATTRIBUTION_COLUMNS]
