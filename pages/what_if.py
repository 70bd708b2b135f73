"""What-if page: edit a system's catalog numbers or add a custom system, import a model from a Hugging Face
config.json, and save/load these user-defined entries as YAML. Changes show at once on every page, marked
"user-defined"."""

import streamlit as st

from factory_model import custom
from factory_model.errors import FactoryModelError
from pages import charts, ui

sc = ui.scenario()
cat = ui.catalog()
st.title("What-if")
st.caption("User-defined entries live in this browser session; save them as YAML to keep them.")

left, right = st.columns(2)
with left:
    st.subheader("Edit or add a system")
    built_in = [s for s in cat.systems if not cat.systems[s].user_defined]
    def _new_base() -> None:  # the id field follows the chosen base (it would otherwise keep the first one)
        st.session_state["whatif_id"] = f"{st.session_state['whatif_base']}-custom"
        st.session_state.pop("whatif_bw", None)

    base_id = st.selectbox("Start from", built_in, index=built_in.index("b200-sxm"), format_func=ui.label,
                           key="whatif_base", on_change=_new_base,
                           help="A built-in system whose numbers (and fitted efficiency factors) the new one starts "
                                "from.")
    base = cat.system(base_id)
    with st.form("system_form"):
        if "whatif_id" not in st.session_state:
            st.session_state["whatif_id"] = f"{base_id}-custom"
        new_id = st.text_input("New system id", max_chars=63, key="whatif_id",
                               help="Lower-case id of the new system; a built-in id is refused.")
        c1, c2 = st.columns(2)
        bw = c1.number_input("HBM bandwidth (TB/s)", 0.1, 100.0, float(base.hbm_bandwidth_tb_s), 0.1, key="whatif_bw")
        hbm = c2.number_input("HBM capacity (GiB)", 1.0, 4096.0, float(base.hbm_capacity_gib), 1.0)
        fp8 = c1.number_input("Dense FP8 (TFLOP/s)", 1.0, 200_000.0, float(base.peak_dense_tflops["fp8"] or 1), 100.0)
        fp4 = c2.number_input("Dense FP4 (TFLOP/s, 0 = none)", 0.0, 400_000.0,
                              float(base.peak_dense_tflops["fp4"] or 0), 100.0)
        kw = c1.number_input("All-in kW per GPU", 0.1, 20.0, float(base.all_in_power_kw_per_gpu), 0.05)
        link = c2.number_input("Scale-up GB/s per GPU (one way)", 1.0, 20_000.0, float(base.scale_up_bandwidth_gb_s), 50.0)
        domain = c1.number_input("Scale-up domain (GPUs)", 1, 1024, int(base.scale_up_domain_gpus), 1)
        price = c2.number_input("$/GPU-hour (hyperscaler tier)", 0.01, 100.0, float(base.gpu_hour_usd["hyperscaler"]), 0.05)
        capex = c1.number_input("Capex per GPU ($)", 100.0, 2_000_000.0, float(base.capex_usd_per_gpu), 1000.0)
        submitted = st.form_submit_button("Add / update system", type="primary", key="whatif_submit")
    if submitted:
        try:
            system = custom.edit_system(base, new_id.strip(), hbm_bandwidth_tb_s=bw, hbm_capacity_gib=hbm,
                                        all_in_power_kw_per_gpu=kw, scale_up_bandwidth_gb_s=link,
                                        scale_up_domain_gpus=int(domain), capex_usd_per_gpu=capex,
                                        peak_dense_tflops={"fp8": fp8, "fp4": fp4 or None},
                                        gpu_hour_usd={"hyperscaler": price})
            if system.id in cat.systems and not cat.systems[system.id].user_defined:
                raise FactoryModelError(f"'{system.id}' is a built-in id; choose another")
            ui.replace_custom_system(system)
            st.session_state["_select_system"] = system.id  # the sidebar adds it before drawing its widget
            st.success(f"{system.id} added and selected; it is marked user-defined on every page.")
            st.rerun()
        except FactoryModelError as exc:
            st.error(str(exc))

with right:
    st.subheader("Add a model from config.json")
    upload = st.file_uploader("Hugging Face config.json", type=["json"], key="config_upload")
    model_id = st.text_input("Model id", value="my-model", max_chars=63, key="config_model_id")
    if upload is not None and st.button("Add model", key="add_model"):
        try:
            model = custom.model_from_hf_config(upload.getvalue(), model_id.strip())
            if model.id in cat.models and not cat.models[model.id].user_defined:
                raise FactoryModelError(f"'{model.id}' is a built-in id; choose another")
            ui.replace_custom_model(model)
            st.success(f"{model.id}: {model.layers} layers, hidden {model.hidden_size}, "
                       f"{model.experts or 'no'} experts — choose it in the sidebar.")
            st.rerun()
        except FactoryModelError as exc:
            st.error(f"config.json not usable: {exc}")

    st.subheader("Save / load user-defined entries")
    text = ui.custom_yaml()
    st.download_button("Save as YAML", text or "# no user-defined entries\n", file_name="ai-factory-custom.yaml",
                       mime="application/x-yaml", disabled=not text, on_click="ignore", key="save_custom")
    loaded = st.file_uploader("Load YAML", type=["yaml", "yml"], key="custom_upload")
    if loaded is not None and st.button("Load entries", key="load_custom"):
        try:
            systems, models = custom.from_yaml(loaded.getvalue())
            for s in systems:
                ui.replace_custom_system(s)
            for m in models:
                ui.replace_custom_model(m)
            st.success(f"Loaded {len(systems)} system(s) and {len(models)} model(s).")
            st.rerun()
        except FactoryModelError as exc:
            st.error(f"File not loaded: {exc}")

systems, models = ui.custom_entries()
if systems or models:
    st.subheader("User-defined entries")
    for s in systems:
        changed = sorted(k for k, v in s.sources.items() if v == custom.USER)
        st.markdown(f"- **{s.id}** (from {s.calibration_system}): changed {', '.join(changed) or 'nothing'}")
        if st.button(f"Remove {s.id}", key=f"remove_{s.id}"):
            st.session_state["custom_systems"] = [x for x in systems if x.id != s.id]
            st.session_state["_deselect_system"] = s.id
            st.rerun()
    for m in models:
        st.markdown(f"- **{m.id}** (model from config.json)")
    compare = [s.calibration_system for s in systems] + [s.id for s in systems]
    frames = {s: ui.frontier(sc, s) for s in dict.fromkeys(compare) if s in ui.catalog().systems}
    ui.explain_empty(frames)
    fig = charts.frontier_figure(frames, ui.y_column(sc), ui.y_title(sc), x_log=sc.x_log, present=sc.present,
                                 title="Built-in vs user-defined", labels=ui.labels(frames))
    st.plotly_chart(fig, theme=None, key="whatif_chart")
