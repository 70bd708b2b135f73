"""GPU telemetry sources behind one small interface: ``read() -> list[GpuReading]``.

* :class:`NvmlSource` — the local GPUs through NVIDIA's maintained binding ``nvidia-ml-py`` (import name
  ``pynvml``). Power from nvmlDeviceGetPowerUsage (mW) and from the energy counter
  nvmlDeviceGetTotalEnergyConsumption (mJ, Volta+), power limit, SM and memory clocks, utilisation, memory used,
  temperature. A metric a GPU does not support reads as None; a GPU that disappears raises
  :class:`TelemetryError` naming it, after the other GPUs' readings were returned for that instant.
* :class:`PrometheusSource` — many nodes at once through a Prometheus server's HTTP query API, reading the
  NVIDIA DCGM exporter's metrics (DCGM_FI_DEV_POWER_USAGE, ...). One reading per GPU series the server has.
* :class:`ReplaySource` — a recorded session (session.py), replayed at any speed.

Every failure a user can cause (no driver or library, no GPU, permission denied, unreachable URL, malformed
answer) raises :class:`TelemetryError` with one line that says what and how to fix it.
"""

from __future__ import annotations

import json
import re
import math
import time
import urllib.parse
from dataclasses import asdict, dataclass, field

from .. import safe_fetch
from . import TelemetryError
from .server_metrics import metric_names

READING_FIELDS = ("power_w", "energy_j", "power_limit_w", "sm_clock_mhz", "mem_clock_mhz", "gpu_util_pct",
                  "mem_used_mib", "temp_c")


@dataclass
class GpuReading:
    """One GPU at one instant. Units are in the names; None = not supported / not reported."""

    t_s: float
    gpu: str
    name: str = ""
    power_w: float | None = None
    energy_j: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    gpu_util_pct: float | None = None
    mem_used_mib: float | None = None
    temp_c: float | None = None
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        out = asdict(self)
        out.pop("extra")
        return out


class TelemetrySource:
    """Interface: ``read()`` returns one reading per GPU; ``describe()`` a one-line description."""

    def read(self) -> list[GpuReading]:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        return type(self).__name__

    def metadata(self) -> dict:
        return {}

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------------------------- NVML


def _import_pynvml():
    try:
        import pynvml  # provided by nvidia-ml-py
    except ImportError:
        raise TelemetryError("NVML binding not installed: pip install nvidia-ml-py (not the deprecated pynvml)") \
            from None
    return pynvml


NVML_HINTS = {
    "LibraryNotFound": "NVIDIA driver library (libnvidia-ml.so) not found: no NVIDIA driver on this machine",
    "DriverNotLoaded": "NVIDIA driver is not loaded (nvidia-smi would fail too)",
    "NoPermission": "permission denied reading the GPU (run as a user with access to /dev/nvidia*)",
    "GpuIsLost": "the GPU fell off the bus (GPU lost) — check dmesg; readings stop for it",
    "NotFound": "GPU not found",
}


def _nvml_message(pynvml, exc: Exception, what: str) -> str:
    for name, hint in NVML_HINTS.items():
        cls = getattr(pynvml, f"NVMLError_{name}", None)
        if cls is not None and isinstance(exc, cls):
            return f"{what}: {hint}"
    return f"{what}: {exc}"


