"""AppTest for every dashboard page: it runs without exception and its controls change the chart's data."""

import base64
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from factory_model.calibration import fit, synthetic
from factory_model.calibration import session as sessions
from factory_model.catalog import DATA_DIR
from fake_server import FakeVllm, free_port

SAMPLE = DATA_DIR / "sessions" / synthetic.SAMPLE_PATH_NAME

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def navigation_only(request, monkeypatch):
    """Run pages the way a warm server does: through st.navigation, not the legacy pages/ router.

    AppTest re-detects the pages/ folder on every run, which makes each run start in Streamlit's legacy
    router (as only a cold server's first deep link does); pages/ui.py then reruns through app.py and a button
    click of that run would be lost. Tests marked ``legacy_router`` keep the cold-server behaviour.
    """
    if request.node.get_closest_marker("legacy_router"):
        return
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(autouse=True)
def clear_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def app(page: str | None = None, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py")
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _decode(values) -> list:
    """Plotly 7 ships arrays as {"dtype", "bdata"} (base64 typed arrays); decode them to numbers."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values or [])


def trace_values(fig: dict, axis: str = "y") -> list:
    return [round(float(v), 6) for trace in fig["data"] for v in _decode(trace.get(axis))
            if isinstance(v, (int, float))]


def test_frontier_page_draws_and_reacts_to_model():
    at = app(systems=["h200-sxm", "b200-sxm"])
    fig = figures(at)[0]
    names = [t["name"] for t in fig["data"] if t.get("showlegend", True) is not False]
    assert any("H200" in n for n in names) and any("B200" in n for n in names)
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert "per user" in fig["layout"]["xaxis"]["title"]["text"]
    assert "per MW" in fig["layout"]["yaxis"]["title"]["text"]
    hover = " ".join(str(t.get("text")) for t in fig["data"])
    assert "TTFT" in hover and ("agg" in hover or "disagg" in hover)
    before = trace_values(fig)
    at.selectbox(key="model").set_value("llama-3.1-8b").run()
    assert not at.exception
    after = trace_values(figures(at)[0])
    assert after != before
    assert any("At " in m.value and "tokens/s per user" in m.value for m in at.markdown)


def test_frontier_page_axes_and_metric_controls():
    at = app(systems=["b200-sxm"])
    at.toggle(key="xlog").set_value(False).run()
    fig = figures(at)[0]
    assert fig["layout"]["xaxis"]["type"] == "linear"
    per_mw = trace_values(fig)
    at.segmented_control(key="y_metric").set_value("per_gpu").run()
    fig = figures(at)[0]
    assert "per GPU" in fig["layout"]["yaxis"]["title"]["text"]
    assert trace_values(fig) != per_mw


def test_frontier_page_explains_a_model_that_does_not_fit():
    at = app(systems=["h100-sxm"], model="kimi-k2", precision="bf16", ttft_max_s="0.001")
    assert any("no deployment meets" in w.value or "does not fit" in w.value for w in at.warning)


def test_url_state_and_invalid_parameters():
    at = app(model="llama-3.1-70b", workload="chat", mw="25", systems=["gb200-nvl72"])
    assert at.selectbox(key="model").value == "llama-3.1-70b"
    assert at.number_input(key="mw").value == 25
    assert at.multiselect(key="systems").value == ["gb200-nvl72"]
    bad = app(model="gpt-9", mw="-3")
    assert bad.selectbox(key="model").value == "deepseek-r1"
    assert any("Ignored invalid link parameter" in w.value for w in bad.warning)
    # page-specific and MTP parameters are checked too: every dropped one is named in the notice
    odd = app(at="abc", compare_at=["50", "7"], mtp="nine", systems=["b200-sxm"])
    notice = " ".join(w.value for w in odd.warning)
    assert "at=abc" in notice and "compare_at=7" in notice and "mtp=nine" in notice
    assert odd.slider(key="at").value == 50.0


def test_presentation_mode_hides_controls():
    at = app(present="true")
    html = " ".join(h.proto.body for h in at.get("html"))
    assert "stSidebar" in html and "display: none" in html


@pytest.mark.legacy_router
def test_cold_server_deep_link_reruns_through_app():
    """A first visitor opening /revenue directly still gets app.py's sidebar and scenario."""
    at = app("revenue", model="llama-3.1-70b")
    assert at.title[0].value == "Revenue per megawatt"
    assert at.selectbox(key="model").value == "llama-3.1-70b"
    assert figures(at)


def test_revenue_page_reacts_to_utilisation():
    at = app("revenue", systems=["b200-sxm"])
    before = trace_values(figures(at)[0])
    at.slider(key="util").set_value(0.3).run()
    assert not at.exception
    assert trace_values(figures(at)[0]) != before
    assert len(figures(at)) == 2  # money chart and the sensitivity tornado


def test_compare_page_uses_the_sidebar_systems():
    at = app("compare", systems=["h200-sxm", "gb200-nvl72"])
    fig = figures(at)[0]
    names = [t["name"] for t in fig["data"] if t.get("showlegend", True) is not False]
    assert any("H200" in n for n in names) and any("GB200" in n for n in names)
    assert not any("B300" in n or "Rubin" in n for n in names)
    at.toggle(key="all_generations").set_value(True).run()
    assert not at.exception
    names = [t["name"] for t in figures(at)[0]["data"] if t.get("showlegend", True) is not False]
    assert any("Rubin" in n for n in names) and any("H100" in n for n in names)
    at.multiselect(key="systems").set_value(["b200-sxm"]).run()
    at.toggle(key="all_generations").set_value(False).run()
    names = [t["name"] for t in figures(at)[0]["data"] if t.get("showlegend", True) is not False]
    assert names and all("B200" in n for n in names)


def test_tco_page_token_basis():
    at = app("tco", systems=["h200-sxm", "gb200-nvl72"])
    before = trace_values(figures(at)[0])
    at.segmented_control(key="cost_token_basis").set_value("total").run()
    assert not at.exception
    fig = figures(at)[0]
    assert "total" in fig["layout"]["yaxis"]["title"]["text"]
    assert trace_values(fig) != before
    bars = figures(at)[1]
    assert {t["name"] for t in bars["data"]} >= {"Energy", "Capex (depreciation)"}


def test_what_if_page_adds_a_user_defined_system():
    at = app("what_if")
    at.text_input(key="whatif_id").set_value("b200-faster")
    at.number_input(key="whatif_bw").set_value(16.0)
    at.button(key="whatif_submit").click().run()
    assert not at.exception, [e.message for e in at.exception]
    systems = at.session_state["custom_systems"]
    assert [s.id for s in systems] == ["b200-faster"]
    assert systems[0].user_defined and systems[0].sources["hbm_bandwidth_tb_s"] == "user-defined"
    assert systems[0].hbm_bandwidth_tb_s == 16.0
    assert "b200-faster" in at.multiselect(key="systems").value
    names = [t["name"] for fig in figures(at) for t in fig["data"]]
    assert any("user-defined" in n for n in names)


def test_what_if_rejects_a_built_in_id():
    at = app("what_if")
    at.text_input(key="whatif_id").set_value("h100-sxm")
    at.button(key="whatif_submit").click().run()
    assert any("built-in id" in e.value for e in at.error)
    assert not at.session_state["custom_systems"]


def test_claims_page():
    at = app("claims")
    frames = at.dataframe
    assert len(frames[0].value) >= 17
    assert "assumptions" in frames[0].value.columns
    fig = figures(at)[0]
    assert "measured" in fig["layout"]["xaxis"]["title"]["text"].lower()
    before = trace_values(fig, "x")
    at.segmented_control(key="val_backend").set_value("vllm").run()
    assert not at.exception
    assert trace_values(figures(at)[0], "x") != before
    oos = next(f.value for f in at.dataframe if "method" in f.value.columns)  # the out-of-sample table
    assert {"frontier", "frontier, measured only", "tpot"} <= set(oos["metric"])
    assert "leave-one-system-out" in set(oos["method"])
    mtp = at.dataframe[-1].value  # MTP gain per stack, measured beside the model
    assert {"framework", "measured_gain_median", "model_gain_median"} <= set(mtp.columns)
    assert {"trtllm", "sglang", "all"} <= set(mtp["framework"])


def test_methodology_page_search():
    at = app("methodology")
    total = len(at.dataframe[0].value)
    at.text_input(key="method_search").set_value("h200-sxm hbm_bandwidth").run()
    assert not at.exception
    found = at.dataframe[0].value
    assert 0 < len(found) < total
    assert "AIC-H200" in " ".join(found["source"])


# ------------------------------------------------------------------------------------------- calibration


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: str(m.value) for m in at.metric}


