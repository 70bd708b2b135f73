"""Calibration page: record GPU telemetry (NVML on this machine, a fleet through Prometheus, or a replayed
recording) while an inference server runs, turn it into operating points, fit the model's efficiency factors to
them and apply the fitted profile to every page.

The recording runs in a background sampler (factory_model.calibration.sampler) owned by this browser session;
a fragment redraws the live view every second without rerunning the page. Everything else is package calls.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import streamlit as st

import factory_model as fm
from factory_model import safe_fetch
from factory_model.calibration import benchmarks, fit, live
from factory_model.calibration import session as sessions
from factory_model.calibration.operating_point import operating_points
from factory_model.calibration.sampler import NoGpus, Recording, Sampler
from factory_model.calibration.server_metrics import ServerScraper, output_token_rates
from factory_model.calibration.synthetic import SAMPLE_PATH_NAME
from factory_model.catalog import DATA_DIR
from factory_model.errors import FactoryModelError
from pages import charts, ui

SOURCES = {"replay": "Replay a recording", "nvml": "This machine's GPUs (NVML)",
           "prometheus": "Fleet via Prometheus (DCGM exporter)", "benchmark": "Import benchmark results"}
SAMPLE = DATA_DIR / "sessions" / SAMPLE_PATH_NAME
LIVE_RATE_HZ = 2.0
REPLAY_RATE_HZ = 4.0
MAX_RECORDING_S = 3600.0  # a recording whose tab was closed stops by itself (monotonic clock)
MAX_SAMPLER_S = 4 * 3600.0  # a shared sampler nobody released (a crashed session) stops by itself too


# ------------------------------------------------------------------------------------------ helpers


@st.cache_data(show_spinner=False, max_entries=8)
def _load_session(raw: bytes, name: str) -> sessions.Session:
    return sessions.load(raw, name)


@st.cache_data(show_spinner="Fitting…", max_entries=16)
def _calibrate_session(raw: bytes, name: str) -> fit.CalibrationResult:
    return fit.calibrate(sessions.load(raw, name), name, catalog=ui.base_catalog())


@st.cache_data(show_spinner="Fitting…", max_entries=16)
def _calibrate_points(points: pd.DataFrame, name: str, provenance: dict) -> fit.CalibrationResult:
    return fit.calibrate_points(points, name, provenance, catalog=ui.base_catalog())


def _deployment_form(sc: ui.Scenario, *, with_concurrency: bool) -> dict:
    """What runs on the GPUs (stored with the recording; the model needs it to compare)."""
    cat = ui.base_catalog()
    systems, models, precisions = list(cat.systems), list(cat.models), list(cat.precisions)
    first = sc.systems[0] if sc.systems else "h100-sxm"
    c = st.columns(4)
    meta = {"system": c[0].selectbox("System", systems, index=systems.index(first), key="calib_system"),
            "model": c[1].selectbox("Model", models, index=models.index(sc.model), key="calib_model"),
            "precision": c[2].selectbox("Precision", precisions, index=precisions.index("fp8"), key="calib_precision"),
            "tp": int(c[3].number_input("Tensor parallel (tp)", 1, 72, 1, key="calib_tp"))}
    c = st.columns(4)
    meta["isl"] = int(c[0].number_input("Input tokens per request", 1, 1_048_576, sc.isl, key="calib_isl"))
    meta["osl"] = int(c[1].number_input("Output tokens per request", 1, 262_144, sc.osl, key="calib_osl"))
    meta["ep"] = int(c[2].number_input("Expert parallel (ep)", 1, 72, 1, key="calib_ep"))
    meta["dp_attention"] = int(c[3].number_input("Attention data parallel", 1, 72, 1, key="calib_dp"))
    if with_concurrency:
        meta["concurrency"] = float(st.number_input("Requests in flight now (your load generator's concurrency)",
                                                    1, 100_000, 16, key="calib_concurrency"))
    return meta


@st.cache_resource(show_spinner=False)
def _live_samplers() -> tuple[dict[tuple, Sampler], threading.Lock]:
    """Live samplers of this server process: one per GPU source (one NVML handle, one Prometheus URL) and one per
    inference-server metrics URL, shared by every browser session; each session records on them through its own
    :class:`Recording` (own rows, phases, GPU selection, stop). Reference-counted: the last Stop closes them."""
    return {}, threading.Lock()


def _shared(registry: dict, key: tuple, make) -> Sampler:
    for stale in [k for k, v in registry.items() if not v.usable and not v.users]:  # closed: drop, bounded
        del registry[stale]
    sampler = registry.get(key)
    if sampler is None or not sampler.usable:
        sampler = registry[key] = make()
    return sampler


def _gpu_selection(text: str, available: list[str], deployment_gpus: int) -> list[str] | None:
    """The GPUs this deployment runs on: '0,1' as typed, or (blank) the first tp × dp × pp GPUs."""
    if not available:  # a fleet: every GPU Prometheus knows
        return None
    if not text.strip():
        if deployment_gpus > len(available):
            raise FactoryModelError(f"the deployment uses {deployment_gpus} GPUs but this machine has "
                                    f"{len(available)}; lower tp/dp/pp or list the GPUs to record")
        return available[:deployment_gpus]
    chosen = [g.strip() for g in text.split(",") if g.strip()]
    unknown = [g for g in chosen if g not in available]
    if unknown or len(chosen) > 1024:
        raise FactoryModelError(f"GPUs to record: '{(unknown or chosen)[0][:10]}' is not a GPU of this machine; "
                                f"choose from {', '.join(available[:16])}")
    return list(dict.fromkeys(chosen))


def _new_recording(kind: str, prometheus_url: str, metrics_url: str, gpu_text: str, deployment_gpus: int
                   ) -> Recording:
    registry, lock = _live_samplers()
    with lock:
        sampler = _shared(registry, (kind, prometheus_url),
                          lambda: Sampler(live.make_source(prometheus_url or None), rate_hz=LIVE_RATE_HZ,
                                          max_duration_s=MAX_SAMPLER_S))
        scraper = None
        if metrics_url:
            scraper = _shared(registry, ("server", metrics_url),
                              lambda: Sampler(NoGpus(), rate_hz=LIVE_RATE_HZ, server=ServerScraper(metrics_url),
                                              max_duration_s=MAX_SAMPLER_S))
        available = sampler.source.gpu_ids() if hasattr(sampler.source, "gpu_ids") else []
        gpus = _gpu_selection(gpu_text, available, deployment_gpus)
        return Recording(sampler, gpus=gpus, max_duration_s=MAX_RECORDING_S, server_sampler=scraper).start()


def _start(sampler: Sampler | Recording, metadata: dict, label: str, recording: sessions.Session | None = None
           ) -> None:
    previous = st.session_state.get("calib_run")
    if previous and previous["sampler"] is not sampler:
        _stop_run()
    st.session_state["calib_run"] = {"sampler": sampler.start(), "metadata": metadata, "label": label,
                                     "done": False, "recording": recording}
    st.session_state.pop("calib_analysis", None)


def _stop_run() -> None:
    run = st.session_state.get("calib_run")
    if run and not run["done"]:
        run["sampler"].stop("stopped by the user")
        _finish(run)


def _session_so_far(run: dict) -> sessions.Session:
    """What the run has recorded up to now, as a session."""
    recording = run.get("recording")
    if recording is not None:  # a replay: the recording itself up to where the replay got, at full resolution
        # (the sampler saw one snapshot per tick, too coarse at high replay speeds)
        until = run["sampler"].source.clock.now()
        return sessions.Session(recording.metadata, recording.table[recording.table["t_s"] <= until]
                                .reset_index(drop=True), list(recording.notes))
    meta = {k: v for k, v in run["metadata"].items() if k != "concurrency"}
    return live.session_from_sampler(run["sampler"], meta)


def _finish(run: dict) -> None:
    """The run ended (stopped, finished or failed): keep what was recorded as the session to analyse."""
    run["done"] = True
    if isinstance(run["sampler"], Recording):
        run["sampler"].stop("finished")  # releases the shared sampler; the last user's release closes NVML
    else:
        try:
            run["sampler"].source.close()  # a replay's private source
        except Exception:  # noqa: BLE001 - closing a source must never break the page
            pass
    try:
        st.session_state["calib_analysis"] = {"kind": "session", "raw": sessions.to_bytes(_session_so_far(run)),
                                              "name": run["label"]}
    except FactoryModelError as exc:
        st.session_state["calib_analysis"] = {"kind": "error", "message": str(exc)}


def _model_lines(points: pd.DataFrame, factors: dict) -> pd.DataFrame:
    """The deployment's curve (per set of factors) and the searched frontier of the matching scenario."""
    first = points.iloc[0]
    curves = fit.deployment_curves(points, factors, catalog=ui.base_catalog())
    try:
        frontier = ui.search_frontier(str(first["system"]), str(first["model"]), str(first["precision"]), int(first["isl"]),
                                int(first["osl"]), "best", None, None, 0, 0.0, "",
                                st.session_state["_scenario"].calibration)
    except FactoryModelError:
        frontier = pd.DataFrame()
    if len(frontier):
        curves = pd.concat([curves, frontier[["concurrency", "tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
                                              "ttft_s", "tpot_s"]].assign(factors="frontier")], ignore_index=True)
    return curves


