"""Mixture-of-experts routing arithmetic (anchors-modelling §2.6-2.7).

Uniform, independent top-k routing: one token misses a given expert with probability 1 − k/E, so T routed
tokens touch ``E·(1 − (1 − k/E)^T)`` distinct experts in expectation (DeepSeek-R1, E=256, k=8: 163 at T=32).
Each GPU reads only the local experts its tokens touch; this is what makes small-batch MoE decode cheap in
bytes but lets weight traffic grow with batch until every expert is touched. The n + 1 tokens one sequence
verifies in an MTP step are not independent: they reuse that sequence's experts (step_time.py, serving
parameter ``draft_expert_reuse``).
"""

from __future__ import annotations

import numpy as np


def experts_touched(experts: int, experts_per_token: int, routed_tokens) -> np.ndarray:
    """Expected distinct experts touched by ``routed_tokens`` tokens: E·(1 − (1 − k/E)^T)."""
    tokens = np.maximum(np.asarray(routed_tokens, dtype=float), 0.0)
    return experts * -np.expm1(tokens * np.log1p(-experts_per_token / experts)) if experts_per_token < experts \
        else np.where(tokens > 0, float(experts), 0.0)


def destination_ranks(ep, experts_per_token: int) -> np.ndarray:
    """Expected distinct expert-parallel ranks one token is sent to: e·(1 − (1 − 1/e)^k)."""
    ep = np.asarray(ep, dtype=float)
    return ep * -np.expm1(experts_per_token * np.log1p(-1.0 / np.maximum(ep, 1.0 + 1e-12))) * (ep > 1) + (ep <= 1)


def remote_domains(ranks, domain_gpus: int, experts_per_token: int) -> np.ndarray:
    """Expected remote scale-up domains one token's k experts land in: (N − 1)·(1 − (1 − 1/N)^k), N domains."""
    nodes = np.maximum(np.ceil(np.asarray(ranks, dtype=float) / domain_gpus), 1.0)
    hit = nodes * -np.expm1(experts_per_token * np.log1p(-1.0 / np.maximum(nodes, 1.0 + 1e-12)))
    return np.where(nodes > 1, hit * (nodes - 1.0) / nodes, 0.0)


def load_imbalance(ep, routed_pairs, per_doubling: float) -> np.ndarray:
    """Busiest expert-parallel rank's load / mean load: λ = 1 + c·log2(ep) + √(2·ln(ep) / μ).

    Two effects (anchors-modelling §2.6: a MoE layer lasts as long as its most-loaded rank): hot experts that
    EPLB's redundant slots only partly even out, growing with the number of ranks (c per doubling, a fitted
    serving parameter), and the statistical maximum of μ = routed token-expert pairs per rank spread at random
    over ep ranks (balls into bins: max ≈ μ + √(2 μ ln ep)). 1 without expert parallelism.
    """
    ep = np.asarray(ep, dtype=float)
    mu = np.maximum(np.asarray(routed_pairs, dtype=float) / np.maximum(ep, 1.0), 1.0)
    lam = 1.0 + per_doubling * np.log2(np.maximum(ep, 1.0)) + np.sqrt(2.0 * np.log(np.maximum(ep, 1.0)) / mu)
    return np.where(ep > 1, lam, 1.0)
