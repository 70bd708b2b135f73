"""Shared view code of the dashboard: the sidebar controls, URL state, cached model calls, colours.

Not a page (app.py lists the pages explicitly with st.navigation). Every control has a key that is also its URL
query parameter (``bind="query-params"``), so a copied link reopens the same view; parameters that fail
validation are dropped with a visible notice before the widgets read them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import factory_model as fm
from factory_model import custom
from factory_model.economics import PRICE_CURVES, options as economics_options
from factory_model.errors import FactoryModelError
from factory_model.pareto import value_at

AUTO = "auto"
CUSTOM_WORKLOAD = "custom"
DEFAULT_SYSTEMS = ["h200-sxm", "b200-sxm", "gb200-nvl72", "gb300-nvl72"]
GENERATIONS = ["h100-sxm", "h200-sxm", "b200-sxm", "gb200-nvl72", "b300-sxm", "gb300-nvl72", "rubin-nvl72"]
SERVING = {"best": "Best of both", "agg": "Aggregated", "disagg": "Disaggregated"}
PALETTE = {  # one colour per architecture, the same on every page and in every export
    "h100-sxm": "#8c8c8c", "h200-sxm": "#4d4d4d", "b200-sxm": "#76b900", "gb200-nvl72": "#2e7d32",
    "b300-sxm": "#1e88e5", "gb300-nvl72": "#0d47a1", "rubin-nvl72": "#8e24aa", "mi300x": "#e53935",
    "mi325x": "#f4511e", "mi355x": "#b71c1c",
}
EXTRA_COLOURS = ["#ff8f00", "#00897b", "#6d4c41", "#c2185b", "#3949ab", "#7cb342"]
NUMBER_LIMITS = {"mw": (0.1, 100_000.0), "isl": (1, 1_048_576), "osl": (1, 262_144), "pue": (1.0, 3.0),
                 "ttft_max_s": (0.0, 600.0), "min_tps": (0.0, 5000.0), "mtp": (0, 8), "mtp_acc": (0.0, 1.0),
                 "price_in": (0.0, 1000.0), "price_out": (0.0, 1000.0), "util": (0.05, 1.0),
                 "gpu_hour": (0.0, 100.0), "kwh": (0.0, 2.0), "at": (1.0, 5000.0)}


def colour(system_id: str) -> str:
    if system_id in PALETTE:
        return PALETTE[system_id]
    digest = int(hashlib.sha1(system_id.encode()).hexdigest(), 16)
    return EXTRA_COLOURS[digest % len(EXTRA_COLOURS)]


# ------------------------------------------------------------------------------------------- catalog


def custom_entries() -> tuple[list, list]:
    """User-defined systems and models of this session."""
    return st.session_state.setdefault("custom_systems", []), st.session_state.setdefault("custom_models", [])


def custom_yaml() -> str:
    systems, models = custom_entries()
    return custom.to_yaml(systems, models) if (systems or models) else ""


@st.cache_resource(show_spinner=False)
def base_catalog() -> fm.Catalog:
    return fm.load_catalog()


@st.cache_resource(show_spinner=False, max_entries=64)
def _catalog_with(custom_text: str) -> fm.Catalog:
    catalog = base_catalog()
    if not custom_text:
        return catalog
    systems, models = custom.from_yaml(custom_text)
    return custom.with_custom(catalog, systems, models)


def catalog() -> fm.Catalog:
    return _catalog_with(custom_yaml())


def label(system_id: str) -> str:
    s = catalog().systems.get(system_id)
    if s is None:
        return system_id
    tag = " (user-defined)" if s.user_defined else " (preliminary)" if s.preliminary else ""
    return f"{s.name.split(' (')[0]}{tag}"


def auto_precision(system_id: str, model_id: str) -> str:
    """The precision a well-tuned deployment picks: NVFP4 where FP4 tensor cores exist (or the model ships
    4-bit), else FP8."""
    system, model = catalog().system(system_id), catalog().model(model_id)
    if system.peak_dense_tflops.get("fp4") or model.native_precision == "nvfp4":
        return "nvfp4"
    return "fp8"


# ------------------------------------------------------------------------------------------ URL state


def _valid(key: str, value: str, cat: fm.Catalog) -> bool:
    options = {
        "model": set(cat.models), "precision": {AUTO, *cat.precisions},
        "workload": {CUSTOM_WORKLOAD, *cat.workloads}, "serving": set(SERVING), "price_curve": set(PRICE_CURVES),
        "cost_basis": {"tier", "buildup"}, "tier": {"hyperscaler", "neocloud", "rental"},
        "present": {"true", "false"}, "xlog": {"true", "false"}, "power_basis": {"catalog", "pue"},
        "y_metric": {"per_mw", "per_gpu"},
    }
    if key == "systems":
        return value in cat.systems
    if key in options:
        return value in options[key]
    if key in NUMBER_LIMITS:
        try:
            number = float(value)
        except ValueError:
            return False
        lo, hi = NUMBER_LIMITS[key]
        return lo <= number <= hi
    return True


def check_query_params() -> None:
    """Drop URL parameters that are malformed or unknown values, and say so on the page."""
    cat = catalog()
    bad = []
    for key in list(st.query_params.keys()):
        values = st.query_params.get_all(key)
        if not all(_valid(key, v, cat) for v in values):
            bad.append(f"{key}={','.join(values)}")
            try:
                del st.query_params[key]
            except Exception:  # noqa: BLE001 - a bound parameter may refuse deletion; the widget ignores it
                pass
    if bad:
        st.session_state["url_notice"] = ("Ignored invalid link parameter(s): " + "; ".join(bad)
                                          + " — defaults are used instead.")


# ----------------------------------------------------------------------------------------- the sidebar


@dataclass(frozen=True)
class Scenario:
    systems: tuple[str, ...]
    model: str
    precision: str
    isl: int
    osl: int
    serving: str
    mw: float
    pue: float | None
    ttft_max_s: float | None
    min_tokens_per_s_per_user: float | None
    mtp_tokens: int
    mtp_acceptance: float
    economics: fm.EconomicsOptions
    x_log: bool
    per_mw: bool
    present: bool
    calibration: str = ""  # YAML of the calibration profile applied to the model ("" = the default profile)

    @property
    def calibration_profile(self):
        return profile(self.calibration) if self.calibration else None

    def precision_for(self, system_id: str) -> str:
        return auto_precision(system_id, self.model) if self.precision == AUTO else self.precision

    def describe(self) -> str:
        e = self.economics
        parts = [f"model {self.model}", f"precision {self.precision}", f"ISL {self.isl} / OSL {self.osl} tokens",
                 f"serving {SERVING[self.serving].lower()}", f"{self.mw:g} MW all-in"
                 + (f" (PUE {self.pue:g} on IT power)" if self.pue else " (catalog kW/GPU)")]
        if self.ttft_max_s:
            parts.append(f"TTFT ≤ {self.ttft_max_s:g} s")
        if self.min_tokens_per_s_per_user:
            parts.append(f"≥ {self.min_tokens_per_s_per_user:g} tok/s/user")
        if self.mtp_tokens:
            parts.append(f"MTP {self.mtp_tokens} drafts @ {self.mtp_acceptance:.0%}")
        parts.append(f"{e.price_curve} prices, utilisation {e.utilisation:.0%}, cost {e.cost_basis}"
                     + (f" ({e.gpu_hour_tier})" if e.cost_basis == "tier" else ""))
        if self.calibration:
            parts.append(f"calibration: {self.calibration_profile.describe()}")
        return "; ".join(parts)


def sidebar() -> Scenario:
    """Draw the shared controls (in app.py, before the page runs) and return the scenario they describe."""
    cat = catalog()
    custom_systems, _ = custom_entries()
    system_ids = list(cat.systems)
    # a What-if action may ask to (de)select a system; session state of a widget can change only before it is drawn
    if "_select_system" in st.session_state or "_deselect_system" in st.session_state:
        chosen = [s for s in st.session_state.get("systems", DEFAULT_SYSTEMS) if s in system_ids]
        add, drop = st.session_state.pop("_select_system", None), st.session_state.pop("_deselect_system", None)
        st.session_state["systems"] = [s for s in chosen if s != drop] + ([add] if add and add not in chosen else [])
    with st.sidebar:
        st.markdown("### Scenario")
        preset = "systems" in st.session_state  # set by What-if: passing a default as well would warn
        systems = st.multiselect("Systems", system_ids,
                                 default=None if preset else [s for s in DEFAULT_SYSTEMS if s in system_ids],
                                 key="systems", bind="query-params",
                                 help="Architectures overlaid on every chart (colour per architecture).")
        model_ids = list(cat.models)
        model = st.selectbox("Model", model_ids, index=model_ids.index("deepseek-r1"), key="model",
                             bind="query-params")
        st.caption(cat.models[model].name + (" · user-defined" if cat.models[model].user_defined else ""))
        precisions = [AUTO, *cat.precisions]
        precision = st.selectbox("Precision", precisions, key="precision", bind="query-params",
                                 help="auto: NVFP4 on GPUs with FP4 tensor cores, FP8 before. NVFP4 on a GPU "
                                      "without FP4 tensor cores runs weight-only (W4A16).")
        workloads = list(cat.workloads) + [CUSTOM_WORKLOAD]
        workload = st.selectbox("Workload", workloads, index=workloads.index("reasoning"), key="workload",
                                bind="query-params", help="chat 1k/1k, reasoning 1k/8k, summarisation 8k/1k, "
                                                          "agentic-long-context 32k/8k, or custom lengths")
        if workload == CUSTOM_WORKLOAD:
            c1, c2 = st.columns(2)
            isl = int(c1.number_input("Input tokens", *NUMBER_LIMITS["isl"], value=2048, step=256, key="isl",
                                      bind="query-params"))
            osl = int(c2.number_input("Output tokens", *NUMBER_LIMITS["osl"], value=1024, step=256, key="osl",
                                      bind="query-params"))
        else:
            isl, osl = cat.workloads[workload].isl_tokens, cat.workloads[workload].osl_tokens
        mw = st.number_input("Power envelope (MW, all-in)", *NUMBER_LIMITS["mw"], value=1.0, step=1.0, key="mw",
                             bind="query-params", format="%.1f")
        serving = st.segmented_control("Serving", list(SERVING), default="best", key="serving", bind="query-params",
                                       required=True, help="; ".join(f"{k}: {v}" for k, v in SERVING.items())) \
            or "best"
        with st.expander("Service levels and speculative decoding"):
            ttft = st.number_input("Max TTFT (s, 0 = none)", *NUMBER_LIMITS["ttft_max_s"], value=0.0, step=0.5,
                                   key="ttft_max_s", bind="query-params")
            min_tps = st.number_input("Min tokens/s per user (0 = none)", *NUMBER_LIMITS["min_tps"], value=0.0,
                                      step=10.0, key="min_tps", bind="query-params")
            mtp = int(st.number_input("Draft tokens (MTP / speculative)", *NUMBER_LIMITS["mtp"], value=0, step=1,
                                      key="mtp", bind="query-params"))
            mtp_acc = st.slider("Acceptance per draft token", 0.0, 1.0, 0.7, 0.05, key="mtp_acc",
                                bind="query-params", disabled=mtp == 0)
        with st.expander("Prices, costs and power"):
            curve = st.selectbox("Price vs speed", PRICE_CURVES, index=PRICE_CURVES.index("tiered"),
                                 key="price_curve", bind="query-params",
                                 help="flat: list price; tiered: batch 0.5x, priority 2x (>80 tok/s), fast 6x "
                                      "(>200 tok/s); fitted: power law to public speed/price pairs")
            c1, c2 = st.columns(2)
            price_in = c1.number_input("Input $/1M (0 = list)", *NUMBER_LIMITS["price_in"], value=0.0, step=0.1,
                                       key="price_in", bind="query-params")
            price_out = c2.number_input("Output $/1M (0 = list)", *NUMBER_LIMITS["price_out"], value=0.0, step=0.1,
                                        key="price_out", bind="query-params")
            util = st.slider("Utilisation", 0.05, 1.0, 0.7, 0.05, key="util", bind="query-params")
            basis = st.selectbox("Cost basis", ["tier", "buildup"], key="cost_basis", bind="query-params",
                                 )
            tier = st.selectbox("TCO tier", ["hyperscaler", "neocloud", "rental"], key="tier", bind="query-params",
                                disabled=basis != "tier")
            gpu_hour = st.number_input("$/GPU-hour override (0 = tier)", *NUMBER_LIMITS["gpu_hour"], value=0.0,
                                       step=0.1, key="gpu_hour", bind="query-params", disabled=basis != "tier")
            kwh = st.number_input("Electricity $/kWh", *NUMBER_LIMITS["kwh"], value=0.08, step=0.01, key="kwh",
                                  bind="query-params", format="%.3f")
            power_basis = st.selectbox("Power per GPU", ["catalog", "pue"], key="power_basis", bind="query-params",
                                       )
            pue = st.number_input("PUE", *NUMBER_LIMITS["pue"], value=1.3, step=0.05, key="pue",
                                  bind="query-params", disabled=power_basis != "pue")
        with st.expander("View"):
            x_log = st.toggle("Log scale for tokens/s per user", value=True, key="xlog", bind="query-params")
            y_metric = st.segmented_control("Throughput axis", ["per_mw", "per_gpu"], default="per_mw",
                                            key="y_metric", bind="query-params", required=True) or "per_mw"
        calibration = calibration_control()
        present = st.toggle("Presentation mode", value=False, key="present", bind="query-params",
                            help="Hides the controls and enlarges text for a projector.")
    try:
        econ = economics_options(price_curve=curve, input_usd_per_m=price_in or None,
                                 output_usd_per_m=price_out or None, utilisation=util, cost_basis=basis,
                                 gpu_hour_tier=tier, gpu_hour_usd=gpu_hour or None, electricity_usd_per_kwh=kwh)
    except FactoryModelError as exc:  # bounded inputs make this rare; never a traceback
        st.sidebar.error(str(exc))
        econ = economics_options()
    return Scenario(tuple(systems), model, precision, isl, osl, serving, float(mw),
                    float(pue) if power_basis == "pue" else None, float(ttft) or None, float(min_tps) or None,
                    mtp, float(mtp_acc), econ, bool(x_log), y_metric == "per_mw", bool(present), calibration)


NO_PROFILE = "default (reference fit)"


def calibration_profiles() -> dict[str, str]:
    """Calibration profiles of this session (name -> YAML), from the Calibration page's fits and uploads."""
    return st.session_state.setdefault("calibration_profiles", {})