def _live_view() -> None:
    run = st.session_state.get("calib_run")
    if not run:
        return
    sampler = run["sampler"]
    gpu, server = sampler.snapshot()
    if sampler.running:
        state = "recording"
    else:
        reason = sampler.stopped_reason or "stopped"
        state = "finished" if reason == "replay finished" else "failed" if reason.startswith("stopped after") \
            else "time limit" if "limit" in reason else "stopped"
    c = st.columns(5)
    c[0].metric("Status", state, help=None if sampler.running else reason)
    c[1].metric("Readings", f"{len(gpu):,}", help="GPU readings in the buffer (one per GPU per sample)")
    gpus = gpu["gpu"].nunique() if len(gpu) else 0
    c[2].metric("GPUs", gpus)
    latest = gpu.groupby("gpu").tail(1) if len(gpu) else gpu
    total_w = float(latest["power_w"].sum()) if len(latest) and latest["power_w"].notna().any() else np.nan
    c[3].metric("GPU power now", "–" if np.isnan(total_w) else f"{total_w:,.0f} W")
    rates = output_token_rates(server)
    tokens = float(rates["output_tokens_per_s"].iloc[-1]) if len(rates) else np.nan
    c[4].metric("Output tokens/s", "–" if np.isnan(tokens) else f"{tokens:,.0f}",
                help="Rate of the server's generated-token counter between its last two snapshots "
                     "(output token basis)." + ("" if np.isnan(tokens) or np.isnan(total_w) else
                                                f" {tokens / (total_w / 1e6):,.0f} output tokens/s per MW of GPU "
                                                f"power (GPU boards only: no host, network or cooling)."))
    tdp = ui.base_catalog().systems.get(run["metadata"].get("system", ""))
    left, right = st.columns(2)
    left.plotly_chart(charts.telemetry_figure(gpu, server, tdp_w=tdp.gpu_tdp_w if tdp else None), theme=None,
                      key="calib_live_chart", config={"displaylogo": False})
    with right:
        try:
            session = _session_so_far(run)
            points = operating_points(session, ui.base_catalog())
            lines = _model_lines(points, {"reference fit": ui.profile_factors(
                st.session_state["_scenario"].calibration) or fm.load_factors()})
            st.plotly_chart(charts.calibration_figure(points, lines, synthetic=session.synthetic), theme=None,
                            key="calib_live_points", config={"displaylogo": False})
        except FactoryModelError as exc:
            st.info(f"No operating point yet: {exc}")
    for message in sampler.last_errors(3):
        st.caption(f"⚠ {message}")
    if not sampler.running and not run["done"]:
        _finish(run)
        st.rerun()  # redraw the page without the auto-refresh, with the analysis


