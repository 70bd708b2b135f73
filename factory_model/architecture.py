"""Parameter counts, KV-cache elements and attention FLOPs of a model, from its config.json fields.

Notation (anchors-modelling §1): h hidden size, n_q query heads, n_kv KV heads, d_h head dim, f dense FFN
width, E routed experts, k experts per token, f_e expert FFN width, E_s shared experts, V vocabulary;
MLA: q_r q-LoRA rank, c KV-latent rank, r RoPE dim, d_n no-RoPE head dim, d_v value head dim.
All counts are unsharded (whole model); memory.py and step_time.py divide them over GPUs. Norm weights
(a few h per layer) are ignored: < 0.01 % of any catalog model.
"""

from __future__ import annotations

from .catalog import Model

GATED_MLP_MATRICES = 3  # SwiGLU: gate, up and down projections (g = 3 in anchors-modelling §2.1)


def attention_params(m: Model) -> dict[str, int]:
    """Parameters of one layer's attention projections, by tensor.

    GQA: q h·n_q·d_h, kv 2·h·n_kv·d_h, o n_q·d_h·h.
    MLA: q_a h·q_r, q_b q_r·n_q·(d_n+r), kv_a h·(c+r), kv_b c·n_q·(d_n+d_v), o n_q·d_v·h (anchors-modelling §2.1).
    """
    h = m.hidden_size
    if m.is_mla:
        return {
            "q_a": h * m.q_lora_rank,
            "q_b": m.q_lora_rank * m.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim),
            "kv_a": h * (m.kv_lora_rank + m.qk_rope_head_dim),
            "kv_b": m.kv_lora_rank * m.heads * (m.qk_nope_head_dim + m.v_head_dim),
            "o": m.heads * m.v_head_dim * h,
        }
    return {
        "q": h * m.heads * m.head_dim,
        "kv": 2 * h * m.kv_heads * m.head_dim,
        "o": m.heads * m.head_dim * h,
    }


def dense_mlp_params(m: Model) -> int:
    """One dense layer's gated MLP: 3·h·f."""
    return GATED_MLP_MATRICES * m.hidden_size * m.intermediate_size


def expert_params(m: Model) -> int:
    """One expert (routed or shared): 3·h·f_e."""
    return GATED_MLP_MATRICES * m.hidden_size * m.expert_intermediate_size


def router_params(m: Model) -> int:
    """One MoE layer's router (gate): h·E."""
    return m.hidden_size * m.experts


def embedding_params(m: Model) -> int:
    return m.vocab_size * m.hidden_size


def lm_head_params(m: Model) -> int:
    """Output projection h·V; zero extra storage when tied to the embedding (still read for every token)."""
    return m.vocab_size * m.hidden_size


def total_params(m: Model) -> int:
    """All parameters of the main model (MTP modules excluded, as model cards count them)."""
    attention = sum(attention_params(m).values()) * m.layers
    dense = dense_mlp_params(m) * m.dense_layers
    moe = (m.experts + m.shared_experts) * expert_params(m) * m.moe_layers + router_params(m) * m.moe_layers
    head = 0 if m.tie_word_embeddings else lm_head_params(m)
    return attention + dense + moe + embedding_params(m) + head


def active_params(m: Model) -> int:
    """Parameters multiplied by one token: every dense tensor, k routed + E_s shared experts per MoE layer and
    the lm_head; the input embedding is a lookup and is left out (2 FLOPs per active parameter per token).

    Model cards differ here: gpt-oss's 5.1B excludes the embedding, DeepSeek's 37B includes its 0.9B.
    """
    attention = sum(attention_params(m).values()) * m.layers
    dense = dense_mlp_params(m) * m.dense_layers
    moe = ((m.experts_per_token + m.shared_experts) * expert_params(m) + router_params(m)) * m.moe_layers
    return attention + dense + moe + lm_head_params(m)


def kv_elements_per_token_per_layer(m: Model) -> int:
    """KV-cache elements one token adds to one layer (whole model, before any sharding).

    GQA: 2·n_kv·d_h (keys and values). MLA: c + r (the compressed latent and the shared RoPE key),
    anchors-modelling §2.2.
    """
    if m.is_mla:
        return m.kv_lora_rank + m.qk_rope_head_dim
    return 2 * m.kv_heads * m.head_dim


def kv_bytes_per_token(m: Model, kv_bytes_per_element: float, context_tokens: float | None = None) -> float:
    """KV bytes per token summed over layers; sliding-window layers count only when ``context_tokens`` ≤ W.

    Without ``context_tokens`` every layer counts (the usual headline figure, e.g. Llama-3.1-70B FP8
    163,840 B). With it, the value is the cache of one sequence of that length divided by its length.
    """
    per_layer = kv_elements_per_token_per_layer(m) * kv_bytes_per_element
    if context_tokens is None or not m.sliding_window_layers:
        return per_layer * m.layers
    full = m.layers - m.sliding_window_layers
    windowed = m.sliding_window_layers * min(context_tokens, m.sliding_window_tokens) / context_tokens
    return per_layer * (full + windowed)


def attention_flops_per_pair(m: Model, phase: str) -> float:
    """FLOPs of one (query token, context token) pair in one layer, all heads: 2·n_q·(d_qk + d_v).

    Decode under MLA runs weight-absorbed over the latent (what TRT-LLM and SGLang run): d_qk = c + r = 576,
    d_v = c = 512, so 2·n_q·1088. Prefill under MLA runs non-absorbed: d_qk = d_n + r = 192, d_v = 128.
    GQA: d_qk = d_v = d_h (anchors-modelling §2.3). Causal prefill averages this over isl/2 context tokens.
    """
    if m.is_mla:
        if phase == "decode":
            dqk, dv = m.kv_lora_rank + m.qk_rope_head_dim, m.kv_lora_rank
        else:
            dqk, dv = m.qk_nope_head_dim + m.qk_rope_head_dim, m.v_head_dim
    else:
        dqk = dv = m.head_dim
    return 2.0 * m.heads * (dqk + dv)
