"""Shared view code of the dashboard: the sidebar controls, URL state, cached model calls, colours.

Not a page (app.py lists the pages explicitly with st.navigation). Every control has a key that is also its URL
query parameter (``bind="query-params"``), so a copied link reopens the same view; parameters that fail
validation are dropped with a visible notice before the widgets read them.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import streamlit as st

import factory_model as fm
from factory_model import custom
from factory_model.economics import PRICE_CURVES, options as economics_options
from factory_model.errors import FactoryModelError
from factory_model.pareto import value_at

from .style import cite, colour, human, usd

AUTO = "auto"
CUSTOM_WORKLOAD = "custom"
DEFAULT_SYSTEMS = ["h200-sxm", "b200-sxm", "gb200-nvl72", "gb300-nvl72"]
GENERATIONS = ["h100-sxm", "h200-sxm", "b200-sxm", "gb200-nvl72", "b300-sxm", "gb300-nvl72", "rubin-nvl72"]
SERVING = {"best": "Best of both", "agg": "Aggregated", "disagg": "Disaggregated"}
COMPARE_AT_CHOICES = (10, 20, 30, 50, 75, 100, 150, 200, 300, 500)
MTP_CHOICES = {"auto": "Auto (calibrated MTP where the model has MTP heads)", "0": "Off",
               **{str(n): f"{n} draft token{'s' if n > 1 else ''}" for n in range(1, 9)}}
NUMBER_LIMITS = {"mw": (0.1, 100_000.0), "isl": (1, 1_048_576), "osl": (1, 262_144), "pue": (1.0, 3.0),
                 "ttft_max_s": (0.0, 600.0), "min_tps": (0.0, 5000.0), "mtp_acc": (0.0, 0.95), "at": (5.0, 500.0),
                 "price_in": (0.0, 1000.0), "price_out": (0.0, 1000.0), "util": (0.05, 1.0),
                 "gpu_hour": (0.0, 100.0), "kwh": (0.0, 2.0), "at": (1.0, 5000.0), "kw_gpu": (0.0, 20.0),
                 "demand_cap": (0.0, 1e12), "price_decline": (0.0, 0.9)}
Y_METRICS = {"per_mw": "per MW (all-in power)", "per_gpu": "per GPU"}
COST_BASES = {"tier": "$/GPU-hour tier (SemiAnalysis TCO)", "buildup": "Built up: capex + energy + facility"}
TIERS = {"hyperscaler": "Hyperscaler", "neocloud": "Neocloud", "rental": "Rental"}
POWER_BASES = {"catalog": "Catalog all-in kW/GPU", "pue": "IT power × PUE", "given": "Given kW/GPU"}


# ------------------------------------------------------------------------------------------- catalog


def custom_entries() -> tuple[list, list]:
    """User-defined systems and models of this session."""
    return st.session_state.setdefault("custom_systems", []), st.session_state.setdefault("custom_models", [])


def custom_yaml() -> str:
    systems, models = custom_entries()
    return custom.to_yaml(systems, models) if (systems or models) else ""


# functools caches, not st.cache_*: a rerun asks for the catalog ~30 times (every display label) and Streamlit's
# cache hashes its arguments on each call (~0.4 ms apiece). Catalogs are immutable and depend only on the data files
# and the session's user-defined entries (the text key).
@functools.lru_cache(maxsize=1)
def base_catalog() -> fm.Catalog:
    return fm.load_catalog()


@functools.lru_cache(maxsize=64)
def _catalog_with(custom_text: str) -> fm.Catalog:
    catalog = base_catalog()
    if not custom_text:
        return catalog
    systems, models = custom.from_yaml(custom_text)
    return custom.with_custom(catalog, systems, models)


def catalog() -> fm.Catalog:
    return _catalog_with(custom_yaml())


def labels(system_ids) -> dict[str, str]:
    """System id -> display name, for chart functions (which take labels as an argument)."""
    cat = catalog()
    return {s: label(s, cat) for s in system_ids}


def label(system_id: str, cat: fm.Catalog | None = None) -> str:
    s = (cat or catalog()).systems.get(system_id)
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
        "present": {"true", "false"}, "xlog": {"true", "false"}, "power_basis": set(POWER_BASES),
        "y_metric": {"per_mw", "per_gpu"}, "mtp": set(MTP_CHOICES),
        # page-specific widgets bound to the URL (Frontier target, Compare interactivities)
        "compare_at": {str(v) for v in COMPARE_AT_CHOICES},
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
    """Drop URL parameters that are malformed or unknown values, and say so on the page.

    A multi-valued parameter (``systems``) loses only its unknown values: a link naming a user-defined system
    of another session keeps the built-in systems it also names."""
    cat = catalog()
    bad = []
    for key in list(st.query_params.keys()):
        values = st.query_params.get_all(key)
        good = [v for v in values if _valid(key, v, cat)]
        if len(good) == len(values):
            continue
        dropped = [v for v in values if v not in good]
        hint = " (user-defined systems live in one browser session: load their YAML on What-if)" \
            if key == "systems" else ""
        bad.append(f"{key}={','.join(dropped)}{hint}")
        try:
            if good and key == "systems":
                st.query_params[key] = good
            else:
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
    mtp_tokens: int | str  # draft tokens, or "auto" (calibrated MTP for models with MTP heads)
    mtp_acceptance: float
    economics: fm.EconomicsOptions
    x_log: bool
    per_mw: bool
    present: bool
    calibration: str = ""  # YAML of the calibration profile applied to the model ("" = the default profile)
    kw_per_gpu: float | None = None  # a given all-in kW per GPU for every system (None: catalog or PUE)

    @property
    def calibration_profile(self):
        return profile(self.calibration) if self.calibration else None

    def precision_for(self, system_id: str) -> str:
        return auto_precision(system_id, self.model) if self.precision == AUTO else self.precision

    def describe(self) -> str:
        e = self.economics
        cat = catalog()
        name = cat.models[self.model].name if self.model in cat.models else self.model
        power = (f" (PUE {self.pue:g} on IT power)" if self.pue else f" ({self.kw_per_gpu:g} kW/GPU given)"
                 if self.kw_per_gpu else " (catalog kW/GPU)")
        parts = [name, "precision " + ("auto" if self.precision == AUTO else self.precision.upper()),
                 f"{self.isl:,} in / {self.osl:,} out tokens", f"serving {SERVING[self.serving].lower()}",
                 f"{self.mw:g} MW all-in" + power]
        parts.append(f"TTFT ≤ {self.ttft_max_s:g} s" if self.ttft_max_s else "TTFT ≤ 10 s (default)")
        if self.min_tokens_per_s_per_user:
            parts.append(f"≥ {self.min_tokens_per_s_per_user:g} tok/s/user")
        if self.mtp_tokens == "auto":
            parts.append("MTP auto (calibrated, where the model has MTP heads)")
        elif self.mtp_tokens:
            parts.append(f"MTP {self.mtp_tokens} drafts @ {self.mtp_acceptance:.0%}")
        parts.append(f"{e.price_curve} prices, utilisation {e.utilisation:.0%}, cost "
                     + (f"$/GPU-hour {e.gpu_hour_tier} tier" if e.cost_basis == "tier" else "built up"))
        if e.demand_cap_output_tokens_per_s:
            parts.append(f"demand cap {human(e.demand_cap_output_tokens_per_s)} output tokens/s")
        if e.price_decline_per_year:
            parts.append(f"prices −{e.price_decline_per_year:.0%}/year")
        if self.calibration:
            parts.append(f"calibration: {self.calibration_profile.describe()}")
        return "; ".join(parts)


def id_param(key: str, options: list, default, multi: bool = False) -> None:
    """Seed a widget that shows display names (format_func) from the URL's ids, once per session.

    Streamlit's ``bind="query-params"`` would put the formatted label ("NVIDIA H200 SXM") in the URL; these
    widgets keep ids in the URL instead: :func:`id_param` before drawing, :func:`publish_param` after."""
    if key not in st.session_state:
        if key in st.query_params:
            if multi:
                value = [v for v in st.query_params.get_all(key) if v in options]
            else:
                value = st.query_params.get(key)
                value = value if value in options else default
        else:
            value = default
        st.session_state[key] = value
    elif multi:
        st.session_state[key] = [v for v in st.session_state[key] if v in options]
    elif st.session_state[key] not in options:
        st.session_state[key] = default


def publish_param(key: str, value, default) -> None:
    """Write a widget's id value to the URL (removed when it equals the default, to keep links short)."""
    try:
        if value == default or value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif isinstance(value, (list, tuple)):
            st.query_params[key] = [str(v) for v in value]
        else:
            st.query_params[key] = str(value)
    except Exception:  # noqa: BLE001 - URL state is a convenience; never break the page for it
        pass


