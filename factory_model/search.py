"""Deployment search: every feasible way to serve one scenario, aggregated and disaggregated.

For a scenario (system, model, precision, isl, osl) the search enumerates

* **layouts**: tensor (tp), expert (ep), attention-data (dp) and pipeline (pp) parallelism in powers of two,
  within the scale-up domain and across it up to ``max_gpus`` (wide expert parallelism on NVL72). MoE models
  take the layouts real stacks run on g GPUs: attention tp = g with experts tensor-split (ep = 1) or expert-
  parallel (ep = g), or DP attention (tp = 1, dp = g) with ep = g — mixed tp × dp attention or DP attention
  with tensor-split experts are not offered (no measured stack runs them, and the model would extrapolate).
  Dense models take ep = dp = 1 and may use pp; MoE models take pp = 1.
  Layouts whose weights do not fit are dropped;
* **batches** per attention-DP rank on a geometric grid from 1 up to the KV-memory limit;
* **aggregated** serving of each layout × batch (serving.aggregated), and
* **disaggregated** serving: decode workers (each layout × batch, decode-only steps) fed by prefill workers (each
  layout × prompt batch). For every decode candidate and every prefill candidate on the TTFT-vs-cost Pareto set,
  x prefill : y decode instances are rate-matched (x ≤ 8, y the nearest counts to the balancing ratio):
  requests/s = min(f_p · x · R_p, f_d · y · R_d) with degradation factors f_p, f_d; TTFT = f_ttft · prefill
  batch time + KV transfer (anchors-modelling §2.11). Units are bounded: ≤ 8 prefill and ≤ 16 decode
  instances, ≤ MAX_UNIT_GPUS GPUs and never more GPUs than the facility (``max_unit_gpus``);
* **serving stack**: only the features the system's best public stack runs (data/serving_stacks.yaml, stacks.py:
  DP attention, expert parallelism, disaggregation, MTP, engine size);
* **speculation**: each setting in ``SearchOptions.speculations`` (``mtp auto`` searches without and with the
  model's calibrated MTP) gives its own candidates, marked by ``draft_tokens``.

Everything is evaluated as numpy arrays; one scenario's full search takes a few milliseconds
(``python -m factory_model.bench``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import architecture as arch
from .catalog import Catalog, Model, System
from .errors import FactoryModelError
from .factors import Factors
from .pareto import pareto_mask
from .parallelism import Layout, invalid_reasons
from .precision import resolve_precision
from .serving import NO_SPECULATION, Speculation, aggregated, decode_workers, memory_limits, prefill_workers
from .stacks import stack_of
from .step_time import build_step_model

POWERS_OF_TWO = (1, 2, 4, 8, 16, 32, 64)
PIPELINE_STAGES = (1, 2, 4, 8)
# per-rank batch grid: geometric, ~1.5x steps (AIConfigurator sweeps 1..15 then coarser steps to 1024+)
BATCH_GRID = np.array([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
                       2048, 3072, 4096], dtype=float)
PREFILL_BATCHES = np.array([1, 2, 4, 8, 16, 32], dtype=float)
MAX_PREFILL_INSTANCES = 8
# A rate-matched unit is bounded by what real clusters run: at most 16 decode instances per unit and
# MAX_UNIT_GPUS GPUs (8 NVL72 racks; the largest published disaggregated DeepSeek deployments span 96-144 GPUs,
# anchors-modelling §2.11 / InferenceX ≤ 96) — and never more GPUs than the facility holds.
MAX_DECODE_INSTANCES = 16
MAX_UNIT_GPUS = 576
RATE_MATCH_TOLERANCE = 0.98  # accept a pairing within 2 % of the best x:y to keep units small
MAX_PREFILL_OPTIONS = 4
SERVING_MODES = ("agg", "disagg", "best")
MULTI_NODE_GPUS = 64  # HGX systems may span up to 8 nodes over the scale-out network

CANDIDATE_COLUMNS = [
    "serving", "tp", "ep", "dp_attention", "pp", "concurrency", "gpus", "prefill_gpus", "decode_gpus",
    "prefill_tp", "prefill_ep", "prefill_dp_attention", "prefill_batch", "prefill_instances", "decode_instances",
    "ttft_s", "tpot_s", "tokens_per_s_per_user", "output_tokens_per_s_per_gpu", "total_tokens_per_s_per_gpu",
    "bound", "draft_tokens",
]


@dataclass(frozen=True)
class SearchOptions:
    """What the search may use. ``max_gpus`` defaults to the scale-up domain, or 64 on 8-GPU systems."""

    serving: str = "best"
    speculation: Speculation = NO_SPECULATION
    max_gpus: int | None = None
    # further speculation settings searched beside ``speculation`` (``mtp auto``: without and with MTP)
    also_speculation: tuple = ()
    max_unit_gpus: int | None = None  # facility size: no deployment unit larger than this

    @property
    def speculations(self) -> tuple:
        out = [self.speculation]
        for s in self.also_speculation:
            if s not in out:
                out.append(s)
        return tuple(out)

    def __post_init__(self):
        if self.serving not in SERVING_MODES:
            raise FactoryModelError(f"unknown serving mode '{self.serving}'; choose {', '.join(SERVING_MODES)}")
        if self.max_gpus is not None and self.max_gpus < 1:
            raise FactoryModelError("max_gpus must be at least 1")


def candidate_layouts(model: Model, max_gpus: int, max_attention_tp: int | None = None) -> Layout:
    """All power-of-two layouts up to ``max_gpus`` GPUs that are valid for ``model`` (parallelism.py).

    ``max_attention_tp``: the widest tensor-parallel attention a MoE engine uses; wider MoE engines are DP
    attention with wide expert parallelism (None: no limit)."""
    rows = []
    for tp in POWERS_OF_TWO:
        for pp in PIPELINE_STAGES:
            if tp * pp > max_gpus:
                continue
            if not model.is_moe:
                rows.append((tp, 1, 1, pp))
                continue
            if pp > 1:  # MoE models scale memory with expert parallelism; pipeline stages only add latency
                continue
            # the layouts the serving stacks run (SGLang/TRT-LLM/vLLM DeepSeek recipes, and every layout in
            # measured_serving_points.csv): attention tensor parallel over the engine's GPUs with the experts
            # tensor-split (ep = 1) or expert-parallel (ep = GPUs); or attention data parallel on every GPU
            # (DP attention) with expert parallelism over all of them (ep = GPUs)
            if max_attention_tp is None or tp <= max_attention_tp:
                rows.append((tp, 1, 1, pp))
                if tp > 1:
                    rows.append((tp, tp, 1, pp))
            if tp > 1:
                rows.append((1, tp, tp, pp))
    tp, ep, dp, pp = (np.array(c) for c in zip(*rows))
    layout = Layout.of(tp, ep, dp, pp)
    ok = invalid_reasons(model, layout) == ""
    return Layout(layout.tp[ok], layout.ep[ok], layout.dp[ok], layout.pp[ok])


def _subset(layout: Layout, mask) -> Layout:
    return Layout(layout.tp[mask], layout.ep[mask], layout.dp[mask], layout.pp[mask])


def _batch_grid(limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(layout index, batch) pairs: every grid batch ≤ limit, plus the limit itself."""
    fits = BATCH_GRID[None, :] <= limit[:, None]
    idx, col = np.nonzero(fits)
    batch = BATCH_GRID[col]
    extra = np.flatnonzero((limit >= 1) & ~np.isin(limit, BATCH_GRID))
    return np.concatenate([idx, extra]), np.concatenate([batch, np.floor(limit[extra])])


