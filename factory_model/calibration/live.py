"""Live recording: sample a telemetry source (and an inference server) for a while and save the session.

Used by ``python -m factory_model calibrate --live``. The telemetry source is NVML on this machine unless a
Prometheus URL is given (fleet scale, DCGM exporter metrics).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import TelemetryError

MAX_LIVE_S = 86_400.0
from ..schemas import finite_number
from .sampler import Recording, Sampler
from .server_metrics import ServerScraper
from .session import Session, from_rows, save
from .telemetry import NvmlSource, PrometheusSource, TelemetrySource


def make_source(prometheus_url: str | None = None, nvml_module=None) -> TelemetrySource:
    if prometheus_url:
        return PrometheusSource(prometheus_url)
    return NvmlSource(module=nvml_module)


def deployment_gpus(source: TelemetrySource, metadata: dict, gpus: list[str] | None = None) -> list[str] | None:
    """The GPUs a recording keeps: ``gpus`` as given (checked against the source), else the first
    tp × dp_attention × pp of the machine, so power per GPU is per GPU of the deployment. None for a fleet."""
    available = source.gpu_ids() if hasattr(source, "gpu_ids") else []
    if not available:
        return None
    if gpus:
        unknown = [g for g in gpus if str(g) not in available]
        if unknown:
            raise TelemetryError(f"GPU {str(unknown[0])[:10]!r} is not a GPU of this machine; choose from "
                                 f"{', '.join(available[:16])}")
        return [str(g) for g in dict.fromkeys(gpus)]
    try:
        n = 1
        for key in ("tp", "dp_attention", "pp"):
            n *= int(metadata.get(key) or 1)
    except (TypeError, ValueError):
        raise TelemetryError("tp, dp_attention and pp must be whole numbers") from None
    if not 1 <= n <= len(available):
        raise TelemetryError(f"the deployment uses {n} GPUs (tp × dp × pp) but this machine has {len(available)}; "
                             f"fix the parallelism or give --gpus")
    return available[:n]


def record(duration_s: float, metadata: dict, *, prometheus_url: str | None = None, metrics_url: str | None = None,
           rate_hz: float = 2.0, path: str | Path | None = None, phase: str = "live", concurrency: float | None = None,
           nvml_module=None, progress=None, gpus: list[str] | None = None) -> Session:
    """Sample for ``duration_s`` seconds; save to ``path`` when given. What was recorded before a fault is kept.
    Only the deployment's GPUs are kept (:func:`deployment_gpus`); the server is scraped in its own thread."""
    duration_s = finite_number("duration (s)", duration_s, gt=0, le=MAX_LIVE_S, fix="record for up to a day")
    source = make_source(prometheus_url, nvml_module)
    try:
        server = ServerScraper(metrics_url) if metrics_url else None
        chosen = deployment_gpus(source, metadata, gpus)
    except Exception:
        source.close()
        raise
    sampler = Sampler(source, rate_hz=rate_hz, server=server)
    recording = Recording(sampler, gpus=chosen)
    recording.set_phase(phase, concurrency)
    recording.start()
    try:
        end = time.monotonic() + duration_s
        while time.monotonic() < end and recording.running:
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
            if progress:
                progress(recording)
    finally:
        recording.stop("duration reached")  # the last user: stops the threads and closes the source
    session = session_from_sampler(recording, {**metadata, "recorded_s": duration_s})
    if path:
        save(session, path)
    return session


def session_from_sampler(sampler: Sampler, metadata: dict) -> Session:
    """The sampler's buffer as a session: the source's metadata, then ``metadata`` (system, model, precision,
    isl, osl, tp, ...). Rows carry the phase the sampler was told (:meth:`Sampler.set_phase`), else "live"; the
    sampler's recent errors become session notes."""
    gpu, server = sampler.snapshot()
    for frame in (gpu, server):
        if not len(frame):
            continue
        if "phase" not in frame.columns:
            frame["phase"], frame["concurrency"] = "live", np.nan
        frame["phase"] = frame["phase"].fillna("live")  # rows sampled before the first set_phase
    source_meta = sampler.metadata() if hasattr(sampler, "metadata") else sampler.source.metadata()
    session = from_rows({**source_meta, **metadata}, gpu, server)
    session.notes.extend(sampler.last_errors(10))
    if sampler.stopped_reason and sampler.stopped_reason.startswith("stopped after"):
        session.notes.append(sampler.stopped_reason)
    return session
