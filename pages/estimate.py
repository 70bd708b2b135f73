"""Estimate page: TTFT, TPOT and throughput of one deployment (a thin view over factory_model.estimate)."""

import streamlit as st

from factory_model import FactoryModelError, estimate, load_catalog

catalog = load_catalog()

st.title("AI Factory Frontier")
st.caption("Performance model of LLM serving per GPU system. Frontier, revenue and calibration views follow.")

left, right = st.columns(2)
with left:
    system = st.selectbox("System", list(catalog.systems), index=list(catalog.systems).index("h200-sxm"),
                          format_func=lambda s: catalog.systems[s].name, key="system")
    model = st.selectbox("Model", list(catalog.models), index=list(catalog.models).index("llama-3.1-70b"),
                         format_func=lambda m: catalog.models[m].name, key="model")
    precision = st.selectbox("Precision", list(catalog.precisions), index=1, key="precision")
    workload = st.selectbox("Workload", list(catalog.workloads), format_func=lambda w: catalog.workloads[w].name,
                            key="workload")
with right:
    tp = st.select_slider("Tensor parallel (tp)", [1, 2, 4, 8, 16, 32, 64, 72], value=8, key="tp")
    ep = st.select_slider("Expert parallel (ep)", [1, 2, 4, 8, 16, 32, 64, 72], value=1, key="ep")
    dp = st.select_slider("Attention data parallel", [1, 2, 4, 8, 16, 32, 64, 72], value=1, key="dp")
    concurrency = st.number_input("Concurrency (requests in flight)", min_value=1, max_value=100_000, value=64,
                                  key="concurrency")

w = catalog.workloads[workload]
try:
    result = estimate(system, model, precision, w.isl_tokens, w.osl_tokens, tp, ep, dp, 1, int(concurrency))
except FactoryModelError as exc:
    st.error(str(exc))
    st.stop()
row = result.iloc[0]
if row["reason"]:
    st.warning(f"This deployment cannot run: {row['reason']}")
    st.stop()
if row["note"]:
    st.info(row["note"])
a, b, c, d = st.columns(4)
a.metric("Tokens/s per user (output)", f"{row['tokens_per_s_per_user']:.1f}")
b.metric("Output tokens/s per GPU", f"{row['output_tokens_per_s_per_gpu']:.0f}")
c.metric("TTFT", f"{row['ttft_s'] * 1e3:.0f} ms")
d.metric("TPOT", f"{row['tpot_s'] * 1e3:.2f} ms")
st.dataframe(result.drop(columns=["reason"]).T.rename(columns={0: "value"}).astype(str), width="stretch")