class NvmlSource(TelemetrySource):
    """Local GPUs through NVML. ``module`` lets tests pass a stand-in pynvml with scripted readings."""

    def __init__(self, indices: list[int] | None = None, module=None):
        self.nvml = module or _import_pynvml()
        try:
            self.nvml.nvmlInit()
        except self.nvml.NVMLError as exc:
            raise TelemetryError(_nvml_message(self.nvml, exc, "cannot start NVML")) from None
        try:
            count = self.nvml.nvmlDeviceGetCount()
        except self.nvml.NVMLError as exc:
            raise TelemetryError(_nvml_message(self.nvml, exc, "cannot count GPUs")) from None
        if count == 0:
            raise TelemetryError("NVML found no GPU on this machine")
        chosen = indices if indices is not None else list(range(count))
        bad = [i for i in chosen if not 0 <= i < count]
        if bad:
            raise TelemetryError(f"GPU index {bad[0]} does not exist (this machine has {count})")
        self.handles = {}
        self.names = {}
        for i in chosen:
            try:
                handle = self.nvml.nvmlDeviceGetHandleByIndex(i)
                name = self.nvml.nvmlDeviceGetName(handle)
            except self.nvml.NVMLError as exc:
                raise TelemetryError(_nvml_message(self.nvml, exc, f"GPU {i}")) from None
            self.handles[str(i)] = handle
            self.names[str(i)] = name.decode() if isinstance(name, bytes) else str(name)
        self.lost: set[str] = set()
        self.failed_reads: dict[str, int] = {}
        self.max_failed_reads = 5  # an error other than GpuIsLost is retried; 5 unreadable reads in a row: lost
        self.warnings: list[str] = []

    def describe(self) -> str:
        return f"NVML: {len(self.handles)} GPU(s) ({', '.join(sorted(set(self.names.values())))})"

    def metadata(self) -> dict:
        try:
            driver = self.nvml.nvmlSystemGetDriverVersion()
            driver = driver.decode() if isinstance(driver, bytes) else str(driver)
        except self.nvml.NVMLError:
            driver = ""
        return {"source": "nvml", "gpu_name": sorted(set(self.names.values()))[0] if self.names else "",
                "driver": driver, "gpus": len(self.handles)}

    def _maybe(self, gpu: str, metric: str, fn, *args, scale=1.0, problems: list | None = None):
        """One metric: its value, or None when this GPU does not support it or this read of it failed (the
        failure is noted per metric; only GpuIsLost ends the GPU's readings at once)."""
        try:
            value = fn(*args)
        except self.nvml.NVMLError_NotSupported:
            return None
        except self.nvml.NVMLError as exc:
            lost = getattr(self.nvml, "NVMLError_GpuIsLost", None)
            if lost is not None and isinstance(exc, lost):
                raise
            if problems is not None:
                problems.append((metric, exc))
            return None
        return None if value is None else float(value) * scale

    def gpu_ids(self) -> list[str]:
        return list(self.handles)

    def drain_warnings(self) -> list[str]:
        out, self.warnings = self.warnings, []
        return out

    def read(self) -> list[GpuReading]:
        n = self.nvml
        now = time.time()
        readings, failures = [], []
        for gpu, handle in self.handles.items():
            if gpu in self.lost:
                continue
            problems: list = []
            try:
                def m(metric, fn, *args, scale=1.0):
                    return self._maybe(gpu, metric, fn, *args, scale=scale, problems=problems)

                reading = GpuReading(
                    t_s=now, gpu=gpu, name=self.names[gpu],
                    power_w=m("power", n.nvmlDeviceGetPowerUsage, handle, scale=1e-3),
                    energy_j=m("energy", n.nvmlDeviceGetTotalEnergyConsumption, handle, scale=1e-3),
                    power_limit_w=m("power limit", n.nvmlDeviceGetEnforcedPowerLimit, handle, scale=1e-3),
                    sm_clock_mhz=m("SM clock", n.nvmlDeviceGetClockInfo, handle, n.NVML_CLOCK_SM),
                    mem_clock_mhz=m("memory clock", n.nvmlDeviceGetClockInfo, handle, n.NVML_CLOCK_MEM),
                    gpu_util_pct=m("utilisation", lambda h: n.nvmlDeviceGetUtilizationRates(h).gpu, handle),
                    mem_used_mib=m("memory used", lambda h: n.nvmlDeviceGetMemoryInfo(h).used, handle,
                                   scale=1 / 2**20),
                    temp_c=m("temperature", n.nvmlDeviceGetTemperature, handle, n.NVML_TEMPERATURE_GPU))
            except n.NVMLError as exc:  # GpuIsLost: this GPU is gone
                self.lost.add(gpu)
                failures.append(_nvml_message(n, exc, f"GPU {gpu} ({self.names[gpu]})"))
                continue
            if problems and len(problems) == 8:  # nothing could be read this time: a failed read of this GPU
                self.failed_reads[gpu] = self.failed_reads.get(gpu, 0) + 1
                if self.failed_reads[gpu] >= self.max_failed_reads:
                    self.lost.add(gpu)
                    failures.append(_nvml_message(n, problems[0][1], f"GPU {gpu} ({self.names[gpu]}) "
                                                                     f"unreadable {self.max_failed_reads} times"))
                else:
                    self.warnings.append(_nvml_message(n, problems[0][1], f"GPU {gpu}: read failed"))
                continue
            self.failed_reads[gpu] = 0
            for metric, exc in problems:  # some metrics failed this time: noted, the reading is kept
                self.warnings.append(_nvml_message(n, exc, f"GPU {gpu} {metric}"))
            readings.append(reading)
        if not failures and self.handles and len(self.lost) == len(self.handles):
            failures.append("every GPU has been lost; nothing left to read")
        if failures:
            error = TelemetryError("; ".join(failures))
            error.readings = readings  # what was read before the fault is kept
            raise error
        return readings

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - closing must never raise
            pass


# ------------------------------------------------------------------------------------------ Prometheus

DCGM_METRICS = {  # DCGM exporter metric -> reading field (scale)
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1.0),
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": ("energy_j", 1e-3),  # mJ
    "DCGM_FI_DEV_SM_CLOCK": ("sm_clock_mhz", 1.0),
    "DCGM_FI_DEV_MEM_CLOCK": ("mem_clock_mhz", 1.0),
    "DCGM_FI_DEV_GPU_UTIL": ("gpu_util_pct", 1.0),
    "DCGM_FI_DEV_FB_USED": ("mem_used_mib", 1.0),
    "DCGM_FI_DEV_GPU_TEMP": ("temp_c", 1.0),
}


