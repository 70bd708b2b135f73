"""MoE serving at scale: token budget, checkpoint recipes, MTP, units, links, imbalance, frontier validation.

Each test checks behaviour from a hand calculation, a published figure or an invariant, not by re-running the
formula under test.
"""

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest

import factory_model as fm
from factory_model import moe
from factory_model.catalog import load_catalog
from factory_model.communication import alltoall_two_level_time
from factory_model.factors import load_factors
from factory_model.parallelism import Layout
from factory_model.precision import resolve_precision
from factory_model.search import MAX_DECODE_INSTANCES, MAX_UNIT_GPUS
from factory_model.step_time import build_step_model


def test_token_budget_caps_throughput_not_just_tpot():
    """8k-token prompts, 256-token answers, 8192-token step budget: at most 8192 / (1 + 8192/256) = 248
    sequences can decode per step beside the prefill they need, so throughput per GPU can never exceed
    248 sequences / TPOT / 8 GPUs, however many requests are admitted (defect: every admitted request used
    to count as decoding)."""
    budget = load_factors().serving("max_num_tokens")
    r = fm.estimate("h200-sxm", "llama-3.1-70b", "fp8", 8192, 256, tp=8, concurrency=[256, 1024, 2048])
    cap = budget / (1 + 8192 / 256) / r["tpot_s"] / 8
    assert (r["output_tokens_per_s_per_gpu"] <= cap * (1 + 1e-9)).all(), r[["output_tokens_per_s_per_gpu"]]
    # and admitting more requests than can decode only lengthens the wait, never raises throughput
    assert r["output_tokens_per_s_per_gpu"].iloc[2] <= r["output_tokens_per_s_per_gpu"].iloc[1] * 1.001


def test_nvfp4_deepseek_keeps_attention_at_16_bits():
    """NVIDIA's DeepSeek-R1 NVFP4 checkpoint excludes every self_attn module from quantization. MLA attention
    per layer (config.json): q_a 7168·1536 + kv_a 7168·576 replicated, q_b 1536·24576 + kv_b 512·32768 +
    o 16384·7168 split over tp. At tp = 8 that is 15,138,816 + 171,966,464 / 8 = 36,634,624 params per layer
    and GPU, × 61 layers = 2.2347e9 params, each 2 − 0.5625 bytes heavier than at 4 bits: 3.2126 GB."""
    catalog = load_catalog()
    model = catalog.model("deepseek-r1")
    assert {"attention", "mtp"} <= model.four_bit_unquantized_tensors
    all_four_bit = dataclasses.replace(model, four_bit_unquantized_tensors=frozenset())
    system, precision = catalog.system("b200-sxm"), catalog.precision("nvfp4")
    from factory_model.memory import weight_bytes_per_gpu
    layout = Layout.of(8, 8, 1, 1)
    recipe = weight_bytes_per_gpu(model, resolve_precision(system, model, precision), layout)[0]
    naive = weight_bytes_per_gpu(all_four_bit, resolve_precision(system, all_four_bit, precision), layout)[0]
    assert recipe - naive == pytest.approx(2.2347e9 * (2 - 0.5625), rel=2e-3)
    # at FP8 the recipe changes nothing: attention is FP8 in the FP8 checkpoint
    fp8 = catalog.precision("fp8")
    assert weight_bytes_per_gpu(model, resolve_precision(system, model, fp8), layout)[0] == \
        weight_bytes_per_gpu(all_four_bit, resolve_precision(system, all_four_bit, fp8), layout)[0]


def test_mtp_draft_costs_at_least_a_layer_per_draft():
    """With acceptance 0 every draft is wasted: TPOT must exceed plain decoding by at least the drafts' share of
    the model (3 draft passes, each a full decoder layer of 61, plus LM head)."""
    plain = fm.estimate("h200-sxm", "deepseek-r1", "fp8", 1024, 1024, tp=8, ep=8, concurrency=4)
    catalog, factors = load_catalog(), load_factors()
    system, model = catalog.system("h200-sxm"), catalog.model("deepseek-r1")
    sm = build_step_model(system, model, resolve_precision(system, model, catalog.precision("fp8")), factors)
    from factory_model.serving import Speculation, aggregated
    wasted = aggregated(sm, factors, Layout.of(8, 8, 1, 1), 4, 1024, 1024, Speculation(3, 0.0))
    assert wasted["tpot_s"][0] > plain["tpot_s"].iloc[0] * (1 + 3 / 61)
    useful = aggregated(sm, factors, Layout.of(8, 8, 1, 1), 4, 1024, 1024, Speculation(3, 0.9))
    assert useful["tpot_s"][0] < plain["tpot_s"].iloc[0]  # small batch, memory-bound: MTP pays off


