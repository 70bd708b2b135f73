"""Compare page: the sidebar's systems (optionally every NVIDIA generation) at equal power, precision FP8 vs
NVFP4, aggregated vs disaggregated — frontier overlays, ratio tables and the at-target table."""

import numpy as np
import pandas as pd
import streamlit as st

from factory_model.economics import describe_revenue
from factory_model.pareto import value_at
from pages import charts, target as board, ui

sc = ui.scenario()
if not sc.present:
    st.title("Compare")
    st.caption(sc.describe())
ui.presentation_bar(sc)
cat = ui.catalog()
at_values = st.multiselect("Compare at tokens/s per user", list(ui.COMPARE_AT_CHOICES),
                           default=[20, 50, 100, 200], key="compare_at", bind="query-params",
                           help="Interactivities at which the ratio tables read each frontier.")
tab_gen, tab_precision, tab_serving = st.tabs(["Systems at equal power", "FP8 vs NVFP4",
                                               "Aggregated vs disaggregated"])


def ratio_table(frames: dict[str, pd.DataFrame], column: str, names: dict[str, str]) -> pd.DataFrame:
    """Throughput per MW at each interactivity and ratios to the first system with a frontier (strings)."""
    rows = []
    base = next((s for s in frames if len(frames[s])), None)
    for at in list(sorted(at_values)) + ["max"]:
        row = {"Tokens/s per user": str(at)}
        values = {}
        for s, f in frames.items():
            values[s] = (float(f[column].max()) if len(f) else np.nan) if at == "max" else \
                (value_at(f, at, column) if len(f) else np.nan)
            row[f"{names[s]} (tokens/s per MW)"] = ui.human(values[s])
        for s in frames:
            if base and s != base:
                r = values[s] / values[base] if np.isfinite(values[base]) and values[base] else np.nan
                row[f"{names[s]} vs {names[base]}"] = "—" if not np.isfinite(r) else f"{r:.1f}x"
        rows.append(row)
    return pd.DataFrame(rows)


def numeric_ratios(frames: dict[str, pd.DataFrame], column: str, base: str) -> pd.DataFrame:
    rows = []
    for at in sorted(at_values):
        row = {"tokens_per_s_per_user": at}
        b = value_at(frames[base], at, column)
        for s, f in frames.items():
            if s != base:
                v = value_at(f, at, column) if len(f) else np.nan
                row[f"{s}_vs_{base}"] = v / b if np.isfinite(b) and b else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


with tab_gen:
    everything = st.toggle("Add every NVIDIA generation (Hopper → Blackwell → Blackwell Ultra → Rubin)",
                           value=False, key="all_generations",
                           help="Off: the systems chosen in the sidebar. On: those plus H100 … Rubin NVL72.")
    chosen = list(sc.systems) + ([s for s in ui.GENERATIONS if s in cat.systems and s not in sc.systems]
                                 if everything else [])
    if not chosen:
        st.info("Choose one or more systems in the sidebar.")
    else:
        frames = {s: ui.frontier(sc, s) for s in chosen}
        names = ui.labels(frames)
        ui.explain_empty(frames)
        context = ui.curve_context(sc, frames, "tokens_per_s_per_mw")
        fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW (all-in)", x_log=sc.x_log,
                                     present=sc.present, labels=names, bands=context["bands"],
                                     measured=context["measured"], badges=context["badges"],
                                     title=" vs ".join(names[s] for s in chosen[:4])
                                     + (" …" if len(chosen) > 4 else "") + " at equal power")
        st.plotly_chart(fig, theme=None, key="generations_chart", config={"displaylogo": False})
        table = ratio_table(frames, "tokens_per_s_per_mw", names)
        st.dataframe(table, hide_index=True, width="stretch", key="generations_table")
        base = next((s for s in chosen if len(frames[s])), None)
        if base and len(chosen) > 1 and at_values:
            st.plotly_chart(charts.ratio_figure(numeric_ratios(frames, "tokens_per_s_per_mw", base), base,
                                                present=sc.present, labels=names),
                            theme=None, key="ratio_chart", config={"displaylogo": False})
        try:  # the Frontier page's target (session or link), else 50
            target = float(st.session_state.get("at") or st.query_params.get("at") or 50.0)
        except ValueError:
            target = 50.0
        st.subheader(f"At {target:g} tokens/s per user, {sc.mw:g} MW")
        at_table = board.at_target(frames, target, names)
        st.dataframe(board.for_people(at_table), hide_index=True, width="stretch", key="compare_at_target",
                     column_config=board.PINNED_COLUMNS)
        st.caption(describe_revenue(sc.economics, sc.model) + " The target is set on the Frontier page.")
        if not sc.present:
            ui.downloads(fig, ui.frontier_table(frames), "systems", "generations", footnote=ui.footnote_text(sc))

with tab_precision:
    ui.id_param("precision_system", list(cat.systems), "b200-sxm")
    system = st.selectbox("System", list(cat.systems), key="precision_system", format_func=ui.label)
    ui.publish_param("precision_system", system, "b200-sxm")
    frames = {p: ui.frontier(sc, system, precision=p) for p in ("fp8", "nvfp4")}
    for p, f in frames.items():
        if not len(f):
            st.warning(f"{p.upper()}: {f.attrs.get('reason')}")
        elif f.attrs.get("note"):
            st.caption(f"{p.upper()}: {f.attrs['note']}")
    fig = charts.solid_dashed_figure(system, frames["fp8"], frames["nvfp4"], x_log=sc.x_log, present=sc.present,
                                     title=f"{ui.label(system)}: FP8 (solid) vs NVFP4 (dashed)",
                                     labels={system: ui.label(system)})
    st.plotly_chart(fig, theme=None, key="precision_chart", config={"displaylogo": False})
    st.dataframe(ratio_table(frames, "tokens_per_s_per_mw", {"fp8": "FP8", "nvfp4": "NVFP4"}), hide_index=True,
                 width="stretch")

with tab_serving:
    ui.id_param("serving_system", list(cat.systems), "gb200-nvl72")
    system = st.selectbox("System", list(cat.systems), key="serving_system", format_func=ui.label)
    ui.publish_param("serving_system", system, "gb200-nvl72")
    frames = {mode: ui.frontier(sc, system, serving=mode) for mode in ("agg", "disagg")}
    fig = charts.solid_dashed_figure(system, frames["agg"], frames["disagg"], x_log=sc.x_log, present=sc.present,
                                     title=f"{ui.label(system)}: aggregated (solid) vs disaggregated (dashed)",
                                     labels={system: ui.label(system)})
    st.plotly_chart(fig, theme=None, key="serving_chart", config={"displaylogo": False})
    st.dataframe(ratio_table(frames, "tokens_per_s_per_mw", {"agg": "Aggregated", "disagg": "Disaggregated"}),
                 hide_index=True, width="stretch")
