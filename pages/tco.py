"""TCO page: cost per million tokens against interactivity (token basis named) and the cost per GPU-hour
broken into capex, energy and facility/operations."""

import pandas as pd
import streamlit as st

from pages import analysis, charts, ui

sc = ui.scenario()
if not sc.present:
    st.title("Total cost of ownership")
    st.caption(sc.describe())
ui.presentation_bar(sc)
ui.stop_without_systems(sc)
ui.id_param("cost_token_basis", ["output", "total"], "output")
basis = st.segmented_control("Token basis", ["output", "total"], key="cost_token_basis", required=True,
                             format_func={"output": "Per output token", "total": "Per input + output token"}.get,
                             help="Output: the whole cost charged to generated tokens. Total: spread over prompt "
                                  "and generated tokens.")
ui.publish_param("cost_token_basis", basis, "output")
frames = ui.frontiers(sc)
ui.explain_empty(frames)
names = ui.labels(frames)
fig = charts.cost_figure(frames, basis or "output", x_log=sc.x_log, present=sc.present, labels=names)
st.plotly_chart(fig, theme=None, key="cost_chart", config={"displaylogo": False})

table = analysis.cost_breakdown(ui.catalog(), sc.systems, sc.mw, sc.pue, sc.kw_per_gpu, sc.economics, names)
st.plotly_chart(charts.breakdown_figure(table, present=sc.present), theme=None, key="breakdown_chart",
                config={"displaylogo": False})
st.caption("On the $/GPU-hour tier basis the tier is the total; energy is all-in kW × $/kWh and depreciation "
           "capex / (life × 8,760 h); the rest is facility, operations and the provider's margin.")
readable = pd.DataFrame({
    "System": table["label"], "Cost $/GPU-hour": [ui.usd(v) for v in table["total"]],
    "of which capex (depreciation)": [ui.usd(v) for v in table["depreciation"]],
    "of which energy": [ui.usd(v) for v in table["energy"]],
    "Capex per GPU": [ui.usd(v) for v in table["capex_usd_per_gpu"]],
    "All-in kW per GPU": [f"{v:.2f}" for v in table["kw_per_gpu"]],
    "Capex per MW": [ui.usd(v) for v in table["capex_usd_per_mw"]],
    f"GPUs in {sc.mw:g} MW": [f"{int(v):,}" for v in table["gpus_in_envelope"]],
    "Racks": [f"{int(v):,}" for v in table["racks"]]})
st.dataframe(readable, hide_index=True, width="stretch")
if not sc.present:
    ui.downloads(fig, ui.frontier_table(frames), "cost-per-million-tokens", "tco", footnote=ui.footnote_text(sc))
