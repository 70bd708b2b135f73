"""Fit efficiency and serving factors to the measured reference sets; write a calibration profile.

``python -m factory_model fit [--backend best|trtllm|vllm|sglang] [--profile NAME]`` runs this and writes
``data/calibration/<profile>.csv`` (default profile ``default``: the best framework per configuration).

Data: the aggregated points of ``measured_agg_points.csv`` (H100/H200/B200; Llama-70B, gpt-oss, DeepSeek-R1)
and the DeepSeek-R1 serving points of ``measured_serving_points.csv`` (aggregated and disaggregated, with and
without MTP; H100/H200/B200/MI300X/MI325X/MI355X), each configuration at its best framework. Nothing else.

Levels (data/silicon.yaml): every fitted factor has a global value θ_g; each vendor with measured points adds a
log-offset d_v and each silicon group a log-offset d_s, so the value a system uses is
``θ = clip(θ_g · exp(d_v + d_s), physical bounds)``. Offsets have zero-mean priors (σ in PRIOR_SIGMA); a group
with no measured points uses its vendor's value, a vendor with none the global value. Systems built on one die
therefore share every fitted factor and differ only by their hardware figures, and a left-out system is
predicted from what the others teach (``validate --cross``). A silicon earns its own GEMM/MoE efficiency offsets
only from engines inside one scale-up domain (``_within_domain``): a multi-node engine's time is as much the
network's as its kernels'. A MoE precision no training point exercises takes the fitted fractions of the
precision whose kernel work it shares (``MOE_PRECISION_PROXY``), not its uncalibrated prior.

What is fitted: for each weight op class (``gemm`` for dense models, ``moe`` for MoE models) and efficiency
precision (fp8, nvfp4, w4a8, w4a16 …) that measured points exercise, its memory and compute fractions; the
fixed latency per layer and per MoE kernel; the GEMM and MoE row ramps; all-reduce and all-to-all latencies;
prefill-attention efficiency; and the serving parameters TTFT queue factor, MTP acceptance (with its growth
over output length and the drafts' expert reuse), EP load imbalance, two-batch-overlap share and the share of
its modelled prefill rate a disaggregated prefill pool sustains. Every factor is bounded to a stated physical range (BOUNDS, with the reason).

Method: bounded nonlinear least squares (scipy.optimize.least_squares, soft-L1 loss) on log(pred/measured) of
TPOT (weight 1), output tokens/s/GPU (0.5; serving points, where disaggregated rate matching and MTP set it)
and TTFT (0.3: it depends on arrival timing the model does not see), each system's points weighted so that every
measured system counts the same (``system_weights``), plus prior terms. Every 5th configuration
(deterministic) is held out and reported; ``validate --cross`` refits without each system in turn.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from .catalog import DATA_DIR, Catalog, load_catalog
from .errors import FactoryModelError
from .factors import (CALIBRATION_DIR_NAME, MTP_STACKS, STACK_SERVING_PARAMETERS, FactorRow, Factors,
                      UNCALIBRATED, load_factors, load_levels, stack_family, write_factor_csv)
from .precision import resolve_precision
from .reference import BENCHMARK_LENGTH_FACTOR, REFERENCE_PATH, load_reference, predict, select
from .serving_reference import (SERVING_REFERENCE_PATH, layouts, load_serving_reference, predict_serving,
                                select_best)
from .validation import add_errors, summarize

MIN_STACK_MTP_POINTS = 10  # MTP points a serving stack needs for its own acceptance
MIN_GROUP_POINTS = 20  # a system x model x precision group needs this many configurations for its own factors
TPOT_WEIGHT = 1.0
TTFT_WEIGHT = 0.5
HOLDOUT_EVERY = 5
LOSS_SCALE = 0.1  # soft-L1 turns from quadratic to linear at ~10 % error
# Physical ranges every fitted factor must stay in (the fit cannot leave them):
#  * compute fractions: large GEMMs reach 50-90 % of dense peak, grouped MoE GEMMs ~70 % (FP8, DeepGEMM /
#    anchors-modelling §3.1-3.2); small-batch inefficiency belongs to the row ramp M½ and to load imbalance, not
#    to the fraction, so the floor is 0.3 (0.2 for 4-bit weight-only, which dequantizes in the kernel);
#  * memory fractions: weight streaming reaches 50-90 % of HBM bandwidth (§3.2), never above 95 %;
#  * prefill attention: FlashAttention-3 reaches ~75 % of BF16 peak and ~60 % of FP8 on H100; ≤ 0.75;
#  * latencies: a per-layer residual or MoE kernel floor of more than 80 µs, or an all-reduce start-up of more
#    than 40 µs, has never been measured on these systems (§2.6-2.7); over the network an all-to-all start-up
#    ≤ 200 µs, an all-reduce ≤ 100 µs (RDMA round trips are 2-10 µs; NCCL over IB ~16-40 µs);
#  * GEMM row ramp M½: the smallest row tile of the FP8 GEMM kernels is 64 rows (vLLM's SM90 CUTLASS dispatch,
#    csrc/quantization/cutlass_w8a8/c3x/scaled_mm_sm90_fp8_dispatch.cuh: TileShape 64×…×… for M ≤ 128, with
#    swap-AB for the smallest M), so a matrix multiply of m < 64 rows runs at no less than m/64 of its large-M
#    rate; m/(m + M½) stays at or below that for M½ ≤ 64. A larger M½ would price the weight stream of a
#    decode GEMM by FLOP/s instead of HBM bandwidth: a leave-H200-out fit chose M½ = 282 and predicted H200
#    exactly as fast as H100, where vLLM measured H200 1.20x faster (median, Llama-70B FP8, tp 2-8);
#  * serving: MTP acceptance per draft token 0.3-0.95 (DeepSeek-V3: 85-90 % for the first); EP imbalance
#    ≤ 0.3 per doubling; overlap share 0-1; draft expert reuse 0-1 (a share: 0 = drafts route independently,
#    1 = every draft reuses its sequence's experts); MTP acceptance growth ≤ 0.1 per doubling of the output
#    length (≤ +0.3 from 1k to 8k tokens); a disaggregated prefill pool sustains 20-100 % of the prefill rate
#    its step time gives (AIC's 0.9 is the prior; the saturated measured points run at ~3k prompt tokens/s/GPU
#    on H200, B200 and MI355X alike, well below the modelled compute-bound rate).
BOUNDS = {"compute_fraction": (0.3, 0.9), "memory_fraction": (0.3, 0.95), "link_fraction": (0.05, 1.0),
          "fixed_latency_us": (0.0, 80.0), "latency_per_doubling_us": (0.0, 40.0),
          "half_efficiency_tokens": (0.0, 64.0),
          "ttft_queue_factor": (0.0, 1.0), "mtp_acceptance": (0.3, 0.95), "ep_imbalance_per_doubling": (0.0, 0.3),
          "moe_comm_overlap": (0.0, 1.0), "sequence_overhead_us": (0.0, 150.0),
          "draft_expert_reuse": (0.0, 1.0), "mtp_acceptance_per_output_doubling": (0.0, 0.1),
          "disagg_prefill_rate_factor": (0.2, 1.0)}
SPECIFIC_BOUNDS = {("attention_prefill", "compute_fraction"): (0.2, 0.75),
                   ("alltoall_scaleout", "fixed_latency_us"): (0.0, 200.0),
                   ("allreduce_scaleout", "fixed_latency_us"): (0.0, 100.0),
                   ("w4a16", "compute_fraction"): (0.2, 0.9), ("alltoall", "fixed_latency_us"): (0.0, 60.0),
                   ("allreduce", "fixed_latency_us"): (0.0, 40.0)}
PRIOR_SIGMA = {"compute_fraction": 0.25, "memory_fraction": 0.25, "link_fraction": 0.25,
               "fixed_latency_us": 25.0, "latency_per_doubling_us": 10.0, "half_efficiency_tokens": 32.0,
               "ttft_queue_factor": 0.5, "mtp_acceptance": 0.3, "ep_imbalance_per_doubling": 0.1,
               "moe_comm_overlap": 0.5, "sequence_overhead_us": 50.0,
               "draft_expert_reuse": 0.5, "mtp_acceptance_per_output_doubling": 0.05,
               "disagg_prefill_rate_factor": 0.3}
OFFSET_SIGMA = 0.3  # log-offset of a vendor or silicon group from the level above (≈ ±35 %)
SERVING_WEIGHT = {"tpot": 1.0, "tput": 0.5, "ttft": 0.3}
# A MoE precision no measured point exercises takes, for each fraction, the fitted value of the precision whose
# kernel work it shares instead of its uncalibrated prior: MXFP4 weights with FP8 activations (w4a8) run FP8
# tensor-core math and stream 4-bit weights. (Left out, B200 is the only system measured at w4a8 — gpt-oss —
# and kept the prior compute fraction 0.15, below the physical floor of BOUNDS.)
MOE_PRECISION_PROXY = {("w4a8", "compute_fraction"): "fp8", ("w4a8", "memory_fraction"): "nvfp4"}


def _kind(parameter: str) -> str:
    """A stack's own serving parameter (``mtp_acceptance_sglang``) has the range and prior of its kind."""
    return "mtp_acceptance" if parameter in STACK_SERVING_PARAMETERS else parameter


