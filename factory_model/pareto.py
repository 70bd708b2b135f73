"""Pareto frontier of throughput against interactivity, SLO filters and one-number summaries.

A deployment is on the frontier when no other deployment is at least as fast per user (tokens/s/user, x) and
strictly better in throughput (output tokens/s per GPU, y) — or faster per user at no loss of throughput. For one
system, tokens/s per MW is y times a constant, so the same points form both frontiers.

* SLO filters keep deployments with TTFT ≤ ``ttft_max_s``, TPOT ≤ ``tpot_max_s`` and tokens/s/user ≥
  ``min_tokens_per_s_per_user``; the frontier of what remains is the **goodput** frontier. A stricter SLO can only
  remove candidates, so it never adds frontier points.
* ``value_at``: throughput at a target interactivity, interpolated linearly in (log10 x, y) between neighbouring
  frontier points (``method="step"`` gives the conservative value of the best single deployment at least that fast).
* ``area``: ∫ y d(log10 x) over the frontier — throughput × decades of interactivity covered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

X = "tokens_per_s_per_user"
Y = "output_tokens_per_s_per_gpu"


def pareto_mask(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean mask of non-dominated points (maximise both x and y); ties keep one point."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    order = np.lexsort((-y, -x))  # x descending, then y descending
    order = order[ok[order]]
    running = np.maximum.accumulate(np.concatenate([[-np.inf], y[order]]))[:-1]
    keep = y[order] > running
    mask = np.zeros(len(x), dtype=bool)
    mask[order[keep]] = True
    return mask


def slo_mask(table, ttft_max_s: float | None = None, tpot_max_s: float | None = None,
             min_tokens_per_s_per_user: float | None = None) -> tuple[np.ndarray, str]:
    """(mask of candidates meeting the SLOs, reason when none does) for a table of columns."""
    n = len(np.asarray(table[X]))
    keep = np.ones(n, dtype=bool)
    parts = []
    if ttft_max_s is not None:
        keep &= np.asarray(table["ttft_s"]) <= ttft_max_s
        parts.append(f"TTFT ≤ {ttft_max_s:g} s")
    if tpot_max_s is not None:
        keep &= np.asarray(table["tpot_s"]) <= tpot_max_s
        parts.append(f"TPOT ≤ {tpot_max_s:g} s")
    if min_tokens_per_s_per_user is not None:
        keep &= np.asarray(table[X]) >= min_tokens_per_s_per_user
        parts.append(f"≥ {min_tokens_per_s_per_user:g} tokens/s/user")
    reason = ""
    if n and not keep.any():
        reason = (f"no deployment meets {' and '.join(parts)} (best TTFT {np.min(table['ttft_s']):.3g} s, "
                  f"fastest {np.max(table[X]):.4g} tokens/s/user)")
    return keep, reason


def frontier_order(table) -> np.ndarray:
    """Positions of the frontier rows of a table, sorted by interactivity ascending."""
    x, y = np.asarray(table[X], dtype=float), np.asarray(table[Y], dtype=float)
    idx = np.flatnonzero(pareto_mask(x, y))
    return idx[np.argsort(x[idx], kind="stable")]


def pareto(candidates: pd.DataFrame) -> pd.DataFrame:
    """The frontier rows of a DataFrame, sorted by interactivity (tokens/s/user) ascending."""
    if not len(candidates):
        return candidates.copy()
    return candidates.iloc[frontier_order(candidates)].reset_index(drop=True)


def value_at(frontier: pd.DataFrame, target: float, column: str = Y, method: str = "interpolate") -> float:
    """``column`` at ``target`` tokens/s/user; NaN beyond the frontier's fastest point."""
    if not len(frontier):
        return float("nan")
    x = frontier[X].to_numpy(dtype=float)
    y = frontier[column].to_numpy(dtype=float)
    order = np.argsort(x)
    x, y = x[order], y[order]
    if target > x[-1] * (1 + 1e-12):
        return float("nan")
    if target <= x[0] or method == "step":
        return float(np.max(y[x >= target]))  # the best deployment at least this fast
    return float(np.interp(np.log10(target), np.log10(x), y))


def area(frontier: pd.DataFrame, column: str = Y) -> float:
    """∫ column d(log10 tokens/s/user) along the frontier (trapezoids); 0 for fewer than two points."""
    if len(frontier) < 2:
        return 0.0
    x = np.log10(frontier[X].to_numpy(dtype=float))
    y = frontier[column].to_numpy(dtype=float)
    order = np.argsort(x)
    return float(np.trapezoid(y[order], x[order]))
