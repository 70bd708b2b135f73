"""Load check (not a test): many browser sessions of one server process at once, ``python3 dev.py bench``.

``SESSIONS`` AppTest sessions (default 20) run concurrently in threads of one process — one Streamlit server's
worth of sessions sharing its caches — each alternating a power-envelope change and a model change. Measured:
server time per rerun (AppTest overhead included: an upper bound) as p50/p95, the process's memory before and
after, and lost input (a value set before a rerun that is not in the widget after it). CPU-bound: on this 2-core
machine concurrent reruns queue behind each other, which is the point of the check.
"""

import math
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from bench_dashboard import APP, MODELS, warm_server_routing  # noqa: E402

SESSIONS = int(os.environ.get("LOAD_SESSIONS", "20"))
CHANGES = int(os.environ.get("LOAD_CHANGES", "6"))


def rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def session(i: int, times: list, lost: list, errors: list, lock: threading.Lock) -> None:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["systems"] = ["h200-sxm", "b200-sxm"]
    at.run()
    for k in range(CHANGES):
        if k % 2 == 0:
            value = float(2 + (i + k) % 7)
            at.number_input(key="mw").set_value(value)
            key = "mw"
        else:
            value = MODELS[(i + k) % len(MODELS)]
            at.selectbox(key="model").set_value(value)
            key = "model"
        start = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - start
        try:
            shown = (at.number_input(key="mw") if key == "mw" else at.selectbox(key="model")).value
        except KeyError:
            shown = f"no widget ({[e.message for e in at.exception][:1]})"
        with lock:
            times.append(elapsed)
            if shown != value:
                lost.append((i, key, value, shown))
            if at.exception:
                errors.append((i, key, [e.message for e in at.exception][:1]))


def one_server_for_all_sessions() -> None:
    """Let AppTests run concurrently as sessions of one server.

    AppTest swaps process-wide singletons around each run (``Runtime._instance``, ``PagesManager.
    uses_pages_directory``), which is fine one at a time but breaks concurrent runs. Here every AppTest sees one
    shared (mock) runtime — one cache storage, as a server has — and st.navigation routing, and its swaps go to
    stand-ins instead of the real singletons."""
    from unittest.mock import MagicMock

    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
    from streamlit.runtime.media_file_manager import MediaFileManager
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    runtime = MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    try:
        from streamlit.runtime.dataframe_source_manager import DataframeSourceManager

        runtime.dataframe_source_mgr = DataframeSourceManager()
    except ImportError:
        pass
    bidi = app_test.BidiComponentManager()
    bidi.discover_and_register_components(start_file_watching=False)
    runtime.bidi_component_registry = bidi
    Runtime._instance = runtime

    class Sink:  # AppTest's "Runtime._instance = ..." lands here
        _instance = None

    class Pinned(type):
        uses_pages_directory = property(lambda cls: False, lambda cls, value: None)

    class Pages(PagesManager, metaclass=Pinned):  # AppTest's reset of the routing flag is ignored
        pass

    PagesManager.uses_pages_directory = False
    shared_scripts = app_test.ScriptCache()  # a server compiles each page once (CPython 3.11's compile is not
    app_test.ScriptCache = lambda: shared_scripts  # safe to run in many threads at once either)
    app_test.Runtime = Sink
    app_test.PagesManager = Pages


def main() -> int:
    one_server_for_all_sessions()
    warm_server_routing()
    st.cache_data.clear()
    st.cache_resource.clear()
    warm = AppTest.from_file(APP, default_timeout=300)
    warm.run()  # one cold start first, as a running server has had
    before = rss_mib()
    times, lost, errors, lock = [], [], [], threading.Lock()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        for f in [pool.submit(session, i, times, lost, errors, lock) for i in range(SESSIONS)]:
            f.result()
    wall = time.perf_counter() - start
    after = rss_mib()
    ranked = sorted(times)
    p95 = ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)]  # nearest rank
    print(f"load: {SESSIONS} concurrent sessions x {CHANGES} changes (MW / model alternating), {len(times)} reruns "
          f"in {wall:.1f} s on {os.cpu_count()} CPUs: server time per rerun p50 {statistics.median(times):.2f} s, "
          f"p95 {p95:.2f} s, max {max(times):.2f} s; memory {before:.0f} MiB before, {after:.0f} MiB after; "
          f"lost input {len(lost)}, exceptions {len(errors)}")
    for item in lost[:5]:
        print(f"  lost: session {item[0]} {item[1]} set {item[2]!r}, widget shows {item[3]!r}")
    for item in errors[:5]:
        print(f"  exception: session {item[0]} after a {item[1]} change: {item[2]}")
    return 1 if lost or errors else 0


if __name__ == "__main__":
    sys.exit(main())
