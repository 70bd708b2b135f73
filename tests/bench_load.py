"""Load check (not a test): one real ``streamlit run`` server, many sessions at once, ``python3 dev.py bench``.

``LOAD_SESSIONS`` websocket clients (default 20) speak Streamlit's own protocol to the server, as browser tabs do
(BackMsg ``rerun_script`` with the widget states, ForwardMsg deltas back until ``script_finished``). Each opens the
Frontier page with two systems, then makes ``LOAD_CHANGES`` changes alternating the power envelope and the model,
pausing a think time between changes (``LOAD_THINK_S``: "lo-hi" seconds drawn uniformly with a fixed seed, default
"2-6": a person reading the chart; "0" for back-to-back changes, the saturation case).

Measured on the server side of the socket:
* server time per rerun: from sending the change to the server's ``script_finished`` (queueing behind other
  sessions' reruns included), p50 / p95 / max; first page load likewise;
* the server process's CPU seconds per rerun (/proc), and its memory (RSS) before and after;
* lost input: a change whose value the rerun did not use (the page's scenario line must show the new MW or model),
  a widget that vanished, or an exception element on the page;
* with Chromium present (``LOAD_BROWSER=0`` turns it off), one real browser tab joins the load and its MW changes
  are timed until the page shows them, rendering included.

The clients share one asyncio loop in this process (they only wait and parse small protobufs); the server is a
separate process, as in production, warmed first as a server that has been up a while is (one session opens the
page and visits each model: the cold start and first searches are reported apart). Every MW value is unique to
its session, so no chart comes from another session's cache; frontier searches do (one per model, shared by the
server's cache as in production).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from fake_server import free_port

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
MODELS = ["llama-3.1-70b", "gpt-oss-120b", "qwen3-235b-a22b", "llama-3.1-8b", "kimi-k2", "deepseek-r1"]
SESSIONS = int(os.environ.get("LOAD_SESSIONS", "20"))
CHANGES = int(os.environ.get("LOAD_CHANGES", "6"))
THINK = os.environ.get("LOAD_THINK_S", "2-6")
QUERY = "systems=h200-sxm&systems=b200-sxm"
TIMEOUT_S = 300.0


def think_range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition("-")
    return float(lo), float(hi or lo)


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("streamlit did not answer on /_stcore/health within 120 s: "
                       + server.stderr.read().decode(errors="replace")[-500:])


class Session:
    """One browser tab's worth of protocol: sends reruns with its widget states, reads the page back."""

    def __init__(self, ws, index: int):
        self.ws, self.index = ws, index
        self.query = QUERY
        self.page_hash = ""
        self.states: dict[str, object] = {}  # widget id -> WidgetState the user has set (sent with every rerun)
        self.widgets: dict[str, object] = {}  # user key -> last widget proto the server drew
        self.texts: list[str] = []
        self.exceptions: list[str] = []

    async def rerun(self) -> float:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.page_script_hash = self.page_hash
        msg.rerun_script.widget_states.widgets.extend(self.states.values())
        self.widgets, self.texts, self.exceptions = {}, [], []
        start = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await asyncio.wait_for(self.ws.recv(), TIMEOUT_S))
            kind = reply.WhichOneof("type")
            if kind == "delta":
                self._read_delta(reply.delta)
            elif kind == "page_info_changed":
                self.query = reply.page_info_changed.query_string
            elif kind == "navigation":
                self.page_hash = reply.navigation.page_script_hash
            elif kind == "script_finished":
                if reply.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    return time.perf_counter() - start
                if reply.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise RuntimeError("the app did not compile")
                # FINISHED_EARLY_FOR_RERUN: the app asked for a rerun; its result is still to come

    def _read_delta(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        if kind == "exception":
            self.exceptions.append(proto.message[:200])
        elif kind == "markdown":
            self.texts.append(proto.body)
        widget_id = getattr(proto, "id", "")
        if isinstance(widget_id, str) and widget_id.startswith("$$ID-"):
            self.widgets[widget_id.rsplit("-", 1)[-1]] = proto

    def set_number(self, key: str, value: float) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        proto = self.widgets[key]
        state = WidgetState(id=proto.id)
        state.double_value = value
        self.states[proto.id] = state

    def set_option(self, key: str, label: str) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        proto = self.widgets[key]
        if label not in proto.options:
            raise KeyError(f"{label!r} is not an option of {key}")
        state = WidgetState(id=proto.id)
        state.string_value = label
        self.states[proto.id] = state


def open_stream(port: int):
    """A websocket to the server's session endpoint, as a browser tab opens it."""
    from websockets.asyncio.client import connect

    return connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], max_size=None,
                   open_timeout=60)


async def one_session(index: int, port: int, think: tuple[float, float], names: dict[str, str], result: dict) -> None:
    rng = random.Random(1000 + index)
    await asyncio.sleep(rng.uniform(0, max(think[1], 0.5)))  # tabs open over a few seconds, not in one instant
    async with open_stream(port) as ws:
        session = Session(ws, index)
        result["first"].append(await session.rerun())
        for k in range(CHANGES):
            await asyncio.sleep(rng.uniform(*think))
            if k % 2 == 0:
                value = round(1.0 + index * 0.37 + k * 0.011, 3)  # unique to this session: no shared chart
                session.set_number("mw", value)
                expected = f"{value:g} MW all-in"
            else:
                model = MODELS[(index + k) % len(MODELS)]
                session.set_option("model", names[model])
                expected = names[model]
            elapsed = await session.rerun()
            result["times"].append(elapsed)
            result["mw" if k % 2 == 0 else "model"].append(elapsed)
            if session.exceptions:
                result["errors"].append((index, k, session.exceptions[0]))
            elif not any(expected in text for text in session.texts) or not {"mw", "model"} <= set(session.widgets):
                result["lost"].append((index, k, expected))


