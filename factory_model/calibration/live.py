"""Live recording: sample a telemetry source (and an inference server) for a while and save the session.

Used by ``python -m factory_model calibrate --live``. The telemetry source is NVML on this machine unless a
Prometheus URL is given (fleet scale, DCGM exporter metrics).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import TelemetryError
from .sampler import Sampler
from .server_metrics import ServerScraper
from .session import Session, from_rows, save
from .telemetry import NvmlSource, PrometheusSource, TelemetrySource


def make_source(prometheus_url: str | None = None, nvml_module=None) -> TelemetrySource:
    if prometheus_url:
        return PrometheusSource(prometheus_url)
    return NvmlSource(module=nvml_module)


def record(duration_s: float, metadata: dict, *, prometheus_url: str | None = None, metrics_url: str | None = None,
           rate_hz: float = 2.0, path: str | Path | None = None, phase: str = "live", concurrency: float | None = None,
           nvml_module=None, progress=None) -> Session:
    """Sample for ``duration_s`` seconds; save to ``path`` when given. What was recorded before a fault is kept."""
    if not duration_s > 0:
        raise TelemetryError(f"duration must be positive, got {duration_s}")
    source = make_source(prometheus_url, nvml_module)
    server = ServerScraper(metrics_url) if metrics_url else None
    sampler = Sampler(source, rate_hz=rate_hz, server=server)
    sampler.set_phase(phase, concurrency)
    sampler.start()
    try:
        end = time.monotonic() + duration_s
        while time.monotonic() < end and sampler.running:
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
            if progress:
                progress(sampler)
    finally:
        sampler.stop("duration reached")
        source.close()
    session = session_from_sampler(sampler, {**metadata, "recorded_s": duration_s})
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