Table = dict  # column name -> numpy array, all of one length: cheaper than a DataFrame on the hot path


def table_length(table: Table) -> int:
    return len(next(iter(table.values()))) if table else 0


def take(table: Table, index) -> Table:
    """Rows ``index`` (a boolean mask or integer positions) of every column."""
    return {k: v[index] for k, v in table.items()}


def search(catalog: Catalog, factors: Factors, system_id: str, model_id: str, precision_id: str,
           isl: int, osl: int, options: SearchOptions = SearchOptions()) -> tuple[Table, str]:
    """All feasible candidates of a scenario (columns :data:`CANDIDATE_COLUMNS`, numpy arrays), and a reason
    when there are none."""
    system, model = catalog.system(system_id), catalog.model(model_id)
    rp = resolve_precision(system, model, catalog.precision(precision_id))  # raises if unsupported
    sm = build_step_model(system, model, rp, factors)
    stack = stack_of(system)
    max_gpus = options.max_gpus or (system.scale_up_domain_gpus if system.scale_up_domain_gpus > 8
                                    else MULTI_NODE_GPUS)
    if stack.max_gpus_per_instance:
        max_gpus = min(max_gpus, stack.max_gpus_per_instance)
    # tensor-parallel attention spans at most two scale-up domains (TP16 over two HGX nodes, the widest any
    # measured or published DeepSeek recipe runs: measured_serving_points.csv, SGLang's two-node TP16); engines
    # wider than that run DP attention with wide EP (DeepEP-style), as the large-scale deployments do
    layouts = candidate_layouts(model, max_gpus, max_attention_tp=2 * system.scale_up_domain_gpus)
    # only what the system's serving stack runs (data/serving_stacks.yaml)
    allowed = np.ones(len(layouts), dtype=bool)
    if not stack.dp_attention:
        allowed &= layouts.dp == 1
    if not stack.expert_parallel:
        allowed &= layouts.ep == 1
    layouts = _subset(layouts, allowed)
    mem = memory_limits(sm, factors, layouts, float(isl), float(osl))
    budget = factors.serving("max_num_tokens")
    limit = np.minimum(np.minimum(mem["max_batch_per_rank"], factors.serving("max_batch_per_rank")),
                       budget * layouts.pp / options.speculation.query_tokens)
    fits = limit >= 1
    if not fits.any():
        smallest = float(np.min(mem["weight_bytes_per_gpu"])) / 2**30
        return empty_table(), (f"{model_id} does not fit on {system_id} with up to {max_gpus} GPUs per instance "
                          f"(smallest weight share {smallest:.0f} GiB per GPU, HBM {system.hbm_capacity_gib:g} GiB)")
    layouts, limit = _subset(layouts, fits), limit[fits]
    unit_cap = min(MAX_UNIT_GPUS, options.max_unit_gpus or MAX_UNIT_GPUS)
    frames = []
    speculations = [sp for sp in options.speculations if stack.mtp or not sp.draft_tokens] or [NO_SPECULATION]
    runs = []  # (speculation, layouts it runs on): a recipe may draft fewer tokens with attention DP
    for sp in speculations:
        if sp.draft_tokens and sp.draft_tokens_dp_attention:
            runs += [(sp.with_attention(False), layouts.dp == 1), (sp.with_attention(True), layouts.dp > 1)]
        else:
            runs.append((sp, np.ones(len(layouts), dtype=bool)))
    # prefill runs no drafts: its options come from every layout that fits, once for all decode settings
    prefill = _prefill_candidates(sm, factors, system, model, rp, layouts, isl, osl) \
        if options.serving in ("disagg", "best") and stack.disaggregated else None
    for spec, where in runs:
        if not where.any():
            continue
        lays, lim = _subset(layouts, where), limit[where]
        if spec.draft_tokens:  # the MTP module's weights and the (n + 1)-token verify budget shrink the batch
            mem_s = memory_limits(sm, factors, lays, float(isl), float(osl), spec)
            lim = np.minimum(np.minimum(mem_s["max_batch_per_rank"], factors.serving("max_batch_per_rank")),
                             budget * lays.pp / spec.query_tokens)
        ok = lim >= 1
        if not ok.any():
            continue
        lay, lim = _subset(lays, ok), lim[ok]
        if options.serving in ("agg", "best"):
            frames.append(_aggregated(sm, factors, lay, lim, isl, osl, spec))
        if options.serving in ("disagg", "best") and stack.disaggregated:
            frames.append(_disaggregated(sm, factors, system, model, rp, lay, lim, isl, osl, spec, unit_cap,
                                         prefill=prefill))
    frames = [f for f in frames if table_length(f)]
    if not frames:
        return empty_table(), "no feasible deployment"
    table = {c: np.concatenate([f[c] for f in frames]) for c in CANDIDATE_COLUMNS}
    too_big = table["gpus"] > unit_cap
    if too_big.all():
        return empty_table(), (f"every deployment of {model_id} needs more GPUs than the facility holds "
                               f"({unit_cap:g}); raise the power envelope")
    table = take(table, ~too_big)
    return table, "" if table_length(table) else "no feasible deployment"


