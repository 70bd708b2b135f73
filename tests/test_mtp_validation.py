"""MTP gain per serving stack (factory_model/mtp_validation.py, `validate --mtp`)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd

from factory_model.catalog import DATA_DIR
from factory_model.factors import load_factors
from factory_model.mtp_validation import mtp_gains, mtp_pairs, summarize_mtp_gains


def _measured(**where) -> pd.DataFrame:
    frame = pd.read_csv(DATA_DIR / "reference" / "measured_serving_points.csv")
    for column, value in where.items():
        frame = frame[frame[column] == value]
    return frame.sort_values("date")


def test_a_pair_is_one_framework_on_one_configuration_without_and_with_mtp():
    """By hand from the CSV: SGLang on H200, DeepSeek-R1 FP8 1k/1k, tp 8, concurrency 4 (latest run of each)."""
    rows = _measured(system="h200-sxm", framework="sglang", precision="fp8", isl=1024, osl=1024, serving="agg",
                     tp=8, concurrency=4)
    off = rows[rows["mtp"] == 0]["tpot_ms"].iloc[-1]
    on = rows[rows["mtp"] == 1]["tpot_ms"].iloc[-1]
    pairs = mtp_pairs()
    pair = pairs[(pairs["system"] == "h200-sxm") & (pairs["framework"] == "sglang") & (pairs["isl"] == 1024)
                 & (pairs["osl"] == 1024) & (pairs["tp"] == 8) & (pairs["concurrency"] == 4)]
    assert len(pair) == 1
    assert pair["measured_gain"].iloc[0] == off / on
    assert 0.9 < off / on < 1.1  # this stack measured no MTP gain here


def test_model_gain_is_priced_on_the_same_configurations_and_summarised_per_stack():
    gains = mtp_gains(load_factors())
    assert len(gains) >= 50 and gains["framework"].nunique() >= 3
    assert np.isfinite(gains["model_gain"]).all() and (gains["model_gain"] > 1.0).all()
    summary = summarize_mtp_gains(gains)
    total = summary[summary["system"] == "all"].iloc[0]
    assert total["pairs"] == len(gains) == summary[summary["system"] != "all"]["pairs"].sum()
    # the measured disagreement the table exists to show: stacks on one system realise MTP differently
    h200 = summary[summary["system"] == "h200-sxm"].set_index("framework")["measured_gain_median"]
    assert h200["trtllm"] - h200["sglang"] > 0.2


def test_validate_mtp_cli():
    run = lambda *a: subprocess.run([sys.executable, "-m", "factory_model", "validate", "--mtp", *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=300, check=True).stdout
    assert "MTP gain" in run() and "trtllm" in run()
    rows = json.loads(run("--format", "json"))
    assert {"system", "framework", "measured_gain_median", "model_gain_median"} <= set(rows[0])


def test_each_stack_gets_its_own_acceptance_and_frontiers_use_the_best_that_runs_there():
    """Hand-set acceptances: a framework takes its family's (dynamo-sglang → sglang); a system's frontier takes
    the best of the stacks with recipes there (MI325X: SGLang only); a family without its own value takes the
    default, and no stack named the best calibrated one."""
    from factory_model.catalog import load_catalog
    from factory_model.scenario import speculation_options
    from factory_model.serving import mtp_speculation
    from factory_model.stacks import stack_of
    catalog = load_catalog()
    model = catalog.model("deepseek-r1")
    f = load_factors("uncalibrated").with_serving(mtp_acceptance=0.5, mtp_acceptance_trtllm=0.62,
                                                  mtp_acceptance_sglang=0.41)
    assert mtp_speculation(model, f, stack="dynamo-sglang").acceptance == 0.41
    assert mtp_speculation(model, f, stack="trtllm").acceptance == 0.62
    assert mtp_speculation(model, f, stack="vllm").acceptance == 0.5
    assert mtp_speculation(model, f, stacks=("sglang", "mori-sglang")).acceptance == 0.41
    assert mtp_speculation(model, f, stacks=("sglang", "trtllm")).acceptance == 0.62
    assert mtp_speculation(model, f, stacks=("atom",)).acceptance == 0.5  # no calibrated value of its own
    assert mtp_speculation(model, f).acceptance == 0.62  # no stack named: the best calibrated one
    mi325x = stack_of(catalog.system("mi325x")).frameworks
    main, also = speculation_options(model, f, "auto", stacks=mi325x)  # "auto": no MTP, and MTP searched beside
    assert main.draft_tokens == 0 and also[0].acceptance == 0.41
    fixed, _ = speculation_options(model, f, 3, stacks=mi325x)
    assert fixed.acceptance == 0.41


def test_the_fitted_profile_orders_stacks_as_measured_and_defaults_to_the_best():
    """validate --mtp: on H200 TensorRT-LLM measured a 1.40x MTP gain, SGLang 1.07x. With one acceptance per
    stack the model's gains must keep that order, and the default acceptance (what a frontier on a system
    without a named stack uses) is the best calibrated stack's."""
    f = load_factors()
    own = {k: v for k, (v, _) in f.serving_values.items() if k.startswith("mtp_acceptance_")
           and k != "mtp_acceptance_per_output_doubling"}
    assert {"mtp_acceptance_trtllm", "mtp_acceptance_sglang"} <= set(own)
    assert f.serving("mtp_acceptance") == max(own.values())
    summary = summarize_mtp_gains(mtp_gains(f))
    h200 = summary[summary["system"] == "h200-sxm"].set_index("framework")["model_gain_median"]
    assert h200["trtllm"] > h200["sglang"]


