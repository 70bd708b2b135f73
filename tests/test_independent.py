"""Behaviour checked independently of the code under test: hand calculations (arithmetic written out in the
comments), published figures and invariants. No test here re-derives a value by calling the formula it checks.

Covers what issue 10 listed as untested: config.json import, the What-if YAML round trip, pp > 1, MoE/MLA
sharding, all-to-all / all-reduce / p2p times, disaggregated TTFT and KV transfer, Little's law on a stubbed
step time, ``value_at`` on a hand-made frontier.
"""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import yaml

import factory_model as fm
from factory_model import custom, serving
from factory_model.communication import LinkFactors, allreduce_time, alltoall_time, p2p_time
from factory_model.memory import kv_bytes_per_sequence_per_gpu, weight_bytes_per_gpu
from factory_model.parallelism import Layout
from factory_model.pareto import value_at
from factory_model.precision import resolve_precision
from factory_model.step_time import StepTime, build_step_model, step_time

GB = 1e9


def _sm(catalog, factors, system_id, model_id, precision_id):
    system, model = catalog.system(system_id), catalog.model(model_id)
    rp = resolve_precision(system, model, catalog.precision(precision_id))
    return build_step_model(system, model, rp, factors), rp


# --------------------------------------------------------------------------------------- config.json import

# Llama-3.1-8B's published config.json (meta-llama/Llama-3.1-8B-Instruct), the keys the importer reads
LLAMA_8B_CONFIG = {"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 32, "hidden_size": 4096,
                   "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
                   "intermediate_size": 14336, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
                   "_name_or_path": "meta-llama/Llama-3.1-8B-Instruct", "rope_theta": 500000.0}


def test_config_json_import_gives_llama_8b_with_its_published_8_03b_parameters(catalog):
    """Importing Llama-3.1-8B's config.json gives the architecture of its model card; BF16 weights on one GPU
    are 2 bytes × 8.03 B published parameters (hand count below, norms left out):

        embedding 128256·4096 = 525,336,576; lm_head the same (untied)           = 1,050,673,152
        per layer: q 4096² = 16,777,216, k + v 2·4096·1024 = 8,388,608, o 16,777,216,
                   MLP 3·4096·14336 = 176,160,768                  → 218,103,808 × 32 = 6,979,321,856
        total 8,029,995,008 params × 2 B = 16.06e9 B
    """
    m = custom.model_from_hf_config(json.dumps(LLAMA_8B_CONFIG), "my-llama-8b")
    assert m.user_defined and m.attention == "gqa" and not m.is_moe and not m.is_mla
    assert (m.layers, m.hidden_size, m.heads, m.kv_heads, m.head_dim) == (32, 4096, 32, 8, 128)
    assert (m.vocab_size, m.intermediate_size, m.dense_layers) == (128256, 14336, 32)
    assert m.native_precision == "bf16"
    builtin = catalog.model("llama-3.1-8b")  # the catalog's entry, typed in from the same config.json
    for field in ("layers", "hidden_size", "heads", "kv_heads", "head_dim", "vocab_size", "intermediate_size",
                  "dense_layers", "tie_word_embeddings"):
        assert getattr(m, field) == getattr(builtin, field), field
    rp = resolve_precision(catalog.system("h200-sxm"), m, catalog.precision("bf16"))
    weights_b = weight_bytes_per_gpu(m, rp, Layout.of(1))[0]
    assert weights_b == pytest.approx(8_029_995_008 * 2, rel=1e-6)
    assert weights_b == pytest.approx(8.03e9 * 2, rel=0.002)  # the published parameter count


