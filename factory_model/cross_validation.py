"""Leave-one-system-out cross-validation: refit without system S, score S. The accuracy the product reports.

``python -m factory_model validate --cross`` runs it (one level fit per measured system, minutes) and writes
``data/validation/out_of_sample.csv``; ``validate --cross --show`` prints the stored table. For each left-out
system S the fit (fitting.fit_levels, both reference sets) sees every other system and none of S's points; S
then takes its factors through the level hierarchy (silicon group → vendor → global, data/silicon.yaml) exactly
as an unmeasured system would. Rows of the table:

* ``level=config``: median absolute % error of TPOT, TTFT and output tokens/s/GPU over S's measured
  configurations (both reference sets, best framework per configuration), ``median_ratio`` = median
  predicted/measured;
* ``level=frontier``, ``metric=frontier_ratio``: frontier_validation on S's measured serving scenarios —
  median modelled/measured throughput at the measured frontier points and the shares within [0.75, 1.5] and
  [0.85, 1.25];
* ``metric=frontier_ratio_measured_configs``: the same, with the model's frontier taken over S's measured
  deployments only (like-for-like: how well the model predicts what was run, read at the frontier).

``--write`` also stores each fold's fitted factors in ``data/validation/folds/`` (fold_attribution: which
factor carries a left-out error, ``validate --cross --attribute``).

Per (system, model, precision) rows and one ``*`` row per system are written. ``method`` says
"leave-one-system-out"; the in-sample figures of the full fit are written with ``method`` "in-sample" so the
two are never confused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import load_catalog
from .errors import FactoryModelError
from .fitting import fit_levels, predict_all, training_data
from .frontier_validation import BANDS, frontier_points, ratio_stats
from .accuracy import LOSO_METHOD, OUT_OF_SAMPLE_PATH, THINNED_METHOD, THINNED_PATH
from .fold_attribution import write_fold
from .validation import add_errors

COLUMNS = ["system", "model", "precision", "level", "metric", "points", "median_abs_error_pct", "median_ratio",
           "share_within_0_75_1_5", "share_within_0_85_1_25", "method", "command"]
METRICS = {"tpot": ("tpot_ms", "pred_tpot_ms"), "ttft": ("ttft_ms", "pred_ttft_ms"),
           "output_tokens_per_s_per_gpu": ("output_tokens_per_s_per_gpu", "pred_output_tokens_per_s_per_gpu")}
FRONTIER_METRICS = {"frontier_ratio": "ratio", "frontier_ratio_measured_configs": "ratio_measured_configs"}


def config_rows(predicted: pd.DataFrame, method: str, command: str) -> list[dict]:
    """Config-level rows per (system, model, precision) and per system ('*')."""
    rows = []
    frame = add_errors(predicted)
    groups = [(k, g) for k, g in frame.groupby(["system", "model", "precision"])]
    groups += [((s, "*", "*"), g) for s, g in frame.groupby("system")]
    for (system, model, precision), g in groups:
        for metric, (measured, pred) in METRICS.items():
            ratio = (g[pred] / g[measured]).to_numpy(float)
            ratio = ratio[np.isfinite(ratio)]
            err = np.abs(ratio - 1.0)
            row = {"system": system, "model": model, "precision": precision, "level": "config", "metric": metric,
                   "points": len(g), "median_abs_error_pct": float(np.median(err) * 100) if len(err) else np.nan,
                   "median_ratio": float(np.median(ratio)) if len(ratio) else np.nan, "method": method,
                   "command": command}
            for lo, hi in BANDS:
                row[f"share_within_{lo:g}_{hi:g}".replace(".", "_")] = \
                    float(np.mean((ratio >= lo) & (ratio <= hi))) if len(ratio) else np.nan
            rows.append(row)
    return rows


def frontier_rows(points: pd.DataFrame, method: str, command: str) -> list[dict]:
    """``frontier_ratio`` (modelled optimum / best measured) and ``frontier_ratio_measured_configs`` (the model's
    frontier over the measured deployments only / best measured; frontier_validation) per group."""
    rows = []
    groups = [((s, m, p), g) for (s, m, p), g in points.groupby(["system", "model", "precision_id"])]
    groups += [((s, "*", "*"), g) for s, g in points.groupby("system")]
    metrics = [(m, c) for m, c in FRONTIER_METRICS.items() if c in points]
    for (system, model, precision), g in groups:
        for metric, column in metrics:
            rows.append({"system": system, "model": model, "precision": precision, "level": "frontier",
                         "metric": metric, "points": len(g), **ratio_stats(g[column]), "method": method,
                         "command": command})
    return rows


def _predicted(system: str | None, factors, catalog) -> pd.DataFrame:
    agg, serving = training_data()
    if system is not None:
        agg, serving = agg[agg["system"] == system], serving[serving["system"] == system]
    a, b = predict_all(agg.reset_index(drop=True), serving.reset_index(drop=True), factors, catalog)
    frames = [a] if len(a) else []
    if len(b):
        frames.append(b.drop(columns=["precision"]).rename(columns={"precision_id": "precision"}))
    return pd.concat(frames, ignore_index=True)


def cross_validate(systems: list[str] | None = None, max_nfev: int = 10, progress=print,
                   thin: bool = False, folds_dir: str | Path | None = None) -> pd.DataFrame:
    """Leave-one-system-out rows (see module docstring) for ``systems`` (default: every measured system).
    ``folds_dir``: also store each fold's fitted factors there (fold_attribution.write_fold).

    ``thin=True`` is a stability check: each fold is also fitted without every 5th configuration of the other
    systems (fitting.holdout_mask) and S is scored on all its points as before. How far S's figures move when
    a fifth of what it learns from is dropped says how many of their digits to read (method THINNED_METHOD).
    """
    catalog = load_catalog()
    agg, serving = training_data()
    systems = systems or sorted(set(agg["system"]) | set(serving["system"]))
    command = f"python -m factory_model validate --cross{' --thin' if thin else ''} --max-evaluations {max_nfev}"
    method = THINNED_METHOD if thin else LOSO_METHOD
    rows: list[dict] = []
    for system in systems:
        progress(f"leave out {system}: fitting on the other systems{' (4/5 of them)' if thin else ''} ...")
        result = fit_levels(exclude_systems=(system,), catalog=catalog, max_nfev=max_nfev, holdout=thin)
        if folds_dir is not None:
            write_fold(system, result.level_rows, f"leave-{system}-out fold ({method}): {command}; "
                       f"{result.points} configurations of the other systems", folds_dir)
        rows += config_rows(_predicted(system, result.factors, catalog), method, command)
        if system in set(serving["system"]):
            rows += frontier_rows(frontier_points(result.factors, systems=[system], catalog=catalog),
                                  method, command)
    return pd.DataFrame(rows, columns=COLUMNS)


def in_sample(factors, max_nfev_note: str = "python -m factory_model fit") -> pd.DataFrame:
    """The same table for a profile scored on its own training data (labelled in-sample)."""
    catalog = load_catalog()
    rows = config_rows(_predicted(None, factors, catalog), "in-sample", max_nfev_note)
    rows += frontier_rows(frontier_points(factors, catalog=catalog), "in-sample", max_nfev_note)
    return pd.DataFrame(rows, columns=COLUMNS)


def write_table(frame: pd.DataFrame, path: Path | None = None) -> Path:
    path = Path(path) if path else OUT_OF_SAMPLE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.4g")
    return path


def load_table(path: Path | None = None) -> pd.DataFrame:
    path = Path(path) if path else OUT_OF_SAMPLE_PATH
    if not path.exists():
        flags = "--cross --thin --write" if path.name == THINNED_PATH.name else "--cross --write"
        raise FactoryModelError(f"{path.name} not found: run python -m factory_model validate {flags}")
    return pd.read_csv(path)
