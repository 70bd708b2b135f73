"""Real-browser test: `streamlit run app.py` on 127.0.0.1 driven by Debian's chromium through Playwright.

Loads the app, switches the model, sees the chart update and the URL follow, reopens the copied URL and sees
the same state, downloads the CSV, and saves a screenshot to test-artifacts/. Without a browser it skips with
the reason locally; in CI (CI=true) the browser must be there (.ci/run installs it) and the test runs.
"""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fake_server import free_port

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not IN_CI,
                       reason=f"no browser at {CHROMIUM} (Debian: apt install chromium); CI installs it"),
]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    log = open(ROOT / "test-artifacts" / "streamlit-server.log", "w") if ARTIFACTS.mkdir(exist_ok=True) is None \
        else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("streamlit did not come up within 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


def idle(page, timeout=90_000):
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(state="attached",
                                                                                        timeout=timeout)


def chart_title(page) -> str:
    page.get_by_test_id("stPlotlyChart").first.locator(".gtitle").first.wait_for(timeout=60_000)
    return page.get_by_test_id("stPlotlyChart").first.locator(".gtitle").first.text_content()


def test_switch_model_share_url_and_download(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page.goto(f"{server}/?systems=h200-sxm&systems=b200-sxm")
    idle(page)
    assert "DeepSeek-R1" in chart_title(page)
    assert page.get_by_test_id("stException").count() == 0

    model = page.get_by_test_id("stSelectbox").filter(has_text="Model")
    model.click()
    page.keyboard.type("Llama 3.1 8B")  # the sidebar shows display names; the URL keeps ids
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("stPlotlyChart").first.locator(".gtitle").first).to_contain_text(
        "Llama 3.1 8B", timeout=60_000)
    idle(page)
    page.wait_for_function("() => window.location.search.includes('model=llama-3.1-8b')", timeout=30_000)
    shared = page.url
    assert "systems=h200-sxm" in shared and "systems=b200-sxm" in shared

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-frontier.png"), full_page=True)

    with page.expect_download(timeout=60_000) as download:
        page.get_by_test_id("stDownloadButton").filter(has_text="CSV").first.click()
    csv_text = Path(download.value.path()).read_text()
    header = csv_text.splitlines()[0]
    assert "tokens_per_s_per_user" in header and "tokens_per_s_per_mw" in header
    assert "llama-3.1-8b" in csv_text and "b200-sxm" in csv_text

    again = browser.new_page(viewport={"width": 1440, "height": 1000})
    again.goto(shared)
    idle(again)
    assert "Llama 3.1 8B" in chart_title(again)
    expect(again.get_by_test_id("stSelectbox").filter(has_text="Model")).to_match_aria_snapshot(
        '- combobox "Model": /Llama 3\\.1 8B/')
    again.close()
    page.close()


def test_deep_link_to_another_page_on_a_fresh_tab(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(f"{server}/tco?systems=gb200-nvl72&model=gpt-oss-120b")
    idle(page)
    page.get_by_text("Total cost of ownership").first.wait_for(timeout=60_000)
    page.get_by_test_id("stPlotlyChart").nth(1).wait_for(timeout=60_000)
    idle(page)
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_test_id("stPlotlyChart").count() >= 2
    page.close()


def test_calibration_replay_updates_live_then_fits(server, browser):
    """The live view refreshes itself (a fragment with run_every) without any user action, then the fit shows."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    page.goto(f"{server}/calibration")
    idle(page)
    page.get_by_test_id("stButton").filter(has_text="Replay").locator("button").click()
    samples = page.get_by_test_id("stMetric").filter(has_text="Readings").get_by_test_id("stMetricValue")
    samples.wait_for(timeout=60_000)
    seen = []
    deadline = time.time() + 60
    while time.time() < deadline:
        seen.append(int(samples.text_content().replace(",", "")))
        if len(set(seen)) >= 3:
            break
        time.sleep(1.0)
    assert len(set(seen)) >= 3 and seen == sorted(seen), seen  # the chart's data advanced on its own
    expect(page.get_by_test_id("stMetric").filter(has_text="TPOT median error")).to_be_visible(timeout=90_000)
    idle(page)
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("SYNTHETIC data").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-calibration.png"), full_page=True)
    fit_chart = page.get_by_test_id("stPlotlyChart").last
    fit_chart.scroll_into_view_if_needed()
    expect(fit_chart.locator(".gtitle").first).to_contain_text("measured vs model")
    fit_chart.screenshot(path=str(ARTIFACTS / "browser-calibration-fit.png"))
    page.close()


# ------------------------------------------------------------------------- every page, every chart has marks

MARKS_JS = """(el) => {
  const visible = (node, both) => { const r = node.getBoundingClientRect();
                                    return both ? (r.width > 0.5 && r.height > 0.5) : (r.width > 0.5 || r.height > 0.5); };
  const lines = [...el.querySelectorAll('.scatterlayer path.js-line')].filter(p => visible(p, false)).length;
  const points = [...el.querySelectorAll('.scatterlayer .points path')].filter(p => visible(p, true)).length;
  const allBars = el.querySelectorAll('.barlayer .bars path');
  const bars = [...allBars].filter(p => visible(p, true)).length;
  const ticks = [...el.querySelectorAll('.ytick text, .xtick text')].map(t => t.textContent);
  return {lines, points, bars, barTraces: allBars.length, ticks,
          title: (el.querySelector('.gtitle') || {}).textContent || ''};
}"""


def chart_marks(page) -> list[dict]:
    """Marks drawn by every visible Plotly chart on the page (after scrolling each into view)."""
    out = []
    charts = page.get_by_test_id("stPlotlyChart")
    for i in range(charts.count()):
        chart = charts.nth(i)
        if not chart.is_visible():
            continue  # e.g. a chart in a tab that is not shown
        chart.scroll_into_view_if_needed()
        chart.locator(".main-svg").first.wait_for(timeout=60_000)
        out.append(chart.evaluate(MARKS_JS))
    return out


def assert_charts_draw(page, where: str, expected: int) -> list[dict]:
    idle(page)
    marks = chart_marks(page)
    assert len(marks) >= expected, (where, marks)
    for m in marks:
        assert m["lines"] + m["points"] + m["bars"] > 0, (where, m)
        if m["barTraces"]:
            assert m["bars"] > 0, (where, "bars drawn with no size", m)  # e.g. categories on a numeric axis
    assert page.get_by_test_id("stException").count() == 0, where
    assert page.get_by_text("Page not found").count() == 0, where
    return marks


PAGES = [("/", 1), ("/frontier", 1), ("/revenue", 2), ("/tco", 2), ("/claims", 1), ("/methodology", 0),
         ("/what_if", 0), ("/calibration", 0)]


@pytest.mark.parametrize("path,expected", PAGES)
def test_every_page_draws_visible_marks(server, browser, path, expected):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}{path}?systems=h200-sxm&systems=b200-sxm&systems=gb300-nvl72")
    idle(page)
    if expected:
        page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=90_000)
    marks = assert_charts_draw(page, path, expected)
    if path in ("/", "/frontier"):
        ticks = marks[0]["ticks"]
        assert "50" in ticks and "5" not in ticks, ticks  # 1-2-5 log ticks with full numbers
        assert page.get_by_text("At 50 tokens/s per user, 1 MW").count() == 1  # the at-target table
        assert page.get_by_test_id("stDataFrame").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{path.strip('/') or 'home'}.png"), full_page=True)
    page.close()


def test_compare_every_tab_draws_visible_marks(server, browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/compare?systems=h200-sxm&systems=gb200-nvl72")
    idle(page)
    page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=90_000)
    tabs = page.get_by_role("tab")
    assert tabs.count() == 3
    for i in range(3):
        tabs.nth(i).click()
        page.wait_for_timeout(800)
        assert_charts_draw(page, f"compare tab {i}", 1)
    page.close()


def test_what_if_chart_draws_after_adding_a_system(server, browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/what_if?systems=b200-sxm")
    idle(page)
    page.get_by_test_id("stFormSubmitButton").locator("button").click()
    page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=90_000)
    marks = assert_charts_draw(page, "what-if", 1)
    assert any(m["lines"] >= 2 for m in marks)  # built-in and user-defined curves
    page.close()


@pytest.mark.parametrize("width,height", [(1280, 720), (1920, 1080)])
def test_presentation_mode_fits_the_screen(server, browser, width, height):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{server}/?present=true&systems=h200-sxm&systems=b200-sxm&systems=gb200-nvl72&systems=gb300-nvl72")
    idle(page)
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.locator(".main-svg").first.wait_for(timeout=90_000)
    idle(page)
    assert page.get_by_test_id("stSidebar").is_hidden()
    scroll = page.evaluate("() => [window.scrollY, document.scrollingElement.scrollTop]")
    assert scroll == [0, 0]
    table = page.get_by_test_id("stDataFrame").first
    for name, box in (("chart", chart.bounding_box()), ("key figures", table.bounding_box())):
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= height + 1, (name, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (name, box)
    marks = chart_marks(page)
    assert marks and marks[0]["lines"] > 0
    # the modebar (toolbar) does not cover the chart title
    title = chart.locator(".gtitle").first.bounding_box()
    modebar = chart.locator(".modebar-container").first
    if modebar.count() and modebar.bounding_box():
        bar = modebar.bounding_box()
        assert title["x"] + title["width"] <= bar["x"] or bar["y"] + bar["height"] <= title["y"]
    assert page.get_by_role("button", name="Exit").count() == 1  # a way out without the sidebar
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"presentation-{width}x{height}.png"))
    page.get_by_role("button", name="Exit").click()
    page.get_by_test_id("stSidebar").wait_for(state="visible", timeout=60_000)
    page.close()
