"""Bytes in GPU memory: weights per GPU, KV cache per sequence, and the resulting maximum batch.

Sharding (anchors-modelling §2.1-2.2, §2.9):

* attention projections split over tp by heads (GQA KV heads replicated when tp > n_kv; MLA's q_a/kv_a
  down-projections are replicated on every tp rank), replicated across dp_attention groups;
* dense MLPs and shared experts split over tp; routed experts: E/ep experts per GPU, each cut tp·dp/ep ways;
* embedding and lm_head vocab-parallel over tp; with pp > 1 the fuller boundary stage (layers + the larger of
  the two) sets the per-GPU figure;
* GQA KV cache split over tp by KV heads; MLA's latent cache is not split by tp (each rank holds it whole);
  sliding-window layers keep at most W tokens.
"""

from __future__ import annotations

import numpy as np

from . import architecture as arch
from .catalog import Model, System
from .parallelism import Layout
from .precision import ResolvedPrecision

BF16_BYTES = 2.0


def tensor_bytes(m: Model, rp: ResolvedPrecision, tensor_class: str) -> float:
    """Bytes per element of a tensor class: 2 if the checkpoint keeps it BF16 (its recipe), else the precision's."""
    return BF16_BYTES if tensor_class in rp.bf16_tensors else rp.quantized_weight_bytes


def kv_heads_per_gpu(m: Model, tp: np.ndarray) -> np.ndarray:
    """KV heads held by one GPU: n_kv/tp, at least one (replicated when tp > n_kv)."""
    return np.maximum(m.kv_heads / tp, 1.0)


def attention_params_per_gpu(m: Model, tp: np.ndarray) -> np.ndarray:
    """Attention projection parameters of one layer on one GPU."""
    p = arch.attention_params(m)
    if m.is_mla:
        return p["q_a"] + p["kv_a"] + (p["q_b"] + p["kv_b"] + p["o"]) / tp
    kv = 2 * m.hidden_size * m.head_dim * kv_heads_per_gpu(m, tp)
    return (p["q"] + p["o"]) / tp + kv


def weight_bytes_per_gpu(m: Model, rp: ResolvedPrecision, layout: Layout) -> np.ndarray:
    """Weight bytes resident on the fullest GPU of each deployment."""
    tp, ep, pp = layout.tp.astype(float), layout.ep.astype(float), layout.pp.astype(float)
    attn = attention_params_per_gpu(m, tp) * tensor_bytes(m, rp, "attention") * m.layers
    dense = arch.dense_mlp_params(m) / tp * rp.quantized_weight_bytes * m.dense_layers
    moe = 0.0
    if m.is_moe:
        routed = (m.experts / ep) * arch.expert_params(m) / layout.expert_tp * rp.quantized_weight_bytes
        shared = m.shared_experts * arch.expert_params(m) / tp * tensor_bytes(m, rp, "shared_experts")
        router = arch.router_params(m) * tensor_bytes(m, rp, "router")
        moe = (routed + shared + router) * m.moe_layers
    layers = (attn + dense + moe) / pp
    emb = arch.embedding_params(m) / tp * tensor_bytes(m, rp, "embedding")
    head = 0.0 if m.tie_word_embeddings else arch.lm_head_params(m) / tp * tensor_bytes(m, rp, "lm_head")
    boundary = np.where(pp > 1, np.maximum(emb, head), emb + head)
    return layers + boundary


def mtp_weight_bytes_per_gpu(m: Model, rp: ResolvedPrecision, layout: Layout) -> np.ndarray:
    """Weights of the MTP module(s) on one GPU: ``mtp_layers`` × (one decoder layer + the 2h → h projection).

    The module is a full Transformer block (MLA + MoE for DeepSeek-V3/R1, 11.5B parameters with its shared
    embedding and head, specs §2.1) sharded like a main-model layer; embedding and head are shared.
    """
    if not m.mtp_layers:
        return np.zeros(len(layout))
    tp, ep = layout.tp.astype(float), layout.ep.astype(float)
    attn = attention_params_per_gpu(m, tp) * tensor_bytes(m, rp, "mtp")
    if m.is_moe:
        routed = (m.experts / ep) * arch.expert_params(m) / layout.expert_tp * tensor_bytes(m, rp, "mtp")
        shared = m.shared_experts * arch.expert_params(m) / tp * tensor_bytes(m, rp, "mtp")
        mlp = routed + shared + arch.router_params(m) * BF16_BYTES
    else:
        mlp = arch.dense_mlp_params(m) / tp * tensor_bytes(m, rp, "mtp")
    proj = 2.0 * m.hidden_size * m.hidden_size / tp * tensor_bytes(m, rp, "mtp")
    return m.mtp_layers * (attn + mlp + proj)


def kv_bytes_per_sequence_per_gpu(m: Model, rp: ResolvedPrecision, layout: Layout,
                                  context_tokens: np.ndarray) -> np.ndarray:
    """KV bytes one sequence of ``context_tokens`` holds on one GPU (its pipeline stage's layers)."""
    elements = arch.kv_elements_per_token_per_layer(m)
    if not m.is_mla:
        elements = 2 * m.head_dim * kv_heads_per_gpu(m, layout.tp.astype(float))
    per_layer_token = elements * rp.kv_bytes
    full_layers = m.layers - m.sliding_window_layers
    windowed = np.minimum(context_tokens, m.sliding_window_tokens) if m.sliding_window_layers else 0.0
    tokens = full_layers * context_tokens + m.sliding_window_layers * windowed
    return per_layer_token * tokens / layout.pp


def max_batch_per_rank(system: System, m: Model, rp: ResolvedPrecision, layout: Layout,
                       isl: np.ndarray, osl: np.ndarray, *, kv_cache_memory_fraction: float,
                       runtime_reserved_gib: float, activation_bytes_per_token_per_hidden: float,
                       max_num_tokens: float, kv_reserved_fraction_of_output: float,
                       extra_weight_bytes=0.0) -> dict[str, np.ndarray]:
    """Sequences one attention-DP rank can hold: ⌊KV budget / KV reserved per sequence⌋.

    KV budget = f_mem · (HBM − weights − runtime − activations), activations = a · max_num_tokens · h bytes;
    KV reserved per sequence = KV(isl + f_out · osl) (anchors-modelling §2.9). Returns the budget terms too.
    """
    weights = weight_bytes_per_gpu(m, rp, layout) + extra_weight_bytes  # + MTP module when drafting
    reserved = runtime_reserved_gib * 2**30
    activations = activation_bytes_per_token_per_hidden * max_num_tokens * m.hidden_size
    free = system.hbm_capacity_bytes - weights - reserved - activations
    budget = kv_cache_memory_fraction * np.maximum(free, 0.0)
    per_sequence = kv_bytes_per_sequence_per_gpu(m, rp, layout, isl + kv_reserved_fraction_of_output * osl)
    batch = np.floor(budget / per_sequence)
    return {"weight_bytes_per_gpu": weights, "free_bytes_per_gpu": free, "kv_budget_bytes_per_gpu": budget,
            "kv_bytes_per_sequence_per_gpu": per_sequence, "max_batch_per_rank": batch}
