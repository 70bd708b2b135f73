"""Revenue page: revenue, cost and profit per MW along each frontier under the chosen price curve; the sweet
spot; yearly figures for the power envelope; ROI, payback; sensitivity of profit to price, utilisation, $/kWh."""

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

import factory_model as fm
from factory_model.economics import load_prices
from factory_model.scenario import best_index
from pages import charts, ui

sc = ui.scenario()
st.title("Revenue per megawatt")
st.caption(sc.describe())
ui.stop_without_systems(sc)
frames = ui.frontiers(sc)
ui.explain_empty(frames)
fig = charts.money_figure(frames, x_log=sc.x_log, present=sc.present)
st.plotly_chart(fig, theme=None, key="revenue_chart", config={"displaylogo": False})

rows = []
for system, frame in frames.items():
    if not len(frame) or not np.isfinite(frame["revenue_usd_per_mw_hour"]).any():
        continue
    best = frame.loc[frame["profit_usd_per_mw_hour"].idxmax()]
    top = frame.loc[frame["revenue_usd_per_mw_hour"].idxmax()]
    rows.append({"system": ui.label(system), "sweet spot tok/s/user": best["tokens_per_s_per_user"],
                 "price out $/1M": best["price_output_usd_per_m"],
                 "profit $/MW-h": best["profit_usd_per_mw_hour"],
                 "max revenue $/MW-h": top["revenue_usd_per_mw_hour"],
                 "revenue $/year (envelope)": best["revenue_usd_per_year"],
                 "profit $/year (envelope)": best["profit_usd_per_year"],
                 "ROI (profit / cost)": best["roi"], "payback (years)": best["payback_years"],
                 "revenue / capex over life": best["revenue_per_capex"]})
if rows:
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.2f" if "ROI" in c or "payback" in c
                                                                 or "capex" in c or "price" in c else "%,.0f")
                                for c in table.columns if c != "system"})
    ui.downloads(fig, ui.frontier_table(frames), "revenue", "revenue")

    st.subheader("Sensitivity")
    first = next(s for s, f in frames.items() if best_index(f, "profit_usd_per_mw_hour") is not None)
    frame = frames[first]
    best = frame.loc[frame["profit_usd_per_mw_hour"].idxmax()]
    point = frame.loc[[frame["profit_usd_per_mw_hour"].idxmax()]]
    e = sc.economics

    def profit(**changes) -> float:
        opts = dataclasses.replace(e, **changes)
        out = fm.economics(point, first, sc.model, sc.isl, sc.osl, mw=sc.mw, pue=sc.pue, economics=opts,
                           catalog=ui.catalog())
        return float(out["profit_usd_per_mw_hour"].iloc[0])

    lin, lout = load_prices().list_prices.get(sc.model, (np.nan, np.nan))
    p_in, p_out = e.input_usd_per_m or lin, e.output_usd_per_m or lout
    sens = pd.DataFrame([
        {"factor": "token price ±30 %", "low": profit(input_usd_per_m=p_in * 0.7, output_usd_per_m=p_out * 0.7),
         "high": profit(input_usd_per_m=p_in * 1.3, output_usd_per_m=p_out * 1.3), "low_label": "-30 %",
         "high_label": "+30 %"},
        {"factor": "utilisation ±20 pts", "low": profit(utilisation=max(0.05, e.utilisation - 0.2)),
         "high": profit(utilisation=min(1.0, e.utilisation + 0.2)), "low_label": "-20 pts", "high_label": "+20 pts"},
        {"factor": "electricity ±50 %", "low": profit(electricity_usd_per_kwh=e.electricity_usd_per_kwh * 1.5,
                                                      cost_basis="buildup"),
         "high": profit(electricity_usd_per_kwh=e.electricity_usd_per_kwh * 0.5, cost_basis="buildup"),
         "low_label": "+50 % $/kWh (build-up cost)", "high_label": "-50 % $/kWh (build-up cost)"},
    ])
    st.caption(f"{ui.label(first)} at its sweet spot ({best['tokens_per_s_per_user']:.0f} tok/s/user): profit "
               f"${best['profit_usd_per_mw_hour']:,.0f} per MW-hour. Electricity only moves cost on the build-up "
               f"basis (the $/GPU-hour tiers include energy).")
    st.plotly_chart(charts.tornado_figure(sens, float(best["profit_usd_per_mw_hour"]), present=sc.present),
                    theme=None, key="tornado_chart")
else:
    st.info("No revenue to show: no frontier, or no list price for this model (set prices in the sidebar).")
