"""Measured MoE serving points (InferenceX, DeepSeek-R1): loading, layouts, config-level predictions, frontiers.

``data/reference/measured_serving_points.csv`` (PROVENANCE.md) holds aggregated **and** disaggregated serving
points with and without MTP on H100/H200/B200 and MI300X/MI325X/MI355X. This module turns each row into the
model's terms:

* **layout**: the benchmark's ``dp_attention`` is a switch: on, the engine's GPUs each run attention as their
  own data-parallel rank (our tp = 1, dp_attention = engine GPUs); off, attention is tensor parallel over them
  (our dp_attention = 1). ``ep`` is the expert-parallel size over the same GPUs; the engine spans max(tp, ep).
* **precision**: ``mxfp4`` (MI355X) is the model's ``nvfp4`` id on a system whose four-bit format is MXFP4.
* **lengths**: nominal isl/osl; the benchmark draws lengths in 80–100 % of nominal (``--random-range-ratio
  0.8``, anchors-benchmarks §1.1), so predictions use 0.9 × nominal like the aggregated reference.
* **reruns**: a configuration measured on several dates keeps its latest run (reruns drift with software).

Config-level predictions (:func:`predict_serving`): aggregated rows through ``serving.aggregated`` at the
row's layout and concurrency; disaggregated rows through the decode workers and the prefill workers' rate
R = x · R_p, combined by Little's law and capped by the prefill pool:
``output tok/s = min(C · osl / (TTFT + (osl − 1) · TPOT), R · osl)``. The decode batch is every client's
sequence while prefill keeps up; once R caps the arrivals, decode holds b = R · (osl − 1) · TPOT(b) < C
sequences (:func:`decode_running`) and the other clients queue in front of prefill, adding their wait
(C − b − R · TTFT₀) / R to the TTFT.
MTP rows use the model's MTP speculation (serving.mtp_speculation) with their stack's own calibrated
acceptance where the profile has one and the draft count of its recipe (data/mtp_recipes.yaml: TensorRT-LLM
drafts 1 token with attention data parallelism, 3 without).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .catalog import DATA_DIR, Catalog, load_catalog
from .errors import FactoryModelError
from .factors import Factors, stack_family
from .pareto import pareto_mask
from .parallelism import Layout, invalid_reasons
from .precision import resolve_precision
from .reference import BENCHMARK_LENGTH_FACTOR, read_measured_csv
from .serving import NO_SPECULATION, aggregated, decode_workers, memory_limits, mtp_speculation, prefill_workers
from .step_time import build_step_model

SERVING_REFERENCE_PATH = DATA_DIR / "reference" / "measured_serving_points.csv"
SCENARIO_KEYS = ["system", "model", "precision", "isl", "osl"]
CONFIG_COLUMNS = ["system", "framework", "model", "precision", "isl", "osl", "serving", "mtp", "tp", "ep",
                  "dp_attention", "prefill_tp", "prefill_ep", "prefill_dp_attention", "prefill_workers",
                  "decode_tp", "decode_ep", "decode_dp_attention", "decode_workers", "concurrency"]
REQUIRED_COLUMNS = CONFIG_COLUMNS + ["date", "gpus", "prefill_gpus", "decode_gpus", "ttft_ms", "tpot_ms",
                                     "tokens_per_s_per_user", "output_tokens_per_s_per_gpu", "run_url"]
PRECISION_IDS = {"fp8": "fp8", "nvfp4": "nvfp4", "mxfp4": "nvfp4"}


def load_serving_reference(path: str | Path | None = None, all_runs: bool = False) -> pd.DataFrame:
    """All measured rows, with the model's precision id in ``precision_id``; the latest run of each config
    (``all_runs``: every run, for repeat_spread)."""
    path = Path(path) if path else SERVING_REFERENCE_PATH
    frame = read_measured_csv(path, REQUIRED_COLUMNS, "measured serving points")
    if not all_runs:
        frame = frame.sort_values("date", kind="stable")
        frame = frame.drop_duplicates(CONFIG_COLUMNS, keep="last").sort_index().reset_index(drop=True)
    unknown = sorted(set(frame["precision"]) - set(PRECISION_IDS))
    if unknown:
        raise FactoryModelError(f"{path}: unknown precision(s) {', '.join(unknown)}")
    frame["precision_id"] = frame["precision"].map(PRECISION_IDS)
    return frame


def _engine_layout(tp, ep, dp_switch) -> Layout:
    """Our layout of an engine with attention-DP switched on (1) or off (0). The engine spans max(tp, ep) GPUs:
    a few recipes record tp = 1 beside ep = 8 for an 8-GPU expert-parallel engine (the MoE layers span the
    engine's GPUs, so ep cannot exceed them)."""
    ep = np.maximum(np.asarray(ep, dtype=float), 1).astype(int)
    gpus = np.maximum(np.asarray(tp, dtype=float).astype(int), ep)
    on = np.asarray(dp_switch, dtype=float) > 0
    return Layout.of(np.where(on, 1, gpus), ep, np.where(on, gpus, 1), 1)


def layouts(frame: pd.DataFrame) -> dict[str, Layout]:
    """Engine (aggregated or decode side) and prefill layouts of every row."""
    agg = frame["serving"].to_numpy() == "agg"
    tp = np.where(agg, frame["tp"], frame["decode_tp"])
    ep = np.where(agg, frame["ep"], frame["decode_ep"])
    dp = np.where(agg, frame["dp_attention"], frame["decode_dp_attention"])
    return {"engine": _engine_layout(tp, ep, dp),
            "prefill": _engine_layout(frame["prefill_tp"].fillna(1).clip(lower=1), frame["prefill_ep"].fillna(1),
                                      frame["prefill_dp_attention"].fillna(0))}


def _take(layout: Layout, idx) -> Layout:
    return Layout(layout.tp[idx], layout.ep[idx], layout.dp[idx], layout.pp[idx])


def decode_running(tpot_of, concurrency, prefill_rate, osl, grid_points: int = 12) -> np.ndarray:
    """Sequences in the decode pool of a closed-loop disaggregated benchmark (all of them, in total).

    Every one of C clients is either decoding, being prefilled or queued. Decode holds a request for
    (osl − 1) steps, so by Little's law it holds b = λ · (osl − 1) · TPOT(b) sequences at arrival rate λ.
    While the prefill pool keeps up, λ is set by the clients and b ≈ C; once the prefill rate R caps λ,
    b solves b = R · (osl − 1) · TPOT(b) < C and the rest of the clients wait in front of prefill (the
    measured saturated points: TTFT of tens of seconds while ~half of C decode). ``tpot_of(b, rows)`` is the
    decode TPOT (s) of those rows (indices may repeat) at b sequences in total; b is found for the capped
    rows by two grid passes in log b and linear interpolation of log(R · (osl − 1) · TPOT(b)) − log b.
    """
    conc = np.asarray(concurrency, dtype=float)
    rate = np.asarray(prefill_rate, dtype=float)
    steps = np.maximum(np.asarray(osl, dtype=float) - 1.0, 1.0)
    everyone = np.arange(len(conc))
    out = conc.copy()
    fed = rate * steps * tpot_of(conc, everyone)  # sequences the prefill rate sustains at b = C
    capped = np.flatnonzero(fed < conc)
    if len(capped):
        # the root lies between b = 1 and the first fixed-point iterate fed(C) < C (TPOT grows with b):
        # two vectorised grid passes in log b, each narrowing the bracket to one grid cell
        lo, hi = np.zeros(len(capped)), np.log(np.clip(fed[capped], 1.0, conc[capped]))
        rows = np.repeat(capped, grid_points)
        for _ in range(2):
            x = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, grid_points)[None, :]
            b = np.exp(x)
            gap = np.log(rate[rows] * steps[rows] * tpot_of(b.ravel(), rows)).reshape(b.shape) - x
            k = np.clip((gap >= 0.0).sum(axis=1) - 1, 0, grid_points - 2)  # gap falls with b: last cell ≥ 0
            at = np.arange(len(capped))
            g0, g1 = gap[at, k], gap[at, k + 1]
            lo, hi = x[at, k], x[at, k + 1]
            root = np.where(g0 > g1, lo + (hi - lo) * np.clip(g0 / np.where(g0 > g1, g0 - g1, 1.0), 0.0, 1.0), lo)
        out[capped] = np.minimum(np.exp(root), conc[capped])
    return out


