"""Compare page: generation over generation at equal power, precision FP8 vs NVFP4, aggregated vs
disaggregated — frontier overlays and ratio tables at chosen interactivities."""

import numpy as np
import pandas as pd
import streamlit as st

from factory_model.pareto import value_at
from pages import charts, ui

sc = ui.scenario()
st.title("Compare")
st.caption(sc.describe())
cat = ui.catalog()
tab_gen, tab_precision, tab_serving = st.tabs(["Generations", "FP8 vs NVFP4", "Aggregated vs disaggregated"])
at_values = st.multiselect("Compare at tokens/s per user", [10, 20, 30, 50, 75, 100, 150, 200, 300, 500],
                           default=[20, 50, 100, 200], key="compare_at", bind="query-params")


def ratio_table(frames: dict[str, pd.DataFrame], column: str) -> pd.DataFrame:
    rows = []
    names = list(frames)
    base = next((s for s in names if len(frames[s])), None)
    for at in list(sorted(at_values)) + ["max"]:
        row = {"tokens/s per user": str(at)}
        for s in names:
            f = frames[s]
            v = (float(f[column].max()) if len(f) else np.nan) if at == "max" else \
                (value_at(f, at, column) if len(f) else np.nan)
            row[s] = v
        for s in names:
            if base and s != base:
                row[f"{s}_vs_{base}"] = row[s] / row[base] if np.isfinite(row[base]) and row[base] else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def number_format(table: pd.DataFrame) -> dict:
    """Ratios with one decimal and an x, throughputs as whole tokens/s per MW."""
    return {c: st.column_config.NumberColumn(format="%.1fx" if "_vs_" in c else "%,.0f")
            for c in table.columns if c != "tokens/s per user"}


with tab_gen:
    chosen = st.multiselect("Generations (equal power)", [s for s in ui.GENERATIONS if s in cat.systems],
                            default=[s for s in ui.GENERATIONS if s in cat.systems], key="generations", bind="query-params")
    frames = {s: ui.frontier(sc, s) for s in chosen}
    ui.explain_empty(frames)
    fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW (all-in)", x_log=sc.x_log,
                                 present=sc.present, title="Hopper → Blackwell → Blackwell Ultra → Rubin at equal power")
    st.plotly_chart(fig, theme=None, key="generations_chart", config={"displaylogo": False})
    table = ratio_table(frames, "tokens_per_s_per_mw")
    st.dataframe(table, hide_index=True, width="stretch", column_config=number_format(table))
    if len(table) and chosen:
        base = next((s for s in chosen if len(frames[s])), None)
        if base:
            ratios = table[table["tokens/s per user"] != "max"].rename(columns={"tokens/s per user": "tokens_per_s_per_user"})
            st.plotly_chart(charts.ratio_figure(ratios, base, present=sc.present), theme=None, key="ratio_chart")
    ui.downloads(fig, table, "generations", "generations")

with tab_precision:
    system = st.selectbox("System", list(cat.systems), index=list(cat.systems).index("b200-sxm"),
                          key="precision_system", bind="query-params")
    frames = {p: ui.frontier(sc, system, precision=p) for p in ("fp8", "nvfp4")}
    labelled = {f"{system}#{p}": f for p, f in frames.items()}
    for p, f in frames.items():
        if not len(f):
            st.warning(f"{p.upper()}: {f.attrs.get('reason')}")
        elif f.attrs.get("note"):
            st.caption(f"{p.upper()}: {f.attrs['note']}")
    fig = charts.solid_dashed_figure(system, frames["fp8"], frames["nvfp4"], x_log=sc.x_log, present=sc.present,
                                     title=f"{ui.label(system)}: FP8 vs NVFP4")
    st.plotly_chart(fig, theme=None, key="precision_chart")
    table = ratio_table(frames, "tokens_per_s_per_mw")
    st.dataframe(table, hide_index=True, width="stretch", column_config=number_format(table))

with tab_serving:
    system = st.selectbox("System", list(cat.systems), index=list(cat.systems).index("gb200-nvl72"),
                          key="serving_system", bind="query-params")
    frames = {mode: ui.frontier(sc, system, serving=mode) for mode in ("agg", "disagg")}
    fig = charts.solid_dashed_figure(system, frames["agg"], frames["disagg"], x_log=sc.x_log, present=sc.present,
                                     title=f"{ui.label(system)}: aggregated (solid) vs disaggregated (dashed)")
    st.plotly_chart(fig, theme=None, key="serving_chart")
    table = ratio_table(frames, "tokens_per_s_per_mw")
    st.dataframe(table, hide_index=True, width="stretch", column_config=number_format(table))
