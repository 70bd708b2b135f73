"""Live calibration on a shared server: one NVML handle per source, one Recording per browser session (own rows,
phases, GPU selection, stop), server scraping in its own thread, transient NVML errors, monotonic limits."""

import http.server
import threading
import time

import pytest

import fake_nvml
from fake_server import FakeVllm
from factory_model.calibration import live
from factory_model.calibration.sampler import NoGpus, Recording, Sampler
from factory_model.calibration.server_metrics import ServerScraper
from factory_model.calibration.telemetry import NvmlSource


def wait_for(condition, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_one_users_stop_does_not_end_anothers_recording():
    fake = fake_nvml.make(gpus=2)
    sampler = Sampler(NvmlSource(module=fake), rate_hz=50)
    a, b = Recording(sampler), Recording(sampler, gpus=["1"])
    a.set_phase("c8", 8)  # labelled before start: no row is ever unlabelled, however slow the machine
    b.set_phase("c32", 32)
    a.start(), b.start()
    assert sampler.users == 2 and fake.state["init"] == 1
    assert wait_for(lambda: len(a.snapshot()[0]) >= 10 and len(b.snapshot()[0]) >= 5)
    a.stop("stopped by the user")
    assert not a.running and b.running and sampler.running and fake.state["shutdown"] == 0
    n_a, n_b = len(a.snapshot()[0]), len(b.snapshot()[0])
    assert wait_for(lambda: len(b.snapshot()[0]) >= n_b + 5)
    assert len(a.snapshot()[0]) == n_a  # A's recording ended; B's goes on
    gpu_a, gpu_b = a.snapshot()[0], b.snapshot()[0]
    assert set(gpu_a["phase"]) == {"c8"} and set(gpu_b["phase"]) == {"c32"}  # B's phase never relabels A's rows
    assert set(gpu_a["gpu"]) == {"0", "1"} and set(gpu_b["gpu"]) == {"1"}
    b.stop()
    assert wait_for(lambda: not sampler.running) and fake.state["shutdown"] == 1  # last user closes NVML
    assert not sampler.usable


def test_session_from_a_recording_counts_only_its_gpus():
    fake = fake_nvml.make(gpus=4, power_w=[100, 200, 300, 400])
    sampler = Sampler(NvmlSource(module=fake), rate_hz=50)
    rec = Recording(sampler, gpus=["2", "3"]).start()
    assert wait_for(lambda: len(rec.snapshot()[0]) >= 6)
    rec.stop()
    meta = {"system": "h100-sxm", "model": "llama-3.1-8b", "precision": "fp8", "isl": 100, "osl": 100, "tp": 2}
    session = live.session_from_sampler(rec, meta)
    assert session.metadata["gpus"] == 2 and session.metadata["gpu_ids"] == "2,3"
    assert sorted(session.gpu["power_w"].unique()) == [300.0, 400.0]  # mean 350 W: not the 250 W of all four


class Hanging(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        time.sleep(5)

    def log_message(self, *args):
        pass


def test_a_hanging_metrics_url_does_not_stop_gpu_sampling():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        scraper = ServerScraper(f"http://127.0.0.1:{httpd.server_port}/metrics", timeout_s=0.5)
        gpu_sampler = Sampler(NvmlSource(module=fake_nvml.make(gpus=1)), rate_hz=20, max_consecutive_errors=3)
        server_sampler = Sampler(NoGpus(), rate_hz=20, server=scraper, max_consecutive_errors=3)
        rec = Recording(gpu_sampler, server_sampler=server_sampler).start()
        time.sleep(2.0)
        gpu, server = rec.snapshot()
        assert len(gpu) >= 25  # ~40 at 20 Hz: the GPU loop never waited on the server
        assert server.empty and rec.running  # failed scrapes are noted, they do not end the recording
        assert any("no usable answer" in e for e in rec.last_errors(10))
        rec.stop()
    finally:
        httpd.shutdown()


def test_one_sampler_scrapes_gpus_and_server_in_separate_threads():
    server = FakeVllm().load(tokens_per_s=1000)
    try:
        sampler = Sampler(NvmlSource(module=fake_nvml.make(gpus=1)), rate_hz=20, server=ServerScraper(server.url))
        rec = Recording(sampler).start()
        assert wait_for(lambda: len(rec.snapshot()[1]) >= 3 and len(rec.snapshot()[0]) >= 3)
        names = {t.name for t in threading.enumerate()}
        assert {"aif-sampler", "aif-scraper"} <= names
        rec.stop()
        assert wait_for(lambda: not sampler.running)
    finally:
        server.close()


def test_a_transient_nvml_error_is_not_a_lost_gpu():
    fake = fake_nvml.make(gpus=1, flaky={"power": 2})
    source = NvmlSource(module=fake)
    first = source.read()
    assert len(first) == 1 and first[0].power_w is None and first[0].temp_c == 61  # other metrics kept
    assert any("power" in w for w in source.drain_warnings())
    source.read()
    third = source.read()
    assert third[0].power_w == 300.0 and not source.lost  # the GPU was never given up


def test_a_gpu_unreadable_five_times_in_a_row_is_lost():
    fake = fake_nvml.make(gpus=2, flaky={m: 1000 for m in ("power", "energy", "limit", "clock", "util", "memory",
                                                            "temp")})
    source = NvmlSource(module=fake)
    for _ in range(4):
        assert source.read() == [] and not source.lost
    with pytest.raises(Exception, match="unreadable 5 times"):
        source.read()


def test_recording_limit_uses_the_monotonic_clock(monkeypatch):
    sampler = Sampler(NvmlSource(module=fake_nvml.make(gpus=1)), rate_hz=50)
    rec = Recording(sampler, max_duration_s=0.5).start()
    monkeypatch.setattr(time, "time", lambda: 4e9)  # the wall clock jumps (NTP, DST): no effect
    time.sleep(0.2)
    assert rec.running
    assert wait_for(lambda: not rec.running, 3.0)
    assert "recording limit" in rec.stopped_reason and sampler.users == 0


def test_live_record_keeps_only_the_deployments_gpus():
    meta = {"system": "h100-sxm", "model": "llama-3.1-8b", "precision": "fp8", "isl": 100, "osl": 100, "tp": 2}
    fake = fake_nvml.make(gpus=4, power_w=[100, 200, 300, 400])
    session = live.record(0.6, meta, rate_hz=20, nvml_module=fake)
    assert sorted(session.gpu["gpu"].unique()) == ["0", "1"] and session.metadata["gpus"] == 2
    assert fake.state["shutdown"] == 1  # the recording closed its NVML handle
    session = live.record(0.6, meta, rate_hz=20, nvml_module=fake_nvml.make(gpus=4), gpus=["3", "1"])
    assert sorted(session.gpu["gpu"].unique()) == ["1", "3"]
    with pytest.raises(Exception, match="uses 8 GPUs"):
        live.record(0.6, {**meta, "tp": 8}, nvml_module=fake_nvml.make(gpus=4))
    with pytest.raises(Exception, match="duration"):
        live.record(float("nan"), meta, nvml_module=fake_nvml.make(gpus=4))