def _profile_block(result: fit.CalibrationResult) -> None:
    text = fit.profile_yaml(result)
    c = st.columns(3)
    if c[0].button("Apply to every page", key="calib_apply", type="primary", icon=":material/check:"):
        ui.add_calibration_profile(result.name, text)
        st.rerun()
    c[1].download_button("Download profile (YAML)", text, file_name=f"{result.name}.yaml", mime="application/x-yaml",
                         key="calib_profile_download", on_click="ignore", icon=":material/download:")
    analysis = st.session_state.get("calib_analysis", {})
    if analysis.get("kind") == "session":
        c[2].download_button("Download recording (CSV)", analysis["raw"], file_name=f"{result.name}.csv",
                             mime="text/csv", key="calib_recording_download", on_click="ignore",
                             icon=":material/save:")


def _show_result(result: fit.CalibrationResult) -> None:
    synthetic = bool(result.provenance.get("synthetic"))
    if synthetic:
        st.warning("SYNTHETIC data: generated by the model plus noise, not measured on GPUs. The fit shows the "
                   "method recovering known factors; it says nothing about real hardware.")
    points = result.points
    st.subheader("Operating points")
    shown = ["phase", "concurrency", "output_tokens_per_s_per_gpu", "tokens_per_s_per_user", "ttft_s", "tpot_s",
             "power_w_per_gpu", "power_fraction_of_tdp", "tokens_per_joule", "tokens_per_s_per_mw"]
    st.dataframe(points[shown], hide_index=True, width="stretch",
                 column_config={"power_fraction_of_tdp": st.column_config.NumberColumn(format="percent")})
    st.caption("Output token basis. tokens_per_s_per_mw uses the measured GPU power scaled to the catalog's all-in "
               "power per GPU (measured W × all-in kW per GPU / TDP).")

    st.subheader("Fit")
    fitted = pd.DataFrame({"factor": [".".join(p[2:]) + f" ({p[0]}, {p[1]})" for p in result.parameters],
                           "reference fit": result.prior, "calibrated": result.fitted})
    st.dataframe(fitted, hide_index=True)
    c = st.columns(3)
    for col, (key, title) in zip(c, (("tpot", "TPOT"), ("ttft", "TTFT"),
                                     ("output_tokens_per_s_per_gpu", "tokens/s per GPU"))):
        before = result.error_before_pct[f"{key}_mdape_pct"]
        after = result.error_after_pct[f"{key}_mdape_pct"]
        col.metric(f"{title} median error", f"{after:.1f} %", f"{after - before:+.1f} pts vs reference fit",
                   delta_color="inverse")
    power = result.power
    if np.isfinite(power.get("measured_w_per_gpu_mean", np.nan)):
        st.caption(f"Measured GPU power {power['measured_w_per_gpu_mean']:.0f} W per GPU = "
                   f"{power['fraction_of_tdp']:.0%} of the {power['tdp_w']:.0f} W TDP the catalog budgets.")
    curves = _model_lines(points, {"reference fit": fm.load_factors(), "calibrated": result.factors()})
    sc = st.session_state["_scenario"]
    st.plotly_chart(charts.calibration_figure(points, curves, synthetic=synthetic, present=sc.present), theme=None,
                    key="calib_fit_chart", config={"displaylogo": False})
    with st.expander("Measured vs model, per point"):
        st.dataframe(result.comparison, hide_index=True, width="stretch")
    _profile_block(result)