def empty_table() -> Table:
    """A candidate table with no rows."""
    return {c: np.array([], dtype=object if c in ("serving", "bound") else float) for c in CANDIDATE_COLUMNS}


def _aggregated(sm, factors, layouts, limit, isl, osl, speculation) -> Table:
    idx, batch = _batch_grid(limit)
    cand = Layout(layouts.tp[idx], layouts.ep[idx], layouts.dp[idx], layouts.pp[idx])
    concurrency = batch * cand.dp
    r = aggregated(sm, factors, cand, concurrency, float(isl), float(osl), speculation)
    n = len(cand)
    zeros = np.zeros(n)
    return {
        "serving": np.full(n, "agg", dtype=object), "tp": cand.tp, "ep": cand.ep, "dp_attention": cand.dp,
        "pp": cand.pp, "concurrency": concurrency, "gpus": cand.gpus, "prefill_gpus": zeros, "decode_gpus": zeros,
        "prefill_tp": zeros, "prefill_ep": zeros, "prefill_dp_attention": zeros, "prefill_batch": zeros,
        "prefill_instances": zeros, "decode_instances": zeros,
        "ttft_s": r["ttft_s"], "tpot_s": r["tpot_s"], "tokens_per_s_per_user": r["tokens_per_s_per_user"],
        "output_tokens_per_s_per_gpu": r["output_tokens_per_s_per_gpu"],
        "total_tokens_per_s_per_gpu": r["total_tokens_per_s_per_gpu"], "bound": r["bound"],
        "draft_tokens": np.full(n, float(speculation.draft_tokens)),
    }


