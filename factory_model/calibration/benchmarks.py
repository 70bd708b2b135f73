"""Benchmark result files as measured operating points.

* vLLM ``bench serve --save-result`` JSON (one result, a list of results, or JSON lines): output throughput,
  median TTFT and TPOT, max concurrency; mean lengths from total tokens / completed requests. The file does not
  say which hardware or parallelism served it, so the caller gives that (system, model, precision, tp, ...).
* The measured-points CSV format of data/reference/ (one row per configuration). Its isl/osl are nominal, the
  benchmark drawing lengths in 80-100 % of them: means are 0.9 × nominal (reference.BENCHMARK_LENGTH_FACTOR).

Both give rows of operating_point.POINT_COLUMNS without power (a benchmark file records none).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from .. import schemas
from ..errors import FactoryModelError
from ..reference import BENCHMARK_LENGTH_FACTOR, REFERENCE_COLUMNS
from .operating_point import POINT_COLUMNS

VLLM_REQUIRED = ("completed", "duration", "total_input_tokens", "total_output_tokens")


def _results(text: str) -> list[dict]:
    text = text.strip()
    if not text:
        raise FactoryModelError("benchmark file is empty")
    try:
        doc = schemas.load_json(text, "benchmark file")
        results = doc if isinstance(doc, list) else [doc]
    except FactoryModelError as whole:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise whole from None
        results = [schemas.load_json(line, f"benchmark file line {i + 1}") for i, line in enumerate(lines)]
    if len(results) > schemas.MAX_POINT_ROWS:
        raise FactoryModelError(f"benchmark file: more than {schemas.MAX_POINT_ROWS:,} results")
    return results


def import_vllm_bench(text: str | bytes, *, system: str, model: str, precision: str, tp: int, ep: int = 1,
                      dp_attention: int = 1, pp: int = 1) -> pd.DataFrame:
    """Operating points from vLLM ``bench serve`` result JSON."""
    if isinstance(text, bytes):
        text = schemas._as_text(text, "benchmark file")
    for name, value in (("tp", tp), ("ep", ep), ("dp_attention", dp_attention), ("pp", pp)):
        schemas.finite_number(name, value, ge=1, le=schemas.MAX_PARALLEL, integer=True)
    rows = []
    gpus = tp * dp_attention * pp
    for i, r in enumerate(_results(text)):
        if not isinstance(r, dict):
            raise FactoryModelError(f"benchmark result {i}: expected a JSON object")
        missing = [k for k in VLLM_REQUIRED if k not in r]
        if missing:
            raise FactoryModelError(f"benchmark result {i}: not a vLLM bench serve result (missing "
                                    f"{', '.join(missing)})")
        r = schemas.validate(schemas.VllmBenchResult, r, f"benchmark result {i}").model_dump()
        completed = float(r["completed"])
        tpot_ms = r["median_tpot_ms"] if r["median_tpot_ms"] is not None else r["mean_tpot_ms"]
        ttft_ms = r["median_ttft_ms"] if r["median_ttft_ms"] is not None else r["mean_ttft_ms"]
        if tpot_ms is None or ttft_ms is None:
            raise FactoryModelError(f"benchmark result {i}: lacks median/mean TTFT or TPOT")
        out_tps = float(r["output_throughput"] or float(r["total_output_tokens"]) / float(r["duration"]))
        concurrency = r.get("max_concurrency") or r.get("num_prompts") or completed
        if not 1 <= round(float(r["total_input_tokens"]) / completed) <= schemas.MAX_TOKENS or \
                not 1 <= round(float(r["total_output_tokens"]) / completed) <= schemas.MAX_TOKENS:
            raise FactoryModelError(f"benchmark result {i}: tokens per request out of range; check the totals")
        rows.append({"phase": str(r.get("label") or f"result {i}"), "system": system, "model": model,
                     "precision": precision, "isl": int(round(float(r["total_input_tokens"]) / completed)),
                     "osl": int(round(float(r["total_output_tokens"]) / completed)), "tp": tp, "ep": ep,
                     "dp_attention": dp_attention, "pp": pp, "gpus": gpus, "concurrency": float(concurrency),
                     "duration_s": float(r["duration"]), "output_tokens_per_s": out_tps,
                     "output_tokens_per_s_per_gpu": out_tps / gpus, "tokens_per_s_per_user": 1000.0 / float(tpot_ms),
                     "ttft_s": float(ttft_ms) / 1e3, "tpot_s": float(tpot_ms) / 1e3})
    frame = pd.DataFrame(rows)
    for column in POINT_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    return frame[POINT_COLUMNS]


def import_points_csv(source) -> pd.DataFrame:
    """Operating points from a file in the reference measured-points format (data/reference/)."""
    try:
        if hasattr(source, "getvalue"):
            raw = source.getvalue()
        else:
            with open(source, "rb") as fh:
                raw = fh.read(schemas.MAX_DOCUMENT_BYTES * 5 + 1)
        if len(raw) > schemas.MAX_DOCUMENT_BYTES * 5:
            raise FactoryModelError(f"measured-points CSV: larger than {schemas.MAX_DOCUMENT_BYTES * 5 // 2**20} MB")
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, nrows=schemas.MAX_POINT_ROWS + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OverflowError):
        raise FactoryModelError("measured-points CSV not readable (a header row with the columns of "
                                "data/reference/, then one row per point)") from None
    except OSError:
        raise FactoryModelError(f"{str(source)[:100]}: file not found (or not a file)") from None
    if len(frame) > schemas.MAX_POINT_ROWS:
        raise FactoryModelError(f"measured-points CSV: more than {schemas.MAX_POINT_ROWS:,} rows")
    missing = [c for c in REFERENCE_COLUMNS if c not in frame.columns]
    if missing:
        raise FactoryModelError(f"measured-points CSV: missing column(s) {', '.join(missing)}")
    if not len(frame):
        raise FactoryModelError("measured-points CSV: no rows")
    rows = frame.where(frame.notna(), None).to_dict("records")
    checked = [schemas.validate(schemas.PointRow, r, f"measured-points CSV row {i + 2}").model_dump()
               for i, r in enumerate(rows)]
    frame = pd.DataFrame(checked)
    out = pd.DataFrame({
        "phase": frame["backend"].astype(str) + " c" + frame["concurrency"].astype(str),
        "system": frame["system"], "model": frame["model"], "precision": frame["precision"],
        "isl": (BENCHMARK_LENGTH_FACTOR * frame["isl"]).round().astype(int),
        "osl": (BENCHMARK_LENGTH_FACTOR * frame["osl"]).round().astype(int), "tp": frame["tp"], "ep": frame["moe_ep"], "dp_attention": frame["dp_attention"],
        "pp": 1, "gpus": frame["gpus"], "concurrency": frame["concurrency"],
        "output_tokens_per_s_per_gpu": frame["output_tokens_per_s_per_gpu"],
        "tokens_per_s_per_user": frame["tokens_per_s_per_user"], "ttft_s": frame["ttft_ms"] / 1e3,
        "tpot_s": frame["tpot_ms"] / 1e3})
    out["output_tokens_per_s"] = out["output_tokens_per_s_per_gpu"] * out["gpus"]
    for column in POINT_COLUMNS:
        if column not in out:
            out[column] = np.nan
    return out[POINT_COLUMNS]
