"""Dashboard timings (not a test): ``python tests/bench_dashboard.py`` or ``python3 dev.py bench``.

Server-side time of a rerun, measured with streamlit.testing's AppTest (its own overhead included, so the
figures are upper bounds): cold start of the Frontier page, a model change (a new deployment search per
system) and a price change, for one and for four systems. Runs as a warm server does (st.navigation routing).
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = str(ROOT / "app.py")
MODELS = ["llama-3.1-70b", "gpt-oss-120b", "qwen3-235b-a22b", "llama-3.1-8b", "kimi-k2", "deepseek-r1"]


def warm_server_routing() -> None:
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init


def main() -> int:
    warm_server_routing()
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["systems"] = ["b200-sxm"]
    start = time.perf_counter()
    at.run()
    print(f"cold start (Frontier page, 1 system): {time.perf_counter() - start:.2f} s")
    for systems in (["b200-sxm"], ["h200-sxm", "b200-sxm", "gb200-nvl72", "gb300-nvl72"]):
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["systems"] = systems
        at.run()
        model_changes, price_changes = [], []
        for model in MODELS:
            at.selectbox(key="model").set_value(model)
            start = time.perf_counter()
            at.run()
            model_changes.append(time.perf_counter() - start)
        for utilisation in (0.5, 0.6, 0.8, 0.9):
            at.slider(key="util").set_value(utilisation)
            start = time.perf_counter()
            at.run()
            price_changes.append(time.perf_counter() - start)
        print(f"{len(systems)} system(s): model change median {statistics.median(model_changes) * 1e3:.0f} ms "
              f"(max {max(model_changes) * 1e3:.0f}); price change median "
              f"{statistics.median(price_changes) * 1e3:.0f} ms")
    calibration()
    return 0


def calibration() -> None:
    """Calibration page: fit the bundled recording (first time, then cached) and one live-view redraw."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/calibration.py")
    at.run()
    at.button(key="calib_analyse").click()
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    start = time.perf_counter()
    at.run()
    again = time.perf_counter() - start
    at.slider(key="calib_speed").set_value(120).run()
    at.button(key="calib_replay").click().run()
    redraws = []
    for _ in range(4):
        time.sleep(0.3)
        start = time.perf_counter()
        at.run()
        redraws.append(time.perf_counter() - start)
    print(f"calibration page: fit of the sample {first * 1e3:.0f} ms (rerun with the fit cached "
          f"{again * 1e3:.0f} ms); rerun during a replay median {statistics.median(redraws) * 1e3:.0f} ms")


if __name__ == "__main__":
    raise SystemExit(main())
