"""Step time: how long one forward iteration of the serving engine takes. Decode step time is computed here.

One iteration of one attention-DP rank processes ``decode_tokens`` sequences that each generate a token (at a
mean context of ``decode_context`` tokens) plus ``prefill_tokens`` prompt tokens of requests whose input length
is ``prefill_isl`` (chunked prefill mixes both). The iteration is a sequence of ops, each timed with the
roofline plus a fixed latency and summed (anchors-modelling §2.5):

    t_op   = max(FLOPs / (η_F · peak), bytes / (η_B · HBM BW), τ_op)      per kernel
    t_step = Σ_layers Σ_ops t_op + Σ collectives (α(n) + bytes / (η_link · BW_link)) + L · τ_layer + τ_step
             + T_dec · τ_seq + (pp − 1) · t_p2p

τ_seq is a cost per decoded query token of each step (sampler, logits processing, per-request metadata, draft
verification; T_dec = B, or B·(n + 1) when verifying n drafts) that grows with the batch but not with the model;
it is why measured TPOT keeps rising at large batches where the roofline has flattened.

The kernel latency τ_op is a floor, not an addend: under CUDA graphs and programmatic dependent launch a
long kernel hides its launch and ramp. Evidence: Llama-3.1-70B FP8 on one H200 at batch 4 streams its
weights at 74 % of HBM bandwidth (anchors-modelling §3.3), the weight-streaming efficiency of the isolated
kernels (§3.2), leaving no room for an additive τ per kernel; yet at tp=8 a fixed ~36-40 µs per layer appears.
That fixed time is the floor of small kernels plus collective latency, which grows with the number of ranks
(α(n) = α + α_doubling · log2 n, communication.py), plus an additive residual τ_layer (norms, RoPE,
activations: small kernels that never stream much).

Op classes (efficiency factors in data/efficiency_factors.csv, looked up in factors.py):

* ``gemm``: every dense linear layer (attention projections, dense MLP, shared experts, router, lm_head). The
  quantized ones use the precision's math and bytes; tensors the checkpoint keeps in BF16 use BF16 factors.
* ``moe``: the routed-expert grouped GEMM; weight bytes count only experts the step's tokens touch (moe.py).
* ``attention_decode``: reads every decoding sequence's KV cache (memory-bound except MLA at long context).
* ``attention_prefill``: causal attention of the prompt chunk (compute-bound).
* collectives (communication.py): tp all-reduce after attention and after each MLP or MoE layer; with
  attention-DP, expert dispatch + combine all-to-all around MoE layers instead, split into scale-up and
  network bytes with per-node de-duplication when the EP group spans domains (DeepEP); a share
  ``moe_comm_overlap`` of its transfer hides behind compute (two-batch overlap); pipeline hand-offs.
* expert load imbalance (moe.load_imbalance): the busiest EP rank carries λ ≥ 1 times the mean routed tokens,
  which scales the MoE compute and the all-to-all bytes it receives.

All array arguments broadcast against the layout (N deployments); everything is numpy, no Python loop over N.
With pp > 1 the formulas give the time for one micro-batch to cross all stages (= TPOT of its sequences).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import architecture as arch
from . import moe as moe_math
from .catalog import Model, System
from .communication import LinkFactors, allreduce_time, alltoall_two_level_time, p2p_time
from .factors import Factors
from .memory import BF16_BYTES, kv_heads_per_gpu, tensor_bytes
from .parallelism import Layout
from .precision import ResolvedPrecision

US = 1e-6
DISPATCH_BYTES = {"fp8": 1.0, "fp4": 0.5625, "bf16": 2.0}  # EP dispatch is quantized to the GEMM math
ACTIVATION_BYTES = BF16_BYTES
BOUNDS = ("compute", "memory", "latency", "communication")


@dataclass(frozen=True)
class Roofline:
    """Achievable rates of one op class: FLOP/s, bytes/s and fixed seconds per kernel.

    ``half_efficiency_tokens`` (M½): a matrix multiply over M token rows reaches M/(M + M½) of ``flops_per_s``.
    Tensor-core tiles span 64-128 rows, so a decode GEMM of a few dozen tokens leaves most of each tile idle;
    large prefill chunks approach the measured large-GEMM efficiency. 0 disables the ramp.
    """

    flops_per_s: float
    bytes_per_s: float
    fixed_s: float
    half_efficiency_tokens: float = 0.0
    peak_flops_per_s: float = 0.0   # datasheet peak, for the speed-of-light bound
    peak_bytes_per_s: float = 0.0

    def compute_rate(self, tokens_m) -> np.ndarray:
        """Achieved FLOP/s of a matrix multiply with ``tokens_m`` rows."""
        m = np.maximum(np.asarray(tokens_m, dtype=float), 1e-9)
        return self.flops_per_s * m / (m + self.half_efficiency_tokens)


@dataclass(frozen=True)
class StepModel:
    """One (system, model, precision, factor profile), resolved once for many step-time evaluations."""

    system: System
    model: Model
    precision: ResolvedPrecision
    gemm: Roofline          # quantized linear layers
    gemm_bf16: Roofline     # linear layers kept in BF16
    moe: Roofline
    attention_decode: Roofline
    attention_prefill: Roofline
    links: LinkFactors
    layer_fixed_s: float
    step_fixed_s: float
    ep_imbalance_per_doubling: float = 0.0
    moe_comm_overlap: float = 0.0
    sequence_overhead_s: float = 0.0
    draft_expert_reuse: float = 0.0


def build_step_model(system: System, model: Model, rp: ResolvedPrecision, factors: Factors) -> StepModel:
    """Resolve peaks, bandwidths and efficiency factors of one scenario."""
    s = system.factor_id
    bw = system.hbm_bandwidth_bytes_per_s

    def roof(op_class: str, key: str, math: str, with_memory: bool = True, ramp: bool = True) -> Roofline:
        eta_f = factors.get(s, key, op_class, "compute_fraction")
        if op_class.startswith("attention"):  # Blackwell Ultra's faster softmax (systems.yaml, [NV-BU])
            eta_f = eta_f * system.attention_compute_speedup
        eta_b = factors.get(s, key, op_class, "memory_fraction") if with_memory else 1.0
        half = factors.get(s, key, op_class, "half_efficiency_tokens") if ramp else 0.0
        return Roofline(system.peak_flops(math) * eta_f, bw * eta_b,
                        factors.get(s, key, op_class, "fixed_latency_us") * US, half,
                        system.peak_flops(math), bw)

    g = lambda op, par: factors.get(s, "*", op, par)  # noqa: E731 - collectives do not depend on precision
    links = LinkFactors(
        scale_up_bytes_per_s=system.scale_up_bandwidth_gb_s * 1e9,
        scale_out_bytes_per_s=system.scale_out_bandwidth_gb_s * 1e9,
        domain_gpus=system.scale_up_domain_gpus,
        allreduce_alpha_s=g("allreduce", "fixed_latency_us") * US,
        allreduce_alpha_per_doubling_s=g("allreduce", "latency_per_doubling_us") * US,
        allreduce_fraction=g("allreduce", "link_fraction"),
        allreduce_scaleout_alpha_s=g("allreduce_scaleout", "fixed_latency_us") * US,
        allreduce_scaleout_alpha_per_doubling_s=g("allreduce_scaleout", "latency_per_doubling_us") * US,
        allreduce_scaleout_fraction=g("allreduce_scaleout", "link_fraction"),
        alltoall_alpha_s=g("alltoall", "fixed_latency_us") * US,
        alltoall_fraction=g("alltoall", "link_fraction"),
        alltoall_scaleout_alpha_s=g("alltoall_scaleout", "fixed_latency_us") * US,
        alltoall_scaleout_fraction=g("alltoall_scaleout", "link_fraction"),
        p2p_alpha_s=g("p2p", "fixed_latency_us") * US,
        scale_up_peer_bytes_per_s=system.scale_up_peer_bandwidth_gb_s * 1e9,
    )
    return StepModel(
        system=system, model=model, precision=rp,
        gemm=roof("gemm", rp.gemm_efficiency_key, rp.gemm_math),
        gemm_bf16=roof("gemm", "bf16", "bf16"),
        moe=roof("moe", rp.gemm_efficiency_key, rp.gemm_math),
        attention_decode=roof("attention_decode", rp.kv_efficiency_key, rp.kv_math, ramp=False),
        attention_prefill=roof("attention_prefill", rp.kv_efficiency_key, rp.kv_math, with_memory=False,
                               ramp=False),
        links=links,
        layer_fixed_s=g("layer", "fixed_latency_us") * US,
        step_fixed_s=g("step", "fixed_latency_us") * US,
        ep_imbalance_per_doubling=factors.serving("ep_imbalance_per_doubling"),
        moe_comm_overlap=factors.serving("moe_comm_overlap"),
        sequence_overhead_s=factors.serving("sequence_overhead_us") * US,
        draft_expert_reuse=factors.serving("draft_expert_reuse"),
    )


@dataclass
class StepTime:
    """Seconds per step (N,), split by what bounds it, and per op (for breakdown tables).

    compute / memory: roofline time of ops bound by FLOP/s or by HBM bytes; latency: fixed kernel, layer, step
    and collective start-up times; communication: bandwidth time of collectives. ``speed_of_light_s`` is the
    hardware bound max(Σ FLOPs / peak, Σ bytes / HBM bandwidth) at 100 % efficiency with no latencies and
    no communication: no step can be faster.
    """

    total_s: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    latency_s: np.ndarray
    communication_s: np.ndarray
    speed_of_light_s: np.ndarray
    ops_s: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def bound(self) -> np.ndarray:
        """'compute', 'memory', 'latency' or 'communication': the largest share of the step."""
        shares = np.stack([self.compute_s, self.memory_s, self.latency_s, self.communication_s])
        return np.asarray(BOUNDS, dtype=object)[np.argmax(shares, axis=0)]


class _Sum:
    def __init__(self, n: int, with_ops: bool):
        z = lambda: np.zeros(n)  # noqa: E731
        self.compute, self.memory, self.latency, self.comm = z(), z(), z(), z()
        self.sol_compute, self.sol_memory = z(), z()
        self.with_ops = with_ops
        self.ops: dict[str, np.ndarray] = {}

    def _record(self, name: str, seconds) -> None:
        if self.with_ops:
            self.ops[name] = self.ops.get(name, 0.0) + seconds

    def op(self, name: str, count: float, flops, nbytes, roof: Roofline, kernels: float = 1.0, active=True,
           tokens_m=None):
        """t = max(compute, memory, τ) per kernel: τ is a floor, hidden under long kernels.

        ``tokens_m``: rows of the matrix multiply, for the efficiency ramp (None: no ramp, e.g. attention).
        """
        rate = roof.flops_per_s if tokens_m is None else roof.compute_rate(tokens_m)
        n = count * kernels
        t_compute = flops * (1.0 / kernels) / rate
        t_memory = nbytes * (1.0 / (kernels * roof.bytes_per_s))
        floor = roof.fixed_s if active is True else np.where(active, roof.fixed_s, 0.0)
        t_roof = np.maximum(t_compute, t_memory)
        latency_bound = floor > t_roof
        roof_time = np.where(latency_bound, 0.0, t_roof) * n
        compute_share = np.where(t_compute >= t_memory, roof_time, 0.0)
        self.compute += compute_share
        self.memory += roof_time - compute_share
        self.latency += np.where(latency_bound, floor * n, 0.0)
        self.sol_compute += flops * (count / roof.peak_flops_per_s)
        self.sol_memory += nbytes * (count / roof.peak_bytes_per_s)
        if self.with_ops:
            self._record(name, n * np.maximum(t_roof, floor))

    def collective(self, name: str, count: float, parts: tuple[np.ndarray, np.ndarray]):
        alpha, transfer = parts
        self.latency += count * alpha
        self.comm += count * transfer
        self._record(name, count * (alpha + transfer))

    def fixed(self, name: str, seconds):
        self.latency += seconds
        self._record(name, seconds)


def step_time(sm: StepModel, layout: Layout, decode_tokens, decode_context, prefill_tokens=0.0,
              prefill_isl=1.0, *, tokens_per_sequence=1.0, with_ops: bool = False) -> StepTime:
    """Time of one iteration for each of N deployments (see module docstring for the formula).

    ``decode_tokens`` counts query tokens; with speculative decoding each sequence verifies
    ``tokens_per_sequence`` (= 1 + draft tokens) per step, which multiplies FLOPs and MoE routing but not the
    KV cache each sequence reads; the distinct experts a sequence's tokens touch grow only as
    1 + draft tokens · (1 − ``draft_expert_reuse``). ``with_ops=True`` also returns the time of every op (``ops_s``).
    """
    m, rp, links = sm.model, sm.precision, sm.links
    n = len(layout)
    tp = layout.tp.astype(float)
    dp = layout.dp.astype(float)
    ep = layout.ep.astype(float)
    pp = layout.pp.astype(float)
    d_tok = np.broadcast_to(np.asarray(decode_tokens, dtype=float), (n,))
    ctx = np.broadcast_to(np.asarray(decode_context, dtype=float), (n,))
    p_tok = np.broadcast_to(np.asarray(prefill_tokens, dtype=float), (n,))
    isl = np.maximum(np.broadcast_to(np.asarray(prefill_isl, dtype=float), (n,)), 1.0)
    tokens = d_tok + p_tok
    h = m.hidden_size
    acc = _Sum(n, with_ops)
    L = m.layers

    # --- attention projections (per layer) ---------------------------------------------------------------
    attn_bytes = tensor_bytes(m, rp, "attention")
    attn_roof = sm.gemm_bf16 if "attention" in rp.bf16_tensors else sm.gemm

    def gemm(name, count, params_per_gpu, d_in, d_out, toks, bytes_per_param, roof, kernels=1.0):
        flops = 2.0 * toks * params_per_gpu
        nbytes = params_per_gpu * bytes_per_param + toks * (d_in + d_out) * ACTIVATION_BYTES
        acc.op(name, count, flops, nbytes, roof, kernels, tokens_m=toks)

    p = arch.attention_params(m)
    if m.is_mla:
        down = p["q_a"] + p["kv_a"]  # replicated on every tp rank
        gemm("attention_down_proj", L, down, h, m.q_lora_rank + m.kv_lora_rank, tokens, attn_bytes, attn_roof)
        gemm("attention_q_up_proj", L, p["q_b"] / tp, m.q_lora_rank, p["q_b"] / m.q_lora_rank / tp, tokens,
             attn_bytes, attn_roof)
        # decode: absorbed q->latent and latent->v batched matmuls; prefill: up-projection of the chunk's KV
        gemm("attention_kv_up_proj", L, p["kv_b"] / tp, m.kv_lora_rank, p["kv_b"] / m.kv_lora_rank / tp, tokens,
             attn_bytes, attn_roof, kernels=2.0)
        gemm("attention_out_proj", L, p["o"] / tp, m.heads * m.v_head_dim / tp, h, tokens, attn_bytes, attn_roof)
        kv_elements_gpu = float(arch.kv_elements_per_token_per_layer(m))  # latent not split by tp
        head_width = m.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim)
    else:
        kv_heads = kv_heads_per_gpu(m, tp)
        qkv = p["q"] / tp + 2 * h * m.head_dim * kv_heads
        gemm("attention_qkv_proj", L, qkv, h, qkv / h, tokens, attn_bytes, attn_roof)
        gemm("attention_out_proj", L, p["o"] / tp, m.heads * m.head_dim / tp, h, tokens, attn_bytes, attn_roof)
        kv_elements_gpu = 2.0 * m.head_dim * kv_heads
        head_width = m.heads * m.head_dim

    # --- attention core -------------------------------------------------------------------------------
    pair_decode = arch.attention_flops_per_pair(m, "decode") / tp
    pair_prefill = arch.attention_flops_per_pair(m, "prefill") / tp
    kv_token_bytes = kv_elements_gpu * rp.kv_bytes
    qo_bytes = 2.0 * head_width / tp * ACTIVATION_BYTES
    window = float(m.sliding_window_tokens)
    groups = [("full", L - m.sliding_window_layers, ctx, isl / 2.0)]
    if m.sliding_window_layers:
        # mean causal span of a prompt token under a window W: W − W²/(2·isl) once isl > W
        span = np.where(isl > window, window - window**2 / (2.0 * isl), isl / 2.0)
        groups.append(("sliding", m.sliding_window_layers, np.minimum(ctx, window), span))
    for label, count, context, prefill_span in groups:
        if count == 0:
            continue
        acc.op(f"attention_decode_{label}", count, d_tok * pair_decode * context,
               d_tok / tokens_per_sequence * (context + tokens_per_sequence) * kv_token_bytes + d_tok * qo_bytes,
               sm.attention_decode, active=d_tok > 0)
        acc.op(f"attention_prefill_{label}", count, p_tok * pair_prefill * prefill_span,
               p_tok * (2.0 * kv_token_bytes + qo_bytes), sm.attention_prefill, active=p_tok > 0)

    act_message = tokens * h * ACTIVATION_BYTES
    acc.collective("allreduce_attention", L, allreduce_time(act_message, tp, links))

    # --- dense MLP layers ------------------------------------------------------------------------------
    if m.dense_layers:
        mlp = arch.dense_mlp_params(m) / tp
        gemm("dense_mlp", m.dense_layers, mlp, h, h, tokens, rp.quantized_weight_bytes, sm.gemm, kernels=2.0)
        acc.collective("allreduce_mlp", m.dense_layers, allreduce_time(act_message, tp, links))

    # --- MoE layers -----------------------------------------------------------------------------------
    if m.is_moe:
        Lm = m.moe_layers
        expert = arch.expert_params(m)
        expert_tp = layout.expert_tp.astype(float)
        group = tp * dp
        routed = tokens * dp  # tokens entering the MoE group this step
        # a verify step's n + 1 tokens per sequence reuse that sequence's experts (serving parameter
        # draft_expert_reuse, ρ): distinct experts follow d/(n+1)·(1 + n·(1 − ρ)) independent decode tokens
        tps = np.asarray(tokens_per_sequence, dtype=float)
        independent = (p_tok + d_tok / tps * (1.0 + (tps - 1.0) * (1.0 - sm.draft_expert_reuse))) * dp
        touched = moe_math.experts_touched(m.experts, m.experts_per_token, independent)
        touched_local = touched / ep
        flops = 2.0 * routed * m.experts_per_token * expert / group
        nbytes = touched_local * expert / expert_tp * rp.quantized_weight_bytes \
            + routed * m.experts_per_token / group * 2.0 * h * ACTIVATION_BYTES
        rows_per_expert = routed * m.experts_per_token / np.maximum(touched, 1e-9)
        # the busiest EP rank sets the layer's time (hot experts, random spread; moe.load_imbalance)
        imbalance = moe_math.load_imbalance(ep, routed * m.experts_per_token, sm.ep_imbalance_per_doubling)
        acc.op("moe_experts", Lm, flops * imbalance, nbytes, sm.moe, tokens_m=rows_per_expert)
        router_roof = sm.gemm_bf16 if "router" in rp.bf16_tensors else sm.gemm
        gemm("moe_router", Lm, float(arch.router_params(m)), h, m.experts, tokens,
             tensor_bytes(m, rp, "router"), router_roof)
        if m.shared_experts:
            shared_roof = sm.gemm_bf16 if "shared_experts" in rp.bf16_tensors else sm.gemm
            gemm("moe_shared_experts", Lm, m.shared_experts * expert / tp, h, h, tokens,
                 tensor_bytes(m, rp, "shared_experts"), shared_roof, kernels=2.0)
        # Without attention-DP every GPU of the tp group already holds every token after the attention
        # all-reduce: each GPU runs its local experts (or expert slices) on the tokens routed to them and one
        # all-reduce combines the outputs, whatever ep is. With attention-DP, tokens live on their DP rank and
        # must be dispatched to the experts' GPUs and combined back (all-to-all, or all-gather + reduce-scatter).
        tp_only = dp <= 1
        ar = allreduce_time(act_message, tp, links)
        copies = np.minimum(moe_math.destination_ranks(ep, m.experts_per_token) * expert_tp, group)
        node_copies = moe_math.remote_domains(group, links.domain_gpus, m.experts_per_token)
        per_copy = tokens / tp * h * imbalance  # the busiest rank receives λ × the mean
        dispatch = alltoall_two_level_time(per_copy * DISPATCH_BYTES[rp.gemm_math], copies, node_copies, group,
                                           links)
        combine = alltoall_two_level_time(per_copy * ACTIVATION_BYTES, copies, node_copies, group, links)
        # two-batch overlap: with attention-DP the step splits into two micro-batches, and a share of one's
        # dispatch/combine transfer hides behind the other's compute (at most half the step's roofline time)
        a2a_transfer = np.where(tp_only, 0.0, dispatch[1] + combine[1]) * Lm
        acc.collective("allreduce_moe", Lm, tuple(np.where(tp_only, a, 0.0) for a in ar))
        acc.collective("alltoall_moe", Lm, tuple(np.where(tp_only, 0.0, a + b) for a, b in zip(dispatch, combine)))

    # --- output head, fixed overheads, pipeline hand-offs ------------------------------------------------
    logits_tokens = d_tok + p_tok / isl  # one logit row per generated token and per finished prompt
    head_roof = sm.gemm_bf16 if "lm_head" in rp.bf16_tensors else sm.gemm
    gemm("lm_head", 1, arch.lm_head_params(m) / tp, h, m.vocab_size / tp, logits_tokens,
         tensor_bytes(m, rp, "lm_head"), head_roof)
    acc.fixed("layer_fixed", np.full(n, L * sm.layer_fixed_s))
    # per decoded query token: sampling, logits processing, draft verification, per-request metadata — work
    # that grows with the batch (× (n + 1) when verifying n drafts) but not with the model's size
    # (serving parameter sequence_overhead_us, fitted)
    acc.fixed("sequence_overhead", d_tok * sm.sequence_overhead_s)
    acc.fixed("step_fixed", np.full(n, sm.step_fixed_s))
    crosses = layout.gpus > links.domain_gpus
    alpha, transfer = p2p_time(act_message, crosses, links)
    acc.collective("pipeline_p2p", 1.0, ((pp - 1) * alpha, (pp - 1) * transfer))

    if m.is_moe:
        hidden = sm.moe_comm_overlap * np.minimum(a2a_transfer, 0.5 * (acc.compute + acc.memory))
        acc.comm = acc.comm - hidden
        if with_ops:
            acc.ops["alltoall_moe"] = acc.ops.get("alltoall_moe", 0.0) - hidden
    total = acc.compute + acc.memory + acc.latency + acc.comm
    sol = np.maximum(acc.sol_compute, acc.sol_memory)
    return StepTime(total, acc.compute, acc.memory, acc.latency, acc.comm, sol, acc.ops)
