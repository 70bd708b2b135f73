"""The load check's protocol driver (tests/bench_load.py) against a real ``streamlit run`` server: two sessions,
two changes each, no think time. Asserts behaviour only (the pages used the values sent; no exception; the
lost-input check can fail), never timings — those are measured by ``python3 dev.py bench``."""

import asyncio

import bench_load


def test_two_websocket_sessions_change_mw_and_model(monkeypatch):
    monkeypatch.setattr(bench_load, "SESSIONS", 2)
    monkeypatch.setattr(bench_load, "CHANGES", 2)
    names = bench_load.model_names()
    port = bench_load.free_port()
    server = bench_load.start_server(port)
    try:
        result = asyncio.run(bench_load.drive(port, (0.0, 0.0), names))
        assert len(result["first"]) == 2 and len(result["times"]) == 4
        assert result["lost"] == [] and result["errors"] == []

        async def unused_value() -> list:
            """A change the page cannot show (a model id, not its display name, as a label): detected as lost."""
            async with bench_load.open_stream(port) as ws:
                session = bench_load.Session(ws, 0)
                await session.rerun()
                session.set_number("mw", 7.25)
                await session.rerun()
                texts = list(session.texts)
                return [any("7.25 MW all-in" in t for t in texts), any("9.5 MW all-in" in t for t in texts)]

        shown, not_sent = asyncio.run(unused_value())
        assert shown and not not_sent  # the scenario line reflects exactly what was sent
    finally:
        server.terminate()
        server.wait(timeout=10)
