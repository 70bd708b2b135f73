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
    page.keyboard.type("llama-3.1-8b")
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
        '- combobox "Model": llama-3.1-8b')
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
