"""Hand-checkable parameter, KV and FLOP counts (anchors-modelling §2)."""

import numpy as np
import pytest

from factory_model import architecture as arch
from factory_model.memory import weight_bytes_per_gpu
from factory_model.moe import destination_ranks, experts_touched
from factory_model.parallelism import Layout
from factory_model.precision import resolve_precision


def test_llama_70b_parameters(catalog):
    m = catalog.model("llama-3.1-70b")
    # 80 layers x (151.0M attention + 704.6M MLP) = 68.45B, plus 2 x 1.05B embedding/head
    assert arch.total_params(m) == pytest.approx(70.55e9, rel=1e-3)
    assert arch.total_params(m) == pytest.approx(m.published_total_params_b * 1e9, rel=0.01)


@pytest.mark.parametrize("model_id", ["llama-3.1-8b", "llama-3.1-405b", "deepseek-r1", "kimi-k2",
                                      "qwen3-235b-a22b", "gpt-oss-120b", "gpt-oss-20b"])
def test_parameter_counts_match_model_cards(catalog, model_id):
    m = catalog.model(model_id)
    assert arch.total_params(m) == pytest.approx(m.published_total_params_b * 1e9, rel=0.04)
    if m.published_active_params_b:
        assert arch.active_params(m) == pytest.approx(m.published_active_params_b * 1e9, rel=0.06)


def test_llama_70b_fp8_weight_bytes(catalog):
    system, m = catalog.system("h200-sxm"), catalog.model("llama-3.1-70b")
    rp = resolve_precision(system, m, catalog.precision("fp8"))
    layers = 80 * (8192 * 64 * 128 * 2 + 2 * 8192 * 8 * 128 + 3 * 8192 * 28672)
    expected_tp1 = layers * 1.0002 + 2 * 128256 * 8192 * 2  # FP8 layers, BF16 embedding and lm_head
    got = weight_bytes_per_gpu(m, rp, Layout.of([1, 8]))
    assert got[0] == pytest.approx(expected_tp1, rel=1e-9)
    assert got[1] == pytest.approx(expected_tp1 / 8, rel=1e-9)


def test_kv_bytes_per_token(catalog):
    assert arch.kv_bytes_per_token(catalog.model("llama-3.1-70b"), 1) == 163_840  # FP8: 2*8*128*80
    assert arch.kv_bytes_per_token(catalog.model("llama-3.1-70b"), 2) == 327_680
    # DeepSeek-R1 MLA: (512 latent + 64 RoPE) x 61 layers = 35,136 elements per token
    assert arch.kv_bytes_per_token(catalog.model("deepseek-r1"), 1) == 35_136
    assert arch.kv_bytes_per_token(catalog.model("deepseek-r1"), 2) == 70_272


def test_sliding_window_caps_kv(catalog):
    m = catalog.model("gpt-oss-120b")
    full = arch.kv_bytes_per_token(m, 2)  # all 36 layers
    assert full == 2 * 8 * 64 * 36 * 2
    at_8k = arch.kv_bytes_per_token(m, 2, context_tokens=8192)
    assert at_8k == pytest.approx(2 * 8 * 64 * 2 * (18 + 18 * 128 / 8192))


def test_experts_touched_deepseek(catalog):
    m = catalog.model("deepseek-r1")
    touched = experts_touched(m.experts, m.experts_per_token, np.array([1, 8, 32, 64, 128, 256, 10_000]))
    assert touched[0] == pytest.approx(8)
    np.testing.assert_allclose(np.round(touched[1:6]), [57, 163, 222, 252, 256], atol=1)
    assert touched[-1] == pytest.approx(256)
    assert np.all(np.diff(touched) >= 0)


def test_destination_ranks():
    assert destination_ranks(1, 8) == pytest.approx(1)
    assert destination_ranks(8, 8) == pytest.approx(8 * (1 - (7 / 8) ** 8))
    assert destination_ranks(256, 1) == pytest.approx(1)


def test_mla_decode_attention_flops(catalog):
    m = catalog.model("deepseek-r1")
    assert arch.attention_flops_per_pair(m, "decode") == 2 * 128 * 1088
    assert arch.attention_flops_per_pair(m, "prefill") == 2 * 128 * (192 + 128)
    assert arch.attention_flops_per_pair(catalog.model("llama-3.1-70b"), "decode") == 4 * 64 * 128


def test_hopper_nvfp4_is_weight_only(catalog):
    rp = resolve_precision(catalog.system("h100-sxm"), catalog.model("gpt-oss-120b"), catalog.precision("nvfp4"))
    assert rp.weight_only and rp.gemm_math == "bf16" and rp.gemm_efficiency_key == "w4a16"
    assert "weight-only" in rp.note
    assert rp.quantized_weight_bytes == 0.53125  # MXFP4 checkpoint
    rp = resolve_precision(catalog.system("b200-sxm"), catalog.model("llama-3.1-70b"), catalog.precision("nvfp4"))
    assert not rp.weight_only and rp.gemm_math == "fp4" and rp.quantized_weight_bytes == 0.5625
