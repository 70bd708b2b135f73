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

Speculative decoding / MTP (anchors-modelling §2.13): with n draft tokens accepted in a chain with probability
α each, a verify step yields τ = (1 − α^{n+1}) / (1 − α) tokens per sequence. The verify step runs n + 1 query
tokens per sequence (FLOPs and MoE routing ×(n+1), KV read once; the distinct experts they touch grow as
1 + n·(1 − ρ) independent tokens per sequence, ρ = ``draft_expert_reuse``: one sequence's consecutive tokens
reuse experts, MoE-Infinity, arXiv 2401.14361) plus n draft passes of the MTP module. A draft
pass is a full decoder layer (attention + MoE, the module's own weights) plus its 2h → h input projection and
the LM head over the batch (DeepSeek-V3 report §2.2: each MTP module is a shared embedding, a projection, one
Transformer block and the shared output head); TPOT = (t_verify + n · t_draft) / τ. The module's weights
(one layer + projection) take memory on every GPU that serves with MTP. ``mtp_speculation`` gives the calibrated
default (serving parameters ``mtp_draft_tokens``, ``mtp_acceptance``) for models that ship MTP heads.

Attention data parallelism synchronises at every MoE layer (dispatch and combine wait for all ranks), so a step
lasts as long as its slowest rank. With chunked prefill each rank carries a prefill chunk in a fraction f of
its steps, independently; a step is pure decode only when no rank carries one: the share of steps that carry a
chunk somewhere is ``1 − (1 − f)^dp`` (SGLang DP-attention scheduling, anchors-modelling §2.10); all ranks pay
the mixed step then.

The step token budget C caps the decode batch: a rank whose running sequences exceed what fits beside the
prefill demand decodes only ``B_dec`` of them per step; the others wait in the queue (they hold KV but make no
progress), so throughput counts ``B_dec`` sequences, not every admitted one.

Disaggregated serving (anchors-modelling §2.11) is built from two worker tables: prefill workers (static
batches of whole prompts) and decode workers (decode-only steps, no prefill interference); search.py rate-
matches them.

Token bases: "output" counts generated tokens only; "total" counts input + output tokens of each request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import FactoryModelError
from .factors import MTP_STACKS, Factors, stack_family
from .memory import max_batch_per_rank, mtp_weight_bytes_per_gpu
from .parallelism import Layout
from .stacks import MtpRecipe, mtp_recipe
from .step_time import StepModel, step_time


REFERENCE_OUTPUT_TOKENS = 1024.0  # output length at which ``acceptance`` applies


@dataclass(frozen=True)
class Speculation:
    """Speculative decoding: ``draft_tokens`` (n) proposed per step, each accepted with probability α.

    α may grow with the output length: α(osl) = α + β·log2(osl / 1024), clipped to [0, 0.99], β =
    ``acceptance_per_output_doubling`` (0: one α for every length). Measured MTP gains of one stack are larger on
    8k-token outputs than on 1k (``validate --mtp``): deep into a long generation text repeats itself more
    (Holtzman et al. 2019, "The Curious Case of Neural Text Degeneration": repetition reinforces itself), and
    repeated text is easy to draft.
    """

    draft_tokens: int = 0
    acceptance: float = 0.0
    acceptance_per_output_doubling: float = 0.0
    draft_tokens_dp_attention: int = 0  # a recipe's count with attention data parallelism; 0 = draft_tokens

    def __post_init__(self):
        if self.draft_tokens < 0 or self.draft_tokens_dp_attention < 0 or not 0.0 <= self.acceptance <= 1.0:
            raise FactoryModelError("speculation needs draft tokens >= 0 and an acceptance rate in [0, 1]")

    def with_attention(self, dp_attention: bool) -> "Speculation":
        """The setting a deployment with (or without) attention data parallelism runs: a recipe may draft
        fewer tokens there (TensorRT-LLM: 1 with DP attention, 3 without)."""
        if dp_attention and self.draft_tokens and self.draft_tokens_dp_attention:
            return replace(self, draft_tokens=self.draft_tokens_dp_attention, draft_tokens_dp_attention=0)
        return replace(self, draft_tokens_dp_attention=0) if self.draft_tokens_dp_attention else self

    @property
    def tokens_per_step(self) -> float:
        """τ = 1 + Σ_{i≤n} α^i = (1 − α^{n+1}) / (1 − α): tokens one verify step yields per sequence (at the
        reference output length)."""
        return float(self.tokens_per_step_at(REFERENCE_OUTPUT_TOKENS))

    def acceptance_at(self, osl) -> np.ndarray:
        """α(osl) = α + β·log2(osl / 1024), clipped to [0, 0.99]."""
        osl = np.maximum(np.asarray(osl, dtype=float), 1.0)
        return np.clip(self.acceptance + self.acceptance_per_output_doubling
                       * np.log2(osl / REFERENCE_OUTPUT_TOKENS), 0.0, 0.99 if self.acceptance < 1.0 else 1.0)

    def tokens_per_step_at(self, osl) -> np.ndarray:
        """τ(osl) = (1 − α(osl)^{n+1}) / (1 − α(osl)); n + 1 when α = 1."""
        n, a = self.draft_tokens, self.acceptance_at(osl)
        return np.where(a >= 1.0, float(n + 1), (1.0 - a ** (n + 1)) / np.maximum(1.0 - a, 1e-12))

    @property
    def query_tokens(self) -> int:
        return self.draft_tokens + 1


NO_SPECULATION = Speculation()


def mtp_speculation(model, factors: Factors, precision_id: str = "", stack: str | None = None,
                    stacks: tuple[str, ...] = ()) -> Speculation:
    """The calibrated MTP setting of a model that ships MTP heads (``mtp_layers`` > 0), else none.

    Draft tokens and acceptance are serving parameters (data/serving.yaml; the acceptance is fitted to the
    measured MTP points of data/reference/measured_serving_points.csv by ``python -m factory_model fit``, one
    per serving stack with enough MTP points: ``mtp_acceptance_<family>``). ``stack`` (a framework name): that
    stack's own acceptance where the profile has one. ``stacks`` (the frameworks with public recipes on a
    system, data/serving_stacks.yaml): the best of their calibrated acceptances — the default model predicts
    the best stack that runs there, with that stack's recipe. Neither: the best calibrated stack of all. None
    calibrated: ``mtp_acceptance`` and the default draft count.
    """
    if not getattr(model, "mtp_layers", 0):
        return NO_SPECULATION
    default_n = int(round(factors.serving("mtp_draft_tokens")))
    family = stack_family(stack) if stack else None
    if stack:
        acceptance = factors.stack_serving("mtp_acceptance", stack)
    else:
        names = {stack_family(s) for s in stacks} if stacks else set(MTP_STACKS)
        own = {f: factors.serving_values[f"mtp_acceptance_{f}"][0] for f in sorted(names)
               if f"mtp_acceptance_{f}" in factors.serving_values}
        family = max(own, key=own.get) if own else None
        acceptance = own[family] if own else factors.serving("mtp_acceptance")
    recipe = mtp_recipe(family) if family else MtpRecipe()
    n, n_dp = recipe.draft_tokens_for(False, default_n), recipe.draft_tokens_for(True, default_n)
    return Speculation(n, acceptance, factors.serving("mtp_acceptance_per_output_doubling"),
                       draft_tokens_dp_attention=n_dp if n_dp != n else 0)


def draft_pass_s(sm: StepModel, layout: Layout, sequences, context) -> np.ndarray:
    """Seconds of one MTP draft pass over ``sequences`` per rank: one decoder layer + projection + LM head.

    From the decode step's op breakdown: (t_step − LM head − step/pipeline overheads) / layers gives one
    average layer; the LM head runs once per pass; the 2h → h projection streams 2h² weights like a GEMM.
    """
    st = step_time(sm, layout, sequences, context, with_ops=True)
    ops = st.ops_s
    head = np.asarray(ops.get("lm_head", 0.0), dtype=float)
    overhead = np.asarray(ops.get("step_fixed", 0.0), dtype=float) + np.asarray(ops.get("pipeline_p2p", 0.0))
    layer = (st.total_s - head - overhead) / sm.model.layers
    h = sm.model.hidden_size
    proj_bytes = 2.0 * h * h * sm.precision.quantized_weight_bytes / layout.tp
    proj = np.maximum(proj_bytes / sm.gemm.bytes_per_s, sm.gemm.fixed_s)
    return layer + head + proj


def memory_limits(sm: StepModel, factors: Factors, layout: Layout, isl, osl,
                  speculation: Speculation = NO_SPECULATION) -> dict[str, np.ndarray]:
    """Weights, free memory and maximum batch per attention-DP rank (memory.py) under the serving profile;
    with speculation the MTP module's weights are resident too."""
    extra = mtp_weight_bytes_per_gpu(sm.model, sm.precision, layout) if speculation.draft_tokens else 0.0
    return max_batch_per_rank(
        sm.system, sm.model, sm.precision, layout, isl, osl,
        kv_cache_memory_fraction=factors.serving("kv_cache_memory_fraction"),
        runtime_reserved_gib=factors.serving("runtime_reserved_gib"),
        activation_bytes_per_token_per_hidden=factors.serving("activation_bytes_per_token_per_hidden"),
        max_num_tokens=factors.serving("max_num_tokens"),
        kv_reserved_fraction_of_output=factors.serving("kv_reserved_fraction_of_output"),
        extra_weight_bytes=extra,
    )


def _micro_batch(sequences: np.ndarray, pp: np.ndarray) -> np.ndarray:
    """Sequences per pipeline micro-batch: B spread over min(pp, B) micro-batches (a sequence is never split)."""
    return np.where(sequences >= 1.0, sequences / np.minimum(pp, np.maximum(sequences, 1.0)), sequences)


def _stack(layout: Layout, copies: int) -> Layout:
    return Layout(*(np.tile(a, copies) for a in (layout.tp, layout.ep, layout.dp, layout.pp)))


def aggregated(sm: StepModel, factors: Factors, layout: Layout, concurrency, isl, osl,
               speculation: Speculation = NO_SPECULATION) -> dict[str, np.ndarray]:
    """TTFT, TPOT and throughput of aggregated serving for N deployments (arrays broadcast to N)."""
    n = len(layout)
    conc = np.broadcast_to(np.asarray(concurrency, dtype=float), (n,))
    isl = np.broadcast_to(np.asarray(isl, dtype=float), (n,))
    osl = np.broadcast_to(np.asarray(osl, dtype=float), (n,))
    pp = layout.pp.astype(float)
    dp = layout.dp.astype(float)
    budget_tokens = factors.serving("max_num_tokens")
    tau = speculation.tokens_per_step_at(osl)
    q_tokens = speculation.query_tokens

    mem = memory_limits(sm, factors, layout, isl, osl, speculation)
    b_max = mem["max_batch_per_rank"]
    wanted = conc / dp
    # the step budget C caps how many tokens decode at once; a rank's micro-batches share it under pp
    cap = np.minimum(np.minimum(b_max, factors.serving("max_batch_per_rank")), budget_tokens * pp / q_tokens)
    running = np.maximum(np.minimum(wanted, cap), 0.0)
    micro = _micro_batch(running, pp)
    # prefill-bound ranks: decode slots limited so that prefill demand fits the remaining budget
    decode_seqs = np.minimum(micro, budget_tokens / (q_tokens + isl * tau / osl))
    chunk = np.maximum(budget_tokens - decode_seqs * q_tokens, 1.0)
    demand = decode_seqs * isl * tau / osl
    f_mix = np.clip(demand / chunk, 0.0, 1.0)
    context = isl + osl / 2.0

    q = factors.serving("ttft_queue_factor")
    prompt_tokens = isl * (1.0 + q * np.maximum(micro - 1.0, 0.0))
    first_chunk = np.minimum(prompt_tokens, chunk)

    # three kinds of step, evaluated in one vectorised call: decode-only, mixed (decode + a full prefill
    # chunk), and the step that carries a new request's prompt
    steps = step_time(sm, _stack(layout, 3), np.tile(decode_seqs * q_tokens, 3), np.tile(context, 3),
                      np.concatenate([np.zeros(n), chunk, first_chunk]), np.tile(isl, 3),
                      tokens_per_sequence=q_tokens)
    decode_s, mixed_s, first_s = np.split(steps.total_s, 3)
    draft_s = 0.0
    if speculation.draft_tokens:
        draft_s = speculation.draft_tokens * draft_pass_s(sm, layout, decode_seqs, context)
    # attention-DP ranks wait for each other at every MoE layer: a step is mixed if any rank carries a chunk
    f_step = np.where(dp > 1, 1.0 - (1.0 - f_mix) ** dp, f_mix)
    tpot = (f_step * mixed_s + (1.0 - f_step) * decode_s + draft_s) / tau
    ttft_run = np.maximum(prompt_tokens / chunk, 1.0) * first_s + 0.5 * decode_s

    # only the sequences the token budget lets decode make progress; the rest of the admitted ones wait
    progressing = np.minimum(running, decode_seqs * np.minimum(pp, np.maximum(running, 1.0)))
    request_s = ttft_run + (osl - 1.0) * tpot
    queue_wait = np.where(progressing > 0, (wanted / np.maximum(progressing, 1e-9) - 1.0) * request_s, np.inf)
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
        "mixed_step_fraction": f_step,
        "decode_step_s": decode_s,
        "decode_speed_of_light_s": steps.speed_of_light_s[:n] / tau,
        "mixed_step_s": mixed_s,
        "bound": steps.bound[:n],
        "weight_bytes_per_gpu": mem["weight_bytes_per_gpu"],
        "kv_bytes_per_sequence_per_gpu": mem["kv_bytes_per_sequence_per_gpu"],
        "free_bytes_per_gpu": mem["free_bytes_per_gpu"],
    }


