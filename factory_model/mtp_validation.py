"""MTP gain per serving stack: what each framework measured against what the model predicts.

For every aggregated configuration of ``measured_serving_points.csv`` that one framework measured both without
and with MTP (same system, precision, isl, osl, layout and concurrency), the measured gain

    gain = TPOT without MTP / TPOT with MTP      (ms / ms; > 1: MTP made each user faster)

is set beside the model's gain for the same configuration (serving.mtp_speculation: the calibrated draft count
and the acceptance α calibrated for that framework's stack, ``mtp_acceptance_<family>``). ``validate --mtp``
prints it per system and framework.

Why it is shown: the realised MTP gain depends on the stack. On H200 TensorRT-LLM measured 1.14-1.88x and
SGLang 0.94-1.15x; on MI355X ATOM measured 1.33-2.03x. One global α fits their mixture, so the model
over-credits MTP where the measured stack gains little and under-credits it where it gains most. And the trend
with batch: measured, the gain falls as the batch grows (median 1.57 at concurrency ≤ 8, 1.30 at ≥ 32). With
drafts routed independently the model's gain rose instead (1.18 → 1.43): a verify step of n + 1 tokens per
sequence touched more experts at small batch and was almost free once every expert is read anyway. With draft
tokens reusing their sequence's experts (step_time.py, ``draft_expert_reuse``) it is flat (1.36 → 1.34 with the
profile of 2026-12-02; ``validate --mtp`` prints the current figures). This table is where that
disagreement is visible instead of averaged away (issue 8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .catalog import Catalog, load_catalog
from .factors import Factors
from .serving_reference import load_serving_reference, predict_serving

PAIR_KEYS = ["system", "framework", "model", "precision", "isl", "osl", "tp", "ep", "dp_attention", "concurrency"]


def mtp_pairs(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Aggregated configurations measured by one framework without and with MTP: one row per pair with
    ``tpot_ms_no_mtp``, ``tpot_ms_mtp`` and ``measured_gain``."""
    frame = frame if frame is not None else load_serving_reference()
    agg = frame[frame["serving"] == "agg"]
    off = agg[agg["mtp"] == 0].drop_duplicates(PAIR_KEYS, keep="last")
    on = agg[agg["mtp"] > 0].drop_duplicates(PAIR_KEYS, keep="last")
    pairs = off.merge(on[PAIR_KEYS + ["tpot_ms", "date"]], on=PAIR_KEYS, suffixes=("_no_mtp", "_mtp"))
    pairs["measured_gain"] = pairs["tpot_ms_no_mtp"] / pairs["tpot_ms_mtp"]
    return pairs.reset_index(drop=True)


def mtp_gains(factors: Factors, frame: pd.DataFrame | None = None, catalog: Catalog | None = None) -> pd.DataFrame:
    """:func:`mtp_pairs` with the model's TPOT of both settings and ``model_gain``; ``ratio`` = model/measured."""
    catalog = catalog or load_catalog()
    pairs = mtp_pairs(frame)
    if pairs.empty:
        return pairs.assign(model_gain=np.nan, ratio=np.nan)
    base = pairs.drop(columns=["tpot_ms_no_mtp", "tpot_ms_mtp", "date_no_mtp", "date_mtp"])
    base = base.assign(tpot_ms=np.nan, date="")
    off = predict_serving(base.assign(mtp=0), factors, catalog)
    on = predict_serving(base.assign(mtp=1), factors, catalog)
    pairs["model_tpot_ms_no_mtp"] = off["pred_tpot_ms"].to_numpy()
    pairs["model_tpot_ms_mtp"] = on["pred_tpot_ms"].to_numpy()
    pairs["model_gain"] = pairs["model_tpot_ms_no_mtp"] / pairs["model_tpot_ms_mtp"]
    pairs["ratio"] = pairs["model_gain"] / pairs["measured_gain"]
    return pairs


SMALL_BATCH = 8    # concurrency at or below: MTP's home ground (interactive serving)
LARGE_BATCH = 32   # concurrency at or above: throughput serving


def summarize_mtp_gains(gains: pd.DataFrame) -> pd.DataFrame:
    """Per system and framework, then all pairs: pairs, measured gain (median, min, max), the model's median
    gain, the median model/measured ratio, and the median gains at small (concurrency ≤ 8) and large (≥ 32)
    batches — where the trend with batch differs between the stacks and the model, it shows here."""

    def stats(g: pd.DataFrame) -> dict:
        small, large = g[g["concurrency"] <= SMALL_BATCH], g[g["concurrency"] >= LARGE_BATCH]
        med = lambda frame, col: float(frame[col].median()) if len(frame) else np.nan  # noqa: E731
        return {"pairs": len(g), "measured_gain_median": med(g, "measured_gain"),
                "measured_gain_min": float(g["measured_gain"].min()),
                "measured_gain_max": float(g["measured_gain"].max()),
                "model_gain_median": med(g, "model_gain"), "model_over_measured_median": med(g, "ratio"),
                "measured_gain_small_batch": med(small, "measured_gain"),
                "model_gain_small_batch": med(small, "model_gain"),
                "measured_gain_large_batch": med(large, "measured_gain"),
                "model_gain_large_batch": med(large, "model_gain")}

    rows = [{"system": s, "framework": f, **stats(g)} for (s, f), g in gains.groupby(["system", "framework"])]
    rows.append({"system": "all", "framework": "all", **stats(gains)})
    return pd.DataFrame(rows)
