"""Load check (not a test): many browser sessions of one server process at once, ``python3 dev.py bench``.

``SESSIONS`` AppTest sessions (default 20) run concurrently in threads of one process — one Streamlit server's
worth of sessions sharing its caches — each alternating a power-envelope change and a model change. Measured:
server time per rerun (AppTest overhead included: an upper bound) as p50/p95, the process's memory before and
after, and lost input (a value set before a rerun that is not in the widget after it). CPU-bound: on this 2-core
machine concurrent reruns queue behind each other, which is the point of the check.
"""

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


def session(i: int, times: list, lost: list, lock: threading.Lock) -> None:
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
        widget = at.number_input(key="mw") if key == "mw" else at.selectbox(key="model")
        with lock:
            times.append(elapsed)
            if widget.value != value or at.exception:
                lost.append((i, key, value, widget.value))


def main() -> int:
    warm_server_routing()
    st.cache_data.clear()
    st.cache_resource.clear()
    warm = AppTest.from_file(APP, default_timeout=300)
    warm.run()  # one cold start first, as a running server has had
    before = rss_mib()
    times, lost, lock = [], [], threading.Lock()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        for f in [pool.submit(session, i, times, lost, lock) for i in range(SESSIONS)]:
            f.result()
    wall = time.perf_counter() - start
    after = rss_mib()
    q = statistics.quantiles(times, n=20)
    print(f"load: {SESSIONS} concurrent sessions x {CHANGES} changes (MW / model alternating), {len(times)} reruns "
          f"in {wall:.1f} s on {os.cpu_count()} CPUs: server time per rerun p50 {statistics.median(times):.2f} s, "
          f"p95 {q[18]:.2f} s, max {max(times):.2f} s; memory {before:.0f} MiB before, {after:.0f} MiB after; "
          f"lost input {len(lost)}")
    for item in lost[:5]:
        print(f"  lost: session {item[0]} {item[1]} set {item[2]!r}, widget shows {item[3]!r}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