def add_calibration_profile(name: str, text: str, *, apply: bool = True) -> None:
    calibration_profiles()[name] = text
    if apply:  # the selectbox is drawn before pages run; the request is honoured on the next run
        st.session_state["_apply_profile"] = name


def calibration_control() -> str:
    """Sidebar choice of a calibration profile (only once the session has one); returns its YAML or ""."""
    profiles = calibration_profiles()
    if "_apply_profile" in st.session_state:
        st.session_state["calibration_profile"] = st.session_state.pop("_apply_profile")
    if not profiles:
        return ""
    if st.session_state.get("calibration_profile") not in (NO_PROFILE, *profiles):
        st.session_state["calibration_profile"] = NO_PROFILE
    with st.expander("Calibration", expanded=st.session_state.get("calibration_profile", NO_PROFILE) != NO_PROFILE):
        name = st.selectbox("Efficiency factors", [NO_PROFILE, *profiles], key="calibration_profile",
                            help="A profile fitted on the Calibration page (or uploaded there) overrides the "
                                 "reference fit for its system and precision, on every page.")
    return profiles.get(name, "")


@st.cache_resource(show_spinner=False, max_entries=32)
def profile(text: str):
    """A parsed calibration profile (validated when it was added)."""
    from factory_model.calibration.fit import load_profile

    return load_profile(text, base_catalog())


