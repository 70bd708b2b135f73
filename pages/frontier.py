"""Frontier page: throughput per MW against tokens/s per user for the chosen systems, with the readout at a
target interactivity, the deployments behind every point, and exports."""

import streamlit as st

from pages import charts, ui

sc = ui.scenario()
st.title("AI factory frontier")
st.caption(f"{ui.catalog().models[sc.model].name} · {sc.describe()}")
ui.stop_without_systems(sc)

with st.spinner("Searching deployments…"):
    frames = ui.frontiers(sc)
ui.explain_empty(frames)
target = st.slider("Target interactivity (tokens/s per user)", 5.0, 500.0, 50.0, 5.0, key="at", bind="query-params")
st.markdown(f"**{ui.ratio_readout(frames, target, ui.y_column(sc))}**")

fig = charts.frontier_figure(frames, ui.y_column(sc), ui.y_title(sc), x_log=sc.x_log, target=target,
                             present=sc.present,
                             title=f"{ui.catalog().models[sc.model].name}, ISL {sc.isl} / OSL {sc.osl}: "
                                   f"throughput vs interactivity")
st.plotly_chart(fig, theme=None, key="frontier_chart", config={"displaylogo": False})

cols = st.columns(max(1, len(frames)))
for col, (system, frame) in zip(cols, frames.items()):
    if not len(frame):
        continue
    best = frame.loc[frame["tokens_per_s_per_mw"].idxmax()]
    col.metric(f"{ui.label(system)} · max tokens/s per MW", f"{best['tokens_per_s_per_mw']:,.0f}")
    col.metric("max tokens/s per user", f"{frame['tokens_per_s_per_user'].max():.0f}")
    col.caption(f"{sc.mw:g} MW = {frame.attrs['racks']} racks · {frame.attrs['factory_gpus']:,} GPUs at "
                f"{frame.attrs['kw_per_gpu']:.2f} kW/GPU")

table = ui.frontier_table(frames)
if not sc.present and len(table):
    with st.expander("Frontier points and their deployments", expanded=False):
        shown = ["system", "precision", "deployment", "tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
                 "tokens_per_s_per_mw", "ttft_s", "tpot_s", "price_output_usd_per_m", "revenue_usd_per_mw_hour",
                 "cost_per_m_output_tokens_usd"]
        st.dataframe(table[shown], hide_index=True, width="stretch")
    ui.downloads(fig, table, "frontier", "frontier")
    with st.expander("PowerPoint deck"):
        if st.toggle("Build a deck (title, frontier, revenue, assumptions)", key="build_deck"):
            from pages import exports

            labelled = {f"{ui.label(s)} · {f['precision'].iloc[0].upper()}": f for s, f in frames.items() if len(f)}
            colours = {f"{ui.label(s)} · {f['precision'].iloc[0].upper()}": ui.colour(s)
                       for s, f in frames.items() if len(f)}
            money = charts.money_figure(frames, x_log=sc.x_log)
            assumptions = [sc.describe()] + [f"{ui.label(s)}: {f.attrs.get('power_basis', '')}; "
                                             f"{f.attrs.get('note', '')}" for s, f in frames.items()] + [
                "Model: factory_model (calibrated on data/reference/measured_agg_points.csv); sources in "
                "data/sources.yaml; every catalog number is listed on the Methodology page."]
            st.download_button(
                "Download deck (.pptx)",
                lambda: exports.deck("AI factory frontier", ui.catalog().models[sc.model].name,
                                     [("Throughput vs interactivity", fig), ("Revenue per MW-hour", money)],
                                     labelled, colours, assumptions, ui.y_column(sc), ui.y_title(sc)),
                file_name="ai-factory-frontier.pptx", on_click="ignore", key="deck_download",
                mime="application/vnd.openxmlformats-officedocument.presentationml.presentation")
