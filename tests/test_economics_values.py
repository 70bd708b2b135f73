"""Economics and power figures against hand arithmetic (economics.py, power.py, scenario.economics).

Each test feeds a hand-made frontier row with round numbers through the public API and compares every figure
with dollars, years and joules worked out in the docstring, so a swapped isl/osl, a lost utilisation or a
per-MW / per-GPU mix-up changes the answer.
"""

import numpy as np
import pandas as pd
import pytest

import factory_model as fm
from factory_model.economics import options

# one hand-made frontier row: 1000 output tokens/s per GPU at 50 tokens/s/user; isl 4096, osl 1024, so the
# total (input + output) rate is 1000 · (4096 + 1024) / 1024 = 5000 tokens/s per GPU
ISL, OSL = 4096, 1024
ROW = pd.DataFrame({"tokens_per_s_per_user": [50.0], "output_tokens_per_s_per_gpu": [1000.0],
                    "total_tokens_per_s_per_gpu": [5000.0]})


def _priced(**overrides):
    opts = options(price_curve="flat", input_usd_per_m=1.0, output_usd_per_m=4.0, utilisation=0.5, **overrides)
    return fm.economics(ROW, "h200-sxm", "llama-3.1-70b", ISL, OSL, mw=1.0, kw_per_gpu=2.0, economics=opts)


def test_revenue_with_isl_not_equal_osl_hand_computed():
    """Revenue per GPU-hour = 1000 output tok/s × 0.5 sold × 3600 s = 1.8e6 output tokens, at $4/M, plus
    1.8e6 · 4096/1024 = 7.2e6 input tokens at $1/M: 1.8 · 4 + 7.2 · 1 = $14.40 per GPU-hour.
    (isl and osl swapped would give 1.8 · 4 + 0.45 · 1 = $7.65.) At 2 kW/GPU a MW holds 500 GPUs:
    $7,200 per MW-hour. 1 MW of 32-GPU H200 racks at 64 kW each: ⌊1000/64⌋ = 15 racks = 480 GPUs;
    revenue per year = 14.40 × 8760 × 480 = $60,549,120."""
    f = _priced(cost_basis="tier", gpu_hour_usd=2.0)
    row = f.iloc[0]
    assert row["price_output_usd_per_m"] == 4.0 and row["price_input_usd_per_m"] == 1.0
    assert row["revenue_usd_per_gpu_hour"] == pytest.approx(14.40)
    assert row["revenue_usd_per_mw_hour"] == pytest.approx(7200.0)
    assert f.attrs["factory_gpus"] == 480 and f.attrs["racks"] == 15
    assert row["revenue_usd_per_year"] == pytest.approx(60_549_120.0)
    assert row["utilisation_sold"] == 0.5


def test_tier_cost_profit_roi_and_cost_per_token_hand_computed():
    """Cost $2.00 per GPU-hour (given): cost per 1M output tokens = 2.00 / 1.8e6 × 1e6 = $1.1111; per 1M
    total tokens (5000 tok/s × 0.5 × 3600 = 9e6) = $0.2222; per 1M input tokens (7.2e6) = $0.2778.
    Profit = 14.40 − 2.00 = $12.40 per GPU-hour = $6,200 per MW-hour; ROI = 12.40 / 2.00 = 6.2."""
    row = _priced(cost_basis="tier", gpu_hour_usd=2.0).iloc[0]
    assert row["cost_usd_per_gpu_hour"] == pytest.approx(2.0)
    assert row["cost_usd_per_mw_hour"] == pytest.approx(1000.0)
    assert row["cost_per_m_output_tokens_usd"] == pytest.approx(1.111111111)
    assert row["cost_per_m_total_tokens_usd"] == pytest.approx(0.222222222)
    assert row["cost_per_m_input_tokens_usd"] == pytest.approx(0.277777778)
    assert row["profit_usd_per_mw_hour"] == pytest.approx(6200.0)
    assert row["roi"] == pytest.approx(6.2)