# ------------------------------------------------------------------------------------------------ page

sc = ui.scenario()
st.title("Live calibration")
st.caption("Measure GPUs while an inference server runs, turn the recording into operating points (throughput, "
           "TTFT, TPOT, power per phase), fit the model's efficiency factors to them, and apply the profile to "
           "every page. Recordings calibrate only their own system, model and precision.")

profiles = ui.calibration_profiles()
if profiles:
    active = sc.calibration_profile
    st.info(f"Applied now: {active.describe()}" if active else
            f"{len(profiles)} profile(s) in this session; choose one under Calibration in the sidebar.")

kind = st.segmented_control("Source", list(SOURCES), format_func=SOURCES.get, default="replay", key="calib_source",
                            required=True) or "replay"
run = st.session_state.get("calib_run")
running = bool(run and not run["done"])

if kind == "replay":
    choice = st.radio("Recording", ["sample", "upload"], horizontal=True, key="calib_recording",
                      format_func={"sample": "Bundled sample (SYNTHETIC)", "upload": "Upload (CSV or Parquet)"}.get)
    recording = None
    if choice == "sample":
        raw, name = SAMPLE.read_bytes(), SAMPLE.stem
    else:
        upload = st.file_uploader("Session recording", type=["csv", "parquet"], key="calib_upload")
        raw, name = (upload.getvalue(), upload.name.rsplit(".", 1)[0]) if upload else (None, "")
    if raw is not None:
        try:
            recording = _load_session(raw, name)
        except FactoryModelError as exc:
            st.error(str(exc))
    if recording is not None:
        st.caption(recording.describe())
        for note in recording.notes:
            st.caption(f"⚠ {note}")
        c = st.columns([2, 1, 1, 1])
        speed = c[0].slider("Replay speed (× real time)", 1, 120, 30, key="calib_speed")
        if c[1].button("Replay", icon=":material/play_arrow:", disabled=running, key="calib_replay"):
            clock = sessions.ReplayClock(float(recording.table["t_s"].min()), float(speed))
            _start(Sampler(sessions.ReplaySource(recording, clock=clock), rate_hz=REPLAY_RATE_HZ,
                           server=sessions.ReplayServer(recording, clock), max_duration_s=MAX_RECORDING_S),
                   dict(recording.metadata), name, recording)
            running = True
        if c[2].button("Analyse all", icon=":material/functions:", key="calib_analyse",
                       help="Fit the whole recording now, without replaying it"):
            _stop_run()
            st.session_state.pop("calib_run", None)
            running = False
            st.session_state["calib_analysis"] = {"kind": "session", "raw": raw, "name": name}
        if c[3].button("Stop", icon=":material/stop:", disabled=not running, key="calib_stop_replay"):
            _stop_run()
            running = False