class PrometheusClient:
    """Minimal client of a Prometheus server's HTTP query API (/api/v1/query)."""

    WHAT = "Prometheus URL"
    MAX_SERIES = 100_000

    def __init__(self, base_url: str, timeout_s: float = 2.0, max_bytes: int = safe_fetch.DEFAULT_MAX_BYTES):
        try:  # policy first: nothing is fetched from a refused URL
            safe_fetch.check_url(base_url, self.WHAT)
        except safe_fetch.FetchError as exc:
            raise TelemetryError(str(exc)) from None
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def query(self, expr: str) -> list[tuple[dict, float]]:
        """Instant vector: [(labels, value)]. Any failure → one TelemetryError line in our own words (never the
        reply's text; the same words for unreachable, HTTP error, timeout, oversize or a non-Prometheus answer)."""
        url = f"{self.base_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            raw = safe_fetch.fetch(url, what=self.WHAT, timeout_s=self.timeout_s, max_bytes=self.max_bytes)
        except safe_fetch.FetchError as exc:
            raise TelemetryError(str(exc)) from None
        try:
            payload = json.loads(raw.decode("utf-8"))
            if payload.get("status") != "success":
                raise ValueError
            result = payload["data"]["result"]
            if not isinstance(result, list) or len(result) > self.MAX_SERIES:
                raise ValueError
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, UnicodeDecodeError):
            raise TelemetryError(str(safe_fetch.unusable(self.WHAT))) from None
        out = []
        for item in result:
            try:
                value = float(item["value"][1])
                labels = item.get("metric", {})
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                continue
            if math.isfinite(value) and isinstance(labels, dict):
                out.append(({str(k)[:200]: str(v)[:200] for k, v in labels.items()}, value))
        return out

    def scalar(self, expr: str) -> float | None:
        values = self.query(expr)
        return sum(v for _, v in values) if values else None


def _series_id(labels: dict) -> str:
    host = labels.get("Hostname") or labels.get("hostname") or labels.get("instance", "?")
    return f"{host}/{labels.get('gpu', labels.get('GPU_I_ID', '0'))}"


class PrometheusSource(TelemetrySource):
    """Every GPU a Prometheus server knows through the DCGM exporter (fleet scale)."""

    def __init__(self, base_url: str, selector: str = ""):
        self.client = PrometheusClient(base_url)
        self.selector = selector  # e.g. '{job="dcgm"}'

    def describe(self) -> str:
        return f"Prometheus at {self.client.base_url} (DCGM exporter metrics)"

    def metadata(self) -> dict:
        return {"source": "prometheus", "prometheus_url": self.client.base_url}

    def read(self) -> list[GpuReading]:
        now = time.time()
        by_gpu: dict[str, GpuReading] = {}
        for metric, (column, scale) in DCGM_METRICS.items():
            for labels, value in self.client.query(f"{metric}{self.selector}"):
                gpu = _series_id(labels)
                reading = by_gpu.setdefault(gpu, GpuReading(t_s=now, gpu=gpu, name=labels.get("modelName", "")))
                setattr(reading, column, value * scale)
        if not by_gpu:
            raise TelemetryError("Prometheus has no DCGM_FI_DEV_POWER_USAGE series (is the DCGM exporter scraped?)")
        return sorted(by_gpu.values(), key=lambda r: r.gpu)

    def fleet(self, window_s: int = 30) -> dict[str, float]:
        """Fleet totals computed by Prometheus itself.

        gpus, power_w_total, power_w_mean (W, GPU board power from DCGM); output_tokens_per_s (output token basis,
        rate over ``window_s`` of every engine's generated-token counter in data/server_metrics.yaml; NaN when no
        server is scraped); output_tokens_per_s_per_mw_gpu = output_tokens_per_s / (power_w_total / 1e6), i.e.
        per MW of *GPU* power (no host, network or cooling).
        """
        count = self.client.scalar(f"count(DCGM_FI_DEV_POWER_USAGE{self.selector})") or 0.0
        total = self.client.scalar(f"sum(DCGM_FI_DEV_POWER_USAGE{self.selector})") or 0.0
        tokens = self.client.scalar(f'sum(rate({{__name__=~"{token_counter_regex()}"}}[{int(window_s)}s]))')
        tokens = float("nan") if tokens is None else tokens
        return {"gpus": count, "power_w_total": total, "power_w_mean": total / count if count else float("nan"),
                "output_tokens_per_s": tokens,
                "output_tokens_per_s_per_mw_gpu": tokens / (total / 1e6) if total else float("nan")}


def token_counter_regex() -> str:
    """A PromQL name regex for every engine's generated-token counter. Prometheus may store ``vllm:x`` as
    ``vllm_x`` (newer exposition clients escape colons), so either spelling matches."""
    names = {n for engine in metric_names().values() for n in engine["generation_tokens_total"]}
    return "|".join(sorted(re.escape(n).replace(":", "[:_]") for n in names))