def test_draft_expert_reuse_cheapens_small_batch_verify_and_leaves_large_batch_alone():
    """A verify step carries n + 1 = 4 tokens per sequence. DeepSeek-R1 (256 experts, top-8), one sequence:
    drafts routed independently touch E·(1 − (1 − 8/256)^4) = 30.5 distinct experts (anchors-modelling §2.6),
    3.8x the 8 of a one-token decode step; drafts that reuse their sequence's experts (ρ = 1) touch the same 8.
    At 256 sequences (nearly) every expert is touched either way, so ρ cannot matter there."""
    from factory_model.step_time import step_time
    catalog = load_catalog()
    system, model = catalog.system("b200-sxm"), catalog.model("deepseek-r1")
    base = build_step_model(system, model, resolve_precision(system, model, catalog.precision("fp8")),
                            load_factors())
    layout = Layout.of(8, 1, 1, 1)

    def moe_s(rho, sequences, tokens_per_sequence):
        sm = dataclasses.replace(base, draft_expert_reuse=rho)
        st = step_time(sm, layout, sequences * tokens_per_sequence, 1500.0,
                       tokens_per_sequence=tokens_per_sequence, with_ops=True)
        return float(np.ravel(st.ops_s["moe_experts"])[0]), float(st.total_s[0])

    decode = moe_s(0.0, 1, 1)[0]
    independent, reuse_half, reuse_all = (moe_s(rho, 1, 4)[0] for rho in (0.0, 0.5, 1.0))
    assert reuse_all == pytest.approx(decode, rel=0.01)  # same expert weights; only 4 tokens' activations more
    assert reuse_all < reuse_half < independent
    assert 2.5 < independent / decode < 3.9  # 30.5 / 8 = 3.8, less the per-kernel floor both steps pay
    large = [moe_s(rho, 256, 4)[1] for rho in (0.0, 0.5, 1.0)]
    assert large[0] == pytest.approx(large[2], rel=1e-3) and large[1] == pytest.approx(large[2], rel=1e-3)


def test_mtp_acceptance_can_grow_with_output_length():
    """α(osl) = α + β·log2(osl/1024): by hand, α 0.5 and β 0.05 give 0.5 at 1k, 0.65 at 8k (three doublings);
    τ(3 drafts) = 1 + α + α² + α³ = 1.875 at 1k and 1 + 0.65 + 0.4225 + 0.274625 = 2.347 at 8k. β = 0 keeps
    one α for every length, and a longer output then never makes MTP cheaper per token by itself."""
    from factory_model.serving import Speculation, aggregated
    spec = Speculation(3, 0.5, 0.05)
    assert float(spec.acceptance_at(1024)) == pytest.approx(0.5)
    assert float(spec.acceptance_at(8192)) == pytest.approx(0.65)
    assert float(spec.tokens_per_step_at(1024)) == pytest.approx(1.875)
    assert float(spec.tokens_per_step_at(8192)) == pytest.approx(2.347125)
    assert spec.tokens_per_step == pytest.approx(1.875)
    assert float(Speculation(3, 0.9, 0.1).acceptance_at(2 ** 20)) == pytest.approx(0.99)  # clipped below 1
    catalog, factors = load_catalog(), load_factors()
    system, model = catalog.system("b200-sxm"), catalog.model("deepseek-r1")
    sm = build_step_model(system, model, resolve_precision(system, model, catalog.precision("fp8")), factors)
    layout = Layout.of(8, 1, 1, 1)
    flat = aggregated(sm, factors, layout, 8, 1024, 8192, Speculation(3, 0.5))
    growing = aggregated(sm, factors, layout, 8, 1024, 8192, Speculation(3, 0.5, 0.05))
    assert growing["tpot_s"][0] < flat["tpot_s"][0]