def model_names() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    import factory_model as fm

    return {m: fm.load_catalog().models[m].name for m in MODELS}


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--headless"]


def browser_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return os.environ.get("LOAD_BROWSER", "1") != "0" and Path(CHROMIUM).exists()


async def browser_session(port: int, think: tuple[float, float], result: dict) -> None:
    """One real Chromium tab among the websocket sessions: MW changes typed into the page, timed until the
    page shows them (scenario line updated, app idle, chart traces drawn) — what a person waits for, browser
    rendering included."""
    from playwright.async_api import async_playwright

    rng = random.Random(7)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 1440, "height": 1000})
        start = time.perf_counter()
        await page.goto(f"http://127.0.0.1:{port}/?{QUERY}")
        await _settled(page, "MW all-in")
        result["browser_first"].append(time.perf_counter() - start)
        box = page.get_by_test_id("stNumberInput").filter(has_text="Power envelope").locator("input")
        for k in range(CHANGES):
            await asyncio.sleep(rng.uniform(*think))
            value = round(3.0 + k * 1.1, 1)
            await box.fill(f"{value:.1f}")
            start = time.perf_counter()
            await box.press("Enter")
            await _settled(page, f"{value:g} MW all-in")
            result["browser"].append(time.perf_counter() - start)
        await browser.close()


async def _settled(page, text: str) -> None:
    await page.get_by_text(text, exact=False).first.wait_for(timeout=TIMEOUT_S * 1000)
    await page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=TIMEOUT_S * 1000)
    await page.locator("[data-testid='stPlotlyChart'] g.trace").first.wait_for(timeout=TIMEOUT_S * 1000)


async def drive(port: int, think: tuple[float, float], names: dict[str, str], browser: bool = False) -> dict:
    result = {"first": [], "times": [], "mw": [], "model": [], "lost": [], "errors": [], "browser": [],
              "browser_first": []}
    tasks = [one_session(i, port, think, names, result) for i in range(SESSIONS)]
    if browser:
        tasks.append(browser_session(port, think, result))
    await asyncio.gather(*tasks)
    return result


def nearest_rank(values: list[float], q: float) -> float:
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q * len(ranked)) - 1)]


def main() -> int:
    think = think_range(THINK)
    names = model_names()
    port = free_port()
    server = start_server(port)
    try:
        cold, first_visit = asyncio.run(warm_up(port, names))
        cpu0, rss0, wall0 = proc_cpu_s(server.pid), proc_rss_mib(server.pid), time.perf_counter()
        with_browser = browser_available()
        result = asyncio.run(drive(port, think, names, browser=with_browser))
        wall = time.perf_counter() - wall0
        cpu = proc_cpu_s(server.pid) - cpu0
        rss1 = proc_rss_mib(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    times, first = result["times"], result["first"]
    reruns = len(times) + len(first)
    pause = f"think time {think[0]:g}-{think[1]:g} s" if think[1] else "no think time (saturation)"
    print(f"load: {SESSIONS} concurrent sessions x {CHANGES} changes (MW / model alternating, {pause}), one "
          f"streamlit server, {os.cpu_count()} CPUs, {wall:.0f} s: server time per rerun p50 "
          f"{statistics.median(times):.2f} s, p95 {nearest_rank(times, 0.95):.2f} s, max {max(times):.2f} s; "
          f"(MW changes p50 {statistics.median(result['mw']):.2f} / p95 {nearest_rank(result['mw'], 0.95):.2f} s, "
          f"model changes p50 {statistics.median(result['model']):.2f} / p95 {nearest_rank(result['model'], 0.95):.2f} "
          f"s); first page load p50 {statistics.median(first):.2f} s, p95 {nearest_rank(first, 0.95):.2f} s; server CPU "
          f"{cpu / reruns:.3f} s per rerun; server memory {rss0:.0f} MiB before, {rss1:.0f} MiB after; lost input "
          f"{len(result['lost'])}, exceptions {len(result['errors'])}. Warm-up (one session, before): cold first "
          f"load {cold:.2f} s, slowest first visit of a model {first_visit:.2f} s")
    if result["browser"]:
        print(f"  plus one real Chromium tab in the same load: MW change until the page shows it (scenario line, "
              f"app idle, chart drawn) p50 {statistics.median(result['browser']):.2f} s, max "
              f"{max(result['browser']):.2f} s over {len(result['browser'])} changes; first load "
              f"{result['browser_first'][0]:.2f} s")
    elif not with_browser:
        print(f"  (no real browser in this run: Chromium at {CHROMIUM} or playwright missing, or LOAD_BROWSER=0)")
    for item in result["lost"][:5]:
        print(f"  lost: session {item[0]} change {item[1]}: the page does not show {item[2]!r}")
    for item in result["errors"][:5]:
        print(f"  exception: session {item[0]} change {item[1]}: {item[2]}")
    return 1 if result["lost"] or result["errors"] else 0


async def warm_up(port: int, names: dict[str, str]) -> tuple[float, float]:
    """A server that has been up a while: one session opens the page (cold: imports, catalogs, reference data,
    seed claims) and visits each model once (its deployment search, then cached for every session).
    Returns (cold first load, slowest model visit) in seconds."""
    async with open_stream(port) as ws:
        session = Session(ws, -1)
        cold = await session.rerun()
        visits = []
        for model in MODELS:
            session.set_option("model", names[model])
            visits.append(await session.rerun())
        return cold, max(visits)


if __name__ == "__main__":
    sys.exit(main())