def prefill_workers(sm: StepModel, layout: Layout, isl, batch_requests) -> dict[str, np.ndarray]:
    """Prefill-only workers: each attention-DP rank prefills ``batch_requests`` whole prompts per batch.

    Returns the batch time (s) and the instance's prefill rate (requests/s = dp · batch / time).
    """
    n = len(layout)
    isl = np.broadcast_to(np.asarray(isl, dtype=float), (n,))
    batch = np.broadcast_to(np.asarray(batch_requests, dtype=float), (n,))
    step = step_time(sm, layout, 0.0, 0.0, batch * isl, isl)
    return {"prefill_batch_s": step.total_s,
            "prefill_requests_per_s": layout.dp * batch / step.total_s}


def decode_workers(sm: StepModel, layout: Layout, batch_per_rank, isl, osl,
                   speculation: Speculation = NO_SPECULATION) -> dict[str, np.ndarray]:
    """Decode-only workers at ``batch_per_rank`` sequences: TPOT and the instance's rate (requests/s).

    A request holds a decode slot for (osl − 1) / τ steps (its first token comes from prefill).
    """
    n = len(layout)
    batch = np.broadcast_to(np.asarray(batch_per_rank, dtype=float), (n,))
    isl = np.broadcast_to(np.asarray(isl, dtype=float), (n,))
    osl = np.broadcast_to(np.asarray(osl, dtype=float), (n,))
    micro = _micro_batch(batch, layout.pp.astype(float))
    q_tokens, tau = speculation.query_tokens, speculation.tokens_per_step_at(osl)
    context = isl + osl / 2.0
    step = step_time(sm, layout, micro * q_tokens, context, tokens_per_sequence=q_tokens)
    draft_s = 0.0
    if speculation.draft_tokens:
        draft_s = speculation.draft_tokens * draft_pass_s(sm, layout, micro, context)
    tpot = (step.total_s + draft_s) / tau
    return {"tpot_s": tpot, "decode_requests_per_s": layout.dp * batch / (np.maximum(osl - 1.0, 1.0) * tpot),
            "bound": step.bound, "decode_speed_of_light_s": step.speed_of_light_s / tau}