def predict_serving(frame: pd.DataFrame, factors: Factors, catalog: Catalog | None = None,
                    length_factor: float = BENCHMARK_LENGTH_FACTOR) -> pd.DataFrame:
    """Add ``pred_ttft_ms``, ``pred_tpot_ms``, ``pred_output_tokens_per_s_per_gpu`` and ``pred_reason``."""
    catalog = catalog or load_catalog()
    out = frame.copy()
    n = len(frame)
    ttft, tpot, tput = (np.full(n, np.nan) for _ in range(3))
    reason = np.full(n, "", dtype=object)
    lay = layouts(frame)
    for (system_id, model_id, precision_id), idx in frame.groupby(
            ["system", "model", "precision_id"]).indices.items():
        system, model = catalog.system(system_id), catalog.model(model_id)
        rp = resolve_precision(system, model, catalog.precision(precision_id))
        sm = build_step_model(system, model, rp, factors)
        g = frame.iloc[idx]
        isl = length_factor * g["isl"].to_numpy(float)
        osl = length_factor * g["osl"].to_numpy(float)
        conc = g["concurrency"].to_numpy(float)
        engine = _take(lay["engine"], idx)
        bad = invalid_reasons(model, engine)
        if (bad != "").any():  # evaluate a harmless layout there; the row keeps its reason and no prediction
            ok = bad == ""
            engine = Layout(*(np.where(ok, a, 1) for a in (engine.tp, engine.ep, engine.dp, engine.pp)))
        # MTP rows take their own stack's calibrated acceptance where the profile has one, and the draft count
        # its recipe runs with or without attention data parallelism (data/mtp_recipes.yaml)
        mtp_rows = g["mtp"].to_numpy() > 0
        family = g["framework"].map(stack_family).to_numpy(str) if "framework" in g else np.full(len(g), "")
        dp_on = engine.dp > 1
        settings = [(~mtp_rows, NO_SPECULATION)] + [
            (mtp_rows & (family == f) & (dp_on == d),
             mtp_speculation(model, factors, precision_id, stack=f).with_attention(bool(d)))
            for f in np.unique(family[mtp_rows]) for d in (False, True)]
        for sel, spec in settings:
            agg = sel & (g["serving"].to_numpy() == "agg")
            if agg.any():
                r = aggregated(sm, factors, _take(engine, agg), conc[agg], isl[agg], osl[agg], spec)
                pos = idx[agg]
                ttft[pos], tpot[pos] = r["ttft_s"] * 1e3, r["tpot_s"] * 1e3
                tput[pos] = r["output_tokens_per_s_per_gpu"]
                reason[pos] = np.where(r["max_batch_per_rank"] < 1, "does not fit", "")
            dis = sel & (g["serving"].to_numpy() == "disagg")
            if dis.any():
                gd = g[dis]
                dec = _take(engine, dis)
                ranks = gd["decode_workers"].to_numpy(float) * dec.dp
                pre = _take(_take(lay["prefill"], idx), dis)
                pre_bad = invalid_reasons(model, pre)
                if (pre_bad != "").any():
                    pre = Layout(*(np.where(pre_bad == "", a, 1) for a in (pre.tp, pre.ep, pre.dp, pre.pp)))
                    bad[np.flatnonzero(dis)[pre_bad != ""]] = "prefill layout: " + pre_bad[pre_bad != ""]
                # a prefill rank batches the prompts that arrive together, up to the step budget
                budget = max(factors.serving("max_num_tokens"), float(np.max(isl[dis])))
                per_rank = np.clip(conc[dis] / (gd["prefill_workers"].to_numpy(float) * pre.dp), 1.0,
                                   np.floor(budget / isl[dis]))
                p = prefill_workers(sm, pre, isl[dis], per_rank)
                rate = factors.serving("disagg_prefill_rate_factor") * gd["prefill_workers"].to_numpy(float) \
                    * p["prefill_requests_per_s"]
                isl_d, osl_d, conc_d = isl[dis], osl[dis], conc[dis]
                running = decode_running(lambda b, rows: decode_workers(
                    sm, _take(dec, rows), b / ranks[rows], isl_d[rows], osl_d[rows], spec)["tpot_s"],
                    conc_d, rate, osl_d)
                d = decode_workers(sm, dec, running / ranks, isl_d, osl_d, spec)
                t_first = factors.serving("disagg_ttft_factor") * p["prefill_batch_s"]
                # requests neither decoding nor being prefilled wait in the prefill queue, served at `rate`
                queued = np.maximum(conc_d - running - rate * t_first, 0.0)
                request_s = t_first + (osl_d - 1.0) * d["tpot_s"]
                little = conc_d * osl_d / request_s
                gpus = gd["gpus"].to_numpy(float)
                pos = idx[dis]
                ttft[pos], tpot[pos] = (t_first + queued / rate) * 1e3, d["tpot_s"] * 1e3
                tput[pos] = np.minimum(little, rate * osl_d) / gpus
                mem = memory_limits(sm, factors, dec, isl_d, osl_d)
                reason[pos] = np.where(mem["max_batch_per_rank"] < running / ranks * 0.999,
                                       "decode batch exceeds KV memory", "")
        reason[idx] = np.where(bad != "", bad, reason[idx])
        for arr in (ttft, tpot, tput):
            arr[idx] = np.where(bad != "", np.nan, arr[idx])
    out["pred_ttft_ms"], out["pred_tpot_ms"], out["pred_output_tokens_per_s_per_gpu"] = ttft, tpot, tput
    out["pred_reason"] = reason
    return out