def test_config_json_import_of_a_deepseek_style_moe_mla_config():
    """A DeepSeek-V3 config.json (published keys): MLA with a 512 + 64 latent, 256 routed + 1 shared experts,
    top-8, 3 dense layers then 58 MoE layers, an FP8 checkpoint."""
    config = {"num_hidden_layers": 61, "hidden_size": 7168, "num_attention_heads": 128, "num_key_value_heads": 128,
              "vocab_size": 129280, "intermediate_size": 18432, "moe_intermediate_size": 2048,
              "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3,
              "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
              "v_head_dim": 128, "num_nextn_predict_layers": 1,
              "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}
    m = custom.model_from_hf_config(config, "my-deepseek")
    assert m.is_mla and m.is_moe
    assert (m.kv_lora_rank, m.qk_rope_head_dim, m.q_lora_rank) == (512, 64, 1536)
    assert (m.experts, m.experts_per_token, m.shared_experts, m.expert_intermediate_size) == (256, 8, 1, 2048)
    assert (m.dense_layers, m.moe_layers, m.mtp_layers) == (3, 58, 1)
    assert m.native_precision == "fp8"


# ------------------------------------------------------------------------------------- What-if YAML round trip


def test_what_if_yaml_round_trip_keeps_every_catalog_entry_field(catalog):
    """load → dump → load gives the same System and Model entries (every dataclass field, sources included),
    and dumping the re-loaded entries gives the same document."""
    h200 = catalog.system("h200-sxm")
    mine = custom.edit_system(h200, "my-h200", "My H200", hbm_bandwidth_tb_s=6.5, scale_out_bandwidth_gb_s=100,
                              gpus_per_rack=16, peak_dense_tflops={"fp8": 2500.0},
                              gpu_hour_usd={"hyperscaler": 3.0})
    model = custom.model_from_hf_config(LLAMA_8B_CONFIG, "my-llama-8b")
    text = custom.to_yaml([mine], [model])
    systems, models = custom.from_yaml(text)
    assert len(systems) == 1 and len(models) == 1
    text2 = custom.to_yaml(systems, models)
    systems2, models2 = custom.from_yaml(text2)
    assert yaml.safe_load(text2) == yaml.safe_load(text)  # same numbers (an int may come back as 100.0)
    assert systems2 == systems and models2 == models
    s = systems[0]
    # the edited numbers survive, and the untouched ones are the base system's
    assert (s.hbm_bandwidth_tb_s, s.scale_out_bandwidth_gb_s, s.gpus_per_rack) == (6.5, 100, 16)
    assert s.peak_dense_tflops["fp8"] == 2500.0 and s.gpu_hour_usd["hyperscaler"] == 3.0
    assert s.hbm_capacity_gib == h200.hbm_capacity_gib and s.all_in_power_kw_per_gpu == h200.all_in_power_kw_per_gpu
    assert s.calibration_system == "h200-sxm" and s.user_defined
    for field in dataclasses.fields(mine):
        if field.name not in ("sources",):
            assert getattr(s, field.name) == getattr(mine, field.name), field.name
    for field in dataclasses.fields(model):
        if field.name not in ("sources",):
            assert getattr(models[0], field.name) == getattr(model, field.name), field.name


# ---------------------------------------------------------------------------------------------- pp > 1


def test_pipeline_two_stages_hold_half_the_layer_weights(catalog):
    """Llama-3.1-70B FP8 on one GPU: 80 layers × 855,638,016 params (q 8192² + k,v 2·8192·1024 + o 8192² +
    MLP 3·8192·28672) = 68,451,041,280 params × 1.0002 B (FP8 + block scales) = 68.465e9 B of layers; embedding
    and lm_head are BF16, 128256·8192·2 = 2,101,346,304 B each. pp = 1 holds all of it; pp = 2 holds half the
    layers plus one of the two boundary tensors (they are the same size):
        pp=1: 68.465e9 + 2 · 2.1013e9 = 72.668e9 B;   pp=2: 34.233e9 + 2.1013e9 = 36.334e9 B
    """
    m = catalog.model("llama-3.1-70b")
    rp = resolve_precision(catalog.system("h200-sxm"), m, catalog.precision("fp8"))
    w = weight_bytes_per_gpu(m, rp, Layout.of(1, 1, 1, [1, 2]))
    layers_b = 68_451_041_280 * 1.0002
    boundary_b = 128256 * 8192 * 2
    assert w[0] == pytest.approx(layers_b + 2 * boundary_b, rel=1e-4)
    assert w[1] == pytest.approx(layers_b / 2 + boundary_b, rel=1e-4)
    # KV per sequence per GPU halves too: each stage keeps only its own 40 layers' cache
    kv = kv_bytes_per_sequence_per_gpu(m, rp, Layout.of(1, 1, 1, [1, 2]), np.array([1000.0, 1000.0]))
    # 2 (K,V) · 8 KV heads · 128 · 1 B (FP8 KV) · 80 layers · 1000 tokens = 163.84e6 B
    assert kv.tolist() == pytest.approx([163.84e6, 81.92e6])


def test_tpot_with_two_pipeline_stages_includes_the_hand_off(catalog, factors):
    """A decode step of 8 sequences with pp = 2 inside one H200 node costs exactly one more hand-off than pp = 1:
    α_p2p + activations / NVLink = α_p2p + 8 tokens · 8192 · 2 B / 450e9 B/s = α_p2p + 0.29127 µs.
    At concurrency 1 (one micro-batch either way, isl = osl = 1024) TPOT differs by the hand-offs of its steps:
    a share f = 1024/1024 prompt tokens per step / 8191-token chunk = 1/8191 of steps is mixed and hands off
    1 + 8191 = 8192 tokens, the rest hand off 1 token: (8190/8191) · 1 + (1/8191) · 8192 = 16382/8191 = 2
    tokens on average, so ΔTPOT = α_p2p + 2 · 8192 · 2 B / 450e9 B/s."""
    sm, _ = _sm(catalog, factors, "h200-sxm", "llama-3.1-70b", "fp8")
    alpha_s = factors.get("h200-sxm", "*", "p2p", "fixed_latency_us") * 1e-6
    hand_off_s = alpha_s + 8 * 8192 * 2 / 450e9
    st = step_time(sm, Layout.of(2, 1, 1, [1, 2]), 8, 1536, with_ops=True)
    assert st.ops_s["pipeline_p2p"][0] == 0.0
    assert st.ops_s["pipeline_p2p"][1] == pytest.approx(hand_off_s, rel=1e-9)
    assert st.total_s[1] - st.total_s[0] == pytest.approx(hand_off_s, rel=1e-6)
    assert alpha_s > 0
    r = serving.aggregated(sm, factors, Layout.of(2, 1, 1, [1, 2]), 1, 1024, 1024)
    mean_hand_off_s = alpha_s + 2 * 8192 * 2 / 450e9
    assert r["tpot_s"][1] - r["tpot_s"][0] == pytest.approx(mean_hand_off_s, rel=1e-6)


# ------------------------------------------------------------------------------------------ MoE/MLA sharding


def test_deepseek_r1_mla_kv_bytes_per_token(catalog):
    """MLA caches the 512-wide latent plus the 64-wide shared RoPE key per layer: (512 + 64) × 61 layers ×
    1 B (FP8 KV) = 35,136 B per token — not split by tp (every tp rank holds the latent whole), so a
    1000-token sequence holds 35.136e6 B on each GPU at tp = 1 and at tp = 8."""
    m = catalog.model("deepseek-r1")
    rp = resolve_precision(catalog.system("h200-sxm"), m, catalog.precision("fp8"))
    assert rp.kv_bytes == 1.0
    from factory_model.architecture import kv_bytes_per_token
    assert kv_bytes_per_token(m, rp.kv_bytes) == (512 + 64) * 61 * 1 == 35_136
    assert kv_bytes_per_token(m, 2.0) == (512 + 64) * 61 * 2  # BF16 KV: 70,272 B
    kv = kv_bytes_per_sequence_per_gpu(m, rp, Layout.of([1, 8], [1, 8]), np.array([1000.0, 1000.0]))
    assert kv.tolist() == pytest.approx([35.136e6, 35.136e6])


def test_routed_experts_per_gpu_are_256_over_ep(catalog):
    """DeepSeek-R1 FP8 with DP attention (tp = 1, dp = ep): each GPU holds 256/ep whole routed experts per MoE
    layer; everything else (attention at tp 1, dense layers, shared expert, router, embedding, head) is the
    same at ep = 8 and ep = 16. So the difference is (256/8 − 256/16) = 16 experts × 3·7168·2048 =
    44,040,192 params × 58 MoE layers × 1.0002 B = 40.869e9 B; ep = 32 saves another 8 experts' worth."""
    m = catalog.model("deepseek-r1")
    rp = resolve_precision(catalog.system("h200-sxm"), m, catalog.precision("fp8"))
    w = weight_bytes_per_gpu(m, rp, Layout.of(1, [8, 16, 32], [8, 16, 32]))
    expert_b = 3 * 7168 * 2048 * 58 * 1.0002  # one expert in every MoE layer
    assert w[0] - w[1] == pytest.approx(16 * expert_b, rel=1e-6)
    assert w[1] - w[2] == pytest.approx(8 * expert_b, rel=1e-6)


# ------------------------------------------------------------------------------------ communication times

LINKS = LinkFactors(
    scale_up_bytes_per_s=400e9, scale_out_bytes_per_s=50e9, domain_gpus=8,
    allreduce_alpha_s=5e-6, allreduce_alpha_per_doubling_s=1e-6, allreduce_fraction=0.5,
    allreduce_scaleout_alpha_s=20e-6, allreduce_scaleout_alpha_per_doubling_s=2e-6, allreduce_scaleout_fraction=0.8,
    alltoall_alpha_s=10e-6, alltoall_fraction=0.8, alltoall_scaleout_alpha_s=30e-6, alltoall_scaleout_fraction=0.5,
    p2p_alpha_s=4e-6)


def test_alltoall_times_hand_computed():
    """All-to-all where each GPU sends V = 8 MB:
    * 8 GPUs (one domain): 10 µs + 7/8 · 8e6 / (400e9 · 0.8) = 10 µs + 21.875 µs;
    * 16 GPUs (crosses domains: network at 50 GB/s · 0.5): 30 µs + 15/16 · 8e6 / 25e9 = 30 µs + 300 µs;
    * 1 GPU: nothing to send, 0."""
    alpha, transfer = alltoall_time(8e6, np.array([8.0, 16.0, 1.0]), LINKS)
    assert alpha.tolist() == pytest.approx([10e-6, 30e-6, 0.0])
    assert transfer.tolist() == pytest.approx([21.875e-6, 300e-6, 0.0])


def test_allreduce_times_hand_computed():
    """All-reduce of S = 1 MB: 4 GPUs: α 5 µs + 1 µs·log2 4 = 7 µs; 2·3/4 · 1e6 / (400e9 · 0.5) = 7.5 µs.
    32 GPUs (network): 20 µs + 2 µs · 5 = 30 µs; 2·31/32 · 1e6 / (50e9 · 0.8) = 48.4375 µs."""
    alpha, transfer = allreduce_time(1e6, np.array([4.0, 32.0]), LINKS)
    assert alpha.tolist() == pytest.approx([7e-6, 30e-6])
    assert transfer.tolist() == pytest.approx([7.5e-6, 48.4375e-6])


def test_p2p_times_hand_computed():
    """Send 1 MB to the next pipeline stage: inside a switched domain 4 µs + 1e6 / 400e9 = 4 µs + 2.5 µs;
    across domains 4 µs + 1e6 / 50e9 = 4 µs + 20 µs; in a point-to-point mesh of 64 GB/s links the send
    gets one link: 1e6 / 64e9 = 15.625 µs."""
    alpha, transfer = p2p_time(np.array([1e6, 1e6]), np.array([False, True]), LINKS)
    assert alpha.tolist() == pytest.approx([4e-6, 4e-6])
    assert transfer.tolist() == pytest.approx([2.5e-6, 20e-6])
    mesh = dataclasses.replace(LINKS, scale_up_peer_bytes_per_s=64e9)
    assert p2p_time(np.array([1e6]), np.array([False]), mesh)[1][0] == pytest.approx(15.625e-6)


# ---------------------------------------------------------------------------------- disaggregated serving


@pytest.fixture(scope="module")
def disagg_b200():
    return fm.frontier("b200-sxm", "llama-3.1-70b", "fp8", 8192, 1024, serving="disagg")


def test_disaggregated_ttft_is_prefill_times_1_8_plus_kv_over_the_network(catalog, factors, disagg_b200):
    """Every disaggregated row: TTFT = 1.8 (AIC's queueing factor, serving.yaml) × the prefill batch time of
    its prefill layout + the KV transfer. B200 is an HGX system (8-GPU NVLink domain), so the KV crosses the
    network at 50 GB/s per GPU, each of the prefill instance's tp GPUs sending its share:
        batch × 8192 tokens × 163,840 B/token (2·8·128·80 layers, FP8 KV) / (tp × 50e9 B/s)
    e.g. batch 1, tp 8: 8192 · 163840 / 400e9 = 3.355 ms."""
    f = disagg_b200
    assert len(f) and (f["serving"] == "disagg").all()
    sm, _ = _sm(catalog, factors, "b200-sxm", "llama-3.1-70b", "fp8")
    checked = 0
    for _, row in f.iterrows():
        layout = Layout.of(int(row["prefill_tp"]), int(row["prefill_ep"]), int(row["prefill_dp_attention"]))
        batch = row["prefill_batch"]
        prefill_s = step_time(sm, layout, 0.0, 0.0, batch * 8192, 8192).total_s[0]
        transfer_s = batch * 8192 * 163_840 / (row["prefill_tp"] * 50e9)
        assert row["ttft_s"] >= 1.8 * prefill_s
        assert row["ttft_s"] == pytest.approx(1.8 * prefill_s + transfer_s, rel=1e-9)
        checked += 1
    assert checked == len(f) >= 3


def test_disaggregated_ttft_on_nvl72_stays_on_nvlink(catalog, factors):
    """On GB200 NVL72 a unit inside the 72-GPU domain moves KV over NVLink (900 GB/s per peer link), so the
    transfer is batch × isl × KV / (tp × 900e9): for Llama-3.1-70B FP8 and isl 8192, 18x less than over a
    50 GB/s network."""
    f = fm.frontier("gb200-nvl72", "llama-3.1-70b", "fp8", 8192, 1024, serving="disagg")
    assert len(f)
    sm, _ = _sm(catalog, factors, "gb200-nvl72", "llama-3.1-70b", "fp8")
    peer_b_s = catalog.system("gb200-nvl72").peer_bandwidth_gb_s * 1e9
    assert peer_b_s == 900e9
    for _, row in f[f["gpus"] <= 72].iterrows():
        layout = Layout.of(int(row["prefill_tp"]), int(row["prefill_ep"]), int(row["prefill_dp_attention"]))
        prefill_s = step_time(sm, layout, 0.0, 0.0, row["prefill_batch"] * 8192, 8192).total_s[0]
        transfer_s = row["prefill_batch"] * 8192 * 163_840 / (row["prefill_tp"] * 900e9)
        assert row["ttft_s"] == pytest.approx(1.8 * prefill_s + transfer_s, rel=1e-9)


# ------------------------------------------------------------------------ Little's law on a stubbed step time


def test_throughput_follows_littles_law_on_a_constant_step_time(catalog, factors, monkeypatch):
    """With every step stubbed to take 10 ms, the closed loop is hand-computable (Llama-3.1-70B FP8, tp = 2,
    isl 1000, osl 101; 1000-token prompts fit one 8192-token chunk):
        TPOT = 10 ms; TTFT = one prefill step + half a decode step of waiting = 15 ms;
        one request = 15 ms + 100 × 10 ms = 1.015 s;
        concurrency 1: 1 × 101 tokens / 1.015 s / 2 GPUs = 49.7537 tokens/s/GPU; concurrency 4: 4x that.
    (A swapped isl/osl or a per-user rate without the prefill time would miss by far more than 1e-9.)"""
    sm, _ = _sm(catalog, factors, "h200-sxm", "llama-3.1-70b", "fp8")

    def constant(sm_, layout, decode_tokens, decode_context, prefill_tokens=0.0, prefill_isl=1.0, **kw):
        n = len(layout)
        t = np.full(n, 0.010)
        return StepTime(t, t, np.zeros(n), np.zeros(n), np.zeros(n), t, {})

    monkeypatch.setattr(serving, "step_time", constant)
    r = serving.aggregated(sm, factors, Layout.of([2, 2]), np.array([1, 4]), 1000, 101)
    assert r["tpot_s"].tolist() == pytest.approx([0.010, 0.010])
    assert r["ttft_s"].tolist() == pytest.approx([0.015, 0.015])
    assert r["output_tokens_per_s_per_gpu"].tolist() == pytest.approx([49.753694581, 4 * 49.753694581], rel=1e-9)
    # total basis: (1000 + 101) / 101 input + output tokens per output token
    assert r["total_tokens_per_s_per_gpu"][0] == pytest.approx(49.753694581 * 1101 / 101, rel=1e-9)


# ----------------------------------------------------------------------------------- value_at, hand-made


def test_value_at_on_a_hand_made_frontier():
    """Three frontier points (10, 1000), (100, 400), (1000, 100) tokens/s/user → tokens/s/GPU. Linear in
    log10 x: at 10^1.5 = 31.62, halfway between the first two: (1000 + 400) / 2 = 700; at 10^2.25 = 177.8,
    a quarter of the way from 100 to 1000: 400 − 0.25 · 300 = 325. Step method at 50: the best deployment at
    least that fast is (100, 400). Below the slowest point: the largest y (1000); beyond 1000: NaN."""
    frontier = pd.DataFrame({"tokens_per_s_per_user": [100.0, 10.0, 1000.0],  # unsorted on purpose
                             "output_tokens_per_s_per_gpu": [400.0, 1000.0, 100.0],
                             "revenue": [4.0, 10.0, 1.0]})
    assert value_at(frontier, 10 ** 1.5) == pytest.approx(700.0)
    assert value_at(frontier, 10 ** 2.25) == pytest.approx(325.0)
    assert value_at(frontier, 100.0) == pytest.approx(400.0)
    assert value_at(frontier, 50.0, method="step") == 400.0
    assert value_at(frontier, 5.0) == 1000.0
    assert np.isnan(value_at(frontier, 1001.0))
    assert value_at(frontier, 10 ** 1.5, column="revenue") == pytest.approx(7.0)
    assert np.isnan(value_at(frontier.iloc[:0], 50.0))