def test_mtp_weights_take_memory():
    catalog, factors = load_catalog(), load_factors()
    system, model = catalog.system("h200-sxm"), catalog.model("deepseek-r1")
    sm = build_step_model(system, model, resolve_precision(system, model, catalog.precision("fp8")), factors)
    from factory_model.serving import Speculation, memory_limits
    layout = Layout.of(8, 8, 1, 1)
    plain = memory_limits(sm, factors, layout, 1024, 1024)
    mtp = memory_limits(sm, factors, layout, 1024, 1024, Speculation(3, 0.7))
    extra = mtp["weight_bytes_per_gpu"][0] - plain["weight_bytes_per_gpu"][0]
    # DeepSeek-V3's MTP module: 11.5B parameters incl. its 0.9B embedding and 0.9B head shared with the main
    # model (specs §2.1): ~9.7B of its own, FP8, over 8 GPUs ≈ 1.2 GB (MoE layer 8-way, router BF16)
    assert 0.9e9 < extra < 1.5e9
    assert mtp["max_batch_per_rank"][0] < plain["max_batch_per_rank"][0]


def test_mtp_auto_reaches_measured_mtp_interactivity():
    """Measured MTP deployments of DeepSeek-R1 on B200 reach > 150 tokens/s/user (measured_serving_points.csv);
    `mtp auto` gives the model those speeds, and models without MTP heads are unchanged."""
    off = fm.frontier("b200-sxm", "deepseek-r1", "fp8", 1024, 1024)
    auto = fm.frontier("b200-sxm", "deepseek-r1", "fp8", 1024, 1024, mtp_tokens="auto")
    assert (auto["draft_tokens"] > 0).any() and (auto["draft_tokens"] == 0).any()
    assert auto["tokens_per_s_per_user"].max() > off["tokens_per_s_per_user"].max()
    from factory_model.serving_reference import load_serving_reference
    ref = load_serving_reference()
    measured = ref[(ref["system"] == "b200-sxm") & (ref["mtp"] == 1) & (ref["precision"] == "fp8")
                   & (ref["isl"] == 1024) & (ref["osl"] == 1024)]
    assert auto["tokens_per_s_per_user"].max() >= 0.8 * measured["tokens_per_s_per_user"].max()
    kimi_off = fm.frontier("gb200-nvl72", "kimi-k2", "nvfp4", 1024, 1024)
    kimi_auto = fm.frontier("gb200-nvl72", "kimi-k2", "nvfp4", 1024, 1024, mtp_tokens="auto")
    assert np.allclose(kimi_off["output_tokens_per_s_per_gpu"], kimi_auto["output_tokens_per_s_per_gpu"])


@pytest.mark.parametrize("mw", [0.5, 1.0, 100.0])
def test_units_never_exceed_the_facility_or_a_real_cluster(mw):
    f = fm.frontier("b200-sxm", "deepseek-r1", "fp8", 1024, 8192, mw=mw, mtp_tokens="auto")
    if not len(f):
        assert f.attrs["reason"]
        return
    assert (f["gpus"] <= f.attrs["factory_gpus"]).all()
    assert (f["gpus"] <= MAX_UNIT_GPUS).all()
    assert (f["decode_instances"] <= MAX_DECODE_INSTANCES).all()


def test_hgx_moe_engines_keep_tensor_parallel_attention_within_two_nodes():
    """No stack runs DeepSeek with TP attention over more than two 8-GPU nodes (TP16 is the widest measured or
    published); wider engines are DP attention with wide EP. Before the limit the H100 frontier's fastest point
    was a TP32 engine over four nodes."""
    f = fm.frontier("h100-sxm", "deepseek-r1", "fp8", 1024, 8192, mtp_tokens="auto", mw=100)
    layouts = [(f["tp"], f["dp_attention"])] + ([(f["prefill_tp"], f["prefill_dp_attention"])]
                                                 if "prefill_tp" in f else [])
    for tp, dp in layouts:
        assert (tp.fillna(1) <= 16).all()
    assert (f["ep"] > 16).any() or (f["gpus"] > 16).any()  # wide engines remain, as DP attention + EP
    assert ((f["ep"] > 16) <= (f["dp_attention"] == f["ep"])).all()


def test_default_ttft_limit_is_applied_and_shown():
    f = fm.frontier("gb200-nvl72", "deepseek-r1", "nvfp4", 8192, 1024, mtp_tokens="auto")
    assert f.attrs["ttft_max_s"] == 10.0
    assert (f["ttft_s"] <= 10.0).all()
    assert "TTFT ≤ 10 s" in f.attrs["note"]
    unlimited = fm.frontier("gb200-nvl72", "deepseek-r1", "nvfp4", 8192, 1024, ttft_max_s=math.inf)
    assert len(unlimited) >= 1


