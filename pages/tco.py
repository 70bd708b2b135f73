"""TCO page: cost per million tokens against interactivity (token basis named) and the cost per GPU-hour
broken into capex, energy and facility/operations."""

import pandas as pd
import streamlit as st

from factory_model.economics import cost_per_gpu_hour
from factory_model.power import resolve_power
from pages import charts, ui

sc = ui.scenario()
st.title("Total cost of ownership")
st.caption(sc.describe())
ui.stop_without_systems(sc)
basis = st.segmented_control("Token basis", ["output", "total"], default="output", key="cost_token_basis",
                             bind="query-params", required=True,
                             )
frames = ui.frontiers(sc)
ui.explain_empty(frames)
fig = charts.cost_figure(frames, basis or "output", x_log=sc.x_log, present=sc.present)
st.plotly_chart(fig, theme=None, key="cost_chart", config={"displaylogo": False})

rows = []
cat = ui.catalog()
for system_id in sc.systems:
    system = cat.system(system_id)
    power = resolve_power(system, sc.mw, pue=sc.pue)
    cost = cost_per_gpu_hour(system, power, sc.economics)
    energy = min(cost["energy"], cost["total"])
    depreciation = min(cost["depreciation"], cost["total"] - energy)
    rows.append({"label": ui.label(system_id), "system": system_id, "total": cost["total"],
                 "depreciation": depreciation, "energy": energy, "other": cost["total"] - depreciation - energy,
                 "capex_per_gpu": cost["capex"], "kw_per_gpu": power.kw_per_gpu,
                 "capex_per_mw": cost["capex"] * power.gpus_per_mw, "gpus_in_envelope": power.gpus})
table = pd.DataFrame(rows)
st.plotly_chart(charts.breakdown_figure(table, present=sc.present), theme=None, key="breakdown_chart")
st.caption("On the $/GPU-hour tier basis the tier is the total; energy is all-in kW × $/kWh and depreciation "
           "capex / (life × 8,760 h); the rest is facility, operations and the provider's margin.")
st.dataframe(table.drop(columns=["label"]), hide_index=True, width="stretch")
ui.downloads(fig, ui.frontier_table(frames), "cost-per-million-tokens", "tco")
