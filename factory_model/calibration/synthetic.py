"""A synthetic calibration session: what a load test would record if the model were the truth, plus noise.

Until a session recorded on real GPUs ships with the project, the Calibration page replays one of these, and
every view of it says SYNTHETIC. It is also how the fit is tested: generate with known "true" factors, fit with
the catalog's, and see the fit move back to the truth.

Per phase (one concurrency level, ``phase_s`` seconds at 1 Hz):

* the server's counters advance by the model's output tokens/s (TTFT and TPOT sums by the model's values), each
  second multiplied by 1 + N(0, ``noise``);
* each GPU's power follows a stated, assumed load curve — P = TDP · (0.35 + 0.55 · (1 − e^(−B/64))) at B
  sequences per attention-DP rank, times 1 + N(0, ``noise``) — and its energy counter integrates it. (Power is
  not part of the performance model; this curve only makes the sample look like a load test.)
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ..catalog import Catalog, load_catalog
from ..estimate import evaluate
from ..factors import Factors, load_factors
from ..parallelism import Layout
from .session import Session, from_rows

IDLE_FRACTION_OF_TDP = 0.35  # assumption (module docstring)
LOAD_FRACTION_OF_TDP = 0.55
BATCH_SCALE = 64.0


def generate(system: str, model: str, precision: str, isl: int, osl: int, tp: int, concurrencies: list[int], *,
             ep: int = 1, dp_attention: int = 1, pp: int = 1, phase_s: int = 60, noise: float = 0.03,
             seed: int = 0, truth: Factors | None = None, truth_note: str = "",
             catalog: Catalog | None = None, t0: float = 1_790_000_000.0) -> Session:
    """A session with one phase per concurrency level (see module docstring)."""
    catalog = catalog or load_catalog()
    truth = truth or load_factors()
    rng = np.random.default_rng(seed)
    sys_ = catalog.system(system)
    layout = Layout.of([tp] * len(concurrencies), ep, dp_attention, pp)
    r = evaluate(catalog, truth, system, model, precision, layout, float(isl), float(osl),
                 np.asarray(concurrencies, dtype=float))
    gpus = tp * dp_attention * pp
    gpu_rows, server_rows = [], []
    t = t0
    counters = {"generation_tokens_total": 0.0, "prompt_tokens_total": 0.0, "ttft_sum_s": 0.0, "ttft_count": 0.0,
                "tpot_sum_s": 0.0, "tpot_count": 0.0}
    energy = np.zeros(gpus)
    for i, concurrency in enumerate(concurrencies):
        if r["reason"][i]:
            raise ValueError(f"concurrency {concurrency}: {r['reason'][i]}")
        out_tps = r["output_tokens_per_s_per_gpu"][i] * gpus
        requests_per_s = out_tps / osl
        batch = concurrency / dp_attention
        base_w = sys_.gpu_tdp_w * (IDLE_FRACTION_OF_TDP + LOAD_FRACTION_OF_TDP * (1 - np.exp(-batch / BATCH_SCALE)))
        phase = f"c{concurrency}"
        for _ in range(phase_s):
            t += 1.0
            jitter = 1 + rng.normal(0, noise)
            counters["generation_tokens_total"] += out_tps * jitter
            counters["prompt_tokens_total"] += requests_per_s * isl * jitter
            done = requests_per_s * jitter
            counters["ttft_sum_s"] += done * r["ttft_s"][i] * (1 + rng.normal(0, noise))
            counters["ttft_count"] += done
            tokens = out_tps * jitter
            counters["tpot_sum_s"] += tokens * r["tpot_s"][i] * (1 + rng.normal(0, noise))
            counters["tpot_count"] += tokens
            server_rows.append({"t_s": t, "phase": phase, "concurrency": concurrency, "engine": "synthetic",
                                "requests_running": concurrency, **counters})
            watts = base_w * (1 + rng.normal(0, noise, gpus))
            energy += watts
            for g in range(gpus):
                gpu_rows.append({"t_s": t, "phase": phase, "concurrency": concurrency, "gpu": str(g),
                                 "name": f"{sys_.name} (synthetic)", "power_w": watts[g], "energy_j": energy[g],
                                 "power_limit_w": sys_.gpu_tdp_w, "sm_clock_mhz": 1980 - 200 * (watts[g] /
                                                                                                 sys_.gpu_tdp_w),
                                 "mem_clock_mhz": 2619.0, "gpu_util_pct": min(100.0, 40 + 60 * batch / (batch + 8)),
                                 "mem_used_mib": 0.9 * sys_.hbm_capacity_gib * 1024, "temp_c": 45 + 25 * watts[g] /
                                 sys_.gpu_tdp_w})
    metadata = {"system": system, "model": model, "precision": precision, "isl": isl, "osl": osl, "tp": tp,
                "ep": ep, "dp_attention": dp_attention, "pp": pp, "synthetic": "true",
                "gpu_name": f"{sys_.name} (synthetic)", "driver": "none (synthetic)", "server": "synthetic",
                "created": _dt.date.today().isoformat(), "noise": noise, "seed": seed,
                "truth": truth_note or f"factor profile '{truth.profile}'"}
    return from_rows(metadata, gpu_rows, server_rows)


SAMPLE_PATH_NAME = "sample_h200_llama70b_tp2_synthetic.csv"
SAMPLE_TRUTH = {("h200-sxm", "fp8", "gemm", "memory_fraction"): 0.80,
                ("h200-sxm", "fp8", "gemm", "compute_fraction"): 0.60}


def make_sample(created: str = "2026-11-22") -> Session:
    """The session shipped in data/sessions/: H200 (tp=2) serving Llama-3.1-70B FP8, chat 1k/1k, five
    concurrency levels of 60 s. Its "truth" is the default profile with FP8 weight streaming at 80 % of HBM
    bandwidth and FP8 GEMMs at 60 % of peak, so a fit has something to find. Deterministic (seed 7)."""
    truth = load_factors().with_overrides(SAMPLE_TRUTH, source="synthetic truth")
    note = "default profile with h200-sxm fp8 gemm memory_fraction 0.80 and compute_fraction 0.60"
    session = generate("h200-sxm", "llama-3.1-70b", "fp8", 1024, 1024, 2, [4, 16, 32, 64, 128], phase_s=60,
                       noise=0.03, seed=7, truth=truth, truth_note=note)
    session.metadata["created"] = created
    return session