def test_two_level_alltoall_uses_the_network_only_across_domains():
    """Inside one scale-up domain the network bandwidth is irrelevant; across domains the per-node
    de-duplicated bytes over the network set the time when the network is the slower link."""
    catalog, factors = load_catalog(), load_factors()
    system, model = catalog.system("h200-sxm"), catalog.model("deepseek-r1")
    sm = build_step_model(system, model, resolve_precision(system, model, catalog.precision("fp8")), factors)
    links = sm.links
    faster_network = dataclasses.replace(links, scale_out_bytes_per_s=links.scale_out_bytes_per_s * 2)
    copy = 1e6
    inside = alltoall_two_level_time(copy, 4.0, 0.0, 8, links)[1]
    assert inside == alltoall_two_level_time(copy, 4.0, 0.0, 8, faster_network)[1]
    nodes = moe.remote_domains(16, 8, 8)
    # two 8-GPU domains, 8 experts per token: the other domain is hit with probability 1 − 2^-8
    assert nodes == pytest.approx(1 - 0.5 ** 8)
    across = alltoall_two_level_time(copy, 6.0, nodes, 16, links)[1]
    across_fast = alltoall_two_level_time(copy, 6.0, nodes, 16, faster_network)[1]
    assert across > inside and across_fast < across
    assert across >= nodes * copy / (links.scale_out_bytes_per_s * links.alltoall_scaleout_fraction) - 1e-15


def test_load_imbalance_grows_with_ep_and_vanishes_without_it():
    assert moe.load_imbalance(1, 1000, 0.1) == 1.0
    lam = moe.load_imbalance(np.array([2, 8, 32, 72]), np.array([2, 8, 32, 72]) * 256.0, 0.05)
    assert np.all(np.diff(lam) > 0) and lam[0] > 1.0
    # many tokens per rank: only the hot-expert term c·log2(ep) remains
    assert moe.load_imbalance(64, 64 * 1e9, 0.05) == pytest.approx(1 + 0.05 * 6, rel=1e-3)


def test_amd_point_to_point_runs_at_one_link():
    """MI300X's Infinity Fabric is a full mesh of 64 GB/s links: a send to one peer gets one link, not 448."""
    catalog, factors = load_catalog(), load_factors()
    system, model = catalog.system("mi300x"), catalog.model("llama-3.1-70b")
    sm = build_step_model(system, model, resolve_precision(system, model, catalog.precision("fp8")), factors)
    from factory_model.communication import p2p_time, scale_up_rate
    assert p2p_time(np.array([64e9]), np.array([False]), sm.links)[1][0] == pytest.approx(1.0)
    assert scale_up_rate(np.array([2.0, 8.0]), sm.links).tolist() == pytest.approx([64e9, 448e9])


def test_catalog_link_and_power_fixes():
    catalog = load_catalog()
    assert catalog.system("b200-sxm").scale_out_bandwidth_gb_s == 50  # 8 x 400 Gb/s ConnectX-7 per 8 GPUs
    gb200, gb300 = catalog.system("gb200-nvl72"), catalog.system("gb300-nvl72")
    assert gb300.all_in_power_kw_per_gpu > gb200.all_in_power_kw_per_gpu
    assert gb300.all_in_power_kw_per_gpu / gb300.it_power_kw_per_gpu == \
        pytest.approx(gb200.all_in_power_kw_per_gpu / gb200.it_power_kw_per_gpu, rel=0.01)
    mi355x = catalog.system("mi355x")
    rp = resolve_precision(mi355x, catalog.model("deepseek-r1"), catalog.precision("nvfp4"))
    assert rp.quantized_weight_bytes == pytest.approx(0.53125) and rp.gemm_math == "fp4"
    assert "MXFP4" in rp.note


def test_blackwell_ultra_attention_is_faster_than_blackwell_at_equal_everything_else():
    """Same factors, B300's faster softmax: a prefill-heavy step is faster on GB300 than on a GB300 copy
    without the speedup."""
    catalog, factors = load_catalog(), load_factors()
    gb300 = catalog.system("gb300-nvl72")
    plain = dataclasses.replace(gb300, attention_compute_speedup=1.0)
    model = catalog.model("deepseek-r1")
    rp = resolve_precision(gb300, model, catalog.precision("nvfp4"))
    from factory_model.step_time import step_time
    layout = Layout.of(8, 8, 1, 1)
    fast = step_time(build_step_model(gb300, model, rp, factors), layout, 0.0, 0.0, 32768.0, 32768.0).total_s[0]
    slow = step_time(build_step_model(plain, model, rp, factors), layout, 0.0, 0.0, 32768.0, 32768.0).total_s[0]
    assert fast < slow


