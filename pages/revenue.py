"""Revenue page: revenue, cost and profit per MW along each frontier under the chosen price curve; the sweet
spot; yearly figures for the power envelope; ROI, payback; sensitivity of profit to price, utilisation and cost."""

import numpy as np
import pandas as pd
import streamlit as st

from factory_model.economics import describe_revenue
from factory_model.scenario import best_index
from pages import analysis, charts, ui

sc = ui.scenario()
if not sc.present:
    st.title("Revenue per megawatt")
    st.caption(sc.describe())
ui.presentation_bar(sc)
ui.stop_without_systems(sc)
frames = ui.frontiers(sc)
ui.explain_empty(frames)
names = ui.labels(frames)
sentence = describe_revenue(sc.economics, sc.model)
rows = []
for system, frame in frames.items():
    point = analysis.sweet_spot(frame)
    if not len(point):
        continue
    best = point.iloc[0]
    top = frame.loc[best_index(frame, "revenue_usd_per_mw_hour")]
    rows.append({"System": names[system], "Sweet spot (tok/s/user)": f"{best['tokens_per_s_per_user']:,.0f}",
                 "Output price at sweet spot ($/1M)": ui.usd(best["price_output_usd_per_m"]),
                 "Profit $/MW-hour": ui.usd(best["profit_usd_per_mw_hour"]),
                 "Max revenue $/MW-hour": ui.usd(top["revenue_usd_per_mw_hour"]),
                 "Revenue / year (envelope)": ui.usd(best["revenue_usd_per_year"]),
                 "Profit / year (envelope)": ui.usd(best["profit_usd_per_year"]),
                 "ROI (profit / cost)": f"{best['roi']:.0%}" if np.isfinite(best["roi"]) else "—",
                 "Payback (years)": f"{best['payback_years']:.1f}" if np.isfinite(best["payback_years"]) else "never",
                 "Revenue / capex over life": f"{best['revenue_per_capex']:.1f}x"})
if rows:
    fig = charts.money_figure(frames, x_log=sc.x_log, present=sc.present, labels=names)
    st.plotly_chart(fig, theme=None, key="revenue_chart", config={"displaylogo": False})
    st.caption(sentence)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="revenue_table")
    st.caption(sentence + f" Yearly figures: {sc.mw:g} MW of whole racks, 8,760 hours.")
    if not sc.present:
        ui.downloads(fig, ui.frontier_table(frames), "revenue", "revenue", footnote=ui.footnote_text(sc))

    st.subheader("Sensitivity")
    first = next(s for s, f in frames.items() if len(analysis.sweet_spot(f)))
    point = analysis.sweet_spot(frames[first])
    base, sens = analysis.sensitivity(point, ui.catalog().system(first), sc.model, sc.isl, sc.osl, mw=sc.mw,
                                      pue=sc.pue, kw_per_gpu=sc.kw_per_gpu, economics=sc.economics,
                                      catalog=ui.catalog())
    st.caption(f"{names[first]} at its sweet spot ({point['tokens_per_s_per_user'].iloc[0]:.0f} tok/s/user): "
               f"profit {ui.usd(base)} per MW-hour. Each bar moves one assumption from this baseline "
               + ("(cost basis: $/GPU-hour tier, which includes energy)." if sc.economics.cost_basis == "tier"
                  else "(cost basis: built up from capex, energy and facility)."))
    st.plotly_chart(charts.tornado_figure(sens, base, present=sc.present,
                                          title=f"Profit sensitivity: {names[first]} at its sweet spot"),
                    theme=None, key="tornado_chart", config={"displaylogo": False})
    st.caption(sentence)
else:
    st.info("No revenue to show: no frontier, or no list price for this model — give input and output prices "
            "per 1M tokens under 'Prices, demand, costs and power' in the sidebar. Costs are on the TCO page.")
