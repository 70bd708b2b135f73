"""How the dashboard's one server process behaves under many sessions (no Streamlit imports).

* :func:`rerun_slot` — sessions take turns running their page;
* :func:`freeze_heap_once` — the long-lived heap is moved out of the garbage collector's reach after the first run.

Both are measured by ``tests/bench_load.py`` (README, Load).
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading

_heap_frozen = False


def freeze_heap_once() -> None:
    """Once per server process, after the first full run: move every object then alive (modules, catalogs, plotly
    validators, caches) out of the garbage collector's reach (gc.freeze). Otherwise each full collection walks
    those ~150k long-lived objects, ~100 ms with the GIL held while every other session waits (measured with
    gc.callbacks over 16 reruns: 134 ms of collection before, 28 ms after; tests/bench_load.py has the effect)."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


# Sessions take turns running their page (first come, first served). With the interpreter lock, concurrent
# reruns share one core: a burst of n reruns all finished together after n x ~0.11 s, their users then changed
# something together again, and the bursts fed themselves. Taking turns finishes the first rerun after ~0.11 s and
# spreads the next changes out: 20 paced sessions, p95 2.5 s -> 0.39-0.98 s (tests/bench_load.py, README Load).
# A rerun that waits longer than RERUN_WAIT_S runs anyway, so one slow rerun (a cold cache, a big fit) delays the
# others by at most that. AIF_RERUN_SLOTS / AIF_RERUN_WAIT_S change them.
RERUN_SLOTS = max(1, min(64, int(os.environ.get("AIF_RERUN_SLOTS") or 1)))
RERUN_WAIT_S = max(0.0, min(60.0, float(os.environ.get("AIF_RERUN_WAIT_S") or 2.0)))
_rerun_slots = threading.BoundedSemaphore(RERUN_SLOTS)


@contextlib.contextmanager
def rerun_slot():
    """Hold one of the server's :data:`RERUN_SLOTS` while the app and its page run, waiting at most
    :data:`RERUN_WAIT_S` for it (released on any exit, Streamlit's stop and rerun exceptions included)."""
    held = _rerun_slots.acquire(timeout=RERUN_WAIT_S)
    try:
        yield
    finally:
        if held:
            _rerun_slots.release()