def test_calibration_page_fits_the_sample_and_applies_the_profile():
    at = app("calibration")
    at.button(key="calib_analyse").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("SYNTHETIC" in w.value for w in at.warning)
    errors = metric_values(at)
    # method check only: the sample is model-generated (SYNTHETIC), so a small error shows the fit works, not accuracy
    assert float(errors["TPOT median error"].split()[0]) < 3.0
    fig = figures(at)[0]
    names = [t["name"] for t in fig["data"]]
    assert "measured (SYNTHETIC)" in names and "model, this deployment, calibrated" in names
    assert "model, this deployment, reference fit" in names and any("model frontier" in n for n in names)
    assert len(_decode(fig["data"][-1]["x"])) == 5  # five measured operating points

    at.button(key="calib_apply").click().run()
    profile = at.selectbox(key="calibration_profile").value
    assert profile.startswith("sample_h200")
    # the profile changes the model for its own system, precision and model family, on every page
    at.switch_page("pages/frontier.py")
    at.multiselect(key="systems").set_value(["h200-sxm"])
    at.selectbox(key="model").set_value("llama-3.1-70b")
    at.selectbox(key="precision").set_value("fp8").run()
    assert "calibration: SYNTHETIC profile" in at.caption[0].value
    calibrated = trace_values(figures(at)[0])
    at.selectbox(key="calibration_profile").set_value("default (reference fit)").run()
    assert "calibration:" not in at.caption[0].value
    assert trace_values(figures(at)[0]) != calibrated
    at.selectbox(key="calibration_profile").set_value(profile)
    at.switch_page("pages/methodology.py")
    at.run()
    assert "Applied calibration profile" in [s.value for s in at.subheader]


