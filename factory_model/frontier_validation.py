"""Frontier-level validation: the modelled optimum against the best measured serving stacks.

For every measured scenario (system, model, precision, isl, osl) of ``measured_serving_points.csv`` the measured
Pareto frontier is taken over every framework, serving mode (aggregated, disaggregated) and MTP setting
(serving_reference.measured_frontiers). At each measured frontier point the model's own frontier for that
scenario (search over every deployment, ``serving="best"``, ``mtp="auto"``, TTFT at most the product's default
limit or the slowest measured frontier point, whichever is longer, and no facility cap) is read at the same tokens/s/user (pareto.value_at, interpolated in log
interactivity), and the ratio

    r = modelled output tokens/s/GPU at x / measured output tokens/s/GPU at x

is reported: median r and the shares of points with r in [0.75, 1.5] and [0.85, 1.25]. A measured point faster
than the model's fastest deployment has no modelled value and counts as outside both bands. A well-calibrated
model sits at or a little above the best real stack (r ≥ 1: it is an optimum), never far above it.

Lengths follow the benchmark's means (0.9 × nominal, serving_reference); the ratio uses output tokens.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import pareto as pareto_math
from .catalog import Catalog, load_catalog
from .factors import Factors
from .reference import BENCHMARK_LENGTH_FACTOR
from .scenario import frontier
from .serving_reference import SCENARIO_KEYS, load_serving_reference, measured_frontiers

BANDS = ((0.75, 1.5), (0.85, 1.25))


def frontier_points(factors: Factors, measured: pd.DataFrame | None = None, catalog: Catalog | None = None,
                    systems: list[str] | None = None) -> pd.DataFrame:
    """Every measured frontier point with ``model_output_tokens_per_s_per_gpu`` and ``ratio`` (model/measured)."""
    catalog = catalog or load_catalog()
    frame = measured if measured is not None else load_serving_reference()
    if systems is not None:
        frame = frame[frame["system"].isin(systems)]
    points = measured_frontiers(frame)
    out = []
    for key, g in points.groupby(SCENARIO_KEYS):
        system, model, _, isl, osl = key
        precision = g["precision_id"].iloc[0]
        # the model may not use a TTFT worse than the product's default limit or the slowest measured
        # frontier point of this scenario, whichever is longer
        ttft_limit = max(factors.serving("ttft_limit_s"), float(g["ttft_ms"].max()) / 1e3)
        f = frontier(system, model, precision, max(1, round(BENCHMARK_LENGTH_FACTOR * isl)),
                     max(1, round(BENCHMARK_LENGTH_FACTOR * osl)), serving="best", mtp_tokens="auto",
                     ttft_max_s=ttft_limit, mw=1e4, catalog=catalog, factors=factors)
        g = g.copy()
        g["model_output_tokens_per_s_per_gpu"] = [pareto_math.value_at(f, x) for x in g["tokens_per_s_per_user"]]
        g["model_max_tokens_per_s_per_user"] = float(f["tokens_per_s_per_user"].max()) if len(f) else np.nan
        out.append(g)
    result = pd.concat(out, ignore_index=True) if out else points.assign(model_output_tokens_per_s_per_gpu=np.nan)
    result["ratio"] = result["model_output_tokens_per_s_per_gpu"] / result["output_tokens_per_s_per_gpu"]
    return result


def summarize_frontier(points: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Per group (default: system) and overall: points, median ratio, shares within the bands (NaN = outside).

    With a ``date`` column, each group also gets ``latest_run`` (its newest measured frontier point) and
    ``days_behind_system`` (days between that and the newest run of the same system on any scenario): a measured
    frontier that stops months before its system's latest software compares the model, fitted to the newest
    runs, with an older stack (e.g. MI325X 1k/8k, measured to 2026-02-27 while the system's 1k/1k runs of
    2026-05-18 are up to 1.7x faster at the same concurrency)."""
    by = by or ["system"]
    dates = pd.to_datetime(points["date"], errors="coerce") if "date" in points else None
    newest = dates.groupby(points["system"]).max() if dates is not None else None

    def stats(g: pd.DataFrame) -> dict:
        r = g["ratio"].to_numpy(float)
        finite = r[np.isfinite(r)]
        row = {"points": len(g), "no_model_point": int((~np.isfinite(r)).sum()),
               "median_ratio": float(np.median(finite)) if len(finite) else np.nan}
        for lo, hi in BANDS:
            row[f"share_within_{lo:g}_{hi:g}"] = float(np.mean(np.isfinite(r) & (r >= lo) & (r <= hi)))
        if dates is not None:
            latest = dates.loc[g.index].max()
            row["latest_run"] = latest.date().isoformat() if pd.notna(latest) else ""
            behind = (newest[g["system"].unique()].max() - latest).days if pd.notna(latest) else np.nan
            row["days_behind_system"] = behind
        return row

    rows = [{**dict(zip(by, key if isinstance(key, tuple) else (key,))), **stats(g)}
            for key, g in points.groupby(by)]
    rows.append({**{k: "all" for k in by}, **stats(points)})
    frame = pd.DataFrame(rows)
    return frame.rename(columns=lambda c: c.replace(".", "_"))