def _price_caption(cat: fm.Catalog, model: str, price_in, price_out) -> str:
    from factory_model.economics import load_prices

    book = load_prices()
    lin, lout = book.list_prices.get(model, (None, None))
    if price_in or price_out:
        return (f"In use: input ${price_in or lin or 0:.2f}, output ${price_out or lout or 0:.2f} per 1M tokens "
                f"(given here" + (f"; list {lin:.2f} / {lout:.2f}" if lin is not None else "") + ").")
    if lin is None:
        return f"{cat.models[model].name} has no list price: give input and output prices to see revenue."
    source = book.sources.get(f"{model}.output_usd_per_m", "")
    return (f"In use: list price, input ${lin:.2f} and output ${lout:.2f} per 1M tokens — "
            f"{cite(source, markdown=True)}.")


def _system_costs_caption(cat: fm.Catalog, systems, basis: str, tier: str, gpu_hour, power_basis: str,
                          pue: float, kw_gpu) -> str:
    lines = []
    for sid in systems:
        s = cat.systems.get(sid)
        if s is None:
            continue
        if power_basis == "pue":
            kw = f"{s.it_power_kw_per_gpu * pue:.2f} kW/GPU (IT {s.it_power_kw_per_gpu:g} × PUE {pue:g})"
        elif power_basis == "given" and kw_gpu:
            kw = f"{kw_gpu:.2f} kW/GPU (given)"
        else:
            kw = f"{s.all_in_power_kw_per_gpu:.2f} kW/GPU ({cite(s.sources.get('all_in_power_kw_per_gpu', ''), True)})"
        if basis == "tier":
            hour = (f"${gpu_hour:.2f}/GPU-h (given)" if gpu_hour else
                    f"${s.gpu_hour_usd[tier]:.2f}/GPU-h {tier} "
                    f"({cite(s.sources.get(f'gpu_hour_usd.{tier}', ''), True)})")
        else:
            hour = f"capex ${s.capex_usd_per_gpu:,.0f}/GPU"
        lines.append(f"- **{label(sid)}**: {hour}; {kw}")
    return "\n".join(lines)