def test_calibration_page_replay_runs_live_and_matches_the_whole_recording():
    at = app("calibration")
    at.button(key="calib_analyse").click().run()
    whole = metric_values(at)
    at.slider(key="calib_speed").set_value(120).run()
    at.button(key="calib_replay").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert metric_values(at)["Status"] == "recording"
    samples = []
    deadline = time.time() + 30
    while time.time() < deadline:
        time.sleep(0.5)
        at.run()
        samples.append(int(metric_values(at)["Readings"].replace(",", "")))
        if metric_values(at)["Status"] == "finished":
            break
    assert metric_values(at)["Status"] == "finished"
    assert samples[-1] > samples[0] > 0  # the live view advanced
    live_chart, live_points = figures(at)[:2]
    assert "GPU power (W)" in json.dumps(live_chart["layout"])
    measured = [t for t in live_points["data"] if t["name"].startswith("measured")]
    assert len(_decode(measured[0]["x"])) == 5  # every phase became a point on the model's frontier
    assert any(t["name"].startswith("model frontier") for t in live_points["data"])
    done = metric_values(at)
    for key in ("TPOT median error", "TTFT median error", "tokens/s per GPU median error"):
        assert done[key] == whole[key]  # replayed to the end = the whole recording, at full resolution


def test_calibration_page_says_why_live_mode_cannot_start(monkeypatch):
    if Path("/dev/nvidiactl").exists():
        pytest.skip("a GPU driver is present")
    at = app("calibration")
    at.segmented_control(key="calib_source").set_value("nvml").run()
    at.button(key="calib_start").click().run()
    assert not at.exception
    assert any("cannot start NVML" in e.value for e in at.error)
    at.segmented_control(key="calib_source").set_value("prometheus").run()
    at.text_input(key="calib_prometheus_url").set_value(f"http://127.0.0.1:{free_port()}")
    at.button(key="calib_start").click().run()
    at.run()
    time.sleep(1.5)
    at.run()
    assert not at.exception
    said = [c.value for c in at.caption] + [e.value for e in at.error]
    assert any("no usable answer" in v for v in said), said


def test_calibration_page_refuses_urls_unless_the_operator_allow_lists_them(monkeypatch):
    from factory_model import safe_fetch

    monkeypatch.delenv(safe_fetch.ENV_ALLOW)
    at = app("calibration")
    at.segmented_control(key="calib_source").set_value("prometheus").run()
    assert any(safe_fetch.ENV_ALLOW in i.value for i in at.info)
    at.text_input(key="calib_prometheus_url").set_value("http://169.254.169.254/latest/meta-data")
    at.button(key="calib_start").click().run()
    assert not at.exception
    assert any("fetches are off" in e.value for e in at.error)
    assert "calib_run" not in at.session_state


