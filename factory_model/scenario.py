"""Public scenario API: ``frontier``, ``economics`` and ``compare``.

``frontier(system, model, precision, isl, osl, ...)`` searches every deployment (search.py), applies SLOs,
keeps the Pareto frontier (pareto.py) and adds power (power.py) and economics (economics.py) columns. An empty
frontier carries its reason in ``frame.attrs["reason"]`` instead of raising. Token bases are named in the column
names: ``tokens_per_s_per_mw`` counts output tokens; ``total_tokens_per_s_per_mw`` input + output.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from . import pareto as pareto_math
from .catalog import Catalog, load_catalog
from .economics import EconomicsOptions, economics_columns, options as economics_options
from .errors import CatalogError, FactoryModelError
from .schemas import MAX_MTP_DRAFT_TOKENS, MAX_TOKENS, finite_number
from .factors import DEFAULT_PROFILE, Factors, load_factors
from .power import Power, resolve_power
from .precision import resolve_precision
from .search import SearchOptions, empty_table, search, table_length, take
from .serving import NO_SPECULATION, Speculation, mtp_speculation
from .stacks import stack_of

POWER_COLUMNS = ["tokens_per_s_per_mw", "total_tokens_per_s_per_mw", "tokens_per_s_per_facility",
                 "joules_per_output_token", "joules_per_total_token"]
DEFAULT_COMPARE_AT = (20.0, 50.0, 100.0, 200.0)


def _check_length(name: str, value) -> int:
    if isinstance(value, np.integer | np.floating):
        value = value.item()
    return finite_number(name, value, ge=1, le=MAX_TOKENS, integer=True,
                         fix=f"{name} is a whole number of tokens from 1 to {MAX_TOKENS:,}")


def power_columns(table, power: Power) -> dict[str, np.ndarray]:
    """tokens/s per MW (output and total basis), per facility, and all-in joules per token."""
    per_gpu = np.asarray(table["output_tokens_per_s_per_gpu"], dtype=float)
    total = np.asarray(table["total_tokens_per_s_per_gpu"], dtype=float)
    with np.errstate(divide="ignore"):
        return {"tokens_per_s_per_mw": per_gpu * power.gpus_per_mw,
                "total_tokens_per_s_per_mw": total * power.gpus_per_mw,
                "tokens_per_s_per_facility": per_gpu * power.gpus,
                "joules_per_output_token": power.kw_per_gpu * 1000.0 / per_gpu,
                "joules_per_total_token": power.kw_per_gpu * 1000.0 / total}


def speculation_options(model, factors: Factors, mtp_tokens: int | str = 0,
                        mtp_acceptance: float | None = None,
                        stacks: tuple[str, ...] = ()) -> tuple[Speculation, tuple]:
    """(speculation, further settings searched beside it) for ``mtp_tokens`` = n, 0 or ``"auto"``.

    The calibrated acceptance is the best of ``stacks`` (the frameworks that run on the system), see
    serving.mtp_speculation."""
    if isinstance(mtp_tokens, str):
        if mtp_tokens.strip().lower() in ("auto", "best"):
            mtp = mtp_speculation(model, factors, stacks=stacks)
            return NO_SPECULATION, ((mtp,) if mtp.draft_tokens else ())
        if mtp_tokens.strip().lower() in ("off", "none", ""):
            return NO_SPECULATION, ()
        try:
            mtp_tokens = int(mtp_tokens)
        except ValueError:
            raise FactoryModelError(f"mtp must be a number of draft tokens (0-8) or 'auto', got {mtp_tokens!r}") \
                from None
    try:
        n = int(mtp_tokens)
    except (TypeError, ValueError, OverflowError):
        raise FactoryModelError(f"mtp must be a number of draft tokens (0-8) or 'auto', got {mtp_tokens!r}") \
            from None
    if not 0 <= n <= 8 or n != mtp_tokens:
        raise FactoryModelError(f"mtp draft tokens must be a whole number from 0 to 8, got {mtp_tokens!r}")
    if n == 0:
        return NO_SPECULATION, ()
    calibrated = mtp_acceptance is None  # the calibrated acceptance grows with output length; a given one does not
    acceptance = mtp_acceptance
    if calibrated:  # the best calibrated stack's on this system (a model without MTP heads: the default)
        shipped = mtp_speculation(model, factors, stacks=stacks)
        acceptance = shipped.acceptance if shipped.draft_tokens else factors.serving("mtp_acceptance")
    try:
        acceptance = float(acceptance)
    except (TypeError, ValueError):
        raise FactoryModelError(f"mtp acceptance must be a number in [0, 1), got {mtp_acceptance!r}") from None
    if not 0.0 <= acceptance < 1.0:
        raise FactoryModelError(f"mtp needs an acceptance rate in [0, 1] below 1, got {mtp_acceptance!r}")
    return Speculation(n, acceptance,
                       factors.serving("mtp_acceptance_per_output_doubling") if calibrated else 0.0), ()


def frontier(system: str, model: str, precision: str, isl: int, osl: int, *, serving: str = "best",
             mw: float = 1.0, pue: float | None = None, kw_per_gpu: float | None = None,
             ttft_max_s: float | None = None, tpot_max_s: float | None = None,
             min_tokens_per_s_per_user: float | None = None, mtp_tokens: int | str = 0,
             mtp_acceptance: float | None = None,
             max_gpus: int | None = None, economics: EconomicsOptions | None = None,
             profile: str = DEFAULT_PROFILE, catalog: Catalog | None = None, factors: Factors | None = None,
             all_candidates: bool = False) -> pd.DataFrame:
    """The throughput-vs-interactivity Pareto frontier of one scenario, with power and economics columns.

    Rows are sorted by tokens/s/user. ``attrs``: ``reason`` ('' unless empty), ``kw_per_gpu``, ``power_basis``,
    ``factory_gpus``, ``racks``, ``candidates`` (deployments searched), ``note``, ``ttft_max_s`` (the TTFT limit
    applied). ``all_candidates=True`` returns every feasible deployment meeting the SLOs (marked
    ``on_frontier``) instead of the frontier alone.

    ``ttft_max_s`` None applies the default limit (serving parameter ``ttft_limit_s``, 10 s; ``math.inf``
    switches it off). ``mtp_tokens``: draft tokens per step (``mtp_acceptance`` their acceptance, default the
    calibrated ``mtp_acceptance``), or ``"auto"``: the model's calibrated MTP for models that ship MTP heads,
    searched beside serving without it (the best measured stacks run both), else none. No deployment unit is
    larger than the facility (``mw``) holds.
    """
    catalog = catalog or load_catalog()
    factors = factors or load_factors(profile)
    sys_, model_ = catalog.system(system), catalog.model(model)
    catalog.precision(precision)
    isl, osl = _check_length("isl", isl), _check_length("osl", osl)
    for name, value in (("ttft_max_s", ttft_max_s), ("tpot_max_s", tpot_max_s),
                        ("min_tokens_per_s_per_user", min_tokens_per_s_per_user)):
        if value is not None and not (name == "ttft_max_s" and value == math.inf):  # inf: no TTFT limit
            finite_number(name, value, gt=0, le=1e9, fix="use a positive number")
    if not isinstance(mtp_tokens, str):  # "auto" / "off" are resolved by speculation_options
        mtp_tokens = finite_number("mtp_tokens", mtp_tokens, ge=0, le=MAX_MTP_DRAFT_TOKENS, integer=True,
                                   fix=f"give 0 to {MAX_MTP_DRAFT_TOKENS} draft tokens, or 'auto'")
    if mtp_acceptance is not None:  # None: the calibrated acceptance
        mtp_acceptance = finite_number("mtp_acceptance", mtp_acceptance, ge=0, lt=1,
                                       fix="an acceptance rate in [0, 1], below 1 (a draft always accepted is "
                                           "not physical)")
    if max_gpus is not None:
        max_gpus = finite_number("max_gpus", max_gpus, ge=1, le=1_000_000, integer=True)
    power = resolve_power(sys_, mw, pue=pue, kw_per_gpu=kw_per_gpu)
    opts = (economics or economics_options()).validated()
    if ttft_max_s is None:
        ttft_max_s = factors.serving("ttft_limit_s")
    speculation, also = speculation_options(model_, factors, mtp_tokens, mtp_acceptance,
                                            stacks=stack_of(sys_).frameworks)
    search_options = SearchOptions(serving=serving, speculation=speculation, max_gpus=max_gpus,
                                   also_speculation=also, max_unit_gpus=max(int(power.gpus), 1))
    notes = []
    try:
        notes.append(resolve_precision(sys_, model_, catalog.precision(precision)).note)
        candidates, reason = search(catalog, factors, system, model, precision, isl, osl, search_options)
    except FactoryModelError as exc:  # e.g. a precision the system cannot run: empty, with the reason
        if isinstance(exc, CatalogError):
            raise
        candidates, reason = empty_table(), str(exc)
    n_candidates = table_length(candidates)
    if not reason:
        keep, reason = pareto_math.slo_mask(candidates, ttft_max_s, tpot_max_s, min_tokens_per_s_per_user)
        candidates = take(candidates, keep)
    on_frontier = pareto_math.frontier_order(candidates)
    if all_candidates:
        rows = candidates
        flag = np.zeros(table_length(rows), dtype=bool)
        flag[on_frontier] = True
        rows = {**rows, "on_frontier": flag}
    else:
        rows = take(candidates, on_frontier)
    rows.update(power_columns(rows, power))
    rows.update(economics_columns(rows, sys_, model, isl, osl, power, opts))
    n = table_length(rows)
    frame = pd.DataFrame({"system": np.full(n, system, dtype=object), "model": np.full(n, model, dtype=object),
                          "precision": np.full(n, precision, dtype=object), **rows})
    if power.racks == 0:
        notes.append(f"{power.mw:g} MW holds no whole rack of {sys_.gpus_per_rack} GPUs at {power.kw_per_gpu:g} "
                     f"kW/GPU (a rack needs {power.kw_per_gpu * sys_.gpus_per_rack / 1000:.3g} MW): the facility "
                     f"has 0 GPUs; per-MW figures are rates")
    if sys_.preliminary:
        notes.append("preliminary system: projected figures")
    if sys_.user_defined or model_.user_defined:
        notes.append("user-defined " + " and ".join(k for k, v in (("system", sys_.user_defined),
                                                                   ("model", model_.user_defined)) if v))
    if n and not np.isfinite(frame["price_output_usd_per_m"]).all():
        notes.append(f"no list price for {model}: revenue is unknown until input and output prices are given")
    for spec in (speculation, *also):
        if spec.draft_tokens:
            notes.append(f"speculative decoding{' (auto: searched with and without)' if also else ''}: "
                         f"{spec.draft_tokens} draft tokens at acceptance {float(spec.acceptance_at(osl)):.2g} → "
                         f"{float(spec.tokens_per_step_at(osl)):.2f} tokens per step")
            if spec.draft_tokens_dp_attention:
                dp = spec.with_attention(True)
                notes.append(f"with attention data parallelism, as its stack's recipe: {dp.draft_tokens} draft "
                             f"token(s) → {float(dp.tokens_per_step_at(osl)):.2f} tokens per step")
    if np.isfinite(ttft_max_s):
        notes.append(f"TTFT ≤ {ttft_max_s:g} s")
    frame.attrs.update({"reason": reason, "kw_per_gpu": power.kw_per_gpu, "power_basis": power.basis,
                        "factory_gpus": power.gpus, "racks": power.racks, "mw": power.mw,
                        "candidates": n_candidates, "note": "; ".join(n for n in notes if n),
                        "isl": isl, "osl": osl, "ttft_max_s": ttft_max_s})
    return frame


def economics(frontier_frame: pd.DataFrame, system: str, model: str, isl: int, osl: int, *, mw: float = 1.0,
              pue: float | None = None, kw_per_gpu: float | None = None,
              economics: EconomicsOptions | None = None, catalog: Catalog | None = None) -> pd.DataFrame:
    """Recompute power and economics columns of an existing frontier under new assumptions (no new search)."""
    catalog = catalog or load_catalog()
    sys_ = catalog.system(system)
    catalog.model(model)
    power = resolve_power(sys_, mw, pue=pue, kw_per_gpu=kw_per_gpu)
    opts = (economics or economics_options()).validated()
    new = power_columns(frontier_frame, power)
    new.update(economics_columns(frontier_frame, sys_, model, isl, osl, power, opts))
    base = frontier_frame.drop(columns=[c for c in new if c in frontier_frame.columns])
    out = pd.concat([base, pd.DataFrame(new, index=frontier_frame.index)], axis=1)
    out.attrs = {**frontier_frame.attrs, "kw_per_gpu": power.kw_per_gpu, "power_basis": power.basis,
                 "factory_gpus": power.gpus, "racks": power.racks, "mw": power.mw}
    return out


def best_index(frame: pd.DataFrame, column: str):
    """The index of the row where ``column`` is largest, or None when the column is missing or has no finite
    value (an empty frontier; a model without a list price gives all-NaN revenue and profit)."""
    if column not in frame or not len(frame):
        return None
    values = pd.to_numeric(frame[column], errors="coerce").replace([np.inf, -np.inf], np.nan)
    return values.idxmax() if values.notna().any() else None


def summary(frame: pd.DataFrame) -> dict[str, float]:
    """One-number summaries of a frontier: extremes, area, and the revenue/profit-maximising points (NaN where a
    column has no finite value, e.g. revenue of a model without a list price)."""
    if not len(frame):
        return {"max_tokens_per_s_per_mw": np.nan, "max_tokens_per_s_per_user": np.nan, "area": 0.0}
    out = {
        "max_tokens_per_s_per_mw": float(frame["tokens_per_s_per_mw"].max()),
        "max_output_tokens_per_s_per_gpu": float(frame["output_tokens_per_s_per_gpu"].max()),
        "max_tokens_per_s_per_user": float(frame["tokens_per_s_per_user"].max()),
        "area_tokens_per_s_per_mw_decades": pareto_math.area(frame, "tokens_per_s_per_mw"),
    }
    for column in ("revenue_usd_per_mw_hour", "profit_usd_per_mw_hour"):
        if column in frame:
            best = best_index(frame, column)
            row = frame.loc[best] if best is not None else None
            out[f"max_{column}"] = float(row[column]) if row is not None else np.nan
            out[f"tokens_per_s_per_user_at_max_{column.split('_usd')[0]}"] = \
                float(row["tokens_per_s_per_user"]) if row is not None else np.nan
    return out


def compare(systems: Sequence[str], model: str, precision: str | Sequence[str], isl: int, osl: int, *,
            at: Sequence[float] = DEFAULT_COMPARE_AT, column: str = "tokens_per_s_per_mw",
            **frontier_options) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Frontiers of several systems side by side: ``column`` at each interactivity in ``at`` and the ratio to
    the first system, plus each system's maxima. ``precision`` may be one id or one per system.

    Returns (comparison table, {system: frontier}).
    """
    if not systems:
        raise FactoryModelError("compare needs at least one system")
    precisions = [precision] * len(systems) if isinstance(precision, str) else list(precision)
    if len(precisions) != len(systems):
        raise FactoryModelError("give one precision, or one per system")
    frontiers = {}
    for system, prec in zip(systems, precisions):
        frontiers[system] = frontier(system, model, prec, isl, osl, **frontier_options)
    base = systems[0]
    rows = []
    for target in list(at) + ["max"]:
        row = {"tokens_per_s_per_user": target}
        for system in systems:
            f = frontiers[system]
            value = float(f[column].max()) if target == "max" and len(f) else pareto_math.value_at(f, target, column) \
                if target != "max" else np.nan
            row[system] = value
        for system in systems[1:]:
            row[f"{system}_vs_{base}"] = row[system] / row[base] if row[base] and np.isfinite(row[base]) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["column"] = column
    return table, frontiers
