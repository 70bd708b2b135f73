"""Methodology page: formulas, conventions, and every catalog number with its source (searchable)."""

import pandas as pd
import streamlit as st

import factory_model as fm
from factory_model import architecture, economics, pareto, power, serving, step_time
from pages import ui


@st.cache_data(show_spinner=False)
def numbers(custom_text: str) -> pd.DataFrame:
    cat = ui.catalog()
    rows = []
    for kind, table in (("system", cat.systems), ("model", cat.models), ("precision", cat.precisions),
                        ("workload", cat.workloads)):
        for entry_id, entry in table.items():
            user = getattr(entry, "user_defined", False)
            for field, source in entry.sources.items():
                value = entry
                for part in field.split("."):
                    value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
                rows.append({"kind": kind, "id": entry_id, "field": field, "value": value, "source": source,
                             "user-defined": user or source.startswith("user-defined")})
    for row in fm.load_factors().rows():
        rows.append({"kind": "factor", "id": row.system, "field": f"{row.precision}/{row.op_class}.{row.parameter}",
                     "value": row.value, "source": row.source, "user-defined": False})
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype(str)
    return frame


sc = ui.scenario()
st.title("Methodology")
st.markdown("""
**What the model computes.** For a system, model, precision and workload it searches every deployment
(tensor / expert / attention-data / pipeline parallelism, batch, aggregated or disaggregated serving), predicts
time to first token (TTFT) and time per output token (TPOT) for each, keeps the Pareto frontier and prices it.

**Step time** (`factory_model/step_time.py`): each op of a forward step takes
`max(FLOPs / (η_F · peak), bytes / (η_B · HBM bandwidth), τ)`; ops are summed over layers; collectives add
`α(n) + bytes / (η_link · link bandwidth)` (NVLink inside the scale-up domain, the network across it); a residual
per-layer latency and pipeline hand-offs complete the step. MoE layers read only the experts the step's tokens
touch: `E · (1 − (1 − k/E)^T)`. A GEMM over M token rows reaches `M / (M + M½)` of its large-GEMM efficiency.

**Serving** (`serving.py`): aggregated in-flight batching mixes decode steps with chunked-prefill steps in the
proportion the prefill demand `B · isl / osl` requires; TTFT adds the prompt's prefill and queueing; closed-loop
throughput follows Little's law. Disaggregated serving rate-matches prefill and decode pools (x : y instances).
Speculative decoding multiplies tokens per step by `τ = (1 − α^{n+1}) / (1 − α)`.

**Conventions.** tokens/s per user = 1 / TPOT. "Output" tokens are generated tokens, "total" adds the prompt.
GPUs counted are every GPU of a deployment (tp × dp_attention × pp, plus prefill pools). Power is all-in
(GPU, CPU, network, facility): tokens/s per MW = tokens/s per GPU × 1000 / kW per GPU. Cost per million tokens =
cost per GPU-hour / (tokens/s per GPU × 3,600 × utilisation) × 10⁶.

**Calibration.** Efficiency factors start from sourced priors and are fitted on the measured reference set only
(`python -m factory_model fit`); the Claims & validation page shows the error. Rubin is preliminary.
""")
with st.expander("Module docstrings (formulas and units)"):
    for module in (step_time, serving, architecture, pareto, power, economics):
        st.markdown(f"**{module.__name__}**")
        st.code(module.__doc__ or "", language="text")

st.subheader("Every number and its source")
query = st.text_input("Search (id, field, value or source)", key="method_search", bind="query-params",
                      placeholder="e.g. h200 bandwidth, IX-TCO, assumption")
table = numbers(ui.custom_yaml())
if query:
    terms = [t.lower() for t in query.split()]
    text = pd.Series([" ".join(str(v) for v in row).lower() for row in table.itertuples(index=False)],
                     index=table.index)
    mask = pd.Series(True, index=table.index)
    for term in terms:
        mask &= text.str.contains(term, regex=False)
    table = table[mask]
st.caption(f"{len(table):,} numbers shown. Source keys resolve in data/sources.yaml; 'assumption:' marks a stated "
           f"assumption; 'user-defined' marks What-if entries.")
st.dataframe(table, hide_index=True, width="stretch", height=480)
