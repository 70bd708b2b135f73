"""Make the README's pictures: the Frontier page in a real browser and slides of the PowerPoint deck.

    .venv/bin/python tests/make_screenshots.py            # writes docs/frontier-page.png, docs/slide-*.png

Needs Debian's chromium (Playwright drives it; no browser download) and, for the slides, LibreOffice Impress
(`apt install libreoffice-impress`; without it the slide pictures are skipped with a message). The scenario is
the board's question: DeepSeek-R1 reasoning (1k in / 8k out) on H200, B200, GB200 NVL72 and GB300 NVL72 in a
100 MW factory, at 50 tokens/s per user.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"
SYSTEMS = ("h200-sxm", "b200-sxm", "gb200-nvl72", "gb300-nvl72")
QUERY = "?" + "&".join(f"systems={s}" for s in SYSTEMS) + "&mw=100&at=50"


def page_screenshot() -> None:
    from fake_server import free_port
    from playwright.sync_api import sync_playwright

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            for name, query, size in (("frontier-page", QUERY, (1600, 1500)),
                                      ("frontier-presentation", QUERY + "&present=true", (1280, 720))):
                page = browser.new_page(viewport={"width": size[0], "height": size[1]})
                page.goto(url + "/" + query)
                page.get_by_test_id("stPlotlyChart").first.locator(".main-svg").first.wait_for(timeout=120_000)
                page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
                    state="attached", timeout=120_000)
                time.sleep(2)
                page.screenshot(path=str(DOCS / f"{name}.png"), full_page=False)
                print(f"wrote docs/{name}.png")
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def slide_pictures() -> None:
    soffice = shutil.which("soffice")
    if not soffice:
        print("no LibreOffice (apt install libreoffice-impress): slide pictures skipped")
        return
    from pptx import Presentation

    from factory_model.economics import options
    from pages import ui

    sc = ui.Scenario(SYSTEMS, "deepseek-r1", "auto", 1024, 8192, "best", 100.0, None, None, None, 0, 0.7,
                     options(), True, True, False)
    data = ui.deck_bytes(sc, ui.frontiers(sc), 50.0)
    (DOCS / "example-deck.pptx").write_bytes(data)
    print("wrote docs/example-deck.pptx")
    count = len(Presentation(io.BytesIO(data)).slides)
    for index, name in ((1, "slide-key-figures"), (2, "slide-frontier"), (count - 1, "slide-assumptions")):
        prs = Presentation(io.BytesIO(data))
        slides = prs.slides._sldIdLst
        for i, sld in reversed(list(enumerate(list(slides)))):  # keep one slide: soffice renders the first
            if i != index:
                prs.part.drop_rel(sld.rId)
                slides.remove(sld)
        with tempfile.TemporaryDirectory() as tmp:
            deck = Path(tmp) / f"{name}.pptx"
            prs.save(deck)
            subprocess.run([soffice, "--headless", "--convert-to", "png", "--outdir", tmp, str(deck)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
            shutil.copy(Path(tmp) / f"{name}.png", DOCS / f"{name}.png")
        print(f"wrote docs/{name}.png")


if __name__ == "__main__":
    DOCS.mkdir(exist_ok=True)
    which = sys.argv[1:] or ["page", "slides"]
    if "slides" in which:
        slide_pictures()
    if "page" in which:
        page_screenshot()