def _prefill_candidates(sm, factors, system: System, model: Model, rp, layouts: Layout, isl, osl) -> dict:
    """Prefill worker options on the Pareto set of (TTFT, GPU-seconds per request)."""
    single = layouts.pp == 1
    base = _subset(layouts, single)
    mem = memory_limits(sm, factors, base, float(isl), 0.0)
    budget = max(factors.serving("max_num_tokens"), float(isl))
    batch_limit = np.minimum(mem["max_batch_per_rank"], np.floor(budget / isl))
    idx, col = np.nonzero(PREFILL_BATCHES[None, :] <= batch_limit[:, None])
    if len(idx) == 0:
        return {}
    cand = Layout(base.tp[idx], base.ep[idx], base.dp[idx], base.pp[idx])
    batch = PREFILL_BATCHES[col]
    r = prefill_workers(sm, cand, float(isl), batch)
    # KV of a finished prompt batch leaves its one attention-DP rank: the rank's tp GPUs each send their share
    # (GQA heads are split over tp; an MLA latent is replicated, so its tp ranks can each send a slice). It
    # crosses NVLink when prefill and decode sit in one scale-up domain (a rack-scale unit), else the network;
    # the unit's size is known after rate matching, so both times are kept (``_disaggregated`` picks).
    kv_bytes = batch * isl * arch.kv_bytes_per_token(model, rp.kv_bytes, context_tokens=float(isl))
    per_gpu_bytes = kv_bytes / cand.tp
    transfer_nvlink = per_gpu_bytes / (system.peer_bandwidth_gb_s * 1e9)  # to one decode rank: one peer link
    transfer_network = per_gpu_bytes / (system.scale_out_bandwidth_gb_s * 1e9)
    in_domain = system.scale_up_domain_gpus > 8
    transfer = transfer_nvlink if in_domain else transfer_network
    ttft = factors.serving("disagg_ttft_factor") * r["prefill_batch_s"] + transfer
    rate = factors.serving("disagg_prefill_rate_factor") * r["prefill_requests_per_s"]
    cost = cand.gpus / rate  # GPU-seconds per request
    order = np.lexsort((cost, ttft))
    keep, best = [], np.inf
    for i in order:  # Pareto: each kept option is cheaper than every faster one
        if cost[i] < best:
            keep.append(i)
            best = cost[i]
    keep = np.array(keep)
    if len(keep) > MAX_PREFILL_OPTIONS:  # fastest, cheapest and evenly spaced between
        keep = keep[np.unique(np.linspace(0, len(keep) - 1, MAX_PREFILL_OPTIONS).round().astype(int))]
    return {"layout": Layout(cand.tp[keep], cand.ep[keep], cand.dp[keep], cand.pp[keep]), "batch": batch[keep],
            "ttft_s": ttft[keep], "rate": rate[keep],
            "extra_network_s": (transfer_network - transfer)[keep]}  # added when a unit spans scale-up domains


