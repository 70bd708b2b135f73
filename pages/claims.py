"""Claims & validation page: the seed articles' claims beside the model's values (with assumptions), and the
model's predictions against the measured reference points."""

import pandas as pd
import streamlit as st

from factory_model.claims import evaluate_claims
from factory_model.validation import validate
from pages import charts, ui
from pages.style import cite_seed

sc = ui.scenario()


@st.cache_data(show_spinner="Evaluating the seed claims…")
def claims_table():
    return evaluate_claims()


@st.cache_data(show_spinner="Validating against the reference set…")
def validation(backend: str):
    return validate(backend=backend)


@st.cache_data(show_spinner="Comparing MTP gains per stack…")
def mtp_table():
    from factory_model.factors import load_factors
    from factory_model.mtp_validation import mtp_gains, summarize_mtp_gains
    return summarize_mtp_gains(mtp_gains(load_factors()))


st.title("Claims and validation")
st.subheader("What the seed articles claim, and what the model says")
st.caption("Each claim is evaluated under the assumptions beside it (the seeds rarely state model, lengths or "
           "prices). 'Agrees' means within a factor of 1.5; nothing is tuned to agree.")
claims = claims_table().copy()
claims["source"] = [cite_seed(v) for v in claims["source"]]
st.dataframe(claims, hide_index=True, width="stretch",
             column_config={"id": None, "claim": st.column_config.TextColumn("Claim", width="large"),
                            "claimed_value": st.column_config.NumberColumn("Claimed", format="compact"),
                            "model_value": st.column_config.NumberColumn("Model", format="compact"),
                            "unit": st.column_config.TextColumn("Unit"),
                            "verdict": st.column_config.TextColumn("Verdict"),
                            "assumptions": st.column_config.TextColumn("Model's assumptions", width="large"),
                            "source": st.column_config.TextColumn("Source (title, address)", width="medium")})
st.download_button("Claims (CSV)", claims.to_csv(index=False), file_name="claims.csv", mime="text/csv",
                   on_click="ignore", key="claims_csv")

st.subheader("Model vs measured reference points")
ui.id_param("val_backend", ["best", "trtllm", "vllm", "sglang"], "best")
backend = st.segmented_control("Target", ["best", "trtllm", "vllm", "sglang"], key="val_backend", required=True,
                               format_func={"best": "Best framework", "trtllm": "TensorRT-LLM", "vllm": "vLLM",
                                            "sglang": "SGLang"}.get,
                               help="Which measurement the model is compared with where several frameworks "
                                    "measured one configuration: the best of them, or one framework.") or "best"
ui.publish_param("val_backend", backend, "best")
points, summary = validation(backend)
st.caption("Median absolute % error (MdAPE) per system × model × precision; bias = median signed error. The "
           "reference set is the only data the model is fitted on (data/reference/PROVENANCE.md).")
st.dataframe(summary, hide_index=True, width="stretch")
fig = charts.validation_figure(points, present=sc.present)
st.plotly_chart(fig, theme=None, key="validation_chart", config={"displaylogo": False})
ui.downloads(fig, points, "validation", "validation")
st.subheader("Out-of-sample error (the uncertainty bands on the frontier charts)")
from factory_model import accuracy  # noqa: E402

oos = accuracy.load_out_of_sample()
if len(oos):
    # the command that wrote each row goes in the caption, so the figures fit 1280 px without scrolling
    commands = sorted(set(oos["command"].dropna())) if "command" in oos else []
    if commands:
        st.caption("Written by " + " and ".join(f"`{c}`" for c in commands) + ".")
    if "frontier_ratio_measured_configs" in set(oos["metric"]):
        st.caption("frontier: the modelled optimum (every deployment) / the best measured stack at the same "
                   "tokens/s/user. frontier, measured only: the same with the model searching only the "
                   "deployments that were measured, so it shows how well the model predicts what was run; where "
                   "frontier is far above it, the optimum is a deployment the benchmark never ran there.")
    # method leads (out-of-sample vs in-sample rows); level is implied by the metric (frontier_ratio is the
    # frontier level) and the [0.85, 1.25] share stays in the CSV and `validate --cross --show`, so it fits 1280 px
    short = {"median_abs_error_pct": "|error| %", "median_ratio": "model/measured",
             "share_within_0_75_1_5": "in [0.75, 1.5]"}
    order = [c for c in ("system", "model", "precision", "method", "metric", "points", *short) if c in oos]
    # the CSV's metric ids are long; short labels keep every column in view at 1280 px
    metric_labels = {"output_tokens_per_s_per_gpu": "output tok/s/GPU", "frontier_ratio": "frontier",
                     "frontier_ratio_measured_configs": "frontier, measured only"}
    st.dataframe(oos.assign(metric=oos["metric"].map(lambda m: metric_labels.get(m, m))), hide_index=True,
                 width="stretch", column_order=order,
                 column_config={c: st.column_config.NumberColumn(label, format="%.2f") for c, label in short.items()
                                if c in oos})
    stability = accuracy.stability_table(oos, accuracy.load_out_of_sample(accuracy.THINNED_PATH))
    if len(stability):
        st.caption("How far these figures move: the same leave-one-system-out run with each fold fitted on 4/5 "
                   "of the other systems' configurations (`python -m factory_model validate --cross --thin`). "
                   "Read a single system's figure to within the gap between its two columns. Which fitted "
                   "factor carries a system's left-out error: `python -m factory_model validate --cross "
                   "--attribute` (each stored fold with one factor family taken from the full fit).")
        st.dataframe(stability, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(c, format="%.1f")
                                    for c in stability.columns if c != "system"})
else:
    st.info(f"{accuracy.NO_BAND.capitalize()}: data/validation/out_of_sample.csv has not been written, so the "
            "frontier charts show no uncertainty band.")

st.subheader("MTP: what each stack measured, and what the model says")
st.caption("Gain = TPOT without MTP / TPOT with MTP, on the aggregated configurations one framework measured both "
           "ways (measured_serving_points.csv), beside the model's gain for the same configurations. The model "
           "calibrates one acceptance per stack (TensorRT-LLM, SGLang, ATOM) and frontiers use the best stack that "
           "runs on the system; the measured gain also falls as the batch grows (columns ≤ 8 and ≥ 32: "
           "concurrency). `python -m factory_model validate --mtp`.")
mtp = mtp_table()
# the batch trend is the finding, so those columns stay in view at 1280 px; the spread is in the CLI/CSV
labels = {"measured_gain_median": "measured", "model_gain_median": "model",
          "measured_gain_small_batch": "measured ≤ 8", "model_gain_small_batch": "model ≤ 8",
          "measured_gain_large_batch": "measured ≥ 32", "model_gain_large_batch": "model ≥ 32"}
# a stack with no pair in a batch range shows "no pairs", not an empty number
shown = mtp.assign(**{c: mtp[c].map(lambda v: f"{v:.2f}" if pd.notna(v) else "no pairs") for c in labels
                      if c in mtp})
st.dataframe(shown, hide_index=True, width="stretch",
             column_config={c: (st.column_config.TextColumn(labels[c]) if c in labels else None)
                            for c in shown.columns if c not in ("system", "framework", "pairs")})