@st.cache_resource(show_spinner=False, max_entries=32)
def profile_factors(text: str):
    return profile(text).factors(fm.load_factors()) if text else None


def presentation_css(present: bool) -> None:
    if present:
        st.html("""<style>
        [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
        .stMainBlockContainer, .block-container {font-size: 1.25rem; max-width: 100%;}
        h1 {font-size: 2.6rem !important;} h2 {font-size: 2.0rem !important;}
        [data-testid="stMetricValue"] {font-size: 2.6rem;}
        </style>""")


# ------------------------------------------------------------------------------------- model calls


@st.cache_data(show_spinner=False, max_entries=512)
def search_frontier(system: str, model: str, precision: str, isl: int, osl: int, serving: str, ttft: float | None,
              min_tps: float | None, mtp: int, acc: float, custom_text: str, calibration: str = "") -> pd.DataFrame:
    """The search and the frontier: everything that does not depend on power or prices (cached)."""
    return fm.frontier(system, model, precision, isl, osl, serving=serving, ttft_max_s=ttft,
                       min_tokens_per_s_per_user=min_tps, mtp_tokens=mtp, mtp_acceptance=acc,
                       catalog=_catalog_with(custom_text), factors=profile_factors(calibration))


def frontier(sc: Scenario, system: str, *, precision: str | None = None, serving: str | None = None) -> pd.DataFrame:
    """One system's frontier under the scenario: the cached search, re-priced for the scenario's power and
    economics (milliseconds). Errors become an empty frame carrying the reason."""
    prec = precision or sc.precision_for(system)
    text = custom_yaml()
    try:
        frame = search_frontier(system, sc.model, prec, sc.isl, sc.osl, serving or sc.serving, sc.ttft_max_s,
                          sc.min_tokens_per_s_per_user, sc.mtp_tokens, sc.mtp_acceptance, text, sc.calibration)
        if not len(frame):
            return frame
        return fm.economics(frame, system, sc.model, sc.isl, sc.osl, mw=sc.mw, pue=sc.pue, economics=sc.economics,
                            catalog=_catalog_with(text))
    except FactoryModelError as exc:
        frame = pd.DataFrame()
        frame.attrs["reason"] = str(exc)
        return frame


