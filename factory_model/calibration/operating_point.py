"""Measured operating points: what a recorded (or live) stretch of load achieved, in the model's units.

For each phase (a steady load level) of a session:

    output tokens/s        = Δ generated-token counter / Δt                     (output token basis)
    tokens/s/GPU           = output tokens/s / GPUs serving                     (GPUs = tp · dp_attention · pp)
    tokens/s/user          = 1 / mean TPOT (Δ TPOT sum / Δ TPOT count)
    W per GPU              = Δ energy counter / Δt where every reading has one, else mean power reading
    tokens per joule       = tokens/s/GPU / W per GPU                           (GPU energy only)
    all-in kW per GPU      = W per GPU / 1000 · (catalog all-in kW / catalog GPU TDP kW)
    tokens/s per MW        = tokens/s/GPU · 1000 / all-in kW per GPU

The all-in scaling keeps the catalog's ratio of provisioned power (CPU, network, facility) to GPU power, so a
measured point lands on the same per-MW axis as the modelled frontier. The first ``warmup_fraction`` of each phase
is skipped (queues filling up).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog import Catalog, load_catalog
from . import TelemetryError
from .session import Session

WARMUP_FRACTION = 0.15
POINT_COLUMNS = ["phase", "system", "model", "precision", "isl", "osl", "tp", "ep", "dp_attention", "pp", "gpus",
                 "concurrency", "duration_s", "output_tokens_per_s", "output_tokens_per_s_per_gpu",
                 "tokens_per_s_per_user", "ttft_s", "tpot_s", "power_w_per_gpu", "power_fraction_of_tdp",
                 "tokens_per_joule", "all_in_kw_per_gpu", "tokens_per_s_per_mw"]


def _gpu_power(gpu: pd.DataFrame) -> float:
    """Mean power per GPU (W): energy-counter deltas where available, else the mean reading."""
    per_gpu = []
    for _, g in gpu.groupby("gpu"):
        g = g.sort_values("t_s")
        energy = g["energy_j"].dropna()
        if len(energy) >= 2 and g["t_s"].iloc[-1] > g["t_s"].iloc[0]:
            t = g.loc[energy.index, "t_s"]
            de, dt = energy.iloc[-1] - energy.iloc[0], t.iloc[-1] - t.iloc[0]
            if de > 0 and dt > 0:
                per_gpu.append(de / dt)
                continue
        power = g["power_w"].dropna()
        if len(power):
            per_gpu.append(float(power.mean()))
    return float(np.mean(per_gpu)) if per_gpu else float("nan")


def operating_points(session: Session, catalog: Catalog | None = None,
                     warmup_fraction: float = WARMUP_FRACTION) -> pd.DataFrame:
    """One row per phase of the session (columns :data:`POINT_COLUMNS`)."""
    catalog = catalog or load_catalog()
    m = session.metadata
    try:
        system = catalog.system(str(m["system"]))
        catalog.model(str(m["model"]))
    except Exception as exc:  # FactoryModelError with a suggestion
        raise TelemetryError(f"session metadata: {exc}") from None
    tp, ep, dp, pp = (int(m.get(k, 1) or 1) for k in ("tp", "ep", "dp_attention", "pp"))
    gpus_serving = tp * dp * pp
    rows = []
    for phase, part in session.table.groupby("phase", sort=False):
        t0, t1 = part["t_s"].min(), part["t_s"].max()
        start = t0 + warmup_fraction * (t1 - t0)
        steady = part[part["t_s"] >= start]
        server = steady[steady["kind"] == "server"].sort_values("t_s")
        gpu = steady[steady["kind"] == "gpu"]
        if len(server) < 2:
            continue
        first, last = server.iloc[0], server.iloc[-1]
        dt = last["t_s"] - first["t_s"]
        tokens = last["generation_tokens_total"] - first["generation_tokens_total"]
        if not dt > 0 or not tokens >= 0:
            continue
        tpot = (last["tpot_sum_s"] - first["tpot_sum_s"]) / (last["tpot_count"] - first["tpot_count"]) \
            if last["tpot_count"] > first["tpot_count"] else np.nan
        ttft = (last["ttft_sum_s"] - first["ttft_sum_s"]) / (last["ttft_count"] - first["ttft_count"]) \
            if last["ttft_count"] > first["ttft_count"] else np.nan
        concurrency = part["concurrency"].dropna()
        conc = float(concurrency.iloc[0]) if len(concurrency) else float(server["requests_running"].mean())
        out_tps = tokens / dt
        per_gpu = out_tps / gpus_serving
        watts = _gpu_power(gpu)
        all_in_kw = watts / 1000.0 * system.all_in_power_kw_per_gpu / (system.gpu_tdp_w / 1000.0)
        rows.append({"phase": phase, "system": system.id, "model": m["model"], "precision": m["precision"],
                     "isl": int(m["isl"]), "osl": int(m["osl"]), "tp": tp, "ep": ep, "dp_attention": dp, "pp": pp,
                     "gpus": gpus_serving, "concurrency": conc, "duration_s": dt, "output_tokens_per_s": out_tps,
                     "output_tokens_per_s_per_gpu": per_gpu, "tokens_per_s_per_user": 1.0 / tpot if tpot > 0 else np.nan,
                     "ttft_s": ttft, "tpot_s": tpot, "power_w_per_gpu": watts,
                     "power_fraction_of_tdp": watts / system.gpu_tdp_w,
                     "tokens_per_joule": per_gpu / watts if watts > 0 else np.nan,
                     "all_in_kw_per_gpu": all_in_kw,
                     "tokens_per_s_per_mw": per_gpu * 1000.0 / all_in_kw if all_in_kw > 0 else np.nan})
    if not rows:
        raise TelemetryError("the session has no phase with two or more server snapshots: no throughput to measure "
                             "(record with --metrics-url, or import a benchmark result)")
    return pd.DataFrame(rows, columns=POINT_COLUMNS)


def as_reference_rows(points: pd.DataFrame, backend: str = "session") -> pd.DataFrame:
    """Operating points in the reference-set format (reference.py), for validation and fitting."""
    out = pd.DataFrame({
        "system": points["system"], "model": points["model"], "precision": points["precision"], "backend": backend,
        "isl": points["isl"], "osl": points["osl"], "tp": points["tp"], "dp_attention": points["dp_attention"],
        "moe_tp": points["tp"] * points["dp_attention"] // points["ep"].clip(lower=1), "moe_ep": points["ep"],
        "gpus": points["gpus"], "concurrency": points["concurrency"], "ttft_ms": points["ttft_s"] * 1e3,
        "tpot_ms": points["tpot_s"] * 1e3, "tokens_per_s_per_user": points["tokens_per_s_per_user"],
        "output_tokens_per_s_per_gpu": points["output_tokens_per_s_per_gpu"],
    })
    return out.dropna(subset=["ttft_ms", "tpot_ms"]).reset_index(drop=True)