def test_frontier_validation_counts_points_without_a_model_value_as_outside():
    import pandas as pd
    from factory_model.frontier_validation import summarize_frontier
    points = pd.DataFrame({"system": ["a", "a", "a", "a"], "ratio": [1.0, 1.4, np.nan, 3.0]})
    s = summarize_frontier(points).set_index("system")
    assert s.loc["a", "points"] == 4 and s.loc["a", "no_model_point"] == 1
    assert s.loc["a", "share_within_0_75_1_5"] == 0.5
    assert s.loc["a", "share_within_0_85_1_25"] == 0.25
    assert s.loc["a", "median_ratio"] == pytest.approx(1.4)


def test_frontier_validation_states_how_old_each_measured_frontier_is():
    import pandas as pd
    from factory_model.frontier_validation import summarize_frontier
    points = pd.DataFrame({"system": ["a", "a", "a", "b"], "isl": [1, 1, 8, 1], "ratio": [1.0, 1.0, 1.0, 1.0],
                           "date": ["2026-01-01", "2026-01-31", "2026-03-01", "2026-02-01"]})
    s = summarize_frontier(points, ["system", "isl"]).set_index(["system", "isl"])
    assert s.loc[("a", 1), "latest_run"] == "2026-01-31"
    assert s.loc[("a", 1), "days_behind_system"] == 29  # a's newest run (isl 8) is 2026-03-01; 2026 is not leap
    assert s.loc[("a", 8), "days_behind_system"] == 0 and s.loc[("b", 1), "days_behind_system"] == 0


