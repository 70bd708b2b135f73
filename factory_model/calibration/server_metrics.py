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
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

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
    except Exception as exc:  # noqa: BLE001 - the parser raises ValueError/TypeError on malformed text
        raise TelemetryError(f"malformed Prometheus metrics text ({exc})") from None
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

    def __init__(self, url: str, timeout_s: float = 5.0):
        if not url.startswith(("http://", "https://")):
            raise TelemetryError(f"metrics URL must start with http:// or https://, got '{url}'")
        self.url = url
        self.timeout_s = timeout_s

    def scrape(self) -> dict:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:
                text = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            raise TelemetryError(f"metrics URL {self.url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise TelemetryError(f"metrics URL {self.url} is unreachable ({getattr(exc, 'reason', exc)})") from None
        return snapshot(parse(text))


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
