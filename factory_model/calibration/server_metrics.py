"""Throughput from an inference server's Prometheus ``/metrics`` (vLLM, SGLang, TensorRT-LLM / Dynamo).

A scrape returns cumulative counters (generated and prompt tokens), histogram sums and counts (TTFT, TPOT) and
the running-request gauge; names per engine live in data/server_metrics.yaml and the engine is detected from
what the server exposes. Two scrapes give rates:

    output tokens/s = Δ generation_tokens_total / Δt          (output token basis)
    mean TTFT       = Δ ttft_sum / Δ ttft_count               (seconds; likewise TPOT)

A counter that went down (server restart) gives no rate for that interval rather than a negative one.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from .. import safe_fetch
from ..catalog import DATA_DIR, read_yaml
from . import TelemetryError

QUANTITIES = ("generation_tokens_total", "prompt_tokens_total", "ttft_seconds", "tpot_seconds",
              "requests_running")
SNAPSHOT_COLUMNS = ("t_s", "engine", "generation_tokens_total", "prompt_tokens_total", "ttft_sum_s", "ttft_count",
                    "tpot_sum_s", "tpot_count", "requests_running")


@functools.lru_cache(maxsize=2)
def metric_names(data_dir: str | None = None) -> dict[str, dict[str, list[str]]]:
    data = read_yaml(Path(data_dir or DATA_DIR) / "server_metrics.yaml")
    return {engine: names for engine, names in data.items() if isinstance(names, dict)}


def parse(text: str) -> dict[str, float]:
    """Sum every sample by name (label sets added up) from Prometheus exposition text."""
    totals: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if math.isfinite(sample.value):
                    totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    except Exception:  # noqa: BLE001 - the parser raises ValueError/TypeError on malformed text
        raise TelemetryError("malformed Prometheus metrics text") from None  # never echo the reply
    return totals


def _first(samples: dict[str, float], names: list[str], suffix: str = "") -> float | None:
    for name in names:
        if name + suffix in samples:
            return samples[name + suffix]
    return None


def snapshot(samples: dict[str, float], t_s: float | None = None) -> dict:
    """One row of :data:`SNAPSHOT_COLUMNS` from parsed samples; the engine is the first whose token counter
    is present."""
    for engine, names in metric_names().items():
        tokens = _first(samples, names["generation_tokens_total"])
        if tokens is None:
            continue
        return {
            "t_s": time.time() if t_s is None else t_s, "engine": engine, "generation_tokens_total": tokens,
            "prompt_tokens_total": _first(samples, names["prompt_tokens_total"]),
            "ttft_sum_s": _first(samples, names["ttft_seconds"], "_sum"),
            "ttft_count": _first(samples, names["ttft_seconds"], "_count"),
            "tpot_sum_s": _first(samples, names["tpot_seconds"], "_sum"),
            "tpot_count": _first(samples, names["tpot_seconds"], "_count"),
            "requests_running": _first(samples, names["requests_running"]),
        }
    known = ", ".join(n["generation_tokens_total"][0] for n in metric_names().values())
    raise TelemetryError(f"no generated-token counter found in the metrics (looked for {known})")


class ServerScraper:
    """Scrapes one inference server's /metrics URL."""

    WHAT = "metrics URL"

    def __init__(self, url: str, timeout_s: float = 2.0, max_bytes: int = safe_fetch.DEFAULT_MAX_BYTES):
        try:  # policy first: a refused URL fails at once, before any thread or request
            safe_fetch.check_url(url, self.WHAT)
        except safe_fetch.FetchError as exc:
            raise TelemetryError(str(exc)) from None
        self.url = url
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def scrape(self) -> dict:
        """One snapshot. Any failure (policy, network, status, size, not metrics) is one TelemetryError line that
        never contains the reply and does not tell a closed port from an error status."""
        try:
            raw = safe_fetch.fetch(self.url, what=self.WHAT, timeout_s=self.timeout_s, max_bytes=self.max_bytes)
            return snapshot(parse(raw.decode("utf-8", errors="replace")))
        except safe_fetch.FetchError as exc:
            raise TelemetryError(str(exc)) from None
        except TelemetryError:
            raise TelemetryError(str(safe_fetch.unusable(self.WHAT))) from None


def rates(first: dict, last: dict) -> dict[str, float]:
    """Rates and means between two snapshots (NaN where a counter is missing or went backwards)."""
    dt = float(last["t_s"]) - float(first["t_s"])

    def delta(column):
        a, b = first.get(column), last.get(column)
        if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or b < a:
            return float("nan")
        return float(b) - float(a)

    out = {"interval_s": dt}
    out["output_tokens_per_s"] = delta("generation_tokens_total") / dt if dt > 0 else float("nan")
    out["input_tokens_per_s"] = delta("prompt_tokens_total") / dt if dt > 0 else float("nan")
    for name in ("ttft", "tpot"):
        count = delta(f"{name}_count")
        out[f"{name}_s"] = delta(f"{name}_sum_s") / count if count and count > 0 else float("nan")
    running = last.get("requests_running")
    out["requests_running"] = float(running) if running is not None else float("nan")
    return out


def output_token_rates(server: pd.DataFrame) -> pd.DataFrame:
    """Output tokens/s between successive snapshots of a recording (output token basis): Δ generated tokens / Δt
    per interval, at the interval's end time ``t_s``. Repeated snapshots and counter resets are skipped."""
    if not len(server) or "generation_tokens_total" not in server:
        return pd.DataFrame(columns=["t_s", "output_tokens_per_s"])
    s = server.dropna(subset=["generation_tokens_total"]).drop_duplicates("t_s").sort_values("t_s")
    dt, dn = s["t_s"].diff(), s["generation_tokens_total"].diff()
    ok = (dt > 0) & (dn >= 0)
    return pd.DataFrame({"t_s": s["t_s"][ok], "output_tokens_per_s": (dn / dt)[ok]})