def test_calibration_page_records_fake_gpus_and_a_server(monkeypatch):
    import fake_nvml

    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml.make(gpus=2))
    server = FakeVllm().load(tokens_per_s=2000, tpot_s=0.02, ttft_s=0.3)
    try:
        at = app("calibration")
        at.segmented_control(key="calib_source").set_value("nvml").run()
        at.text_input(key="calib_metrics_url").set_value(server.url)
        at.selectbox(key="calib_system").set_value("h100-sxm")
        at.selectbox(key="calib_model").set_value("llama-3.1-8b")
        at.number_input(key="calib_tp").set_value(2)
        at.number_input(key="calib_concurrency").set_value(16).run()
        at.button(key="calib_start").click().run()
        assert not at.exception, [e.message for e in at.exception]
        time.sleep(3)
        at.run()
        assert metric_values(at)["GPUs"] == "2"
        at.button(key="calib_stop").click().run()
        assert not at.exception, [e.message for e in at.exception]
    finally:
        server.close()
    points = at.dataframe[0].value
    assert list(points["phase"]) == ["c16"]
    assert points["output_tokens_per_s_per_gpu"].iloc[0] == pytest.approx(1000, rel=0.2)
    assert points["power_w_per_gpu"].iloc[0] == pytest.approx(312.5, rel=0.1)
    assert not any("SYNTHETIC" in w.value for w in at.warning)


def test_calibration_page_uploads_recordings_profiles_and_benchmarks():
    at = app("calibration")
    at.radio(key="calib_recording").set_value("upload").run()
    at.file_uploader(key="calib_upload").set_value(("broken.csv", b"# system: h200-sxm\nnot,a,session\n1,2,3\n",
                                                    "text/csv")).run()
    assert not at.exception
    assert any("broken" in e.value for e in at.error)
    at.file_uploader(key="calib_upload").set_value((SAMPLE.name, SAMPLE.read_bytes(), "text/csv")).run()
    assert not at.error and any("SYNTHETIC" in c.value for c in at.caption)

    at.file_uploader(key="calib_profile_upload").set_value(("p.yaml", b"profile: x\nprovenance: {}\nfactors: []\n",
                                                            "application/x-yaml")).run()
    at.button(key="calib_profile_apply").click().run()
    assert any("non-empty list" in e.value for e in at.error)
    assert not at.session_state["calibration_profiles"]
    good = fit.profile_yaml(fit.calibrate(sessions.load(SAMPLE), "uploaded-profile")).encode()
    at.file_uploader(key="calib_profile_upload").set_value(("p.yaml", good, "application/x-yaml")).run()
    at.button(key="calib_profile_apply").click().run()
    assert at.selectbox(key="calibration_profile").value == "uploaded-profile"

    at.segmented_control(key="calib_source").set_value("benchmark").run()
    result = {"completed": 100, "duration": 50.0, "total_input_tokens": 100 * 1000, "total_output_tokens": 100 * 1000,
              "median_ttft_ms": 400.0, "median_tpot_ms": 30.0, "max_concurrency": 32}
    at.file_uploader(key="calib_bench_upload").set_value(("bench.json", json.dumps(result).encode(),
                                                          "application/json"))
    at.selectbox(key="calib_system").set_value("h100-sxm")
    at.selectbox(key="calib_model").set_value("llama-3.1-8b").run()
    at.button(key="calib_bench_fit").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.dataframe[0].value["output_tokens_per_s_per_gpu"].iloc[0] == pytest.approx(2000)
    assert "TPOT median error" in metric_values(at)