def test_buildup_cost_payback_and_revenue_per_capex_hand_computed():
    """Build-up cost of a $40,000 GPU over 4 years at 2 kW, $0.10/kWh, 5 %/year facility and operations:
        depreciation 40000 / (4 · 8760) = 1.141553 $/h; energy 2 · 0.10 = 0.2 $/h;
        facility 40000 · 0.05 / 8760 = 0.228311 $/h; total 1.569863 $/GPU-hour.
    ROI = (14.40 − 1.569863) / 1.569863 = 12.830137 / 1.569863 = 8.172775.
    Payback = capex / (revenue − operating cost) per year, operating = 0.2 + 0.228311 = 0.428311 $/h:
        40000 / ((14.40 − 0.428311) · 8760) = 40000 / 122,392.0 = 0.326818 years.
    Revenue over the life per capex = 14.40 · 8760 · 4 / 40000 = 12.6144."""
    row = _priced(cost_basis="buildup", capex_usd_per_gpu=40000.0, electricity_usd_per_kwh=0.10,
                  depreciation_years=4.0, facility_and_operations_fraction_of_capex_per_year=0.05).iloc[0]
    assert row["cost_usd_per_gpu_hour"] == pytest.approx(1.569863, rel=1e-6)
    assert row["roi"] == pytest.approx(8.172775, rel=1e-6)
    assert row["payback_years"] == pytest.approx(0.326818, rel=1e-5)
    assert row["revenue_per_capex"] == pytest.approx(12.6144)


def test_payback_is_infinite_when_revenue_does_not_cover_operating_cost():
    """At $0.0001 per 1M tokens the row earns 1.8 · 0.0001 + 7.2 · 0.0001 = $0.0009 per GPU-hour, below the
    $0.428 operating cost: the GPU never pays back, and ROI is (0.0009 − 1.569863) / 1.569863 ≈ −0.999427."""
    opts = options(price_curve="flat", input_usd_per_m=0.0001, output_usd_per_m=0.0001, utilisation=0.5,
                   cost_basis="buildup", capex_usd_per_gpu=40000.0, electricity_usd_per_kwh=0.10,
                   depreciation_years=4.0, facility_and_operations_fraction_of_capex_per_year=0.05)
    row = fm.economics(ROW, "h200-sxm", "llama-3.1-70b", ISL, OSL, kw_per_gpu=2.0, economics=opts).iloc[0]
    assert np.isinf(row["payback_years"]) and row["payback_years"] > 0
    assert row["roi"] == pytest.approx((0.0009 - 1.569863) / 1.569863, rel=1e-5)


def test_joules_per_token_and_tokens_per_mw_hand_computed():
    """2 kW all-in per GPU at 1000 output tokens/s: 2000 J/s / 1000 tokens/s = 2 J per output token and
    2000 / 5000 = 0.4 J per total token; 500 GPUs per MW → 500,000 output tokens/s per MW; the 480-GPU
    facility makes 480,000 tokens/s. PUE route: H200's IT power × PUE 1.3 sets kW/GPU instead."""
    f = _priced(cost_basis="tier", gpu_hour_usd=2.0)
    row = f.iloc[0]
    assert row["joules_per_output_token"] == pytest.approx(2.0)
    assert row["joules_per_total_token"] == pytest.approx(0.4)
    assert row["tokens_per_s_per_mw"] == pytest.approx(500_000.0)
    assert row["total_tokens_per_s_per_mw"] == pytest.approx(2_500_000.0)
    assert row["tokens_per_s_per_facility"] == pytest.approx(480_000.0)
    it_kw = fm.load_catalog().system("h200-sxm").it_power_kw_per_gpu
    pue = fm.economics(ROW, "h200-sxm", "llama-3.1-70b", ISL, OSL, pue=1.3).iloc[0]
    assert pue["joules_per_output_token"] == pytest.approx(it_kw * 1.3 * 1000 / 1000.0)


def test_demand_cap_lowers_utilisation_sold():
    """The market buys 240,000 output tokens/s from a 480-GPU facility making 1000 each: 240,000 / 480,000
    = 0.5 of capacity, so with 0.7 planned utilisation only 0.5 is sold and revenue is 1000 · 0.5 · 3600 ·
    (4 + 1 · 4) / 1e6 = $14.40 per GPU-hour (not the $20.16 at 0.7)."""
    opts = options(price_curve="flat", input_usd_per_m=1.0, output_usd_per_m=4.0, utilisation=0.7,
                   demand_cap_output_tokens_per_s=240_000.0)
    row = fm.economics(ROW, "h200-sxm", "llama-3.1-70b", ISL, OSL, kw_per_gpu=2.0, economics=opts).iloc[0]
    assert row["utilisation_sold"] == pytest.approx(0.5)
    assert row["revenue_usd_per_gpu_hour"] == pytest.approx(14.40)