def bounds_of(precision: str, op_class: str, parameter: str) -> tuple[float, float]:
    """The physical range of one factor (see BOUNDS)."""
    return SPECIFIC_BOUNDS.get((op_class, parameter)) or SPECIFIC_BOUNDS.get((precision, parameter)) \
        or BOUNDS[_kind(parameter)]


@dataclass(frozen=True)
class Parameter:
    """One fitted factor: (level, precision, op_class, parameter); level is a system id (``only`` fits),
    a silicon group, a vendor or ``*``."""

    system: str
    precision: str
    op_class: str
    parameter: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.system, self.precision, self.op_class, self.parameter)

    @property
    def name(self) -> str:
        return f"{self.system}/{self.precision}/{self.op_class}.{self.parameter}"


SERVING = "serving"


def holdout_mask(points: pd.DataFrame) -> np.ndarray:
    """Every HOLDOUT_EVERY-th configuration in a fixed order (deterministic, spread over all groups)."""
    keys = [c for c in ["system", "model", "precision", "isl", "osl", "serving", "mtp", "tp", "dp_attention",
                        "moe_ep", "ep", "decode_workers", "concurrency"] if c in points.columns]
    order = points.sort_values(keys).index
    mask = np.zeros(len(points), dtype=bool)
    mask[np.asarray(order)[HOLDOUT_EVERY - 1::HOLDOUT_EVERY]] = True
    return mask


