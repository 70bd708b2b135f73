"""Frontier page: throughput per MW (or per GPU) against tokens/s per user for the chosen systems, modelled
curves with their uncertainty band and provenance, measured points where they exist, the board's table at the
target interactivity, and exports (PNG/SVG/HTML/CSV, PowerPoint deck)."""

import streamlit as st

from factory_model.economics import describe_revenue
from pages import charts, target as board, ui

sc = ui.scenario()
model_name = ui.catalog().models[sc.model].name
if not sc.present:
    st.title("AI factory frontier")
    st.caption(sc.describe())
holder = ui.presentation_bar(sc, slot=True) or st
ui.stop_without_systems(sc)

with st.spinner("Searching deployments…"):
    frames = ui.frontiers(sc)
ui.explain_empty(frames, notes=not sc.present)
target = holder.slider("Target interactivity (tokens/s per user)", 5.0, 500.0, 50.0, 5.0, key="at", bind="query-params",
                   help="The speed each user sees (output tokens/s after the first token). The table below and "
                        "the readout give every system's figures at this speed.")
st.markdown(f"**{ui.ratio_readout(frames, target, ui.y_column(sc))}**")
if not sc.present:
    claim = ui.matching_claim(sc)
    if claim:
        from pages.style import cite_seed

        st.caption(f"Seed claim matching this view — “{claim['claim']}” ({cite_seed(claim['source'])}): claimed "
                   f"{claim['claimed_value']:,.4g} {claim['unit']}; the model says {claim['model_value']:,.3g} "
                   f"({claim['verdict']}), assuming {claim['assumptions']}. All claims: Claims & validation page.")

context = ui.curve_context(sc, frames)
fig = charts.frontier_figure(frames, ui.y_column(sc), ui.y_title(sc), x_log=sc.x_log, target=target,
                             present=sc.present, labels=context["labels"], bands=context["bands"],
                             measured=context["measured"], badges=context["badges"],
                             title=f"{model_name}, {sc.isl:,} in / {sc.osl:,} out tokens: throughput vs interactivity")
if sc.present:  # chart and key figures fit 1280x720 without scrolling
    fig.update_layout(height=325, margin={"t": 40, "b": 40, "l": 70}, title={"font": {"size": 18}}, font={"size": 13},
                      legend={"y": -0.3, "font": {"size": 12}})
    fig.update_xaxes(title_font={"size": 14}, title_standoff=4)
    fig.update_yaxes(title_font={"size": 14})
st.plotly_chart(fig, theme=None, key="frontier_chart", config={"displaylogo": False})
if not sc.present:
    st.caption("Curves are modelled; ◇ are measurements; shading is the out-of-sample error band.  \n"
               + "  \n".join(context["notes"]))

table = board.at_target(frames, target, context["labels"])
people = board.for_people(table)
if not table["clamped"].any():  # every system serves the target itself: the speed column would repeat it
    people = people.drop(columns=["Tokens/s per user"])
if sc.present:
    st.markdown(f"**Key figures at {target:g} tokens/s per user, {sc.mw:g} MW**")
    people = people.drop(columns=["Profit / year", "Cost per 1M total tokens", "Deployment at the target", "Racks"],
                         errors="ignore")
else:
    st.subheader(f"At {target:g} tokens/s per user, {sc.mw:g} MW")
st.dataframe(people, hide_index=True, width="stretch", key="at_target_table", column_config=board.PINNED_COLUMNS)
clamped = table[table["clamped"] & table["flag"].str.startswith("clamped")]
if len(clamped):
    st.warning("Clamped at the edge of the frontier (cannot serve the target; figures at the fastest point): "
               + ", ".join(clamped["system_label"]))
st.caption(describe_revenue(sc.economics, sc.model) + " Revenue and profit per year are for the whole envelope "
           "(whole racks only).")

if not sc.present:
    metric = "tokens/s per MW" if sc.per_mw else "tokens/s per GPU"
    cols = st.columns(max(1, len(frames)))
    for col, (system, frame) in zip(cols, frames.items()):
        if not len(frame):
            continue
        column = ui.y_column(sc)
        col.markdown(f"**{ui.label(system)}**")
        col.metric(f"Max output {metric}", ui.human(frame[column].max()))
        col.metric("max tokens/s per user", f"{frame['tokens_per_s_per_user'].max():,.0f}")
        col.caption(f"{sc.mw:g} MW = {frame.attrs['racks']:,} racks · {frame.attrs['factory_gpus']:,} GPUs at "
                    f"{frame.attrs['kw_per_gpu']:.2f} kW/GPU")

    if any(len(frame) for frame in frames.values()):
        # the points table is built only while open (on_change="rerun" tracks the state) and the CSV only on
        # click: formatting ~200 rows on every rerun was ~10 % of the server's time per rerun
        table_box = st.expander("Frontier points and their deployments", key="points_open", on_change="rerun")
        if table_box.open:
            table_box.dataframe(ui.readable_points(ui.frontier_table(frames)), hide_index=True, width="stretch")
        st.markdown("**Downloads** — chart (PNG/SVG carry a source footnote), frontier points (CSV)")
        ui.downloads(fig, lambda: ui.frontier_table(frames), "frontier", "frontier", footnote=ui.footnote_text(sc))
        st.download_button("At-target table (CSV)", lambda: table.drop(columns=["clamped"]).to_csv(index=False),
                           file_name=f"at-{target:g}-tok-s-user.csv", mime="text/csv", on_click="ignore",
                           key="at_target_csv", icon=":material/table:")
        with st.expander("PowerPoint deck"):
            if st.toggle("Build a deck (key figures, frontier, revenue, TCO, sensitivity, assumptions)",
                         key="build_deck"):
                st.download_button(
                    "Download deck (.pptx)", lambda: ui.deck_bytes(sc, frames, target),
                    file_name="ai-factory-frontier.pptx", on_click="ignore", key="deck_download",
                    mime="application/vnd.openxmlformats-officedocument.presentationml.presentation")