def test_calibration_sessions_share_one_nvml_handle_but_keep_their_own_recordings(monkeypatch):
    import fake_nvml

    fake = fake_nvml.make(gpus=2)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    runs = []
    for concurrency in (8, 32):  # two browser sessions of one server process
        at = app("calibration")
        at.segmented_control(key="calib_source").set_value("nvml").run()
        at.number_input(key="calib_concurrency").set_value(concurrency).run()
        at.button(key="calib_start").click().run()
        assert not at.exception, [e.message for e in at.exception]
        runs.append((at, at.session_state["calib_run"]["sampler"]))
    (a, rec_a), (b, rec_b) = runs
    assert rec_a is not rec_b and rec_a.sampler is rec_b.sampler and fake.state["init"] == 1  # one NVML handle
    time.sleep(1.2)
    a.button(key="calib_stop").click().run()  # A stops: B keeps recording
    assert not rec_a.running and rec_b.running and fake.state["shutdown"] == 0
    n_b = len(rec_b.snapshot()[0])
    time.sleep(1.2)
    assert len(rec_b.snapshot()[0]) > n_b  # B still samples after A's Stop
    assert set(rec_a.snapshot()[0]["phase"]) == {"c8"} and set(rec_b.snapshot()[0]["phase"]) == {"c32"}
    assert set(rec_b.snapshot()[0]["gpu"]) == {"0"}  # tp=1: the deployment's one GPU, not every GPU
    b.button(key="calib_stop").click().run()
    assert not rec_b.running and fake.state["shutdown"] == 1  # the last Stop closes the shared handle


# ----------------------------------------------------------------------------------- board-ready views


def _number(text: str) -> float:
    """'1.5 M' -> 1.5e6, '$0.233' -> 0.233, '576' -> 576."""
    text = text.replace("$", "").replace(",", "").replace("−", "-").strip()
    scale = {"k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    parts = text.split()
    return float(parts[0]) * (scale[parts[1]] if len(parts) > 1 else 1.0)


def test_at_target_table_equals_the_api_value_at():
    import factory_model as fm
    from factory_model.pareto import value_at

    at = app(systems=["h200-sxm", "b200-sxm"], model="llama-3.1-70b", workload="chat", mw="100")
    at.slider(key="at").set_value(40.0).run()
    table = next(d.value for d in at.dataframe if "Facility output tokens/s" in d.value.columns)
    assert list(table["System"]) == ["NVIDIA H200 SXM", "NVIDIA B200"]
    for system, precision, (_, row) in zip(("h200-sxm", "b200-sxm"), ("fp8", "nvfp4"), table.iterrows()):
        f = fm.frontier(system, "llama-3.1-70b", precision, 1024, 1024, mw=100)
        assert row["Precision"] == precision.upper()
        for header, column in (("Facility output tokens/s", "tokens_per_s_per_facility"),
                               ("Revenue / year", "revenue_usd_per_year"),
                               ("Cost per 1M output tokens", "cost_per_m_output_tokens_usd"),
                               ("Cost per 1M total tokens", "cost_per_m_total_tokens_usd")):
            assert _number(row[header]) == pytest.approx(value_at(f, 40.0, column), rel=0.006), header
        assert _number(row["GPUs"]) == pytest.approx(f.attrs["factory_gpus"], rel=0.006)
        assert int(row["Racks"].replace(",", "")) == f.attrs["racks"]
    assert any("Assumes tokens sell at the list price of $1.16 per 1M output" in c.value for c in at.caption)


def test_at_target_flags_a_clamped_system():
    at = app(systems=["h200-sxm", "b200-sxm"], model="deepseek-r1")
    at.slider(key="at").set_value(500.0).run()
    assert any("Clamped at the edge" in w.value for w in at.warning)
    table = next(d.value for d in at.dataframe if "Note" in d.value.columns)
    assert all(n.startswith("clamped") for n in table["Note"])


def test_headline_cards_follow_the_throughput_axis():
    at = app(systems=["b200-sxm"])
    assert any("per MW" in m.label for m in at.metric)
    at.segmented_control(key="y_metric").set_value("per_gpu").run()
    labels = [m.label for m in at.metric]
    assert any("per GPU" in m for m in labels) and not any("per MW" in m for m in labels)


def test_sidebar_shows_names_and_prices_with_sources():
    at = app(systems=["h200-sxm"])
    assert "NVIDIA H200 SXM" in at.multiselect(key="systems").proto.options[0] or \
        at.multiselect(key="systems").format_func("h200-sxm") == "NVIDIA H200 SXM"
    text = " ".join(c.value for c in at.caption) + " ".join(m.value for m in at.markdown)
    assert "$2.19" in text and "api-docs.deepseek.com" in text  # list price with its address
    assert re.search(r"\$\d+\.\d\d/GPU-h hyperscaler", text) and re.search(r"\d\.\d\d kW/GPU", text)


def test_link_with_an_unknown_system_keeps_the_others():
    at = app(systems=["h200-sxm", "my-gpu-from-another-session"])
    assert at.multiselect(key="systems").value == ["h200-sxm"]
    assert any("my-gpu-from-another-session" in w.value for w in at.warning)


def test_what_if_base_change_renames_the_new_system():
    at = app("what_if")
    assert at.text_input(key="whatif_id").value == "b200-sxm-custom"
    at.selectbox(key="whatif_base").set_value("gb300-nvl72").run()
    assert at.text_input(key="whatif_id").value == "gb300-nvl72-custom"
    at.button(key="whatif_submit").click().run()
    assert [s.id for s in at.session_state["custom_systems"]] == ["gb300-nvl72-custom"]
    assert at.session_state["custom_systems"][0].hbm_bandwidth_tb_s == pytest.approx(8.0, rel=0.3)


def test_custom_model_without_prices_renders_every_page():
    config = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
              "vocab_size": 128256, "intermediate_size": 14336, "max_position_embeddings": 131072,
              "torch_dtype": "bfloat16"}
    at = app("what_if")
    at.file_uploader(key="config_upload").set_value(("config.json", json.dumps(config).encode(), "application/json"))
    at.text_input(key="config_model_id").set_value("my-8b").run()
    at.button(key="add_model").click().run()
    assert not at.exception, [e.message for e in at.exception]
    at.selectbox(key="model").set_value("my-8b")
    at.multiselect(key="systems").set_value(["h200-sxm", "b200-sxm"]).run()
    for page in ("frontier", "revenue", "compare", "tco", "what_if", "claims", "methodology"):
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, (page, [e.message for e in at.exception])
        if page == "revenue":
            assert any("No revenue to show" in i.value for i in at.info)
        if page == "frontier":
            assert any("has no list price" in c.value for c in at.caption)
            assert figures(at)
        if page == "tco":
            assert len(figures(at)) == 2