def frontiers(sc: Scenario) -> dict[str, pd.DataFrame]:
    return {s: frontier(sc, s) for s in sc.systems}


def explain_empty(frames: dict[str, pd.DataFrame]) -> None:
    """One line per system that has no frontier, saying why (never a traceback)."""
    for system, frame in frames.items():
        if not len(frame):
            st.warning(f"{label(system)}: {frame.attrs.get('reason') or 'no feasible deployment'}")
        elif frame.attrs.get("note"):
            st.caption(f"{label(system)}: {frame.attrs['note']}")


def y_column(sc: Scenario) -> str:
    return "tokens_per_s_per_mw" if sc.per_mw else "output_tokens_per_s_per_gpu"


def y_title(sc: Scenario) -> str:
    return "Output tokens/s per MW (all-in)" if sc.per_mw else "Output tokens/s per GPU"


def ratio_readout(frames: dict[str, pd.DataFrame], at: float, column: str) -> str:
    """'at 50 tok/s/user: B200 = 4.1x H200, ...' against the first system that reaches ``at``."""
    values = {s: value_at(f, at, column) if len(f) else np.nan for s, f in frames.items()}
    reach = [s for s, v in values.items() if np.isfinite(v) and v > 0]
    if not reach:
        return f"No system reaches {at:g} tokens/s per user."
    base = reach[0]
    parts = [f"{label(s)} = {values[s] / values[base]:.1f}x {label(base)}" for s in reach[1:]]
    missing = [label(s) for s in values if s not in reach]
    text = f"At {at:g} tokens/s per user: " + ("; ".join(parts) if parts else f"{label(base)} only")
    if missing:
        text += f" ({', '.join(missing)} cannot serve that fast)"
    return text


