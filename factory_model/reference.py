"""The measured reference set (data/reference/measured_agg_points.csv) and the model's predictions of it.

The default model predicts a well-tuned serving stack: where several frameworks were measured on one
configuration, the target is the best of them (highest output tokens/s/GPU). ``backend=`` selects one
framework's rows instead (per-framework profiles).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import DATA_DIR, Catalog, load_catalog
from .errors import FactoryModelError
from .estimate import evaluate
from .factors import Factors
from .parallelism import Layout

REFERENCE_PATH = DATA_DIR / "reference" / "measured_agg_points.csv"
# The benchmark drew input and output lengths uniformly in 80-100 % of nominal (PROVENANCE.md): mean 0.9.
BENCHMARK_LENGTH_FACTOR = 0.9
CONFIG_KEYS = ["system", "model", "precision", "isl", "osl", "tp", "dp_attention", "moe_tp", "moe_ep", "concurrency"]
REFERENCE_COLUMNS = CONFIG_KEYS + ["backend", "gpus", "ttft_ms", "tpot_ms", "tokens_per_s_per_user",
                                   "output_tokens_per_s_per_gpu"]
BACKENDS = ("trtllm", "vllm", "sglang")


def read_measured_csv(path: Path, required: list[str], what: str = "reference file") -> pd.DataFrame:
    """A measured-points CSV with ``required`` columns; a missing file or column is one clear error."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise FactoryModelError(f"{path}: {what} not found") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise FactoryModelError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def load_reference(path: str | Path | None = None) -> pd.DataFrame:
    """Measured points with columns :data:`REFERENCE_COLUMNS`; a malformed file names what is wrong."""
    return read_measured_csv(Path(path) if path else REFERENCE_PATH, REFERENCE_COLUMNS)


MEASUREMENT_KEYS = ["system", "model", "precision", "backend", "isl", "osl", "concurrency", "ttft_ms", "tpot_ms"]


def clean(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, excluded): drop repeated rows and rows whose measurement is recorded under several layouts.

    The source corpus repeats some runs verbatim, and records some measurements twice with different layout
    labels (e.g. DeepSeek-R1 on H200 as tp=8/ep=8 on 8 GPUs and as tp=64 on 64 GPUs, identical TTFT and TPOT
    to the microsecond; anchors-modelling §5 notes "TP=64 labels that look like mis-recorded EP/DP layouts").
    One measurement cannot belong to two deployments: we keep the layout with the fewest GPUs (the one an
    8-GPU node can run) and list the others as excluded, with the reason.
    """
    unique = frame.drop_duplicates(CONFIG_KEYS + MEASUREMENT_KEYS)
    ordered = unique.sort_values("gpus", kind="stable")
    duplicated = ordered.duplicated(MEASUREMENT_KEYS, keep="first")
    excluded = ordered[duplicated].copy()
    excluded["excluded_reason"] = "same measurement recorded under a layout with fewer GPUs (mislabelled layout)"
    kept = ordered[~duplicated].sort_index()
    return kept, excluded.sort_index()


def select(frame: pd.DataFrame, backend: str = "best") -> pd.DataFrame:
    """One row per configuration after :func:`clean`: the best framework's (``best``) or one framework's rows."""
    frame = clean(frame)[0]
    if backend == "best":
        order = frame.sort_values("output_tokens_per_s_per_gpu", ascending=False, kind="stable")
        return order.drop_duplicates(CONFIG_KEYS).sort_index().reset_index(drop=True)
    if backend not in BACKENDS:
        raise FactoryModelError(f"unknown backend '{backend}'; choose best, {', '.join(BACKENDS)}")
    return frame[frame["backend"] == backend].reset_index(drop=True)


def predict(frame: pd.DataFrame, factors: Factors, catalog: Catalog | None = None,
            length_factor: float = BENCHMARK_LENGTH_FACTOR) -> pd.DataFrame:
    """Add ``pred_ttft_ms``, ``pred_tpot_ms``, ``pred_output_tokens_per_s_per_gpu`` and ``pred_reason``.

    Deployments map as tp → tp, dp_attention → dp_attention, moe_ep → ep (the reference's moe_tp equals
    tp·dp_attention/moe_ep, our convention), pp → pp when the frame has it; lengths are ``length_factor`` ×
    the given isl/osl (the reference benchmark's means are 0.9 × nominal; measured sessions give means: 1.0).
    """
    catalog = catalog or load_catalog()
    out = frame.copy()
    pred = {k: np.full(len(frame), np.nan) for k in ("ttft", "tpot", "tput")}
    reason = np.full(len(frame), "", dtype=object)
    for (system, model, precision), idx in frame.groupby(["system", "model", "precision"]).indices.items():
        g = frame.iloc[idx]
        pp = g["pp"].to_numpy() if "pp" in g else 1
        layout = Layout.of(g["tp"].to_numpy(), g["moe_ep"].to_numpy(), g["dp_attention"].to_numpy(), pp)
        r = evaluate(catalog, factors, system, model, precision, layout,
                     length_factor * g["isl"].to_numpy(float),
                     length_factor * g["osl"].to_numpy(float), g["concurrency"].to_numpy(float))
        pred["ttft"][idx] = r["ttft_s"] * 1e3
        pred["tpot"][idx] = r["tpot_s"] * 1e3
        pred["tput"][idx] = r["output_tokens_per_s_per_gpu"]
        reason[idx] = r["reason"]
    out["pred_ttft_ms"] = pred["ttft"]
    out["pred_tpot_ms"] = pred["tpot"]
    out["pred_output_tokens_per_s_per_gpu"] = pred["tput"]
    out["pred_reason"] = reason
    return out