def _disaggregated(sm, factors, system, model, rp, layouts, limit, isl, osl, speculation, unit_cap: float,
                   prefill: dict) -> Table:
    """Rate-matched prefill/decode units; ``prefill``: the prefill options (_prefill_candidates, once per
    search)."""
    if not prefill:
        return empty_table()
    idx, batch = _batch_grid(limit)
    dec = Layout(layouts.tp[idx], layouts.ep[idx], layouts.dp[idx], layouts.pp[idx])
    d = decode_workers(sm, dec, batch, float(isl), float(osl), speculation)
    rate_d = factors.serving("disagg_decode_rate_factor") * d["decode_requests_per_s"]
    # With rate matching, tokens/s per GPU rises with the decode rate per GPU at fixed prefill, so only decode
    # candidates on the (tokens/s/user, requests/s per GPU) frontier can reach the final frontier.
    keep = pareto_mask(1.0 / d["tpot_s"], rate_d / dec.gpus)
    keep_idx = np.flatnonzero(keep)
    dec = Layout(dec.tp[keep], dec.ep[keep], dec.dp[keep], dec.pp[keep])
    batch, rate_d = batch[keep], rate_d[keep]
    tpot, bound = d["tpot_s"][keep], d["bound"][keep_idx]
    n_d, n_p = len(dec), len(prefill["rate"])
    x = np.arange(1, MAX_PREFILL_INSTANCES + 1, dtype=float)
    # shape (decode, prefill option, x, floor/ceil): x prefill instances feed y decode instances
    rate_p = prefill["rate"][None, :, None, None]
    g_prefill = prefill["layout"].gpus[None, :, None, None] * x[None, None, :, None]
    ideal_y = x[None, None, :, None] * rate_p / rate_d[:, None, None, None]
    y = np.clip(np.concatenate([np.floor(ideal_y), np.ceil(ideal_y)], axis=3), 1.0, MAX_DECODE_INSTANCES)
    requests = np.minimum(x[None, None, :, None] * rate_p, y * rate_d[:, None, None, None])
    g_decode = dec.gpus[:, None, None, None] * y
    per_gpu = requests * osl / (g_prefill + g_decode)
    # among pairings within 2 % of the best, take the smallest unit (fewest GPUs)
    shape = per_gpu.shape
    full = {name: np.broadcast_to(a, shape).reshape(n_d, n_p, -1) for name, a in
            (("per_gpu", per_gpu), ("y", y), ("x", x[None, None, :, None]), ("g_p", g_prefill),
             ("g_d", g_decode))}
    total = full["g_p"] + full["g_d"]
    full["per_gpu"] = np.where(total <= unit_cap, full["per_gpu"], 0.0)  # units larger than the facility: out
    near = full["per_gpu"] >= RATE_MATCH_TOLERANCE * full["per_gpu"].max(axis=2, keepdims=True)
    choice = np.argmin(np.where(near, total, np.inf), axis=2)[..., None]
    per_gpu, ys, xs, g_p, g_d = (np.take_along_axis(full[k], choice, axis=2)[..., 0]
                                 for k in ("per_gpu", "y", "x", "g_p", "g_d"))
    di, pi = (a.ravel() for a in np.meshgrid(np.arange(n_d), np.arange(n_p), indexing="ij"))
    per_gpu, ys, xs, g_p, g_d = (a.ravel() for a in (per_gpu, ys, xs, g_p, g_d))
    p_layout = prefill["layout"]
    n = len(di)
    valid = per_gpu > 0
    ttft = prefill["ttft_s"][pi] + np.where(g_p + g_d > system.scale_up_domain_gpus,
                                             prefill["extra_network_s"][pi], 0.0)
    out = {
        "serving": np.full(n, "disagg", dtype=object), "tp": dec.tp[di], "ep": dec.ep[di],
        "dp_attention": dec.dp[di], "pp": dec.pp[di], "concurrency": batch[di] * dec.dp[di],
        "gpus": g_p + g_d, "prefill_gpus": g_p, "decode_gpus": g_d, "prefill_tp": p_layout.tp[pi],
        "prefill_ep": p_layout.ep[pi], "prefill_dp_attention": p_layout.dp[pi], "prefill_batch": prefill["batch"][pi],
        "prefill_instances": xs, "decode_instances": ys, "ttft_s": ttft, "tpot_s": tpot[di],
        "tokens_per_s_per_user": 1.0 / tpot[di], "output_tokens_per_s_per_gpu": per_gpu,
        "total_tokens_per_s_per_gpu": per_gpu * (isl + osl) / osl, "bound": bound[di],
        "draft_tokens": np.full(n, float(speculation.draft_tokens)),
    }
    return take(out, valid)
