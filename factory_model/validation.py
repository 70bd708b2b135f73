"""Model error against the measured reference set.

Absolute percentage error |pred − measured| / measured per point, summarised as the median (MdAPE) per
system × model × precision and over all points, for TPOT, TTFT and output tokens/s/GPU. The signed median
(bias) tells whether the model runs fast or slow. Points the model cannot run are counted in ``not_run``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .catalog import Catalog
from .factors import DEFAULT_PROFILE, Factors, load_factors
from .reference import load_reference, predict, select

METRICS = {
    "tpot": ("tpot_ms", "pred_tpot_ms"),
    "ttft": ("ttft_ms", "pred_ttft_ms"),
    "output_tokens_per_s_per_gpu": ("output_tokens_per_s_per_gpu", "pred_output_tokens_per_s_per_gpu"),
}
GROUP = ["system", "model", "precision"]


def add_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``<metric>_error`` = (pred − measured) / measured for each metric."""
    out = frame.copy()
    for name, (measured, predicted) in METRICS.items():
        out[f"{name}_error"] = (out[predicted] - out[measured]) / out[measured]
    return out


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Median absolute % error per system × model × precision, plus an ``all`` row."""
    rows = []
    groups = list(frame.groupby(GROUP, sort=True)) + [(("all", "", ""), frame)]
    for key, g in groups:
        row = dict(zip(GROUP, key), points=len(g), not_run=int((g["pred_reason"] != "").sum()))
        for name in METRICS:
            err = g[f"{name}_error"].dropna()
            row[f"{name}_mdape_pct"] = float(np.median(np.abs(err)) * 100) if len(err) else np.nan
            row[f"{name}_bias_pct"] = float(np.median(err) * 100) if len(err) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def validate(profile: str = DEFAULT_PROFILE, backend: str = "best", *, factors: Factors | None = None,
             catalog: Catalog | None = None, reference: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-point predictions with errors, summary table) for one calibration profile and backend choice."""
    factors = factors or load_factors(profile)
    points = select(reference if reference is not None else load_reference(), backend)
    predicted = add_errors(predict(points, factors, catalog))
    return predicted, summarize(predicted)