elif kind in ("nvml", "prometheus"):
    url = ""
    if not safe_fetch.enabled():
        st.info("Fetching URLs from this server is off (fleet via Prometheus, inference-server metrics): "
                f"the operator enables it with {safe_fetch.ENV_ALLOW}, an allow-list of hosts (README, Security).")
    if kind == "prometheus":
        url = st.text_input("Prometheus URL", "http://127.0.0.1:9090", key="calib_prometheus_url", max_chars=2048,
                            help="A Prometheus that scrapes the DCGM exporter on every node (fleet scale); "
                                 "only hosts on the server's allow-list are fetched.")
    metrics_url = st.text_input("Inference server metrics URL (optional)", "", key="calib_metrics_url",
                                placeholder="http://127.0.0.1:8000/metrics", max_chars=2048,
                                help="vLLM, SGLang, Dynamo or TensorRT-LLM /metrics; without it only power is "
                                     "recorded (no throughput, no fit). Only allow-listed hosts are fetched.")
    gpu_text = ""
    if kind == "nvml":
        gpu_text = st.text_input("GPUs to record (optional)", "", key="calib_gpus", max_chars=200,
                                 placeholder="e.g. 0,1 — blank: the first tp × dp × pp GPUs",
                                 help="Only these GPUs' power counts, so W/GPU is per GPU of this deployment.")
    meta = _deployment_form(sc, with_concurrency=True)
    c = st.columns(3)
    if c[0].button("Start recording", icon=":material/fiber_manual_record:", disabled=running, key="calib_start"):
        try:
            recording = _new_recording(kind, url, metrics_url, gpu_text,
                                       meta["tp"] * meta["dp_attention"])
            recording.set_phase(f"c{meta['concurrency']:g}", meta["concurrency"])
            _start(recording, {**meta, "server": metrics_url}, f"{kind}-{meta['system']}-{meta['model']}")
            running = True
        except FactoryModelError as exc:
            st.error(str(exc))
    if c[1].button("New phase at this concurrency", icon=":material/skip_next:", disabled=not running,
                   key="calib_phase", help="Start a new operating point after changing the load generator's "
                                           "concurrency (set it above first)."):
        run = st.session_state["calib_run"]
        run["sampler"].set_phase(f"c{meta['concurrency']:g}", meta["concurrency"])
    if c[2].button("Stop", icon=":material/stop:", disabled=not running, key="calib_stop"):
        _stop_run()
        running = False

else:  # benchmark import
    st.caption("vLLM `bench serve` result JSON (one object, a list, or JSON lines), or a CSV in the reference "
               "measured-points format. Throughput and latency only: no power.")
    upload = st.file_uploader("Benchmark results", type=["json", "jsonl", "csv"], key="calib_bench_upload")
    meta = _deployment_form(sc, with_concurrency=False)
    if upload is not None and st.button("Fit these results", icon=":material/functions:", key="calib_bench_fit"):
        try:
            if upload.name.lower().endswith(".csv"):
                points = benchmarks.import_points_csv(upload)
            else:
                points = benchmarks.import_vllm_bench(upload.getvalue(), system=meta["system"], model=meta["model"],
                                                      precision=meta["precision"], tp=meta["tp"], ep=meta["ep"],
                                                      dp_attention=meta["dp_attention"])
            st.session_state["calib_analysis"] = {"kind": "points", "points": points,
                                                  "name": upload.name.rsplit(".", 1)[0]}
        except FactoryModelError as exc:
            st.error(str(exc))

with st.expander("Load a calibration profile (YAML)"):
    profile_file = st.file_uploader("Profile", type=["yaml", "yml"], key="calib_profile_upload")
    if profile_file is not None and st.button("Apply this profile", key="calib_profile_apply"):
        text = profile_file.getvalue().decode("utf-8", errors="replace")
        try:
            loaded = fit.load_profile(text, ui.base_catalog())
            ui.add_calibration_profile(loaded.name, text)
            st.rerun()
        except FactoryModelError as exc:
            st.error(str(exc))

if st.session_state.get("calib_run"):
    st.subheader("Live view")
    st.caption(st.session_state["calib_run"]["sampler"].source.describe())
    st.fragment(_live_view, run_every=1.0 if running else None)()

analysis = st.session_state.get("calib_analysis")
if analysis and not running:
    try:
        if analysis["kind"] == "error":
            raise FactoryModelError(analysis["message"])
        if analysis["kind"] == "session":
            result = _calibrate_session(analysis["raw"], analysis["name"])
        else:
            result = _calibrate_points(analysis["points"], analysis["name"],
                                       {"server": "benchmark import", "synthetic": False})
        _show_result(result)
    except FactoryModelError as exc:
        st.error(str(exc))
