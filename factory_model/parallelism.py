"""Deployment layouts (parallelism) and their validity for a model.

Convention (the one public benchmarks use): one model instance spans ``gpus = tp × dp_attention × pp`` GPUs.
Attention runs tp-way tensor parallel inside each of dp_attention data-parallel groups; each group holds
concurrency / dp_attention sequences. MoE layers spread over the same tp·dp_attention GPUs (per pipeline stage)
as ep-way expert parallel × (tp·dp_attention/ep)-way expert tensor parallel. Dense models take ep = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalog import Model


@dataclass(frozen=True)
class Layout:
    """Parallelism degrees of N deployments (integer arrays of equal length)."""

    tp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    pp: np.ndarray

    @classmethod
    def of(cls, tp, ep=1, dp=1, pp=1) -> "Layout":
        arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (tp, ep, dp, pp)))
        return cls(*(np.array(a) for a in arrays))

    def __len__(self) -> int:
        return len(self.tp)

    @property
    def gpus(self) -> np.ndarray:
        """GPUs of one instance: tp · dp_attention · pp."""
        return self.tp * self.dp * self.pp

    @property
    def moe_group(self) -> np.ndarray:
        """GPUs one MoE layer spreads over: tp · dp_attention."""
        return self.tp * self.dp

    @property
    def expert_tp(self) -> np.ndarray:
        """Tensor-parallel slices of each expert: tp · dp_attention / ep."""
        return self.moe_group // np.maximum(self.ep, 1)


def invalid_reasons(model: Model, layout: Layout) -> np.ndarray:
    """One message per deployment: '' when the layout is valid for ``model``, else why not."""
    tp, ep, dp, pp = layout.tp, layout.ep, layout.dp, layout.pp
    reasons = np.full(len(layout), "", dtype=object)

    def flag(mask: np.ndarray, message) -> None:
        for i in np.flatnonzero(mask & (reasons == "")):
            reasons[i] = message(i)

    flag((tp < 1) | (ep < 1) | (dp < 1) | (pp < 1), lambda i: "tp, ep, dp_attention and pp must be positive integers")
    ok = reasons == ""
    safe_tp, safe_ep = np.maximum(tp, 1), np.maximum(ep, 1)
    flag(ok & (model.heads % safe_tp != 0),
         lambda i: f"tp={tp[i]} does not divide the model's {model.heads} attention heads")
    if not model.is_mla:
        flag((model.kv_heads % safe_tp != 0) & (safe_tp % model.kv_heads != 0),
             lambda i: f"tp={tp[i]} neither divides nor is a multiple of the model's {model.kv_heads} KV heads")
    flag(pp > model.layers, lambda i: f"pp={pp[i]} exceeds the model's {model.layers} layers")
    if model.dense_layers and model.intermediate_size:
        flag(model.intermediate_size % safe_tp != 0,
             lambda i: f"tp={tp[i]} does not divide the dense FFN width {model.intermediate_size}")
    if not model.is_moe:
        flag(ep != 1, lambda i: f"ep={ep[i]}: a dense model takes ep=1")
    else:
        flag(model.experts % safe_ep != 0, lambda i: f"ep={ep[i]} does not divide the model's {model.experts} experts")
        group = tp * dp
        flag(group % safe_ep != 0,
             lambda i: f"ep={ep[i]} must divide tp x dp_attention = {group[i]} (MoE layers span the same GPUs)")
        expert_tp = np.maximum(group // safe_ep, 1)
        flag(model.expert_intermediate_size % expert_tp != 0,
             lambda i: f"expert tensor parallelism {expert_tp[i]} (tp x dp_attention / ep) does not divide "
                       f"the expert FFN width {model.expert_intermediate_size}")
    return reasons