def sidebar() -> Scenario:
    """Draw the shared controls (in app.py, before the page runs) and return the scenario they describe."""
    cat = catalog()
    system_ids = list(cat.systems)
    # a What-if action may ask to (de)select a system; session state of a widget can change only before it is drawn
    if "_select_system" in st.session_state or "_deselect_system" in st.session_state:
        chosen = [s for s in st.session_state.get("systems", DEFAULT_SYSTEMS) if s in system_ids]
        add, drop = st.session_state.pop("_select_system", None), st.session_state.pop("_deselect_system", None)
        st.session_state["systems"] = [s for s in chosen if s != drop] + ([add] if add and add not in chosen else [])
    defaults = economics_options()
    with st.sidebar:
        st.markdown("### Scenario")
        default_systems = [s for s in DEFAULT_SYSTEMS if s in system_ids]
        id_param("systems", system_ids, default_systems, multi=True)
        systems = st.multiselect("Systems", system_ids, key="systems", format_func=label,
                                 help="Architectures overlaid on every chart (one colour per architecture, the "
                                      "same on every page and export).")
        model_ids = list(cat.models)
        id_param("model", model_ids, "deepseek-r1")
        model = st.selectbox("Model", model_ids, key="model", format_func=lambda m: cat.models[m].name
                             + (" (user-defined)" if cat.models[m].user_defined else ""))
        precisions = [AUTO, *cat.precisions]
        id_param("precision", precisions, AUTO)
        precision = st.selectbox("Precision", precisions, key="precision",
                                 format_func=lambda p: "Auto (best the GPU supports)" if p == AUTO else p.upper(),
                                 help="Auto: NVFP4 on GPUs with FP4 tensor cores, FP8 before. NVFP4 on a GPU "
                                      "without FP4 tensor cores runs weight-only (W4A16).")
        workloads = list(cat.workloads) + [CUSTOM_WORKLOAD]
        id_param("workload", workloads, "reasoning")
        workload = st.selectbox("Workload", workloads, key="workload", format_func=lambda w: "Custom lengths" if w == CUSTOM_WORKLOAD
                                else f"{w.replace('-', ' ').capitalize()} ({cat.workloads[w].isl_tokens:,} in / "
                                     f"{cat.workloads[w].osl_tokens:,} out)",
                                help="Input (prompt) and output tokens per request.")
        if workload == CUSTOM_WORKLOAD:
            c1, c2 = st.columns(2)
            isl = int(c1.number_input("Input tokens", *NUMBER_LIMITS["isl"], value=2048, step=256, key="isl",
                                      bind="query-params"))
            osl = int(c2.number_input("Output tokens", *NUMBER_LIMITS["osl"], value=1024, step=256, key="osl",
                                      bind="query-params"))
        else:
            isl, osl = cat.workloads[workload].isl_tokens, cat.workloads[workload].osl_tokens
        mw = st.number_input("Power envelope (MW, all-in)", *NUMBER_LIMITS["mw"], value=1.0, step=1.0, key="mw",
                             bind="query-params", format="%.1f",
                             help="Facility power including cooling, CPUs and network (utility feed). The factory "
                                  "holds as many whole racks as fit; per-MW figures do not depend on it.")
        id_param("serving", list(SERVING), "best")
        serving = st.segmented_control("Serving", list(SERVING), key="serving",
                                       required=True, format_func=SERVING.get,
                                       help="Aggregated: prefill and decode share GPUs. Disaggregated: separate "
                                            "prefill and decode pools. Best: whichever is better at each speed.") \
            or "best"
        with st.expander("Service levels and speculative decoding"):
            ttft = st.number_input("Max time to first token (s)", *NUMBER_LIMITS["ttft_max_s"], value=0.0,
                                   step=0.5, key="ttft_max_s", bind="query-params",
                                   help="Deployments slower to the first token are dropped. 0 = the default "
                                        "limit of 10 s (a user waits at most that long for a first token).")
            min_tps = st.number_input("Min tokens/s per user", *NUMBER_LIMITS["min_tps"], value=0.0,
                                      step=10.0, key="min_tps", bind="query-params",
                                      help="Deployments slower per user are dropped. 0 = no limit.")
            id_param("mtp", list(MTP_CHOICES), "auto")
            mtp_choice = st.selectbox("MTP / speculative decoding", list(MTP_CHOICES), key="mtp",
                                      format_func=MTP_CHOICES.get,
                                      help="Auto: models that ship MTP heads (DeepSeek-R1) are searched with and "
                                           "without their calibrated MTP (3 drafts, acceptance fitted to measured "
                                           "MTP runs), as the best measured stacks run both; other models run "
                                           "without. A number: that many draft tokens per step at the "
                                           "acceptance below.")
            publish_param("mtp", mtp_choice, "auto")
            mtp = mtp_choice if mtp_choice in ("auto",) else int(mtp_choice)
            mtp_acc = st.slider("Acceptance per draft token", 0.0, 0.95, 0.7, 0.05, key="mtp_acc",
                                bind="query-params", disabled=not isinstance(mtp, int) or mtp == 0,
                                help="Probability each drafted token is accepted (with a number of drafts).")
        with st.expander("Prices, demand, costs and power"):
            id_param("price_curve", list(PRICE_CURVES), "tiered")
            curve = st.selectbox("Price vs speed", PRICE_CURVES, key="price_curve", format_func=str.capitalize,
                                 help="Flat: list price at every speed. Tiered: batch 0.5x below 20 tok/s/user, "
                                      "priority 2x from 80, fast 6x from 200 (public offerings). Fitted: a power "
                                      "law fitted to public speed/price pairs.")
            from factory_model.economics import load_prices

            lin, lout = load_prices().list_prices.get(model, (None, None))
            c1, c2 = st.columns(2)
            price_in = c1.number_input("Input $/1M tokens", *NUMBER_LIMITS["price_in"], value=None, step=0.1,
                                       key="price_in", bind="query-params",
                                       placeholder=f"list {lin:.2f}" if lin is not None else "no list price",
                                       help="Leave empty for the model's list price (shown greyed).")
            price_out = c2.number_input("Output $/1M tokens", *NUMBER_LIMITS["price_out"], value=None, step=0.1,
                                        key="price_out", bind="query-params",
                                        placeholder=f"list {lout:.2f}" if lout is not None else "no list price",
                                        help="Leave empty for the model's list price (shown greyed).")
            st.caption(_price_caption(cat, model, price_in, price_out))
            util = st.slider("Utilisation (share of hours sold)", 0.05, 1.0, defaults.utilisation, 0.05, key="util",
                             bind="query-params",
                             help="Share of the year the capacity sells tokens at the chosen operating point. "
                                  "Default 70 % is an assumption (demand, maintenance, daily load), not a source.")
            demand = st.number_input("Demand cap (M output tokens/s, whole facility)", *NUMBER_LIMITS["demand_cap"],
                                     value=None, step=1.0, key="demand_cap", bind="query-params",
                                     placeholder="none: every token sells",
                                     help="The market buys at most this many output tokens per second from the "
                                          "facility; beyond it capacity sits idle (lower utilisation sold).")
            decline = st.slider("Token price decline per year", 0.0, 0.9, 0.0, 0.05, key="price_decline",
                                bind="query-params", format="%.2f",
                                help="Prices fall by this share every year; revenue is the average over the "
                                     f"{defaults.depreciation_years:g}-year depreciation life. 0 = today's prices.")
            id_param("cost_basis", list(COST_BASES), "tier")
            basis = st.selectbox("Cost basis", list(COST_BASES), key="cost_basis",
                                 format_func=COST_BASES.get,
                                 help="Tier: all-in $/GPU-hour (SemiAnalysis AI Cloud TCO; energy and facility "
                                      "included). Built up: capex over the depreciation life + all-in kW × $/kWh + "
                                      "facility and operations.")
            id_param("tier", list(TIERS), "hyperscaler")
            tier = st.selectbox("TCO tier", list(TIERS), key="tier", format_func=TIERS.get,
                                disabled=basis != "tier",
                                help="Who owns the GPUs: hyperscaler (cheapest), neocloud, or rental (list "
                                     "price of renting).")
            gpu_hour = st.number_input("$/GPU-hour (all systems)", *NUMBER_LIMITS["gpu_hour"], value=None,
                                       step=0.1, key="gpu_hour", bind="query-params", disabled=basis != "tier",
                                       placeholder="per system, from the tier",
                                       help="Leave empty for each system's tier price (listed below).")
            kwh = st.number_input("Electricity $/kWh", *NUMBER_LIMITS["kwh"], value=defaults.electricity_usd_per_kwh,
                                  step=0.01, key="kwh", bind="query-params", format="%.3f",
                                  help="Moves cost on the built-up basis only (the tiers include energy). Default "
                                       "$0.08: 2026 blended AI data-centre electricity.")
            id_param("power_basis", list(POWER_BASES), "catalog")
            power_basis = st.selectbox("Power per GPU", list(POWER_BASES), key="power_basis",
                                       format_func=POWER_BASES.get,
                                       help="All-in kW per GPU sets GPUs per MW. Catalog: provisioned utility kW "
                                            "per GPU (SemiAnalysis). IT × PUE: server power × your PUE. Given: "
                                            "one figure for every system.")
            pue = st.number_input("PUE", *NUMBER_LIMITS["pue"], value=1.3, step=0.05, key="pue",
                                  bind="query-params", disabled=power_basis != "pue",
                                  help="Facility power / IT power; 1.3 for new large facilities.")
            kw_gpu = st.number_input("All-in kW per GPU", *NUMBER_LIMITS["kw_gpu"], value=None, step=0.1,
                                     key="kw_gpu", bind="query-params", disabled=power_basis != "given",
                                     placeholder="from the catalog", help="Used when Power per GPU is 'Given'.")
            st.markdown(_system_costs_caption(cat, systems, basis, tier, gpu_hour, power_basis, pue, kw_gpu))
        with st.expander("View"):
            x_log = st.toggle("Log scale for tokens/s per user", value=True, key="xlog", bind="query-params")
            id_param("y_metric", list(Y_METRICS), "per_mw")
            y_metric = st.segmented_control("Throughput axis", list(Y_METRICS), format_func=Y_METRICS.get,
                                            key="y_metric", required=True,
                                            help="Per MW compares systems at equal power; per GPU at equal "
                                                 "GPU count.") or "per_mw"
        calibration = calibration_control()
        present = st.toggle("Presentation mode", value=False, key="present", bind="query-params",
                            help="Hides the controls, enlarges text and fits the chart and key figures to the "
                                 "screen (1280x720 and up). A picker and an exit stay on the page.")
    for key, value, default in (("systems", list(systems), default_systems), ("model", model, "deepseek-r1"),
                                ("precision", precision, AUTO), ("workload", workload, "reasoning"),
                                ("serving", serving, "best"), ("price_curve", curve, "tiered"),
                                ("cost_basis", basis, "tier"), ("tier", tier, "hyperscaler"),
                                ("power_basis", power_basis, "catalog"), ("y_metric", y_metric, "per_mw")):
        publish_param(key, value, default)
    try:
        econ = economics_options(price_curve=curve, input_usd_per_m=price_in or None,
                                 output_usd_per_m=price_out or None, utilisation=util, cost_basis=basis,
                                 gpu_hour_tier=tier, gpu_hour_usd=gpu_hour or None, electricity_usd_per_kwh=kwh,
                                 demand_cap_output_tokens_per_s=(demand * 1e6) if demand else None,
                                 price_decline_per_year=float(decline))
    except FactoryModelError as exc:  # bounded inputs make this rare; never a traceback
        st.sidebar.error(str(exc))
        econ = economics_options()
    given_kw = float(kw_gpu) if power_basis == "given" and kw_gpu else None
    return Scenario(tuple(systems), model, precision, isl, osl, serving, float(mw),
                    float(pue) if power_basis == "pue" else None, float(ttft) or None, float(min_tps) or None,
                    mtp, float(mtp_acc), econ, bool(x_log), y_metric == "per_mw", bool(present), calibration,
                    given_kw)


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
    """Presentation mode: no sidebar or header, tighter padding, larger type; the page keeps a small picker and
    an exit (:func:`presentation_bar`)."""
    if present:
        st.html("""<style>
        [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"]
            {display: none;}
        .stMainBlockContainer, .block-container {font-size: 1.1rem; max-width: 100%; padding: 3.6rem 1.2rem 0.2rem;}
        h1 {font-size: 1.9rem !important; padding: 0 !important;}
        [data-testid="stMetricValue"] {font-size: 1.9rem;}
        [data-testid="stVerticalBlock"] {gap: 0.5rem;}
        </style>""")


