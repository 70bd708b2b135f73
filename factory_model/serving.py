"""Aggregated serving (in-flight batching with chunked prefill) at a fixed concurrency: TTFT, TPOT, throughput.

Closed loop: ``concurrency`` requests are always in the system; one finishing admits the next. Per attention-DP
rank ``B = concurrency / dp_attention`` sequences, of which at most ``B_max`` (KV memory, memory.py) and
``max_num_tokens`` (the per-step token budget C) run; the rest wait in the queue. In steady state
(anchors-modelling §2.10):

* every running sequence needs ``isl`` prefill tokens per ``osl`` decode steps, so prefill demand per step is
  ``a = B_dec · isl / osl`` tokens; a mixed step carries a chunk of ``C_pf = C − B_dec`` prompt tokens, so a
  fraction ``f_mix = min(1, a / C_pf)`` of steps is mixed;
* ``TPOT = f_mix · t_step(B_dec decode + C_pf prefill) + (1 − f_mix) · t_step(B_dec decode)`` at the mean decode
  context ``isl + osl/2`` (step_time.py);
* ``TTFT`` = the prefill of the request's own prompt plus, with queue factor q, the prompts of q·(B−1) other
  in-flight requests that arrived with it (chunked into steps of C_pf tokens), plus half a decode step of
  waiting for the running iteration; when the queue holds requests beyond the running batch, Little's law
  adds their wait: ``TTFT += (B / B_run − 1) · (TTFT_run + (osl − 1) · TPOT)``;
* per request ``T = TTFT + (osl − 1) · TPOT``; output tokens/s per GPU = concurrency · osl / T / GPUs
  (Little's law; the reference benchmark derives its throughput the same way); tokens/s per user = 1 / TPOT.

Token bases: "output" counts generated tokens only; "total" counts input + output tokens of each request.
"""

from __future__ import annotations

import numpy as np

from .factors import Factors
from .memory import max_batch_per_rank
from .parallelism import Layout
from .step_time import StepModel, step_time


def aggregated(sm: StepModel, factors: Factors, layout: Layout, concurrency, isl, osl) -> dict[str, np.ndarray]:
    """TTFT, TPOT and throughput of aggregated serving for N deployments (arrays broadcast to N)."""
    n = len(layout)
    conc = np.broadcast_to(np.asarray(concurrency, dtype=float), (n,))
    isl = np.broadcast_to(np.asarray(isl, dtype=float), (n,))
    osl = np.broadcast_to(np.asarray(osl, dtype=float), (n,))
    pp = layout.pp.astype(float)
    dp = layout.dp.astype(float)
    budget_tokens = factors.serving("max_num_tokens")

    mem = max_batch_per_rank(
        sm.system, sm.model, sm.precision, layout, isl, osl,
        kv_cache_memory_fraction=factors.serving("kv_cache_memory_fraction"),
        runtime_reserved_gib=factors.serving("runtime_reserved_gib"),
        activation_bytes_per_token_per_hidden=factors.serving("activation_bytes_per_token_per_hidden"),
        max_num_tokens=budget_tokens,
        kv_reserved_fraction_of_output=factors.serving("kv_reserved_fraction_of_output"),
    )
    b_max = mem["max_batch_per_rank"]
    wanted = conc / dp
    # the step budget C caps how many sequences decode at once; a rank's micro-batches share it under pp
    running = np.minimum(np.minimum(wanted, b_max), budget_tokens * pp)
    running = np.maximum(running, 0.0)
    micro = running / pp  # sequences per micro-batch (per step)
    # prefill-bound ranks: decode slots limited so that prefill demand fits the remaining budget
    decode_seqs = np.minimum(micro, budget_tokens / (1.0 + isl / osl))
    chunk = np.maximum(budget_tokens - decode_seqs, 1.0)
    demand = decode_seqs * isl / osl
    f_mix = np.clip(demand / chunk, 0.0, 1.0)
    context = isl + osl / 2.0

    q = factors.serving("ttft_queue_factor")
    prompt_tokens = isl * (1.0 + q * np.maximum(micro - 1.0, 0.0))
    first_chunk = np.minimum(prompt_tokens, chunk)

    # three kinds of step, evaluated in one vectorised call: decode-only, mixed (decode + a full prefill
    # chunk), and the step that carries a new request's prompt
    stacked = Layout(*(np.concatenate([a, a, a]) for a in (layout.tp, layout.ep, layout.dp, layout.pp)))
    steps = step_time(sm, stacked, np.tile(decode_seqs, 3), np.tile(context, 3),
                      np.concatenate([np.zeros(n), chunk, first_chunk]), np.tile(isl, 3))
    decode_s, mixed_s, first_s = np.split(steps.total_s, 3)
    tpot = f_mix * mixed_s + (1.0 - f_mix) * decode_s
    ttft_run = np.maximum(prompt_tokens / chunk, 1.0) * first_s + 0.5 * decode_s

    request_s = ttft_run + (osl - 1.0) * tpot
    queue_wait = np.where(running > 0, (wanted / np.maximum(running, 1e-9) - 1.0) * request_s, np.inf)
    ttft = ttft_run + np.maximum(queue_wait, 0.0)
    request_s = ttft + (osl - 1.0) * tpot
    gpus = layout.gpus.astype(float)
    output_per_gpu = conc * osl / request_s / gpus
    return {
        "ttft_s": ttft,
        "tpot_s": tpot,
        "tokens_per_s_per_user": 1.0 / tpot,
        "output_tokens_per_s_per_gpu": output_per_gpu,
        "total_tokens_per_s_per_gpu": output_per_gpu * (isl + osl) / osl,
        "gpus": layout.gpus,
        "max_batch_per_rank": b_max,
        "running_batch_per_rank": running,
        "mixed_step_fraction": f_mix,
        "decode_step_s": decode_s,
        "decode_speed_of_light_s": steps.speed_of_light_s[:n],
        "mixed_step_s": mixed_s,
        "bound": steps.bound[:n],
        "weight_bytes_per_gpu": mem["weight_bytes_per_gpu"],
        "kv_bytes_per_sequence_per_gpu": mem["kv_bytes_per_sequence_per_gpu"],
        "free_bytes_per_gpu": mem["free_bytes_per_gpu"],
    }