@dataclass
class FitResult:
    parameters: list[Parameter]
    prior: np.ndarray
    fitted: np.ndarray
    factors: Factors
    before: pd.DataFrame
    after: pd.DataFrame
    holdout_after: pd.DataFrame
    points: int
    holdout_points: int
    backend: str
    excluded_systems: tuple = ()
    level_rows: tuple | None = None  # (fitted rows by level, serving values) of a level fit; None for ``only``


def _prior(base: Factors, p: Parameter) -> float:
    if p.op_class == SERVING:
        return base.serving(_kind(p.parameter))
    return base.get(p.system if p.system != "*" else "*", p.precision, p.op_class, p.parameter)


# ------------------------------------------------------------------------------------------------------------
# Data of the fit: both reference sets in one frame of "kind"-tagged rows


def training_data(backend: str = "best", exclude_systems=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(aggregated reference rows, serving reference rows), best framework per configuration, without
    ``exclude_systems`` (leave-one-system-out)."""
    agg = select(load_reference(), backend).reset_index(drop=True)
    serving = load_serving_reference()
    if backend != "best":
        serving = serving[serving["framework"].str.contains(backend)]
    serving = select_best(serving)
    agg = agg[~agg["system"].isin(exclude_systems)].reset_index(drop=True)
    serving = serving[~serving["system"].isin(exclude_systems)].reset_index(drop=True)
    serving = serving[~serving["label_flags"].fillna("").str.contains("ttft_over_60s")].reset_index(drop=True)
    return agg, serving


def predict_all(agg: pd.DataFrame, serving: pd.DataFrame, factors: Factors, catalog: Catalog,
                length_factor: float = BENCHMARK_LENGTH_FACTOR) -> tuple[pd.DataFrame, pd.DataFrame]:
    a = predict(agg, factors, catalog, length_factor) if len(agg) else agg
    b = predict_serving(serving, factors, catalog, length_factor) if len(serving) else serving
    return a, b


def level_parameters(agg: pd.DataFrame, serving: pd.DataFrame, catalog: Catalog, levels: dict) -> list[Parameter]:
    """Global parameters plus vendor/silicon offsets for the groups the data covers."""
    params: list[Parameter] = []
    seen: set = set()

    def add(*key):
        if key not in seen:
            seen.add(key)
            params.append(Parameter(*key))

    groups = pd.concat([agg[["system", "model", "precision"]],
                        serving[["system", "model", "precision_id"]].rename(columns={"precision_id": "precision"})])
    # Kernel-efficiency offsets are learned only where kernels dominate: an engine that spans scale-up domains
    # (H100 TP16 / EP16 over InfiniBand) measures the network as much as its kernels, and fitted alone it
    # would hand its network time to the silicon's MoE efficiency (a leave-H200-out fit took Hopper's FP8 MoE
    # weight streaming down to 0.37 of HBM bandwidth from H100's 2-node points; with H200 it is 0.60).
    within = np.concatenate([_within_domain(agg, catalog), _within_domain(serving, catalog)])
    counts = groups[within].value_counts()
    weight_keys: dict[tuple[str, str], set] = {}
    for (system_id, model_id, precision_id), n in counts.items():
        if n < MIN_GROUP_POINTS:
            continue
        system, model = catalog.system(system_id), catalog.model(model_id)
        rp = resolve_precision(system, model, catalog.precision(precision_id))
        op = "moe" if model.is_moe else "gemm"
        weight_keys.setdefault((rp.gemm_efficiency_key, op), set()).add(system_id)
    systems = sorted(set(groups["system"]))
    for (prec, op), members in sorted(weight_keys.items()):
        for par in ("memory_fraction", "compute_fraction"):
            add("*", prec, op, par)
            # compute efficiency is a property of the vendor's kernels; memory efficiency also of the silicon
            for lv in _offset_levels(members, levels, silicon=(par == "memory_fraction")):
                add(lv, prec, op, par)
    for op in ("layer", "moe"):
        add("*", "*", op, "fixed_latency_us")
        for lv in _offset_levels(systems, levels):
            add(lv, "*", op, "fixed_latency_us")
    add("*", "*", "gemm", "half_efficiency_tokens")
    add("*", "*", "moe", "half_efficiency_tokens")
    add("*", "*", "allreduce", "fixed_latency_us")
    add("*", "*", "allreduce", "latency_per_doubling_us")
    add("*", "*", "alltoall", "fixed_latency_us")
    add("*", "*", "attention_prefill", "compute_fraction")
    for par in ("memory_fraction", "compute_fraction", "fixed_latency_us"):  # decode kernels differ by vendor
        add("*", "*", "attention_decode", par)
        for lv in _offset_levels(systems, levels, silicon=False):
            add(lv, "*", "attention_decode", par)
    # collectives across scale-up domains: the H100 (2-node TP16 / EP16) points pin them
    if any(catalog.system(s).scale_up_domain_gpus < 16 for s in systems):
        add("*", "*", "alltoall_scaleout", "fixed_latency_us")
        add("*", "*", "alltoall_scaleout", "link_fraction")
        add("*", "*", "allreduce_scaleout", "fixed_latency_us")
    add("*", "*", SERVING, "ttft_queue_factor")
    add("*", "*", SERVING, "sequence_overhead_us")
    if len(serving) and (serving["mtp"] > 0).any():
        # MTP realisation differs by stack (validate --mtp: H200 TensorRT-LLM gains 1.40x, SGLang 1.07x):
        # one acceptance per stack with enough MTP points; the default becomes the best of them (_Levels.rows)
        counts = serving.loc[serving["mtp"] > 0, "framework"].map(stack_family).value_counts()
        stacks = [f for f in MTP_STACKS if counts.get(f, 0) >= MIN_STACK_MTP_POINTS]
        for f in stacks:
            add("*", "*", SERVING, f"mtp_acceptance_{f}")
        if not stacks:
            add("*", "*", SERVING, "mtp_acceptance")
        add("*", "*", SERVING, "draft_expert_reuse")
        if serving.loc[serving["mtp"] > 0, "osl"].nunique() > 1:
            add("*", "*", SERVING, "mtp_acceptance_per_output_doubling")
    if len(serving) and (serving["serving"] == "disagg").any():
        add("*", "*", SERVING, "disagg_prefill_rate_factor")
    if len(serving):
        add("*", "*", SERVING, "ep_imbalance_per_doubling")
        add("*", "*", SERVING, "moe_comm_overlap")
    return params


def _within_domain(points: pd.DataFrame, catalog: Catalog) -> np.ndarray:
    """Rows whose engine (aggregated, or the decode side of a disaggregated unit) fits in one scale-up domain:
    max(tp, ep) ≤ the system's scale-up GPUs."""
    if not len(points):
        return np.zeros(0, dtype=bool)
    # the serving reference's engine layout (serving_reference.layouts); the aggregated reference records GPUs
    engine = layouts(points)["engine"].gpus if "serving" in points else points["gpus"].to_numpy(float)
    domain = points["system"].map(lambda s: catalog.system(s).scale_up_domain_gpus).to_numpy(float)
    return engine <= domain


def _offset_levels(systems, levels: dict, silicon: bool = True) -> list[str]:
    """Offsets: vendors when two or more have data; silicon groups of a vendor with two or more measured
    groups, or under a vendor offset.

    A vendor with a single measured group cannot tell its vendor offset from the group's: both get one, with
    equal priors (OFFSET_SIGMA), so the fit splits the deviation between them and a silicon of that vendor that
    was never measured inherits only the vendor's share — not all of another generation's deviation (left
    out, MI355X would otherwise take CDNA3's kernel latencies whole)."""
    known = [s for s in systems if s in levels]
    vendors = sorted({levels[s][1] for s in known})
    out = [f"vendor:{v}" for v in vendors] if len(vendors) > 1 else []
    if silicon:
        for v in vendors:
            groups = sorted({levels[s][0] for s in known if levels[s][1] == v})
            if len(groups) > 1 or len(vendors) > 1:
                out += groups
    return out


def _is_offset(p: Parameter) -> bool:
    return p.system not in ("*",) and p.op_class != SERVING


class _Levels:
    """Maps a parameter vector θ to factor rows at every level: global value × exp(offsets), clipped."""

    def __init__(self, params: list[Parameter], base: Factors, levels: dict):
        self.params = params
        self.levels = levels
        self.index = {p.key: i for i, p in enumerate(params)}
        self.base = base

    def rows(self, theta: np.ndarray) -> tuple[dict, dict]:
        fitted: dict = {}
        serving: dict = {}
        for i, p in enumerate(self.params):
            if p.op_class == SERVING:
                serving[p.parameter] = float(theta[i])
            elif p.system == "*":
                fitted[p.key] = float(theta[i])
        for i, p in enumerate(self.params):
            if not _is_offset(p):
                continue
            g = self.index[("*", p.precision, p.op_class, p.parameter)]
            offset = theta[i]
            if not p.system.startswith("vendor:"):  # silicon: add its vendor's offset
                vendor = next((v for s, (sil, v) in self.levels.items() if sil == p.system), None)
                j = self.index.get((f"vendor:{vendor}", p.precision, p.op_class, p.parameter))
                offset = offset + (theta[j] if j is not None else 0.0)
            lo, hi = bounds_of(p.precision, p.op_class, p.parameter)
            level = p.system.split(":", 1)[1] if p.system.startswith("vendor:") else p.system
            fitted[(level, p.precision, p.op_class, p.parameter)] = float(np.clip(theta[g] * np.exp(offset), lo, hi))
        for (precision, parameter), proxy in MOE_PRECISION_PROXY.items():
            if not any(k[1:] == (precision, "moe", parameter) for k in fitted):
                fitted.update({(k[0], precision, "moe", parameter): v for k, v in list(fitted.items())
                               if k[1:] == (proxy, "moe", parameter)})
        own = [v for k, v in serving.items() if k in STACK_SERVING_PARAMETERS]
        if own:  # the default model predicts the best stack: its MTP acceptance is the best calibrated one
            serving["mtp_acceptance"] = max(own)
        return fitted, serving

    def apply(self, theta: np.ndarray) -> Factors:
        fitted, serving = self.rows(theta)
        return self.base.with_fitted(fitted).with_serving(**serving)


def system_weights(systems: pd.Series) -> np.ndarray:
    """√(N / (S · n_s)) per point: every measured system weighs the same in the fit, however many points it
    has (otherwise 400 B200 points would set the factors that 15 MI300X points also depend on)."""
    counts = systems.map(systems.value_counts())
    return np.sqrt(len(systems) / (systems.nunique() * counts.to_numpy(float)))


def _residuals_of(agg: pd.DataFrame, serving: pd.DataFrame, factors: Factors, catalog: Catalog) -> np.ndarray:
    a, b = predict_all(agg, serving, factors, catalog)
    weights = system_weights(pd.concat([agg["system"], serving["system"]], ignore_index=True))
    w_a, w_b = weights[:len(agg)], weights[len(agg):]
    parts = []
    if len(a):
        parts += [w_a * TPOT_WEIGHT * (np.log(np.maximum(a["pred_tpot_ms"].to_numpy(float), 1e-9))
                                       - np.log(a["tpot_ms"])),
                  w_a * TTFT_WEIGHT * (np.log(np.maximum(a["pred_ttft_ms"].to_numpy(float), 1e-9))
                                       - np.log(a["ttft_ms"]))]
    if len(b):
        for metric, col in (("tpot", "tpot_ms"), ("ttft", "ttft_ms"), ("tput", "output_tokens_per_s_per_gpu")):
            pred = b["pred_output_tokens_per_s_per_gpu" if metric == "tput" else f"pred_{col}"].to_numpy(float)
            parts.append(w_b * SERVING_WEIGHT[metric] * (np.log(np.maximum(pred, 1e-9))
                                                         - np.log(b[col].to_numpy(float))))
    data = np.concatenate(parts) if parts else np.zeros(0)
    return np.nan_to_num(data, nan=2.0, posinf=2.0, neginf=-2.0)  # cannot-run points: large, finite


def fit_levels(backend: str = "best", *, exclude_systems=(), catalog: Catalog | None = None,
               base: Factors | None = None, max_nfev: int = 25, holdout: bool = True) -> FitResult:
    """The default fit: global + vendor + silicon levels on both reference sets (see module docstring)."""
    catalog = catalog or load_catalog()
    base = base or load_factors(UNCALIBRATED)
    levels = load_levels()
    agg, serving = training_data(backend, exclude_systems)
    held_a = holdout_mask(agg) if holdout else np.zeros(len(agg), bool)
    held_s = holdout_mask(serving) if holdout and len(serving) else np.zeros(len(serving), bool)
    train_a, train_s = agg[~held_a].reset_index(drop=True), serving[~held_s].reset_index(drop=True)
    params = level_parameters(train_a, train_s, catalog, levels)
    mapper = _Levels(params, base, levels)
    prior = np.array([0.0 if _is_offset(p) else _prior(base, p) for p in params])
    lower, upper, sigma = [], [], []
    for p, v in zip(params, prior):
        if _is_offset(p):
            lower.append(-1.5), upper.append(1.5), sigma.append(OFFSET_SIGMA)
        else:
            lo, hi = bounds_of(p.precision, p.op_class, p.parameter)
            lower.append(lo), upper.append(hi), sigma.append(PRIOR_SIGMA[_kind(p.parameter)])
    lower, upper, sigma = np.array(lower), np.array(upper), np.array(sigma)

    def residuals(theta):
        data = _residuals_of(train_a, train_s, mapper.apply(theta), catalog)
        return np.concatenate([data, (theta - prior) / sigma * LOSS_SCALE])

    start = np.clip(prior, lower + 1e-6, upper - 1e-6)
    solution = least_squares(residuals, start, bounds=(lower, upper), loss="soft_l1", f_scale=LOSS_SCALE,
                             x_scale=np.maximum(sigma, 1e-3), max_nfev=max_nfev, diff_step=1e-3)
    fitted = mapper.apply(solution.x)
    before = score(agg, serving, base, catalog)
    after = score(train_a, train_s, fitted, catalog)
    held = score(agg[held_a].reset_index(drop=True), serving[held_s].reset_index(drop=True), fitted, catalog)
    return FitResult(params, prior, solution.x, fitted, before, after, held, len(train_a) + len(train_s),
                     int(held_a.sum() + held_s.sum()), backend, tuple(exclude_systems), mapper.rows(solution.x))


def score(agg: pd.DataFrame, serving: pd.DataFrame, factors: Factors, catalog: Catalog) -> pd.DataFrame:
    """Config-level error summary (validation.summarize) over both reference sets together."""
    a, b = predict_all(agg, serving, factors, catalog)
    frames = [a] if len(a) else []
    if len(b):
        frames.append(b.drop(columns=["precision"]).rename(columns={"precision_id": "precision"}))
    if not frames:
        return summarize(add_errors(predict(agg, factors, catalog)))
    return summarize(add_errors(pd.concat(frames, ignore_index=True)))


def fit(backend: str = "best", *, reference: pd.DataFrame | None = None, catalog: Catalog | None = None,
        base: Factors | None = None, max_nfev: int = 25,
        only: list[tuple[str, str, str, str]] | None = None, points: pd.DataFrame | None = None,
        length_factor: float = BENCHMARK_LENGTH_FACTOR, exclude_systems=()) -> FitResult:
    """Fit factors. Without ``only``/``points``/``reference``: the level fit on both reference sets
    (:func:`fit_levels`). ``only`` restricts the fit to the listed (system, precision, op_class, parameter) keys,
    applied as system-level overrides (a live-calibration session); ``points`` fits given measured rows
    (reference format) with no hold-out; ``length_factor`` scales their isl/osl as in :func:`reference.predict`.
    """
    catalog = catalog or load_catalog()
    if only is None and points is None and reference is None:
        return fit_levels(backend, exclude_systems=exclude_systems, catalog=catalog, base=base, max_nfev=max_nfev)
    base = base or load_factors(UNCALIBRATED)
    if points is None:
        points = select(reference if reference is not None else load_reference(), backend).reset_index(drop=True)
        held = holdout_mask(points)
    else:
        points = points.reset_index(drop=True)
        held = np.zeros(len(points), dtype=bool)
    train = points[~held].reset_index(drop=True)
    params = [Parameter(*key) for key in (only or [])]
    if not params:
        raise FactoryModelError("nothing to fit: give the parameters to fit")
    prior = np.array([_prior(base, p) for p in params])
    lower = np.array([bounds_of(p.precision, p.op_class, p.parameter)[0] for p in params])
    upper = np.array([bounds_of(p.precision, p.op_class, p.parameter)[1] for p in params])
    sigma = np.array([PRIOR_SIGMA[_kind(p.parameter)] for p in params])
    measured_tpot = np.log(train["tpot_ms"].to_numpy())
    measured_ttft = np.log(train["ttft_ms"].to_numpy())

    def apply(theta):
        overrides = {p.key: float(v) for p, v in zip(params, theta) if p.op_class != SERVING}
        serving = {p.parameter: float(v) for p, v in zip(params, theta) if p.op_class == SERVING}
        return base.with_overrides(overrides).with_serving(**serving)

    def residuals(theta: np.ndarray) -> np.ndarray:
        pred = predict(train, apply(theta), catalog, length_factor)
        r_tpot = np.log(np.maximum(pred["pred_tpot_ms"].to_numpy(), 1e-9)) - measured_tpot
        r_ttft = np.log(np.maximum(pred["pred_ttft_ms"].to_numpy(), 1e-9)) - measured_ttft
        data = np.concatenate([TPOT_WEIGHT * r_tpot, TTFT_WEIGHT * r_ttft])
        data = np.nan_to_num(data, nan=5.0, posinf=5.0, neginf=-5.0)
        return np.concatenate([data, (theta - prior) / sigma * LOSS_SCALE])

    start = np.clip(prior, lower + 1e-9, upper - 1e-9)
    solution = least_squares(residuals, start, bounds=(lower, upper), loss="soft_l1", f_scale=LOSS_SCALE,
                             x_scale=np.maximum(sigma, 1e-3), max_nfev=max_nfev, diff_step=1e-3)
    fitted = apply(solution.x)
    before = summarize(add_errors(predict(points, base, catalog, length_factor)))
    after = summarize(add_errors(predict(train, fitted, catalog, length_factor)))
    holdout_after = summarize(add_errors(predict(points[held].reset_index(drop=True), fitted, catalog,
                                                 length_factor)))
    return FitResult(params, prior, solution.x, fitted, before, after, holdout_after, len(train), int(held.sum()),
                     backend)


def load_transfer_map(data_dir: Path | None = None) -> dict[str, tuple[str, str]]:
    """Unmeasured system -> (where its fitted factors come from, reason): a measured system on the same
    silicon, else the vendor level, else the global level (data/silicon.yaml; factors.py lookup)."""
    levels = load_levels(data_dir)
    measured = set(load_reference()["system"]) | set(load_serving_reference()["system"])
    out = {}
    for system, (silicon, vendor) in levels.items():
        if system in measured:
            continue
        same = sorted(s for s, (sil, _) in levels.items() if sil == silicon and s in measured)
        vendor_measured = sorted(s for s, (_, v) in levels.items() if v == vendor and s in measured)
        if same:
            out[system] = (same[0], f"same {silicon} silicon as {', '.join(same)}: shares every fitted factor")
        elif vendor_measured:
            out[system] = (vendor_measured[0], f"no measured {silicon} system: {vendor} vendor-level factors "
                                               f"(fitted on {', '.join(vendor_measured)})")
        else:
            out[system] = ("*", "no measured system of this vendor: global factors")
    return out


def profile_rows(result: FitResult, data_dir: Path | None = None) -> list[FactorRow]:
    """Rows of the calibration profile: fitted values with provenance, at their level (silicon, vendor, *)."""
    digest = hashlib.sha256(REFERENCE_PATH.read_bytes()).hexdigest()[:12]
    digest_s = hashlib.sha256(SERVING_REFERENCE_PATH.read_bytes()).hexdigest()[:12]
    date = _dt.date.today().isoformat()
    after = result.after.set_index("system").loc["all"]
    provenance = (f"fit {date}: python -m factory_model fit --backend {result.backend} on "
                  f"data/reference/measured_agg_points.csv (sha256 {digest}…) and measured_serving_points.csv "
                  f"(sha256 {digest_s}…), {result.points} configurations; in-sample TPOT MdAPE "
                  f"{after['tpot_mdape_pct']:.1f} %")
    rows = []
    level_rows = result.level_rows
    if level_rows is None:  # an ``only`` fit: system-level values
        for p, prior, value in zip(result.parameters, result.prior, result.fitted):
            rows.append(FactorRow(p.system, p.precision, p.op_class, p.parameter, float(value),
                                  f"{provenance}; prior {prior:g}"))
        return rows
    fitted, serving = level_rows
    for key, value in fitted.items():
        rows.append(FactorRow(*key, value, f"{provenance}; level {key[0]}"))
    own = {k: v for k, v in serving.items() if k in STACK_SERVING_PARAMETERS}
    for name, value in serving.items():
        note = ""
        if name == "mtp_acceptance" and own:
            note = f"; the best calibrated stack's ({max(own, key=own.get)}): the default predicts the best stack"
        rows.append(FactorRow("*", "*", SERVING, name, value, provenance + note))
    return rows


def write_profile(result: FitResult, profile: str = "default", data_dir: Path | None = None) -> Path:
    path = (data_dir or DATA_DIR) / CALIBRATION_DIR_NAME / f"{profile}.csv"
    if path.resolve().parent != ((data_dir or DATA_DIR) / CALIBRATION_DIR_NAME).resolve() or not profile.isidentifier():
        raise FactoryModelError(f"profile name must be a plain name (letters, digits, _), got {profile!r}")
    write_factor_csv(path, profile_rows(result, data_dir))
    load_factors.cache_clear()
    return path
