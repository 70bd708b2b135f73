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

The same points also get a like-for-like ratio, which splits r into two causes:

    r_configs = the model's frontier over the scenario's *measured* deployments only / measured, at x
    r_search  = r / r_configs  (what the model gains by deployments the benchmark did not run)

The measured-deployments frontier is the Pareto front of serving_reference.predict_serving over every measured
configuration of the scenario, at (1000 / predicted TPOT ms, predicted output tokens/s/GPU): the benchmark's
tokens/s/user is 1000 / TPOT (ms) on every row. r_configs isolates the model's error on deployments that were
measured, read where the frontier is steep: there a TPOT error of e moves the throughput by about e × the
frontier's log-slope, so r_configs is the stricter figure. r far above r_configs means the modelled optimum
is a deployment family the benchmark never ran on that system (e.g. H100: only 32–64-GPU disaggregated units).
``measured_log_slope`` (log_slopes) gives the measured frontier's steepness at each point.
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
from .serving_reference import SCENARIO_KEYS, load_serving_reference, measured_frontiers, predict_serving

BANDS = ((0.75, 1.5), (0.85, 1.25))
_NO_FRONT = pd.DataFrame({pareto_math.X: [], pareto_math.Y: []})  # a scenario with no predicted configuration


def frontier_points(factors: Factors, measured: pd.DataFrame | None = None, catalog: Catalog | None = None,
                    systems: list[str] | None = None) -> pd.DataFrame:
    """Every measured frontier point with ``model_output_tokens_per_s_per_gpu`` and ``ratio`` (model/measured),
    and the like-for-like ``measured_configs_output_tokens_per_s_per_gpu`` and ``ratio_measured_configs``."""
    catalog = catalog or load_catalog()
    frame = measured if measured is not None else load_serving_reference()
    if systems is not None:
        frame = frame[frame["system"].isin(systems)]
    frame = frame.reset_index(drop=True)
    points = measured_frontiers(frame)
    configs = measured_configs_frontiers(predict_serving(frame, factors, catalog))
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
        g["measured_log_slope"] = log_slopes(g["tokens_per_s_per_user"], g["output_tokens_per_s_per_gpu"])
        own = configs.get(key, _NO_FRONT)
        g["measured_configs_output_tokens_per_s_per_gpu"] = [pareto_math.value_at(own, x)
                                                             for x in g["tokens_per_s_per_user"]]
        out.append(g)
    result = pd.concat(out, ignore_index=True) if out else points.assign(
        model_output_tokens_per_s_per_gpu=np.nan, measured_configs_output_tokens_per_s_per_gpu=np.nan)
    result["ratio"] = result["model_output_tokens_per_s_per_gpu"] / result["output_tokens_per_s_per_gpu"]
    result["ratio_measured_configs"] = (result["measured_configs_output_tokens_per_s_per_gpu"]
                                        / result["output_tokens_per_s_per_gpu"])
    return result


def log_slopes(tokens_per_s_per_user, output_tokens_per_s_per_gpu) -> np.ndarray:
    """d ln(output tokens/s/GPU) / d ln(tokens/s/user) at each point of one measured frontier (central
    differences in log-log, one-sided at the ends; NaN for a single point), in the given order of points.

    It says how strict the frontier comparison is there: a TPOT error of e shifts the modelled frontier along
    x by 1/(1 + e), which changes the throughput read at a fixed tokens/s/user by about (1 + e)^(−slope)."""
    x = np.log(np.asarray(tokens_per_s_per_user, dtype=float))
    y = np.log(np.asarray(output_tokens_per_s_per_gpu, dtype=float))
    if len(x) < 2:
        return np.full(len(x), np.nan)
    order = np.argsort(x)
    slopes = np.empty(len(x))
    slopes[order] = np.gradient(y[order], x[order])
    return slopes


def ratio_stats(ratios) -> dict:
    """``median_ratio`` and ``median_abs_error_pct`` over the points with a modelled value, and
    ``share_within_<lo>_<hi>`` for each band over all points (a point without a modelled value is outside)."""
    r = np.asarray(ratios, dtype=float)
    ok = np.isfinite(r)
    out = {"median_ratio": float(np.median(r[ok])) if ok.any() else np.nan,
           "median_abs_error_pct": float(np.median(np.abs(r[ok] - 1.0)) * 100) if ok.any() else np.nan}
    for lo, hi in BANDS:
        out[f"share_within_{lo:g}_{hi:g}".replace(".", "_")] = float(np.mean(ok & (r >= lo) & (r <= hi)))
    return out


def measured_configs_frontiers(predicted: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """Per scenario: the Pareto front of the model's predictions for the measured configurations (rows of
    serving_reference.predict_serving without a prediction are left out), on (tokens/s/user = 1000 / predicted
    TPOT ms, predicted output tokens/s/GPU)."""
    fronts = {}
    ok = predicted["pred_tpot_ms"].notna() & predicted["pred_output_tokens_per_s_per_gpu"].notna()
    for key, g in predicted[ok].groupby(SCENARIO_KEYS):
        table = pd.DataFrame({pareto_math.X: 1000.0 / g["pred_tpot_ms"].to_numpy(float),
                              pareto_math.Y: g["pred_output_tokens_per_s_per_gpu"].to_numpy(float)})
        keep = pareto_math.pareto_mask(table[pareto_math.X].to_numpy(), table[pareto_math.Y].to_numpy())
        fronts[key] = table[keep].reset_index(drop=True)
    return fronts


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
        full = ratio_stats(r)
        row = {"points": len(g), "no_model_point": int((~np.isfinite(r)).sum()),
               **{k: v for k, v in full.items() if k != "median_abs_error_pct"}}
        if "measured_log_slope" in g:
            slope = g["measured_log_slope"].to_numpy(float)
            row["median_measured_log_slope"] = float(np.median(slope[np.isfinite(slope)])) \
                if np.isfinite(slope).any() else np.nan
        if "ratio_measured_configs" in g:  # like-for-like: the model over the measured deployments only
            own = ratio_stats(g["ratio_measured_configs"])
            row["median_ratio_measured_configs"] = own["median_ratio"]
            row["share_within_0_75_1_5_measured_configs"] = own["share_within_0_75_1_5"]
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