def presentation_bar(sc: Scenario, slot: bool = False):
    """In presentation mode: a one-line model/system picker and an exit button, on the page itself. With
    ``slot`` it returns a column of that line for one more control (the Frontier page's target)."""
    if not sc.present:
        return None
    cat = catalog()
    if slot:
        c1, c2, c4, c3 = st.columns([2, 4, 3, 1], vertical_alignment="bottom")
    else:
        c1, c2, c3 = st.columns([2, 6, 1], vertical_alignment="bottom")
        c4 = None
    models = list(cat.models)
    pick = c1.selectbox("Model", models, index=models.index(sc.model), key="present_model",
                        format_func=lambda m: cat.models[m].name, label_visibility="collapsed")
    systems = c2.multiselect("Systems", list(cat.systems), default=list(sc.systems), key="present_systems",
                             format_func=label, label_visibility="collapsed")
    if pick != sc.model or list(systems) != list(sc.systems):
        st.session_state["_present_pick"] = (pick, list(systems))
        st.rerun()
    if c3.button("Exit", key="present_exit", icon=":material/close_fullscreen:", help="Leave presentation mode"):
        st.session_state["_present_exit"] = True
        st.rerun()
    return c4


def apply_presentation_requests() -> None:
    """Honour the presentation bar's requests before the sidebar widgets are drawn (called by app.py)."""
    if "_present_pick" in st.session_state:
        model, systems = st.session_state.pop("_present_pick")
        st.session_state["model"] = model
        st.session_state["systems"] = systems
        for key in ("present_model", "present_systems"):
            st.session_state.pop(key, None)
    if st.session_state.pop("_present_exit", False):
        st.session_state["present"] = False
        for key in ("present_model", "present_systems"):
            st.session_state.pop(key, None)


