"""The estimate API and the scenarios-CSV path: shape, order, reasons and clear errors."""

import time

import numpy as np
import pandas as pd
import pytest

from factory_model import FactoryModelError, estimate, estimate_table
from factory_model.estimate import RESULT_COLUMNS


def test_single_estimate_columns():
    """Columns and token bases of one estimate, with isl != osl so that a swapped isl/osl shows: 4096 input +
    1024 output tokens per request is 5 total tokens per output token. Throughput is bounded without
    re-deriving Little's law: each of the 32 users receives at most one token per TPOT after its first, so
    output tokens/s/GPU ≤ 32 / TPOT × 1024/1023 / 4 GPUs. (Little's law itself is checked against a hand
    calculation on a stubbed step time in test_independent.py.)"""
    r = estimate("b200-sxm", "llama-3.1-70b", "nvfp4", 4096, 1024, tp=4, concurrency=32)
    assert len(r) == 1
    for col in RESULT_COLUMNS + ["reason", "note"]:
        assert col in r.columns
    row = r.iloc[0]
    assert row["reason"] == ""
    assert row["gpus"] == 4
    assert row["tokens_per_s_per_user"] == pytest.approx(1 / row["tpot_s"])
    assert row["total_tokens_per_s_per_gpu"] == pytest.approx(row["output_tokens_per_s_per_gpu"] * 5)
    assert 0 < row["output_tokens_per_s_per_gpu"] <= 32 / row["tpot_s"] * 1024 / 1023 / 4
    assert row["ttft_s"] > row["tpot_s"]  # a 4096-token prompt takes longer than one decode step


def test_out_of_memory_gives_reason_not_error():
    r = estimate("h100-sxm", "llama-3.1-405b", "bf16", 1024, 1024, tp=[1, 8], concurrency=4)
    assert "does not fit" in r["reason"].iloc[0]
    assert np.isnan(r["tpot_s"].iloc[0])
    # 405B BF16 = 810 GB needs more than one 8 x 80 GB node as well
    assert "does not fit" in r["reason"].iloc[1]
    ok = estimate("b300-sxm", "llama-3.1-405b", "bf16", 1024, 1024, tp=8, concurrency=4)
    assert ok["reason"].iloc[0] == ""


def test_invalid_parallelism_reasons():
    r = estimate("h200-sxm", "deepseek-r1", "fp8", 1024, 1024, tp=[3, 8, 8], ep=[1, 3, 16], dp_attention=[1, 1, 1])
    assert "does not divide the model's 128 attention heads" in r["reason"].iloc[0]
    assert "does not divide the model's 256 experts" in r["reason"].iloc[1]
    assert "must divide tp x dp_attention" in r["reason"].iloc[2]
    dense = estimate("h200-sxm", "llama-3.1-70b", "fp8", 1024, 1024, tp=8, ep=8)
    assert "dense model takes ep=1" in dense["reason"].iloc[0]


def test_bad_numbers_raise():
    with pytest.raises(FactoryModelError, match="isl must be at least 1"):
        estimate("h200-sxm", "llama-3.1-70b", "fp8", 0, 1024, tp=1)
    with pytest.raises(FactoryModelError, match="concurrency must be a whole number"):
        estimate("h200-sxm", "llama-3.1-70b", "fp8", 10, 10, tp=1, concurrency=2.5)
    with pytest.raises(FactoryModelError, match="unknown precision 'fp4'"):
        estimate("h200-sxm", "llama-3.1-70b", "fp4", 10, 10, tp=1)


def _scenarios(n, seed=0):
    rng = np.random.default_rng(seed)
    systems = ["h100-sxm", "h200-sxm", "b200-sxm", "gb200-nvl72", "b300-sxm"]
    models = [("llama-3.1-70b", "fp8", 1), ("gpt-oss-120b", "nvfp4", 4), ("deepseek-r1", "fp8", 8)]
    rows = []
    for i in range(n):
        model, precision, ep = models[i % 3]
        rows.append({"system": systems[i % 5], "model": model, "precision": precision,
                     "isl": int(rng.choice([1024, 8192])), "osl": int(rng.choice([1024, 8192])),
                     "tp": int(rng.choice([1, 2, 4, 8])), "ep": ep if i % 2 else 1, "dp_attention": 1,
                     "concurrency": int(rng.integers(1, 512))})
    return pd.DataFrame(rows)


def test_table_keeps_order_and_matches_single_estimates():
    frame = _scenarios(30)
    out = estimate_table(frame)
    assert len(out) == 30
    pd.testing.assert_frame_equal(out[frame.columns].reset_index(drop=True), frame.assign(pp=1)[frame.columns])
    for i in (0, 7, 13):
        row = frame.iloc[i]
        single = estimate(row.system, row.model, row.precision, row.isl, row.osl, row.tp, row.ep, 1, 1,
                          row.concurrency)
        assert out["reason"].iloc[i] == single["reason"].iloc[0]
        if not single["reason"].iloc[0]:
            assert out["tpot_s"].iloc[i] == pytest.approx(single["tpot_s"].iloc[0])


def test_thousand_rows_are_fast():
    frame = _scenarios(1000, seed=1)
    estimate_table(frame)  # warm caches
    start = time.perf_counter()
    out = estimate_table(frame)
    elapsed = time.perf_counter() - start
    assert len(out) == 1000
    assert elapsed < 5.0  # generous bound for loaded CI machines; the bench reports the real figure


def test_malformed_csv_names_row_and_column(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("system,model,precision,isl,osl,tp,ep,dp_attention,concurrency\n"
                    "h200-sxm,llama-3.1-70b,fp8,1024,1024,8,1,1,64\n"
                    "h200-sxm,llama-3.1-70b,fp8,1024,abc,8,1,1,64\n")
    with pytest.raises(FactoryModelError, match=r"row 3, column osl"):
        estimate_table(path)
    path.write_text("system,model,precision,isl,osl,tp,ep,dp_attention,concurrency\n"
                    "h200,llama-3.1-70b,fp8,1024,1024,8,1,1,64\n")
    with pytest.raises(FactoryModelError, match=r"row 2, column system: unknown system 'h200'"):
        estimate_table(path)
    path.write_text("system,model,isl\nh200-sxm,llama-3.1-70b,10\n")
    with pytest.raises(FactoryModelError, match="missing column"):
        estimate_table(path)
    with pytest.raises(FactoryModelError, match="file not found"):
        estimate_table(tmp_path / "nope.csv")