def test_draft_counts_follow_the_public_recipes():
    """InferenceX's TensorRT-LLM MTP recipes (dsr1_fp8_b200_trt_mtp.sh, dsr1_fp8_h200_trt_mtp.sh) run
    num_nextn_predict_layers = 1 with attention data parallelism and 3 without; SGLang's DeepSeek default is 3
    steps; a stack with no recipe runs the model default. The model predicts each measured point with its
    stack's count, and a B200 frontier (best stack: TensorRT-LLM) drafts 1 token exactly where attention is
    data-parallel."""
    import factory_model as fm
    from factory_model.catalog import load_catalog
    from factory_model.serving import mtp_speculation
    model = load_catalog().model("deepseek-r1")
    f = load_factors()
    trt = mtp_speculation(model, f, stack="dynamo-trtllm")
    assert (trt.with_attention(False).draft_tokens, trt.with_attention(True).draft_tokens) == (3, 1)
    sgl = mtp_speculation(model, f, stack="mori-sglang")
    assert (sgl.with_attention(False).draft_tokens, sgl.with_attention(True).draft_tokens) == (3, 3)
    assert mtp_speculation(model, f, stack="vllm").with_attention(True).draft_tokens == \
        int(f.serving("mtp_draft_tokens"))
    front = fm.frontier("b200-sxm", "deepseek-r1", "fp8", 1024, 1024, mtp_tokens="auto", mw=10)
    mtp = front[front["draft_tokens"] > 0]
    assert len(mtp) and set(mtp.loc[mtp["dp_attention"] > 1, "draft_tokens"]) <= {1.0}
    assert set(mtp.loc[mtp["dp_attention"] == 1, "draft_tokens"]) <= {3.0}
    assert (mtp["dp_attention"] > 1).any()


def test_mtp_recipes_are_validated(tmp_path):
    import pytest
    from factory_model.errors import CatalogError
    from factory_model.stacks import load_mtp_recipes
    (tmp_path / "mtp_recipes.yaml").write_text('x:\n  draft_tokens: 0\n  source: "s"\n')
    with pytest.raises(CatalogError, match="draft_tokens: expected a whole number"):
        load_mtp_recipes(str(tmp_path))
    (tmp_path / "mtp_recipes.yaml").write_text('x:\n  draft_tokens: 2\n')
    load_mtp_recipes.cache_clear()
    with pytest.raises(CatalogError, match="needs a source"):
        load_mtp_recipes(str(tmp_path))
