"""Background sampling of a telemetry source (and optionally an inference server) into bounded buffers.

* :class:`Sampler` — one per source (one NVML handle, one Prometheus URL), shared by every dashboard session
  (st.cache_resource in the page). GPU readings are taken in one thread; the inference server's /metrics is
  scraped in its **own** thread, so a metrics URL that hangs never delays GPU sampling and failed scrapes never
  end a recording. Reference-counted: :meth:`acquire`/:meth:`release`; the last release stops the threads and
  closes the source (the NVML handle).
* :class:`Recording` — one browser session's recording on a shared sampler: its own rows, phases, GPU
  selection, errors, start and stop. One user's Stop or New phase never touches another user's recording.

Neither raises into its caller nor grows without bound: a failed read is recorded in ``errors`` (readings taken
before the fault stay); after ``max_consecutive_errors`` failed GPU reads in a row the sampler stops itself and
says why. Durations use the monotonic clock. ``snapshot()`` returns copies as DataFrames, safe from any thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import pandas as pd

from . import TelemetryError
from .telemetry import GpuReading, TelemetrySource

MAX_PHASE_CHARS = 100


def _stamp(message: str) -> str:
    return f"{time.strftime('%H:%M:%S')} {message}"


class Sampler:
    """Sample ``source`` every 1/``rate_hz`` seconds into a ring buffer of ``capacity`` rows per kind."""

    def __init__(self, source: TelemetrySource, rate_hz: float = 2.0, capacity: int = 20_000, server=None,
                 max_consecutive_errors: int = 5, max_duration_s: float | None = None):
        if not 0 < rate_hz <= 100:
            raise TelemetryError(f"sampling rate must lie in (0, 100] Hz, got {rate_hz}")
        self.source = source
        self.server = server  # server_metrics.ServerScraper (or a ReplayServer) or None
        self.period_s = 1.0 / rate_hz
        self.gpu_rows: deque[dict] = deque(maxlen=capacity)
        self.server_rows: deque[dict] = deque(maxlen=capacity)
        self.errors: deque[str] = deque(maxlen=100)
        self.max_consecutive_errors = max_consecutive_errors
        self.max_duration_s = max_duration_s  # a sampler left running (closed browser tab) ends by itself
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server_thread: threading.Thread | None = None
        self._recordings: list[Recording] = []
        self._refs = 0
        self._close_when_stopped = False
        self._closing = False
        self._closed = False
        self.started_at: float | None = None  # time.monotonic() at start
        self.stopped_reason = ""
        # the load the caller says is running now (a benchmark client's concurrency level); tagged onto every
        # row of the sampler's own buffer. Recordings carry their own phase. None: rows carry their own or none.
        self.phase: str | None = None
        self.concurrency: float | None = None

    # --------------------------------------------------------------------------------- control

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> "Sampler":
        with self._lock:
            if self.running:
                return self
            if self._thread is not None and self._thread.is_alive():  # stopping: let it finish first
                self._thread.join(timeout=5)
            self._stop.clear()
            self.stopped_reason = ""
            self.started_at = time.monotonic()
            self._thread = threading.Thread(target=self._loop, name="aif-sampler", daemon=True)
            self._thread.start()
            if self.server is not None and self._server_thread_wanted():
                self._server_thread = threading.Thread(target=self._server_loop, name="aif-scraper", daemon=True)
                self._server_thread.start()
        return self

    def _server_thread_wanted(self) -> bool:
        # a replay's server rows follow the replay clock in the same thread; a real scraper gets its own thread
        return not getattr(self.server, "synchronous", False)

    def stop(self, reason: str = "stopped") -> None:
        self._stop.set()
        for thread in (self._thread, self._server_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        self.stopped_reason = self.stopped_reason or reason

    @property
    def usable(self) -> bool:
        """False once the last user released it or it stopped by itself: a registry then makes a new one."""
        return not self._closing and not self._closed and (self._thread is None or self.running)

    def acquire(self) -> "Sampler":
        """One more user of this sampler (a browser session's recording); starts it if it was idle."""
        with self._lock:
            if not self.usable:
                raise TelemetryError("this telemetry source was just closed; press Start again")
            self._refs += 1
            self._close_when_stopped = True
            return self.start()

    def release(self) -> None:
        """One user fewer; the last one stops the threads and closes the source (e.g. the NVML handle)."""
        with self._lock:
            self._refs = max(0, self._refs - 1)
            last = self._refs == 0
            if last:
                self._closing = True
        if last:
            self.stop("no recording left")
            if self._thread is None or not self._thread.is_alive() or self._thread is threading.current_thread():
                self._close_source()

    @property
    def users(self) -> int:
        return self._refs

    def _close_source(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.source.close()
        except Exception:  # noqa: BLE001 - closing must never raise
            pass

    # ---------------------------------------------------------------------------- recordings

    def attach(self, recording: "Recording") -> None:
        with self._lock:
            if recording not in self._recordings:
                self._recordings.append(recording)

    def detach(self, recording: "Recording") -> None:
        with self._lock:
            if recording in self._recordings:
                self._recordings.remove(recording)

    # -------------------------------------------------------------------------------- sampling

    def sample_gpus(self) -> bool:
        """Read the GPUs once; True when every GPU was read."""
        ok = True
        try:
            readings = self.source.read()
        except TelemetryError as exc:
            readings = getattr(exc, "readings", [])
            self._error(str(exc))
            ok = False
        except Exception as exc:  # noqa: BLE001 - a broken source must not kill the thread or the app
            readings = []
            self._error(f"telemetry read failed ({type(exc).__name__})")
            ok = False
        drain = getattr(self.source, "drain_warnings", None)
        for warning in (drain() if drain else []):  # per-metric problems: noted, not a failed read
            self._error(warning)
        rows = [r.row() for r in readings if isinstance(r, GpuReading)]
        if rows:
            self._store("gpu", rows)
        return ok

    def scrape_server(self) -> bool:
        """Scrape the inference server once (if any); True when it answered."""
        if self.server is None:
            return True
        try:
            snap = self.server.scrape()
        except TelemetryError as exc:
            self._error(str(exc))
            return False
        except Exception as exc:  # noqa: BLE001
            self._error(f"server scrape failed ({type(exc).__name__})")
            return False
        self._store("server", [snap])
        return True

    def sample_once(self) -> bool:
        """Take one sample of GPUs and server now (tests, the CLI); True when everything was read."""
        gpu_ok = self.sample_gpus()
        return self.scrape_server() and gpu_ok

    def _store(self, kind: str, rows: list[dict]) -> None:
        with self._lock:
            buffer = self.gpu_rows if kind == "gpu" else self.server_rows
            buffer.extend(self._tag(dict(r)) for r in rows)
            recordings = list(self._recordings)
        for recording in recordings:
            recording._receive(kind, rows)

    def set_phase(self, phase: str, concurrency: float | None = None) -> None:
        """Label the rows of the sampler's own buffer sampled from now on (CLI, replays, tests)."""
        self.phase, self.concurrency = str(phase)[:MAX_PHASE_CHARS], (None if concurrency is None
                                                                     else float(concurrency))

    def _tag(self, row: dict) -> dict:
        if self.phase is not None:
            row["phase"], row["concurrency"] = self.phase, self.concurrency
        return row

    def _error(self, message: str) -> None:
        stamped = _stamp(message)
        with self._lock:
            self.errors.append(stamped)
            recordings = list(self._recordings)
        for recording in recordings:
            recording._note(stamped)

    def _expire_recordings(self) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [r for r in self._recordings if r.expired(now)]
        for recording in expired:
            recording.stop(f"reached the {recording.max_duration_s:g} s recording limit")

    def _loop(self) -> None:
        failures = 0
        next_t = time.monotonic()
        try:
            while not self._stop.is_set():
                if getattr(self.source, "finished", False):
                    self.stopped_reason = "replay finished"
                    break
                if self.max_duration_s and time.monotonic() - self.started_at >= self.max_duration_s:
                    self.stopped_reason = f"reached the {self.max_duration_s:g} s recording limit"
                    break
                self._expire_recordings()
                if self._stop.is_set():
                    break
                gpu_ok = self.sample_gpus()
                if self.server is not None and not self._server_thread_wanted():
                    self.scrape_server()  # replay: same clock, same thread
                failures = 0 if gpu_ok else failures + 1
                if failures >= self.max_consecutive_errors:
                    self.stopped_reason = f"stopped after {failures} failed reads in a row: {self.errors[-1]}"
                    break
                next_t += self.period_s
                self._stop.wait(max(0.0, next_t - time.monotonic()))
        finally:
            self._stop.set()
            if self._refs == 0 and self._close_when_stopped:
                self._close_source()

    def _server_loop(self) -> None:
        """Scrape the server at the sampling rate; failures back off (up to 10 s) and never stop GPU sampling."""
        wait_s = self.period_s
        while not self._stop.is_set():
            ok = self.scrape_server()
            wait_s = self.period_s if ok else min(10.0, max(wait_s * 2, self.period_s))
            self._stop.wait(wait_s)

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


class NoGpus(TelemetrySource):
    """The GPU side of a scraper-only sampler (an inference server's /metrics shared by recordings)."""

    def read(self) -> list[GpuReading]:
        return []

    def describe(self) -> str:
        return "no GPUs"


class Recording:
    """One user's recording on a shared :class:`Sampler`: own rows, phase labels, GPU selection and stop.

    ``gpus``: the GPU ids (as the source names them, e.g. "0", "1") this deployment runs on; readings of other
    GPUs are not kept, so W/GPU is per deployment GPU. None keeps every GPU (a fleet)."""

    def __init__(self, sampler: Sampler, gpus: list[str] | None = None, capacity: int = 20_000,
                 max_duration_s: float | None = None, server_sampler: Sampler | None = None):
        self.sampler = sampler
        self.server_sampler = server_sampler  # a shared scraper of the inference server's /metrics (own thread)
        self.gpus = None if gpus is None else {str(g) for g in gpus}
        self.gpu_rows: deque[dict] = deque(maxlen=capacity)
        self.server_rows: deque[dict] = deque(maxlen=capacity)
        self.errors: deque[str] = deque(maxlen=100)
        self.max_duration_s = max_duration_s
        self.phase: str | None = None
        self.concurrency: float | None = None
        self._lock = threading.Lock()
        self._active = False
        self._reason = ""
        self.started_at: float | None = None  # monotonic

    @property
    def source(self) -> TelemetrySource:
        return self.sampler.source

    def start(self) -> "Recording":
        with self._lock:
            if self._active:
                return self
            self._active, self._reason, self.started_at = True, "", time.monotonic()
        acquired = []
        try:
            for sampler in self._samplers():
                sampler.attach(self)
                sampler.acquire()
                acquired.append(sampler)
        except TelemetryError:
            for sampler in self._samplers():
                sampler.detach(self)
            for sampler in acquired:
                sampler.release()
            with self._lock:
                self._active = False
            raise
        return self

    def _samplers(self) -> list[Sampler]:
        return [s for s in (self.sampler, self.server_sampler) if s is not None]

    def stop(self, reason: str = "stopped") -> None:
        with self._lock:
            if not self._active:
                return
            self._active = False
            self._reason = self._reason or reason
        for sampler in self._samplers():
            sampler.detach(self)
            sampler.release()

    def expired(self, now: float | None = None) -> bool:
        return bool(self._active and self.max_duration_s and self.started_at is not None
                    and (now or time.monotonic()) - self.started_at >= self.max_duration_s)

    @property
    def running(self) -> bool:
        if self.expired():
            self.stop(f"reached the {self.max_duration_s:g} s recording limit")
        if self._active and not self.sampler.running:  # the shared sampler stopped by itself (failures)
            with self._lock:
                self._reason = self._reason or self.sampler.stopped_reason or "stopped"
        return self._active and self.sampler.running

    @property
    def stopped_reason(self) -> str:
        if self._active and not self.sampler.running:
            return self.sampler.stopped_reason or "stopped"
        return self._reason

    def set_phase(self, phase: str, concurrency: float | None = None) -> None:
        """Label this recording's rows from now on (one operating point per label); others are unaffected."""
        with self._lock:
            self.phase = str(phase)[:MAX_PHASE_CHARS]
            self.concurrency = None if concurrency is None else float(concurrency)

    def _receive(self, kind: str, rows: list[dict]) -> None:
        with self._lock:
            if not self._active:
                return
            buffer = self.gpu_rows if kind == "gpu" else self.server_rows
            for row in rows:
                if kind == "gpu" and self.gpus is not None and str(row.get("gpu")) not in self.gpus:
                    continue
                row = dict(row)
                if self.phase is not None:
                    row["phase"], row["concurrency"] = self.phase, self.concurrency
                buffer.append(row)

    def _note(self, message: str) -> None:
        with self._lock:
            if self._active:
                self.errors.append(message)

    def snapshot(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        with self._lock:
            return pd.DataFrame(list(self.gpu_rows)), pd.DataFrame(list(self.server_rows))

    def last_errors(self, n: int = 5) -> list[str]:
        with self._lock:
            return list(self.errors)[-n:]

    def metadata(self) -> dict:
        meta = dict(self.source.metadata())
        if self.gpus is not None:
            meta["gpus"] = len(self.gpus)
            meta["gpu_ids"] = ",".join(sorted(self.gpus, key=lambda g: (len(g), g)))
        return meta