def test_tco_breakdown_and_tornado_have_marks():
    at = app("tco", systems=["h200-sxm", "gb200-nvl72"])
    bars = figures(at)[1]
    assert bars["layout"]["xaxis"]["type"] == "category"
    assert all(sum(_decode(t["y"])) > 0 for t in bars["data"] if t["name"] != "Energy")
    at = app("revenue", systems=["b200-sxm"])
    tornado = figures(at)[1]
    assert tornado["layout"]["yaxis"]["type"] == "category"
    assert len(tornado["data"][0]["y"]) >= 3 and all(abs(v) > 0 for v in _decode(tornado["data"][0]["x"]))


def test_presentation_picker_and_exit():
    at = app(present="true", systems=["h200-sxm", "b200-sxm"])
    assert at.button(key="present_exit")
    at.selectbox(key="present_model").set_value("llama-3.1-70b").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="model").value == "llama-3.1-70b"
    assert "Llama 3.1 70B" in figures(at)[0]["layout"]["title"]["text"]
    at.multiselect(key="present_systems").set_value(["gb200-nvl72"]).run()
    assert at.multiselect(key="systems").value == ["gb200-nvl72"]
    at.button(key="present_exit").click().run()
    assert at.toggle(key="present").value is False
    assert not any("display: none" in h.proto.body for h in at.get("html"))


def test_frontier_draws_bands_badges_and_measured_points(monkeypatch):
    from factory_model import accuracy

    monkeypatch.setattr(accuracy, "OUT_OF_SAMPLE_PATH", Path(__file__).parent / "fixtures" / "out_of_sample.csv")
    at = app(systems=["h200-sxm", "gb200-nvl72", "mi355x"], model="deepseek-r1", workload="reasoning",
             precision="fp8")
    fig = figures(at)[0]
    names = [t["name"] for t in fig["data"]]
    assert "NVIDIA H200 SXM · FP8 uncertainty band" in names  # the fixture's ±20 % row
    assert any(n.startswith("NVIDIA GB200 NVL72") and "band" in n for n in names)  # B200's error as a proxy
    assert not any(n.startswith("AMD Instinct MI355X") and "band" in n for n in names)  # no row: no band
    measured = next(t for t in fig["data"] if t["name"] == "NVIDIA H200 SXM measured")
    assert len(_decode(measured["x"])) > 10 and "measured" in measured["hovertemplate"]
    notes = " ".join(c.value for c in at.caption)
    assert "calibrated on measurements of this system" in notes and "±20 %" in notes
    assert "transferred from NVIDIA B200" in notes and "proxy" in notes and "no out-of-sample figure yet" in notes
