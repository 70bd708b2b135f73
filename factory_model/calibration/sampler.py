"""A background sampler: reads a telemetry source (and optionally an inference server) at a fixed rate into a
bounded ring buffer. One per source, shared by every dashboard session (st.cache_resource in the page).

It never raises into its caller and never grows without bound: a failed read is recorded in ``errors`` (the
readings taken before the fault stay in the buffer); after ``max_consecutive_errors`` failures in a row it stops
itself and says why. ``snapshot()`` returns a copy as a DataFrame, safe to call from any thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import pandas as pd

from . import TelemetryError
from .telemetry import GpuReading, TelemetrySource


class Sampler:
    """Sample ``source`` every 1/``rate_hz`` seconds into a ring buffer of ``capacity`` rows per kind."""

    def __init__(self, source: TelemetrySource, rate_hz: float = 2.0, capacity: int = 20_000, server=None,
                 max_consecutive_errors: int = 5, max_duration_s: float | None = None):
        if not 0 < rate_hz <= 100:
            raise TelemetryError(f"sampling rate must lie in (0, 100] Hz, got {rate_hz}")
        self.source = source
        self.server = server  # server_metrics.ServerScraper or None
        self.period_s = 1.0 / rate_hz
        self.gpu_rows: deque[dict] = deque(maxlen=capacity)
        self.server_rows: deque[dict] = deque(maxlen=capacity)
        self.errors: deque[str] = deque(maxlen=100)
        self.max_consecutive_errors = max_consecutive_errors
        self.max_duration_s = max_duration_s  # a recording left running (closed browser tab) ends by itself
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at: float | None = None
        self.stopped_reason = ""
        # the load the caller says is running now (a benchmark client's concurrency level); tagged onto every
        # row so a live recording splits into operating points. None: rows carry their own (replays) or none.
        self.phase: str | None = None
        self.concurrency: float | None = None

    # --------------------------------------------------------------------------------- control

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "Sampler":
        if self.running:
            return self
        self._stop.clear()
        self.stopped_reason = ""
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._loop, name="aif-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self, reason: str = "stopped") -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.stopped_reason = self.stopped_reason or reason

    # -------------------------------------------------------------------------------- sampling

    def sample_once(self) -> bool:
        """Take one sample now (also used by tests and the CLI); True when everything was read."""
        ok = True
        try:
            readings = self.source.read()
        except TelemetryError as exc:
            readings = getattr(exc, "readings", [])
            self._error(str(exc))
            ok = False
        except Exception as exc:  # noqa: BLE001 - a broken source must not kill the thread or the app
            readings = []
            self._error(f"telemetry read failed: {exc!r}")
            ok = False
        if readings:
            rows = [self._tag(r.row()) for r in readings if isinstance(r, GpuReading)]
            with self._lock:
                self.gpu_rows.extend(rows)
        if self.server is not None:
            try:
                snap = self._tag(self.server.scrape())
                with self._lock:
                    self.server_rows.append(snap)
            except TelemetryError as exc:
                self._error(str(exc))
                ok = False
        return ok

    def set_phase(self, phase: str, concurrency: float | None = None) -> None:
        """Label the rows sampled from now on (one operating point per label)."""
        self.phase, self.concurrency = str(phase), (None if concurrency is None else float(concurrency))

    def _tag(self, row: dict) -> dict:
        if self.phase is not None:
            row["phase"], row["concurrency"] = self.phase, self.concurrency
        return row

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(f"{time.strftime('%H:%M:%S')} {message}")

    def _loop(self) -> None:
        failures = 0
        next_t = time.monotonic()
        while not self._stop.is_set():
            if getattr(self.source, "finished", False):
                self.stopped_reason = "replay finished"
                break
            if self.max_duration_s and time.time() - self.started_at >= self.max_duration_s:
                self.stopped_reason = f"reached the {self.max_duration_s:g} s recording limit"
                break
            failures = 0 if self.sample_once() else failures + 1
            if failures >= self.max_consecutive_errors:
                self.stopped_reason = f"stopped after {failures} failed reads in a row: {self.errors[-1]}"
                break
            next_t += self.period_s
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    # -------------------------------------------------------------------------------- reading

    def snapshot(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(GPU readings, server snapshots) recorded so far, as copies."""
        with self._lock:
            gpu = pd.DataFrame(list(self.gpu_rows))
            server = pd.DataFrame(list(self.server_rows))
        return gpu, server

    def last_errors(self, n: int = 5) -> list[str]:
        with self._lock:
            return list(self.errors)[-n:]
