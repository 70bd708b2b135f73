"""Sessions take turns running their page (pages/server.py rerun_slot): first come first served, a wait capped at
RERUN_WAIT_S, and the slot given back on every exit. Threads stand in for sessions; no timings are asserted
beyond the cap's order of magnitude (the load figures come from ``python3 dev.py bench``)."""

import threading
import time

import pytest

from pages import server


@pytest.fixture
def one_slot(monkeypatch):
    monkeypatch.setattr(server, "_rerun_slots", threading.BoundedSemaphore(1))
    monkeypatch.setattr(server, "RERUN_WAIT_S", 5.0)


def test_a_second_session_waits_until_the_first_finishes(one_slot):
    order, first_in = [], threading.Event()
    release_first = threading.Event()

    def first():
        with server.rerun_slot():
            order.append("first in")
            first_in.set()
            release_first.wait(5)
            order.append("first out")

    def second():
        first_in.wait(5)
        with server.rerun_slot():
            order.append("second in")

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start(), b.start()
    first_in.wait(5)
    time.sleep(0.2)
    assert order == ["first in"]  # the second session is waiting, not running
    release_first.set()
    a.join(5), b.join(5)
    assert order == ["first in", "first out", "second in"]


def test_the_slot_is_given_back_when_the_page_stops_or_reruns(one_slot):
    class Rerun(Exception):  # Streamlit ends a run with an exception (st.rerun, st.stop)
        pass

    with pytest.raises(Rerun):
        with server.rerun_slot():
            raise Rerun
    assert server._rerun_slots.acquire(timeout=0.1)  # free again
    server._rerun_slots.release()


def test_a_long_rerun_delays_the_others_at_most_the_wait_cap(one_slot, monkeypatch):
    monkeypatch.setattr(server, "RERUN_WAIT_S", 0.3)
    assert server._rerun_slots.acquire(timeout=0.1)  # a slow rerun holds the only slot
    try:
        start = time.monotonic()
        with server.rerun_slot():
            waited = time.monotonic() - start
        assert 0.25 <= waited < 3.0  # ran anyway after the cap, without the slot
    finally:
        # had the capped wait given back a slot it never held, this release would exceed the bound (ValueError)
        server._rerun_slots.release()