def test_validate_frontier_and_cross_show_cli():
    out = subprocess.run([sys.executable, "-m", "factory_model", "validate", "--frontier"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "b200-sxm" in out.stdout and "share_within_0_75_1_5" in out.stdout
    assert "Repeatability of the measurements" in out.stdout and "tpot_spread" in out.stdout
    shown = subprocess.run([sys.executable, "-m", "factory_model", "validate", "--cross", "--show"],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "leave-one-system-out" in shown.stdout
    thinned = subprocess.run([sys.executable, "-m", "factory_model", "validate", "--cross", "--show", "--thin"],
                             capture_output=True, text=True, timeout=60)
    assert thinned.returncode == 0, thinned.stderr
    assert "4/5 of the other systems' configurations" in thinned.stdout


def test_prefill_capped_decode_pool_holds_the_littles_law_batch():
    """Hand calculation: with TPOT(b) = 1 ms · √b, prefill rate R and 1,001-token outputs, decode holds
    b = R · 1000 · 0.001 · √b sequences, so b = R² (400 at R = 20/s, 900 at 30/s, 25 at 5/s); with
    R = 100/s it could feed 10,000 but only C = 100 clients exist, so b = C."""
    from factory_model.serving_reference import decode_running
    rate = np.array([20.0, 30.0, 5.0, 100.0])
    conc = np.array([2048.0, 2048.0, 2048.0, 100.0])
    b = decode_running(lambda b, rows: 1e-3 * np.sqrt(b), conc, rate, np.full(4, 1001.0))
    assert b == pytest.approx([400.0, 900.0, 25.0, 100.0], rel=2e-3)


def test_saturated_disaggregated_points_queue_in_front_of_prefill():
    """InferenceX's MI355X FP8 1k/1k disaggregated run at 2,048 clients (one 8-GPU prefill engine, one
    DP-attention EP8 decode engine) waited 51 s for the first token while tokens/s × TPOT says only ~900 sequences
    were decoding. The model must put the excess in the prefill queue: a TTFT of seconds (not the ~0.2 s of an
    idle prefill engine), and fewer sequences decoding than clients, so its TPOT is that of the smaller batch."""
    from factory_model.serving_reference import load_serving_reference, predict_serving
    ref = load_serving_reference()
    rows = ref[(ref["system"] == "mi355x") & (ref["serving"] == "disagg") & (ref["concurrency"] == 2048)
               & (ref["isl"] == 1024) & (ref["osl"] == 1024) & (ref["precision"] == "fp8") & (ref["mtp"] == 0)
               & (ref["decode_ep"] == 8) & (ref["prefill_gpus"] == 8)]
    assert len(rows) >= 1 and (rows["ttft_ms"] > 40_000).all()
    pred = predict_serving(rows, load_factors())
    assert (pred["pred_ttft_ms"] > 5_000).all(), pred[["pred_ttft_ms"]]
    decoding = pred["pred_output_tokens_per_s_per_gpu"] * pred["gpus"] * pred["pred_tpot_ms"] / 1e3
    assert (decoding < 0.9 * rows["concurrency"]).all(), decoding


def test_serving_stacks_frameworks_must_be_a_list_of_names(tmp_path):
    from factory_model.errors import CatalogError
    from factory_model.stacks import load_stacks
    (tmp_path / "serving_stacks.yaml").write_text('x:\n  frameworks: sglang\n  source: "s"\n')
    with pytest.raises(CatalogError, match="frameworks: expected a list"):
        load_stacks(str(tmp_path))
    (tmp_path / "serving_stacks.yaml").write_text('x:\n  frameworks: [sglang, atom]\n  source: "s"\n')
    load_stacks.cache_clear()
    assert load_stacks(str(tmp_path))["x"].frameworks == ("sglang", "atom")


def test_like_for_like_frontier_is_one_where_measurements_equal_the_models_predictions():
    """If every measured configuration had run exactly as the model predicts, the model's frontier over the
    measured configurations would coincide with the measured frontier: ratio_measured_configs = 1 at every
    measured frontier point; halving every measured throughput makes it 2. Independent of the full search."""
    from factory_model.frontier_validation import frontier_points
    from factory_model.serving_reference import load_serving_reference, predict_serving
    frame = load_serving_reference()
    frame = frame[(frame["system"] == "b200-sxm") & (frame["precision_id"] == "fp8") & (frame["isl"] == 1024)
                  & (frame["osl"] == 1024)].reset_index(drop=True)
    factors = load_factors()
    pred = predict_serving(frame, factors)
    ok = pred["pred_tpot_ms"].notna() & pred["pred_output_tokens_per_s_per_gpu"].notna()
    as_modelled = frame[ok].copy()
    as_modelled["tpot_ms"] = pred.loc[ok, "pred_tpot_ms"]
    as_modelled["tokens_per_s_per_user"] = 1000.0 / pred.loc[ok, "pred_tpot_ms"]
    as_modelled["output_tokens_per_s_per_gpu"] = pred.loc[ok, "pred_output_tokens_per_s_per_gpu"]
    points = frontier_points(factors, measured=as_modelled)
    assert len(points) >= 3
    assert np.allclose(points["ratio_measured_configs"], 1.0, rtol=1e-9)
    halved = frontier_points(factors, measured=as_modelled.assign(
        output_tokens_per_s_per_gpu=as_modelled["output_tokens_per_s_per_gpu"] / 2))
    assert np.allclose(halved["ratio_measured_configs"], 2.0, rtol=1e-9)
    # the full search is an optimum over a wider space: it never sits far below the model's own configurations
    assert (points["ratio"].dropna() > 0.75).mean() > 0.8


def test_measured_configs_frontier_drops_dominated_configurations():
    import pandas as pd
    from factory_model.frontier_validation import measured_configs_frontiers
    pred = pd.DataFrame({"system": "s", "model": "m", "precision": "fp8", "isl": 1, "osl": 1,
                         "pred_tpot_ms": [10.0, 20.0, 25.0, np.nan],
                         "pred_output_tokens_per_s_per_gpu": [100.0, 300.0, 200.0, 999.0]})
    front = measured_configs_frontiers(pred)[("s", "m", "fp8", 1, 1)]
    # 25 ms / 200 is slower and lower than 20 ms / 300; the row without a TPOT has no place on the front
    assert sorted(front["tokens_per_s_per_user"].round(6)) == [50.0, 100.0]
    assert sorted(front["output_tokens_per_s_per_gpu"]) == [100.0, 300.0]


def test_measured_frontier_log_slope_of_a_power_law_is_its_exponent():
    """On y = 1000 · x^−2 (any spacing, any order of points) the log-log slope is −2 at every point; a single
    point has none."""
    from factory_model.frontier_validation import log_slopes
    x = np.array([80.0, 10.0, 25.0, 160.0, 12.0])
    slopes = log_slopes(x, 1000.0 * x**-2.0)
    assert np.allclose(slopes, -2.0)
    assert np.isnan(log_slopes([5.0], [3.0])).all()