def measured_frontiers(frame: pd.DataFrame) -> pd.DataFrame:
    """Per scenario (system, model, precision, isl, osl): the measured Pareto points over every framework,
    serving mode and MTP setting, on (tokens/s/user, output tokens/s/GPU). Adds column ``scenario``."""
    parts = []
    for key, g in frame.groupby(SCENARIO_KEYS):
        keep = pareto_mask(g["tokens_per_s_per_user"].to_numpy(float), g["output_tokens_per_s_per_gpu"].to_numpy(float))
        f = g[keep].sort_values("tokens_per_s_per_user").copy()
        f["scenario"] = "/".join(str(k) for k in key)
        parts.append(f)
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0].assign(scenario="")


def repeat_spread(frame: pd.DataFrame) -> pd.DataFrame:
    """How far repeated runs of one configuration (same framework, layout and concurrency; other dates) lie
    apart: per system, the configurations run more than once and the median over them of the median
    |x_i / x_j − 1| over their run pairs, for TPOT and output tokens/s/GPU (fractions).

    A model cannot be expected to predict a configuration closer than its own runs agree: this is the floor
    under the config-level errors and, read at a steep frontier, under the frontier band."""
    columns = ["system", "repeated_configs", "tpot_spread", "output_tokens_per_s_per_gpu_spread"]
    rows: dict[str, list] = {}
    for _, g in frame.groupby(CONFIG_COLUMNS, dropna=False):  # unused prefill/decode columns are NaN
        if len(g) < 2:
            continue
        spreads = []
        for metric in ("tpot_ms", "output_tokens_per_s_per_gpu"):
            v = g[metric].to_numpy(float)
            ratio = v[:, None] / v[None, :]
            pairs = np.abs(ratio[~np.eye(len(v), dtype=bool)] - 1.0)
            spreads.append(float(np.median(pairs[np.isfinite(pairs)])) if np.isfinite(pairs).any() else np.nan)
        rows.setdefault(g["system"].iloc[0], []).append(spreads)
    out = [[s, len(v), *np.nanmedian(np.asarray(v), axis=0)] for s, v in sorted(rows.items())]
    return pd.DataFrame(out, columns=columns)


def select_best(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: where several frameworks measured it, the fastest (output tok/s/GPU) — the
    default model predicts a well-tuned stack."""
    keys = [c for c in CONFIG_COLUMNS if c != "framework"]
    order = frame.sort_values("output_tokens_per_s_per_gpu", ascending=False, kind="stable")
    return order.drop_duplicates(keys).sort_index().reset_index(drop=True)
