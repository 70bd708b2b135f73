"""Live GPU calibration: NVML through a fake module, Prometheus scraping, a real Prometheus fleet, sessions,
replay, operating points, the fit and profiles."""

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fake_nvml
from fake_server import FakeVllm, free_port
from factory_model import FactoryModelError, load_factors
from factory_model.calibration import TelemetryError, live, server_metrics, synthetic
from factory_model.calibration import session as sessions
from factory_model.calibration.benchmarks import import_points_csv, import_vllm_bench
from factory_model.calibration.fit import calibrate, load_profile, profile_yaml
from factory_model.calibration.operating_point import operating_points
from factory_model.calibration.sampler import Sampler
from factory_model.calibration.telemetry import token_counter_regex, NvmlSource, PrometheusClient, PrometheusSource
from factory_model.catalog import DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = DATA_DIR / "sessions" / synthetic.SAMPLE_PATH_NAME
IN_CI = os.environ.get("CI", "").lower() == "true"


# ----------------------------------------------------------------------------------------------------- NVML


def test_nvml_source_reads_every_gpu_in_si_units():
    fake = fake_nvml.make(gpus=2)
    source = NvmlSource(module=fake)
    readings = source.read()
    assert [r.gpu for r in readings] == ["0", "1"]
    first = readings[0]
    assert first.power_w == 300.0 and readings[1].power_w == 325.0
    time.sleep(0.2)
    later = source.read()[0]
    assert (later.energy_j - first.energy_j) / (later.t_s - first.t_s) == pytest.approx(300, rel=0.1)  # mJ -> J
    assert first.power_limit_w == 700.0
    assert first.sm_clock_mhz == 1980 and first.mem_clock_mhz == 2619
    assert first.gpu_util_pct == 87 and first.mem_used_mib == 70 * 1024 and first.temp_c == 61
    assert source.metadata()["driver"] == "580.65.06"
    source.close()
    assert fake.state["shutdown"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"init_error": "LibraryNotFound"}, "no NVIDIA driver"),
    ({"init_error": "DriverNotLoaded"}, "driver is not loaded"),
    ({"count_error": "NoPermission"}, "permission denied"),
    ({"handle_error": "NoPermission"}, "permission denied"),
    ({"gpus": 0}, "found no GPU"),
])
def test_nvml_faults_give_one_line_messages(kwargs, message):
    with pytest.raises(TelemetryError, match=message):
        NvmlSource(module=fake_nvml.make(**kwargs))


def test_unsupported_metric_reads_as_none():
    readings = NvmlSource(module=fake_nvml.make(unsupported={"energy", "temp"})).read()
    assert readings[0].energy_j is None and readings[0].temp_c is None and readings[0].power_w == 300.0


def test_gpu_lost_mid_session_keeps_what_was_recorded():
    fake = fake_nvml.make(gpus=2, lost={1: 3})
    sampler = Sampler(NvmlSource(module=fake), rate_hz=50, capacity=1000)
    results = [sampler.sample_once() for _ in range(6)]
    gpu, _ = sampler.snapshot()
    assert results[:3] == [True, True, True] and results[3] is False
    assert (gpu["gpu"] == "1").sum() == 3  # readings before the fault stay
    assert (gpu["gpu"] == "0").sum() == 6  # the other GPU goes on
    assert any("GPU lost" in e for e in sampler.errors)


def test_sampler_buffer_is_bounded_and_thread_stops_cleanly():
    sampler = Sampler(NvmlSource(module=fake_nvml.make(gpus=4)), rate_hz=100, capacity=50)
    for _ in range(40):
        sampler.sample_once()
    assert len(sampler.snapshot()[0]) == 50
    sampler.start()
    time.sleep(0.3)
    assert sampler.running
    sampler.stop()
    assert not sampler.running


def test_live_recording_with_fake_nvml_and_server_measures_an_operating_point(tmp_path):
    server = FakeVllm().load(tokens_per_s=2000, tpot_s=0.02, ttft_s=0.3)
    try:
        meta = {"system": "h100-sxm", "model": "llama-3.1-8b", "precision": "fp8", "isl": 1000, "osl": 500, "tp": 2}
        session = live.record(2.5, meta, metrics_url=server.url, rate_hz=10, path=tmp_path / "live.csv",
                              phase="c16", concurrency=16, nvml_module=fake_nvml.make(gpus=2))
    finally:
        server.close()
    assert not session.synthetic and session.metadata["driver"] == "580.65.06"
    points = operating_points(sessions.load(tmp_path / "live.csv"))
    assert list(points["phase"]) == ["c16"] and points["concurrency"].iloc[0] == 16
    p = points.iloc[0]
    assert p["output_tokens_per_s"] == pytest.approx(2000, rel=0.15)
    assert p["output_tokens_per_s_per_gpu"] == pytest.approx(1000, rel=0.15)
    assert p["tpot_s"] == pytest.approx(0.02) and p["ttft_s"] == pytest.approx(0.3)
    assert p["power_w_per_gpu"] == pytest.approx(312.5, rel=0.1)  # energy-counter rate of 300 W and 325 W
    assert p["tokens_per_joule"] == pytest.approx(p["output_tokens_per_s_per_gpu"] / p["power_w_per_gpu"])