def replace_custom_system(system) -> None:
    systems, _ = custom_entries()
    st.session_state["custom_systems"] = [s for s in systems if s.id != system.id] + [system]


def replace_custom_model(model) -> None:
    _, models = custom_entries()
    st.session_state["custom_models"] = [m for m in models if m.id != model.id] + [model]


def scenario() -> Scenario:
    """The scenario built by app.py's sidebar in this script run; call once per page run.

    app.py marks every run it starts; a page run without the mark was started by the legacy router and is
    bounced through app.py (:func:`require_app`).
    """
    if not st.session_state.pop("_app_ran", False):
        require_app()
    return st.session_state["_scenario"]


def require_app() -> None:
    """Rerun through app.py when Streamlit's legacy pages/ routing started this page directly.

    A server whose first visitor opens a deep link (/revenue), and every AppTest run, route the request with the
    pre-st.navigation multipage mechanism because a folder named pages/ exists (the product's layout keeps it).
    The page then runs without app.py's sidebar. Switching that mechanism off for the process and rerunning
    keeps the page and the URL; the rerun goes through app.py and st.navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.rerun()


def stop_without_systems(sc: Scenario) -> None:
    """End the page with a hint when the sidebar has no system chosen."""
    if not sc.systems:
        st.info("Choose one or more systems in the sidebar.")
        st.stop()


def frozen(sc: Scenario, **changes) -> Scenario:
    return dataclasses.replace(sc, **changes)


def downloads(fig, frame: pd.DataFrame, stem: str, key: str) -> None:
    """Download buttons for one chart: PNG and SVG (when a browser exists), interactive HTML, CSV of the data."""
    from . import exports

    cols = st.columns(4)
    if exports.static_export_available():
        def image(fmt):
            def build():
                try:
                    return exports.figure_image(fig, fmt)
                except RuntimeError as exc:  # browser vanished or failed: a text file says why
                    return f"image export failed: {exc}".encode()
            return build

        cols[0].download_button("PNG", image("png"), file_name=f"{stem}.png", mime="image/png",
                                key=f"{key}_png", on_click="ignore", icon=":material/image:")
        cols[1].download_button("SVG", image("svg"), file_name=f"{stem}.svg", mime="image/svg+xml",
                                key=f"{key}_svg", on_click="ignore", icon=":material/draw:")
    else:
        cols[0].caption("PNG/SVG export needs Chrome/Chromium (Debian: apt install chromium); HTML and CSV work.")
    cols[2].download_button("HTML", lambda: exports.figure_html(fig), file_name=f"{stem}.html", mime="text/html",
                            key=f"{key}_html", on_click="ignore", icon=":material/code:")
    cols[3].download_button("CSV", exports.frame_csv(frame), file_name=f"{stem}.csv", mime="text/csv",
                            key=f"{key}_csv", on_click="ignore", icon=":material/table:")


def frontier_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All systems' frontier rows in one table, with a readable deployment column."""
    from .charts import deployment

    parts = []
    for system, frame in frames.items():
        if not len(frame):
            continue
        f = frame.copy()
        f.insert(3, "deployment", [deployment(r) for _, r in f.iterrows()])
        parts.append(f)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