# ------------------------------------------------------------------------------------- model calls


# cache_resource: one shared frame per search, not a pickled copy per rerun (unpickling ~100-row frames with
# string columns was ~5 % of a rerun). Callers never modify it: economics() and the pages build new frames.
@st.cache_resource(show_spinner=False, max_entries=512)
def search_frontier(system: str, model: str, precision: str, isl: int, osl: int, serving: str, ttft: float | None,
              min_tps: float | None, mtp: int | str, acc: float, custom_text: str,
              calibration: str = "") -> pd.DataFrame:
    """The search and the frontier: everything that does not depend on power or prices (cached)."""
    return fm.frontier(system, model, precision, isl, osl, serving=serving, ttft_max_s=ttft,
                       min_tokens_per_s_per_user=min_tps, mtp_tokens=mtp,
                       mtp_acceptance=acc if isinstance(mtp, int) and mtp else None,
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
            return frame.copy()  # the cached (shared) frame keeps its reason; the caller gets its own
        return fm.economics(frame, system, sc.model, sc.isl, sc.osl, mw=sc.mw, pue=sc.pue, kw_per_gpu=sc.kw_per_gpu,
                            economics=sc.economics, catalog=_catalog_with(text))
    except FactoryModelError as exc:
        frame = pd.DataFrame()
        frame.attrs["reason"] = str(exc)
        return frame


def frontiers(sc: Scenario) -> dict[str, pd.DataFrame]:
    return {s: frontier(sc, s) for s in sc.systems}


def explain_empty(frames: dict[str, pd.DataFrame], notes: bool = True) -> None:
    """One line per system that has no frontier, saying why (never a traceback); then the frontiers' notes,
    each different note once (a note every system shares is written once for all)."""
    by_note: dict[str, list[str]] = {}
    for system, frame in frames.items():
        if not len(frame):
            st.warning(f"{label(system)}: {frame.attrs.get('reason') or 'no feasible deployment'}")
        elif frame.attrs.get("note"):
            for part in frame.attrs["note"].split("; "):
                if part.startswith("TTFT ≤"):  # the scenario line above already states the TTFT limit
                    continue
                by_note.setdefault(part, []).append(system)
    if not notes:
        return
    for part, systems in by_note.items():
        who = "All systems" if len(systems) == len(frames) and len(frames) > 1 else \
            ", ".join(label(s) for s in systems)
        st.caption(f"{who}: {part}")


def y_column(sc: Scenario) -> str:
    return "tokens_per_s_per_mw" if sc.per_mw else "output_tokens_per_s_per_gpu"


def y_title(sc: Scenario) -> str:
    return "Output tokens/s per MW (all-in)" if sc.per_mw else "Output tokens/s per GPU"


def ratio_readout(frames: dict[str, pd.DataFrame], at: float, column: str) -> str:
    """'At 50 tok/s/user: B200 = 4.1x H200, ...' against the first system that reaches ``at``; systems near
    the fastest point of their frontier are named, since a ratio against an edge is fragile."""
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
    edge = [label(s) for s in reach if at > 0.8 * float(frames[s]["tokens_per_s_per_user"].max())]
    if edge and len(reach) > 1:
        text += (f". ⚠ {', '.join(edge)} barely reach{'es' if len(edge) == 1 else ''} this speed (near the "
                 f"fastest point of the frontier): ratios against {'it' if len(edge) == 1 else 'them'} are fragile")
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


def footnote_text(sc: Scenario) -> str:
    """Source and assumptions line carried by PNG/SVG exports."""
    from .style import MODELLED_NOTE

    text = sc.describe()
    words, lines, line = text.split(" "), [], ""
    for word in words:  # wrap to ~150 characters per line
        if len(line) + len(word) > 150:
            lines.append(line)
            line = ""
        line += word + " "
    lines.append(line)
    return (MODELLED_NOTE + " ◇ = measured (public benchmark runs, data/reference). Markers: ◆ max throughput, "
            "▶ max interactivity, ★ max revenue.<br>" + "<br>".join(l.strip() for l in lines)
            + "<br>Source: AI Factory Frontier (factory_model); catalog sources on the Methodology page.")


def downloads(fig, frame, stem: str, key: str, footnote: str | None = None) -> None:
    """Download buttons for one chart: PNG and SVG (when a browser exists; with a source footnote), interactive
    HTML, CSV of the data (``frame``: a DataFrame, or a function returning one, called on click)."""
    from . import charts, exports

    cols = st.columns(4)
    if exports.static_export_available():
        def image(fmt):
            def build():
                try:
                    return exports.figure_image(charts.footnote(fig, footnote or _DEFAULT_FOOTNOTE), fmt)
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
    cols[3].download_button("CSV", lambda: exports.frame_csv(frame() if callable(frame) else frame),
                            file_name=f"{stem}.csv", mime="text/csv", key=f"{key}_csv", on_click="ignore",
                            icon=":material/table:")


_DEFAULT_FOOTNOTE = ("Modelled (factory_model), not measured; see Claims & validation. Source: AI Factory Frontier; "
                     "catalog sources on the Methodology page.")

POINT_COLUMNS = {  # frontier column -> (header, kind)
    "system": ("System", "label"), "precision": ("Precision", "upper"), "deployment": ("Deployment", "text"),
    "tokens_per_s_per_user": ("Tokens/s per user", "speed"),
    "output_tokens_per_s_per_gpu": ("Output tokens/s per GPU", "human"),
    "tokens_per_s_per_mw": ("Output tokens/s per MW", "human"), "ttft_s": ("TTFT (s)", "seconds"),
    "tpot_s": ("TPOT (ms)", "ms"), "price_output_usd_per_m": ("Output price $/1M", "usd"),
    "revenue_usd_per_mw_hour": ("Revenue $/MW-h", "usd"), "cost_per_m_output_tokens_usd": ("Cost $/1M output", "usd"),
}


def readable_points(table: pd.DataFrame) -> pd.DataFrame:
    """Frontier rows with readable headers and human units (strings), for on-screen tables."""
    out = {}
    for column, (header, kind) in POINT_COLUMNS.items():
        if column not in table:
            continue
        values = table[column]
        if kind == "label":
            names = labels(set(values))
            out[header] = [names[v] for v in values]
        elif kind == "upper":
            out[header] = [str(v).upper() for v in values]
        elif kind == "speed":
            out[header] = [f"{v:,.1f}" for v in values]
        elif kind == "human":
            out[header] = [human(v) for v in values]
        elif kind == "seconds":
            out[header] = [f"{v:.2f}" for v in values]
        elif kind == "ms":
            out[header] = [f"{v * 1e3:.1f}" for v in values]
        elif kind == "usd":
            out[header] = [usd(v) for v in values]
        else:
            out[header] = list(values)
    return pd.DataFrame(out)  # built once: column-by-column inserts cost ~10x more (string dtype inference)


def frontier_table(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All systems' frontier rows in one table, with a readable deployment column."""
    from .charts import deployments

    parts = []
    for system, frame in frames.items():
        if not len(frame):
            continue
        f = frame.copy()
        f.insert(3, "deployment", deployments(f))
        parts.append(f)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# ------------------------------------------------------------------------------- modelled vs measured


def curve_context(sc: Scenario, frames: dict[str, pd.DataFrame], y: str | None = None) -> dict:
    """What the frontier chart needs besides the curves: display labels, uncertainty bands, measured points
    matching the view (same system, model, precision, ISL/OSL; converted to ``y``) and a provenance badge per
    curve. Returns dict(labels=, bands=, measured=, badges=, notes=[one line per curve])."""
    from factory_model import accuracy

    cat = catalog()
    y = y or y_column(sc)
    out = {"labels": labels(frames), "bands": {}, "measured": {}, "badges": {}, "notes": []}
    for system, frame in frames.items():
        if not len(frame):
            continue
        s = cat.systems[system]
        precision = frame["precision"].iloc[0]
        badge = accuracy.badge(s, label)
        out["badges"][system] = badge
        band = accuracy.curve_band(system, sc.model, precision,
                                   calibration_system=s.calibration_system or None)
        if band is not None:
            out["bands"][system] = tuple(band)
        points, origin = (pd.DataFrame(), "") if s.user_defined else \
            _view_points(system, sc.model, precision, sc.isl, sc.osl, sc.serving, bool(sc.mtp_tokens))
        if len(points):
            out["measured"][system] = points.assign(
                tokens_per_s_per_mw=points["output_tokens_per_s_per_gpu"] * 1000.0 / frame.attrs["kw_per_gpu"])
        line = f"**{out['labels'][system]} · {precision.upper()}** — {badge}; " + (
            band.label if band is not None else f"uncertainty band: {accuracy.NO_BAND}")
        if len(points):
            line += f"; {len(points)} measured points drawn (◇, {origin})"
        out["notes"].append(line)
    return out


@st.cache_resource(show_spinner=False, max_entries=256)
def _view_points(system: str, model: str, precision: str, isl: int, osl: int, serving: str,
                 with_mtp: bool) -> tuple[pd.DataFrame, str]:
    """Measured points a view can contain (shared, read-only) and where they come from: agg-only views drop
    disaggregated points, views without MTP drop MTP points."""
    from factory_model import accuracy

    points = accuracy.measured_points(system, model, precision, isl, osl)
    if len(points) and "serving" in points:
        keep = np.ones(len(points), dtype=bool)
        if serving == "agg":
            keep &= points["serving"].fillna("agg").to_numpy() == "agg"
        elif serving == "disagg":
            keep &= points["serving"].fillna("agg").to_numpy() == "disagg"
        if not with_mtp:
            keep &= points["mtp"].fillna(0).to_numpy() == 0
        points = points[keep]
    if not len(points):
        return pd.DataFrame(), ""
    origin = ("InferenceX runs, " if points["source"].str.contains("InferenceX").any() else "") + \
        accuracy.MEASURED_SOURCE.split(":", 1)[1].strip()
    return points, origin


def at_target_labels(frames: dict[str, pd.DataFrame]) -> dict[str, str]:
    return {s: f"{label(s)}" for s in frames}


def deck_content(sc: Scenario, frames: dict[str, pd.DataFrame], at: float):
    """Everything the PowerPoint deck shows under this scenario (see pages/exports.py: board_deck)."""
    from factory_model.economics import describe_revenue

    from . import analysis, exports
    from . import target as board

    cat = catalog()
    names = labels(frames)
    context = curve_context(sc, frames)
    y = y_column(sc)
    frontier_series, revenue_series = [], []
    for system, frame in frames.items():
        if not len(frame):
            continue
        name = f"{names[system]} · {frame['precision'].iloc[0].upper()}"
        frontier_series.append(exports.Series(name, list(frame["tokens_per_s_per_user"]), list(frame[y]),
                                              colour(system)))
        points = context["measured"].get(system)
        if points is not None and len(points):
            frontier_series.append(exports.Series(f"{names[system]} measured", list(points["tokens_per_s_per_user"]),
                                                  list(points[y]), colour(system), markers_only=True))
        if np.isfinite(frame["revenue_usd_per_mw_hour"]).any():
            revenue_series.append(exports.Series(name, list(frame["tokens_per_s_per_user"]),
                                                 list(frame["revenue_usd_per_mw_hour"]), colour(system)))
    table = board.at_target(frames, at, names)
    figures = board.for_people(table)
    figures["System"] = [f"{n} · {p}" for n, p in zip(figures["System"], figures["Precision"])]
    figures = figures.drop(columns=["Precision", "Tokens/s per user"])
    breakdown = analysis.cost_breakdown(cat, [s for s in frames], sc.mw, sc.pue, sc.kw_per_gpu, sc.economics, names)
    sens, sens_title = None, ""
    for system, frame in frames.items():
        point = analysis.sweet_spot(frame)
        if len(point):
            base, sens = analysis.sensitivity(point, cat.system(system), sc.model, sc.isl, sc.osl, mw=sc.mw,
                                              pue=sc.pue, kw_per_gpu=sc.kw_per_gpu, economics=sc.economics,
                                              catalog=cat)
            sens_title = (f"Profit sensitivity: {names[system]} at its sweet spot "
                          f"({point['tokens_per_s_per_user'].iloc[0]:.0f} tok/s/user, base {usd(base)}/MW-h)")
            break
    rows = analysis.assumptions(cat, list(frames), sc.model, sc.economics, mw=sc.mw, pue=sc.pue,
                                kw_per_gpu=sc.kw_per_gpu)
    from .style import _KEY, source_addresses

    known = source_addresses()
    addresses = {k: known[k] for row in rows for k in _KEY.findall(row[2]) if k in known}
    return exports.DeckContent(
        title=f"AI factory: {cat.models[sc.model].name} at {sc.mw:g} MW",
        subtitle=sc.describe(),
        key_figures_title=f"Key figures at {at:g} tokens/s per user, {sc.mw:g} MW",
        key_figures=figures,
        key_figures_note=describe_revenue(sc.economics, sc.model),
        frontier=frontier_series, frontier_y_title=y_title(sc), revenue=revenue_series,
        cost_breakdown=breakdown, sensitivity_title=sens_title, sensitivity=sens,
        assumptions=rows, source_addresses=addresses,
        x_log=sc.x_log)


def deck_bytes(sc: Scenario, frames: dict[str, pd.DataFrame], at: float) -> bytes:
    from . import exports

    return exports.board_deck(deck_content(sc, frames, at))


@st.cache_data(show_spinner="Evaluating the seed claims…")
def claims_evaluated() -> pd.DataFrame:
    from factory_model.claims import evaluate_claims

    return evaluate_claims()


def matching_claim(sc: Scenario) -> dict | None:
    """The seed claim whose scenario(s) this view shows: same model, every system of the claim chosen, same
    ISL/OSL preferred. Returns the evaluated row (claim, claimed and model values, verdict, assumptions)."""
    row = _matching_claim(sc.model, tuple(sc.systems), sc.isl, sc.osl)
    return dict(row) if row is not None else None


@st.cache_resource(show_spinner=False, max_entries=256)
def _matching_claim(model: str, systems: tuple, isl: int, osl: int) -> dict | None:
    from factory_model.claims import load_claims

    sc = SimpleNamespace(model=model, systems=systems, isl=isl, osl=osl)

    best, best_score = None, -1
    for claim_id, c in load_claims().items():
        sides = [c[k] for k in ("base", "new") if k in c]
        if not sides or not all(s.get("model") == sc.model and s.get("system") in sc.systems for s in sides):
            continue
        score = sum(int(s.get("isl") == sc.isl and s.get("osl") == sc.osl) for s in sides) * 2 + len(sides)
        if score > best_score:
            best, best_score = claim_id, score
    if best is None:
        return None
    table = claims_evaluated()
    rows = table[table["id"] == best]
    return rows.iloc[0].to_dict() if len(rows) else None