def test_sampler_tags_phases_for_a_live_benchmark_sweep():
    sampler = Sampler(NvmlSource(module=fake_nvml.make(gpus=1)), rate_hz=50)
    sampler.sample_once()
    sampler.set_phase("c8", 8)
    sampler.sample_once()
    sampler.set_phase("c32", 32)
    sampler.sample_once()
    gpu, _ = sampler.snapshot()
    assert gpu["phase"].tolist()[1:] == ["c8", "c32"] and gpu["concurrency"].tolist()[1:] == [8, 32]
    assert pd.isna(gpu["phase"].iloc[0])  # before a phase was set: untagged, "live" in a session
    session = live.session_from_sampler(sampler, {"system": "h100-sxm", "model": "llama-3.1-8b",
                                                  "precision": "fp8", "isl": 100, "osl": 100, "tp": 1})
    assert session.table["phase"].notna().all()


def test_sampler_stops_at_its_recording_limit():
    sampler = Sampler(NvmlSource(module=fake_nvml.make(gpus=1)), rate_hz=50, max_duration_s=0.3).start()
    deadline = time.time() + 5
    while sampler.running and time.time() < deadline:
        time.sleep(0.05)
    assert not sampler.running and "recording limit" in sampler.stopped_reason


def test_sampler_gives_up_after_repeated_failures():
    fake = fake_nvml.make(gpus=1, lost={0: 0})
    sampler = Sampler(NvmlSource(module=fake), rate_hz=100, max_consecutive_errors=3).start()
    deadline = time.time() + 5
    while sampler.running and time.time() < deadline:
        time.sleep(0.05)
    assert not sampler.running
    assert "failed reads in a row" in sampler.stopped_reason


@pytest.mark.skipif(not Path("/dev/nvidiactl").exists(), reason="no NVIDIA GPU/driver on this machine")
def test_real_nvml_when_a_gpu_is_present():
    source = NvmlSource()
    readings = source.read()
    assert readings and all(r.power_w is None or r.power_w > 0 for r in readings)
    source.close()


# -------------------------------------------------------------------------------------- server /metrics


@pytest.fixture()
def vllm_server():
    fake = FakeVllm()
    yield {"url": fake.url, "tokens": fake.tokens, "prompt": fake.prompt, "ttft": fake.ttft, "tpot": fake.tpot,
           "running": fake.running}
    fake.close()


def test_scraper_reads_a_vllm_server_and_computes_rates(vllm_server):
    scraper = server_metrics.ServerScraper(vllm_server["url"])
    vllm_server["tokens"].inc(1000)
    vllm_server["running"].set(16)
    first = scraper.scrape()
    assert first["engine"] == "vllm" and first["requests_running"] == 16
    vllm_server["tokens"].inc(5000)
    vllm_server["prompt"].inc(2000)
    for _ in range(4):
        vllm_server["ttft"].observe(0.25)
    for _ in range(10):
        vllm_server["tpot"].observe(0.02)
    second = scraper.scrape()
    second["t_s"] = first["t_s"] + 2.0  # a known interval
    r = server_metrics.rates(first, second)
    assert r["output_tokens_per_s"] == pytest.approx(2500)
    assert r["input_tokens_per_s"] == pytest.approx(1000)
    assert r["ttft_s"] == pytest.approx(0.25) and r["tpot_s"] == pytest.approx(0.02)


def test_scraper_detects_sglang_and_dynamo_names():
    sg = server_metrics.snapshot(server_metrics.parse(
        "# TYPE sglang:generation_tokens_total counter\nsglang:generation_tokens_total 12\n"
        "# TYPE sglang:num_running_reqs gauge\nsglang:num_running_reqs 3\n"))
    assert sg["engine"] == "sglang" and sg["generation_tokens_total"] == 12 and sg["requests_running"] == 3
    dy = server_metrics.snapshot(server_metrics.parse(
        '# TYPE dynamo_frontend_output_tokens_total counter\n'
        'dynamo_frontend_output_tokens_total{model="a"} 5\ndynamo_frontend_output_tokens_total{model="b"} 7\n'))
    assert dy["engine"] == "dynamo" and dy["generation_tokens_total"] == 12