def test_one_real_frontier_row_priced_by_hand():
    """A real H200 Llama-3.1-70B frontier row (isl 4096, osl 1024) at $1/$4 per 1M tokens, flat curve, 50 %
    utilisation, $2/GPU-hour: revenue per GPU-hour = y · 0.5 · 3600 · (4 + 1 · 4) / 1e6 = y · 0.0144 with
    y its output tokens/s per GPU; cost per 1M output tokens = 2 / (y · 1800) · 1e6; J per output token =
    1730 W / y (catalog all-in 1.73 kW/GPU)."""
    opts = options(price_curve="flat", input_usd_per_m=1.0, output_usd_per_m=4.0, utilisation=0.5,
                   cost_basis="tier", gpu_hour_usd=2.0)
    f = fm.frontier("h200-sxm", "llama-3.1-70b", "fp8", ISL, OSL, economics=opts)
    assert len(f) >= 3
    row = f.iloc[len(f) // 2]
    y = row["output_tokens_per_s_per_gpu"]
    assert row["total_tokens_per_s_per_gpu"] == pytest.approx(y * 5)  # (4096 + 1024) / 1024
    assert row["revenue_usd_per_gpu_hour"] == pytest.approx(y * 0.0144)
    assert row["cost_per_m_output_tokens_usd"] == pytest.approx(2.0 / (y * 1800) * 1e6)
    assert row["joules_per_output_token"] == pytest.approx(1730.0 / y)
    assert row["roi"] == pytest.approx((y * 0.0144 - 2.0) / 2.0)


def test_repricing_equals_a_fresh_frontier_under_the_same_options():
    """fm.economics(frontier, new options) must give the same table as fm.frontier(..., new options): power and
    economics columns are recomputed, nothing stale is kept. Changing the facility power, kW/GPU, prices,
    curve, utilisation and cost basis at once."""
    base = fm.frontier("h200-sxm", "llama-3.1-70b", "fp8", ISL, OSL)
    opts = options(price_curve="fitted", input_usd_per_m=0.5, output_usd_per_m=3.0, utilisation=0.6,
                   cost_basis="buildup", electricity_usd_per_kwh=0.12, depreciation_years=5.0)
    kwargs = dict(mw=20.0, kw_per_gpu=2.2, economics=opts)
    repriced = fm.economics(base, "h200-sxm", "llama-3.1-70b", ISL, OSL, **kwargs)
    fresh = fm.frontier("h200-sxm", "llama-3.1-70b", "fp8", ISL, OSL, **kwargs)
    assert len(fresh) == len(base) >= 3
    pd.testing.assert_frame_equal(repriced[fresh.columns], fresh, check_exact=False, rtol=1e-12)
    for key in ("kw_per_gpu", "factory_gpus", "racks", "mw"):
        assert repriced.attrs[key] == fresh.attrs[key], key
    # and the re-pricing really changed something
    assert not np.allclose(repriced["revenue_usd_per_mw_hour"], base["revenue_usd_per_mw_hour"])


def test_facility_racks_and_gpus_hand_computed():
    """GB200 NVL72 at the catalog's 2.10 kW all-in per GPU: a 72-GPU rack draws 151.2 kW, so 10 MW holds
    ⌊10,000 / 151.2⌋ = ⌊66.14⌋ = 66 racks = 4,752 GPUs, and 1000 / 2.10 = 476.19 GPUs per MW (continuous).
    With PUE 1.2 on the 1.667 kW IT power: 2.0004 kW/GPU, 144.03 kW per rack, ⌊69.43⌋ = 69 racks = 4,968 GPUs.
    A 0.1 MW site holds no whole rack: 0 racks, 0 GPUs."""
    from factory_model.power import resolve_power

    gb200 = fm.load_catalog().system("gb200-nvl72")
    p = resolve_power(gb200, 10)
    assert (p.racks, p.gpus) == (66, 4752)
    assert p.gpus_per_mw == pytest.approx(476.190476)
    p = resolve_power(gb200, 10, pue=1.2)
    assert p.kw_per_gpu == pytest.approx(2.0004)
    assert (p.racks, p.gpus) == (69, 4968)
    assert (resolve_power(gb200, 0.1).racks, resolve_power(gb200, 0.1).gpus) == (0, 0)
