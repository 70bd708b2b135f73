"""``estimate``: TTFT, TPOT and throughput of given deployments under aggregated serving.

Conventions: tokens/s/user = 1 / TPOT; ``output_tokens_per_s_per_gpu`` counts generated tokens,
``total_tokens_per_s_per_gpu`` input + output tokens; GPUs counted are all GPUs of the deployment
(tp × dp_attention × pp). A deployment that cannot run (invalid parallelism, out of memory, a precision the
system cannot run) gets empty values and a ``reason``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .catalog import Catalog, load_catalog
from .errors import FactoryModelError
from .schemas import MAX_CONCURRENCY, MAX_PARALLEL, MAX_SAFE_INTEGER, MAX_TOKENS
from .factors import DEFAULT_PROFILE, Factors, load_factors
from .parallelism import Layout, invalid_reasons
from .precision import resolve_precision
from .serving import aggregated
from .step_time import build_step_model

INPUT_COLUMNS = ["system", "model", "precision", "isl", "osl", "tp", "ep", "dp_attention", "concurrency"]
OPTIONAL_INPUT_COLUMNS = {"pp": 1}
INTEGER_COLUMNS = ["isl", "osl", "tp", "ep", "dp_attention", "pp", "concurrency"]
RESULT_COLUMNS = ["ttft_s", "tpot_s", "tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
                  "total_tokens_per_s_per_gpu", "gpus", "max_batch_per_rank", "bound"]
EXTRA_COLUMNS = ["running_batch_per_rank", "weight_gib_per_gpu", "decode_step_s", "mixed_step_fraction"]
GIB = 2**30


_INTEGER_LIMITS = {"isl": MAX_TOKENS, "osl": MAX_TOKENS, "tp": MAX_PARALLEL, "ep": MAX_PARALLEL,
                   "dp_attention": MAX_PARALLEL, "pp": MAX_PARALLEL, "concurrency": MAX_CONCURRENCY}
MAX_SCENARIO_ROWS = 100_000


def _as_int_array(name: str, values, n: int | None = None) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values))
    if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr.astype(float))):
        raise FactoryModelError(f"{name} must be a whole number, got {values!r}")
    if np.any(arr.astype(float) != np.round(arr.astype(float))):
        raise FactoryModelError(f"{name} must be a whole number, got {values!r}")
    if np.any(arr < 1):
        raise FactoryModelError(f"{name} must be at least 1, got {values!r}")
    top = _INTEGER_LIMITS.get(name, MAX_SAFE_INTEGER)
    if np.any(arr.astype(float) > top):  # checked before the int64 cast, which would wrap 2^63 to -2^63
        raise FactoryModelError(f"{name} must be at most {top:,}; got a larger value")
    return arr.astype(np.int64)


def evaluate(catalog: Catalog, factors: Factors, system_id: str, model_id: str, precision_id: str,
             layout: Layout, isl, osl, concurrency) -> dict[str, np.ndarray]:
    """Vectorised core of :func:`estimate` for one (system, model, precision): arrays of length N.

    Returns the result columns plus ``reason`` ('' when the deployment runs) and ``note``.
    """
    system, model = catalog.system(system_id), catalog.model(model_id)
    precision = catalog.precision(precision_id)
    n = len(layout)
    reasons = invalid_reasons(model, layout)
    try:
        rp = resolve_precision(system, model, precision)
    except FactoryModelError as exc:
        out = {c: np.full(n, np.nan) for c in RESULT_COLUMNS + EXTRA_COLUMNS}
        out["bound"] = np.full(n, "", dtype=object)
        out["reason"] = np.where(reasons == "", str(exc), reasons)
        out["note"] = np.full(n, "", dtype=object)
        return out
    sm = build_step_model(system, model, rp, factors)
    safe = Layout(*(np.where(reasons == "", a, 1) for a in (layout.tp, layout.ep, layout.dp, layout.pp)))
    r = aggregated(sm, factors, safe, concurrency, isl, osl)
    free_gib = r["free_bytes_per_gpu"] / GIB
    weights_gib = r["weight_bytes_per_gpu"] / GIB
    hbm = system.hbm_capacity_gib
    for i in np.flatnonzero(reasons == ""):
        if free_gib[i] <= 0:
            reasons[i] = (f"does not fit: weights {weights_gib[i]:.1f} GiB per GPU + runtime and activations "
                          f"exceed the {hbm:g} GiB of HBM; use more GPUs (tp, ep, pp)")
        elif r["max_batch_per_rank"][i] < 1:
            seq_gib = r["kv_bytes_per_sequence_per_gpu"][i] / GIB
            reasons[i] = (f"does not fit: one sequence's KV cache ({seq_gib:.2f} GiB per GPU) exceeds the "
                          f"{free_gib[i]:.2f} GiB left after weights; use more GPUs or shorter sequences")
    ok = reasons == ""
    out: dict[str, np.ndarray] = {}
    for col in RESULT_COLUMNS:
        values = np.asarray(r[col])
        if col == "bound":
            out[col] = np.where(ok, values, "")
        else:
            out[col] = np.where(ok, values.astype(float), np.nan)
    out["gpus"] = layout.gpus
    out["running_batch_per_rank"] = np.where(ok, r["running_batch_per_rank"], np.nan)
    out["weight_gib_per_gpu"] = np.where(ok, weights_gib, np.nan)
    out["decode_step_s"] = np.where(ok, r["decode_step_s"], np.nan)
    out["mixed_step_fraction"] = np.where(ok, r["mixed_step_fraction"], np.nan)
    out["reason"] = reasons
    note = "; ".join(x for x in (rp.note, "preliminary system: projected figures" if system.preliminary else "") if x)
    out["note"] = np.full(n, note, dtype=object)
    return out


def estimate(system: str, model: str, precision: str, isl, osl, tp, ep=1, dp_attention=1, pp=1,
             concurrency=1, *, profile: str = DEFAULT_PROFILE, catalog: Catalog | None = None,
             factors: Factors | None = None, details: bool = False) -> pd.DataFrame:
    """Estimate aggregated serving of one system × model × precision at given deployments.

    ``isl``, ``osl`` (tokens), ``tp``, ``ep``, ``dp_attention``, ``pp`` and ``concurrency`` (requests in flight)
    may be scalars or arrays; they broadcast and give one row each. Columns: the inputs, then ``ttft_s``,
    ``tpot_s`` (s), ``tokens_per_s_per_user`` (= 1/TPOT), ``output_tokens_per_s_per_gpu``,
    ``total_tokens_per_s_per_gpu``, ``gpus``, ``max_batch_per_rank`` (sequences per attention-DP rank that fit
    in KV memory), ``bound`` (what dominates the decode step), ``reason`` (why a row cannot run, else '') and
    ``note``. ``details=True`` adds running batch, weights per GPU, decode step time and mixed-step fraction.
    Raises :class:`FactoryModelError` for unknown ids or non-positive numbers.
    """
    catalog = catalog or load_catalog()
    factors = factors or load_factors(profile)
    for kind, value in (("system", system), ("model", model), ("precision", precision)):
        getattr(catalog, kind)(value)  # unknown ids raise with a suggestion
    arrays = {name: _as_int_array(name, value) for name, value in
              (("isl", isl), ("osl", osl), ("tp", tp), ("ep", ep), ("dp_attention", dp_attention), ("pp", pp),
               ("concurrency", concurrency))}
    try:
        b = dict(zip(arrays, np.broadcast_arrays(*arrays.values())))
    except ValueError:
        raise FactoryModelError("array arguments must have equal lengths (or be scalars)") from None
    layout = Layout.of(b["tp"], b["ep"], b["dp_attention"], b["pp"])
    result = evaluate(catalog, factors, system, model, precision, layout, b["isl"], b["osl"], b["concurrency"])
    frame = pd.DataFrame({"system": system, "model": model, "precision": precision,
                          **{k: np.asarray(v) for k, v in b.items()}})
    columns = RESULT_COLUMNS + (EXTRA_COLUMNS if details else []) + ["reason", "note"]
    for col in columns:
        frame[col] = result[col]
    return frame


def read_scenarios(path_or_frame, catalog: Catalog | None = None) -> pd.DataFrame:
    """Read a scenarios CSV (columns :data:`INPUT_COLUMNS`, optional ``pp``) and validate every cell.

    Errors name the row (1-based, counting the header as row 1) and the column.
    """
    catalog = catalog or load_catalog()
    if isinstance(path_or_frame, pd.DataFrame):
        frame = path_or_frame.copy()
    else:
        try:
            frame = pd.read_csv(path_or_frame, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise FactoryModelError(f"{path_or_frame}: file not found (or not a readable file)") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError) as exc:
            raise FactoryModelError(f"{path_or_frame}: not a readable CSV ({str(exc).splitlines()[0]})") from None
        except pd.errors.EmptyDataError:
            raise FactoryModelError(f"{path_or_frame}: empty file; expected a header with columns "
                                    f"{','.join(INPUT_COLUMNS)}") from None
    frame = frame.reset_index(drop=True)
    if len(frame) > MAX_SCENARIO_ROWS:
        raise FactoryModelError(f"scenarios CSV: more than {MAX_SCENARIO_ROWS:,} rows; split the file")
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in INPUT_COLUMNS if c not in frame.columns]
    if missing:
        raise FactoryModelError(f"scenarios CSV: missing column(s) {', '.join(missing)}; "
                                f"expected {','.join(INPUT_COLUMNS)}[,pp]")
    for col, default in OPTIONAL_INPUT_COLUMNS.items():
        if col not in frame.columns:
            frame[col] = default
    tables = {"system": catalog.systems, "model": catalog.models, "precision": catalog.precisions}
    for col, table in tables.items():
        values = frame[col].astype(str).str.strip()
        frame[col] = values
        for row, value in enumerate(values):  # positions, not labels (a ragged CSV gives a tuple index)
            if value not in table:
                try:
                    getattr(catalog, col)(value)
                except FactoryModelError as exc:
                    raise FactoryModelError(f"scenarios CSV row {row + 2}, column {col}: {exc}") from None
    for col in INTEGER_COLUMNS:
        numbers = pd.to_numeric(frame[col].astype(str).str.strip(), errors="coerce")
        top = _INTEGER_LIMITS.get(col, MAX_SAFE_INTEGER)
        bad = numbers.isna() | ~np.isfinite(numbers.astype(float)) | (numbers < 1) | (numbers > top) | \
            (numbers != np.round(numbers))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FactoryModelError(f"scenarios CSV row {row + 2}, column {col}: expected a whole number from 1 "
                                    f"to {top:,}, got {str(frame[col].iloc[row])[:40]!r}")
        frame[col] = numbers.astype(np.int64)
    return frame


def estimate_table(scenarios, *, profile: str = DEFAULT_PROFILE, catalog: Catalog | None = None,
                   factors: Factors | None = None, details: bool = False) -> pd.DataFrame:
    """:func:`estimate` for every row of a scenarios table (path or DataFrame); output rows keep input order."""
    catalog = catalog or load_catalog()
    factors = factors or load_factors(profile)
    frame = read_scenarios(scenarios, catalog).reset_index(drop=True)
    columns = RESULT_COLUMNS + (EXTRA_COLUMNS if details else []) + ["reason", "note"]
    results = {c: np.empty(len(frame), dtype=object) for c in columns}
    numbers = {c: frame[c].to_numpy() for c in INTEGER_COLUMNS}
    for (system, model, precision), idx in frame.groupby(["system", "model", "precision"], sort=False).indices.items():
        g = {c: v[idx] for c, v in numbers.items()}
        layout = Layout.of(g["tp"], g["ep"], g["dp_attention"], g["pp"])
        r = evaluate(catalog, factors, system, model, precision, layout, g["isl"], g["osl"], g["concurrency"])
        for c in columns:
            results[c][idx] = r[c]
    out = frame.copy()
    for c in columns:
        out[c] = results[c] if c in ("bound", "reason", "note") else pd.to_numeric(results[c])
    return out