def test_counter_reset_gives_no_negative_rate():
    r = server_metrics.rates({"t_s": 0, "generation_tokens_total": 900}, {"t_s": 1, "generation_tokens_total": 10})
    assert np.isnan(r["output_tokens_per_s"])


def test_output_token_rates_skip_repeats_and_resets():
    snaps = pd.DataFrame({"t_s": [0.0, 1.0, 1.0, 2.0, 3.0], "generation_tokens_total": [0, 500, 500, 100, 1100]})
    rates = server_metrics.output_token_rates(snaps)
    assert rates["t_s"].tolist() == [1.0, 3.0] and rates["output_tokens_per_s"].tolist() == [500.0, 1000.0]
    assert server_metrics.output_token_rates(pd.DataFrame()).empty


def test_unreachable_and_malformed_metrics():
    with pytest.raises(TelemetryError, match="no usable answer"):
        server_metrics.ServerScraper(f"http://127.0.0.1:{free_port()}/metrics", timeout_s=1).scrape()
    with pytest.raises(TelemetryError, match="must start with http"):
        server_metrics.ServerScraper("localhost:8000/metrics")

    class Garbage(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            body = b"this is { not prometheus"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(TelemetryError, match="no usable answer") as info:
            server_metrics.ServerScraper(f"http://127.0.0.1:{httpd.server_port}/metrics").scrape()
        assert "prometheus" not in str(info.value)  # the reply is never echoed
    finally:
        httpd.shutdown()


# --------------------------------------------------------------------------------- fleet (real Prometheus)

PROMETHEUS = shutil.which("prometheus")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if not PROMETHEUS:
        if IN_CI:
            pytest.fail("CI must have Debian's prometheus (installed by .ci/run)")
        pytest.skip("no prometheus binary (Debian: apt install prometheus; CI installs it)")
    tmp = tmp_path_factory.mktemp("fleet")
    nodes = []
    for i in range(3):
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fleet_node.py"), str(port), f"node{i}", "2",
                                 str(300 + 100 * i)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nodes.append((port, proc))
    targets = ", ".join(f"'127.0.0.1:{port}'" for port, _ in nodes)
    (tmp / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: fleet\n    scrape_timeout: 900ms\n    static_configs:\n"
        f"      - targets: [{targets}]\n")
    prom_port = free_port()
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{prom_port}"
    client = PrometheusClient(url, timeout_s=2)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if (client.scalar("count(DCGM_FI_DEV_POWER_USAGE)") or 0) == 6:
                break
        except TelemetryError:
            pass
        time.sleep(0.5)
    else:
        pytest.fail("Prometheus did not scrape the three nodes within 60 s")
    yield {"url": url, "nodes": nodes, "client": client}
    prom.terminate()
    for _, proc in nodes:
        proc.terminate()
    prom.wait(timeout=20)


def test_fleet_aggregates_every_gpu_and_survives_a_lost_node(fleet):
    source = PrometheusSource(fleet["url"])
    readings = source.read()
    assert len(readings) == 6
    assert sorted(r.power_w for r in readings) == [300, 310, 400, 410, 500, 510]
    assert {r.gpu.split("/")[0] for r in readings} == {"node0", "node1", "node2"}
    totals = source.fleet()
    assert totals["gpus"] == 6 and totals["power_w_total"] == pytest.approx(2430)
    regex = token_counter_regex()
    deadline = time.time() + 20  # a rate needs two scrapes of every node inside its window
    while (fleet["client"].scalar(f'count(rate({{__name__=~"{regex}"}}[5s]))') or 0) < 3 and time.time() < deadline:
        time.sleep(0.5)
    time.sleep(5)  # ...and a full window of history, else Prometheus extrapolates from the series start
    totals = source.fleet(window_s=5)
    assert totals["output_tokens_per_s"] == pytest.approx(3000, rel=0.25)  # 1,000 tokens/s per node
    assert totals["output_tokens_per_s_per_mw_gpu"] == pytest.approx(3000 / 2430e-6, rel=0.25)

    sampler = Sampler(source, rate_hz=2)
    assert sampler.sample_once()
    fleet["nodes"][2][1].terminate()  # node2 stops answering mid-run
    fleet["nodes"][2][1].wait(timeout=10)
    deadline = time.time() + 30
    while time.time() < deadline and (source.fleet()["gpus"] != 4):
        time.sleep(0.5)
    assert source.fleet()["gpus"] == 4
    assert sampler.sample_once()
    gpu, _ = sampler.snapshot()
    assert len(gpu) == 10  # 6 readings before, 4 after; nothing lost, no crash
    assert {r.gpu.split("/")[0] for r in source.read()} == {"node0", "node1"}


def test_unreachable_prometheus():
    with pytest.raises(TelemetryError, match="no usable answer"):
        PrometheusSource(f"http://127.0.0.1:{free_port()}").read()


# ---------------------------------------------------------------------------------------- sessions, fit


def test_sample_session_is_marked_synthetic_and_measures_five_points():
    s = sessions.load(SAMPLE)
    assert s.synthetic and "SYNTHETIC" in s.describe()
    points = operating_points(s)
    assert len(points) == 5
    assert (points["tokens_per_s_per_mw"] > 0).all() and (points["tokens_per_joule"] > 0).all()
    assert np.all(np.diff(points["output_tokens_per_s_per_gpu"]) > 0)


def test_sample_matches_its_generator():
    regenerated = synthetic.make_sample()
    shipped = sessions.load(SAMPLE)
    assert np.allclose(regenerated.table["t_s"], shipped.table["t_s"])
    a = regenerated.server["generation_tokens_total"].to_numpy()
    b = shipped.server["generation_tokens_total"].to_numpy()
    assert np.allclose(a, b, rtol=1e-9)


def test_replay_is_deterministic_across_formats(tmp_path):
    s = sessions.load(SAMPLE)
    sessions.save(s, tmp_path / "s.parquet")
    a = calibrate(sessions.load(SAMPLE), "a")
    b = calibrate(sessions.load(tmp_path / "s.parquet"), "b")
    c = calibrate(sessions.load(SAMPLE), "c")
    np.testing.assert_allclose(a.fitted, c.fitted, rtol=0, atol=0)
    np.testing.assert_allclose(a.fitted, b.fitted, rtol=1e-9)


def test_calibration_method_recovers_planted_factors_from_a_synthetic_session():
    """A METHOD test, not an accuracy figure: a session generated by the model with two planted FP8 GEMM factors
    (memory 0.70, compute 0.55) and 3 % noise is fitted back to them. The data come from the model itself, so
    this checks the calibration machinery, not agreement with real GPUs."""
    truth = load_factors().with_overrides({("h200-sxm", "fp8", "gemm", "memory_fraction"): 0.70,
                                           ("h200-sxm", "fp8", "gemm", "compute_fraction"): 0.55})
    s = synthetic.generate("h200-sxm", "llama-3.1-70b", "fp8", 1024, 1024, 2, [4, 16, 32, 64, 128], truth=truth,
                           noise=0.03, seed=3)
    result = calibrate(s, "recovery")
    fitted = dict(zip(result.parameters, result.fitted))
    assert fitted[("h200-sxm", "fp8", "gemm", "memory_fraction")] == pytest.approx(0.70, abs=0.03)
    assert fitted[("h200-sxm", "fp8", "gemm", "compute_fraction")] == pytest.approx(0.55, abs=0.03)
    assert result.error_after_pct["tpot_mdape_pct"] < result.error_before_pct["tpot_mdape_pct"] / 3


def test_truncated_and_malformed_recordings(tmp_path):
    text = SAMPLE.read_text()
    cut = tmp_path / "cut.csv"
    cut.write_text(text[: int(len(text) * 0.8)])  # cut mid-row
    s = sessions.load(cut)
    assert any("truncated" in n for n in s.notes)
    assert len(operating_points(s)) >= 3  # complete phases remain usable
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(TelemetryError, match="not a calibration session"):
        sessions.load(bad)
    with pytest.raises(TelemetryError, match="not a readable Parquet"):
        sessions.load(b"PAR1 garbage", "x.parquet")
    with pytest.raises(TelemetryError, match="file not found"):
        sessions.load(tmp_path / "none.csv")


def test_replay_source_advances_with_its_clock():
    s = sessions.load(SAMPLE)
    clock = sessions.ReplayClock(float(s.table["t_s"].min()), speed=200.0)
    source = sessions.ReplaySource(s, clock=clock)
    sampler = Sampler(source, rate_hz=20, server=sessions.ReplayServer(s, clock))
    time.sleep(0.1)
    sampler.sample_once()
    first = len(sampler.snapshot()[0])
    time.sleep(0.2)
    sampler.sample_once()
    gpu, server = sampler.snapshot()
    assert len(gpu) > first and len(server) == 2
    assert server["generation_tokens_total"].iloc[1] > server["generation_tokens_total"].iloc[0]


def test_profile_round_trip_and_validation():
    result = calibrate(sessions.load(SAMPLE), "sample")
    text = profile_yaml(result)
    assert "SYNTHETIC" in text
    profile = load_profile(text)
    assert profile.provenance["synthetic"] is True and profile.provenance["points"] == 5
    factors = profile.factors()
    key = ("h200-sxm", "fp8", "gemm", "memory_fraction")
    assert factors.get(*key) == pytest.approx(dict(zip(result.parameters, result.fitted))[key], abs=1e-6)
    assert "calibration profile 'sample'" in factors.source_of(*key)
    for bad, message in [("profile: x\n", "missing 'provenance'"),
                         ("profile: x\nprovenance: {}\nfactors: [{system: h200-sxm}]\n", "missing 'factors.0.precision'"),
                         ("profile: x\nprovenance: {}\nfactors: [{system: h200-sxm, precision: fp8, op_class: gemm,"
                          " parameter: memory_fraction, value: 1.7}]\n", "fraction must lie"),
                         ("profile: x\nprovenance: {}\nfactors: [{system: nope, precision: fp8, op_class: gemm,"
                          " parameter: memory_fraction, value: 0.7}]\n", "unknown system"),
                         ("{{{", "malformed YAML")]:
        with pytest.raises(FactoryModelError, match=message):
            load_profile(bad)


def test_benchmark_imports():
    result = {"completed": 200, "duration": 100.0, "total_input_tokens": 200 * 1000, "total_output_tokens": 200 * 500,
              "output_throughput": 1000.0, "median_ttft_ms": 150.0, "median_tpot_ms": 25.0, "max_concurrency": 32}
    points = import_vllm_bench(json.dumps([result, {**result, "max_concurrency": 64}]), system="h100-sxm",
                               model="llama-3.1-70b", precision="fp8", tp=4)
    assert len(points) == 2 and points["isl"].iloc[0] == 1000 and points["osl"].iloc[0] == 500
    assert points["output_tokens_per_s_per_gpu"].iloc[0] == pytest.approx(250)
    assert points["tokens_per_s_per_user"].iloc[0] == pytest.approx(40)
    with pytest.raises(FactoryModelError, match="not a vLLM bench serve result"):
        import_vllm_bench('{"foo": 1}', system="h100-sxm", model="llama-3.1-70b", precision="fp8", tp=4)
    ref = import_points_csv(DATA_DIR / "reference" / "measured_agg_points.csv")
    assert len(ref) == 1009 and (ref["isl"] <= 8192 * 0.9 + 1).all()


def test_calibrate_cli_json(tmp_path):
    out = subprocess.run([sys.executable, "-m", "factory_model", "calibrate", "--replay", str(SAMPLE), "--format",
                          "json", "--save-profile", str(tmp_path / "p.yaml")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["provenance"]["synthetic"] is True
    assert doc["error_after_pct"]["tpot_mdape_pct"] < doc["error_before_pct"]["tpot_mdape_pct"]
    assert (tmp_path / "p.yaml").exists()
    live = subprocess.run([sys.executable, "-m", "factory_model", "calibrate", "--live", "--duration", "1",
                           "--record", str(tmp_path / "x.csv")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    if not Path("/dev/nvidiactl").exists():
        assert live.returncode == 2 and live.stderr.startswith("error: cannot start NVML")
        assert "Traceback" not in live.stderr


def test_recordings_of_one_deployment_merge_into_one_fit(tmp_path):
    """One file per concurrency level (how a live sweep is recorded with the CLI) fits like one file."""
    full = sessions.load(SAMPLE)
    phases = list(dict.fromkeys(full.table["phase"]))
    paths = []
    for i, chunk in enumerate((phases[:2], phases[2:])):
        part = sessions.Session(dict(full.metadata), full.table[full.table["phase"].isin(chunk)].reset_index(drop=True))
        paths.append(sessions.save(part, tmp_path / f"part{i}.csv"))
    merged = sessions.merge([sessions.load(p) for p in paths])
    assert merged.synthetic and len(operating_points(merged)) == 5
    a, b = calibrate(merged, "m"), calibrate(full, "f")
    assert np.allclose(a.fitted, b.fitted)
    out = subprocess.run([sys.executable, "-m", "factory_model", "calibrate", "--replay", *map(str, paths),
                          "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["points"]) == 5
    other = sessions.Session({**full.metadata, "tp": 4}, full.table)
    with pytest.raises(TelemetryError, match="different deployment \\(tp differ"):
        sessions.merge([full, other])
    same_labels = sessions.merge([full, full])
    assert same_labels.table["phase"].nunique() == 10
