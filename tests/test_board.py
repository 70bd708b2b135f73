"""Board-facing pieces without Streamlit: out-of-sample bands and badges, measured points, the at-target table,
demand cap and price decline, number formats and 1-2-5 log ticks, chart axes that can show their marks."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import factory_model as fm
from factory_model import accuracy
from factory_model.economics import describe_revenue, options
from factory_model.pareto import value_at
from pages import analysis, charts, style
from pages import target as board

FIXTURE = Path(__file__).parent / "fixtures" / "out_of_sample.csv"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def frames():
    return {s: fm.frontier(s, "deepseek-r1", p, 1024, 8192, mw=100)
            for s, p in (("h200-sxm", "fp8"), ("b200-sxm", "nvfp4"), ("gb300-nvl72", "nvfp4"))}


# ------------------------------------------------------------------------------------------ accuracy


def test_band_uses_the_config_row_then_the_system_row_then_none():
    low, high, label = accuracy.curve_band("h200-sxm", "deepseek-r1", "fp8", path=FIXTURE)
    assert (low, high) == pytest.approx((1 / 1.2, 1.2))
    assert "±20 %" in label and "45 points" in label and "leave-one-system-out" in label
    low, high, label = accuracy.curve_band("b200-sxm", "llama-3.1-70b", "fp8", path=FIXTURE)
    assert high == pytest.approx(1.1) and "all models" in label
    # an unmeasured system borrows the error of the measured system its factors come from, labelled a proxy
    proxy = accuracy.curve_band("gb300-nvl72", "deepseek-r1", "nvfp4", path=FIXTURE)
    assert proxy.high_factor == pytest.approx(1.1) and "proxy" in proxy.label and "b200-sxm" in proxy.label
    # a measured system with no row in the table: no band
    assert accuracy.curve_band("mi355x", "deepseek-r1", "fp8", path=FIXTURE) is None
    assert accuracy.curve_band("h200-sxm", "llama-3.1-8b", "fp8", path=FIXTURE) is None  # no row, no * row


def test_missing_out_of_sample_file_gives_no_band(tmp_path):
    missing = tmp_path / "none.csv"
    assert len(accuracy.load_out_of_sample(missing)) == 0
    assert accuracy.curve_band("h200-sxm", "deepseek-r1", "fp8", path=missing) is None


def test_badges_name_calibration_transfer_and_preliminary(catalog):
    assert accuracy.badge(catalog.system("h200-sxm")) == "calibrated on measurements of this system"
    assert accuracy.badge(catalog.system("gb200-nvl72")) == "transferred from b200-sxm (same silicon)"
    assert accuracy.badge(catalog.system("mi355x")) == "calibrated on measurements of this system"
    gb300 = accuracy.badge(catalog.system("gb300-nvl72"))
    assert "vendor-level" in gb300 and "no measured system of this silicon" in gb300
    rubin = accuracy.badge(catalog.system("rubin-nvl72"))
    assert rubin.startswith("preliminary") and "vendor-level" in rubin


def test_measured_points_match_the_view_only():
    points = accuracy.measured_points("h200-sxm", "deepseek-r1", "fp8", 1024, 8192)
    assert len(points) > 10
    assert set(points["osl"]) == {8192} and set(points["system"]) == {"h200-sxm"}
    assert points["source"].str.contains("measured").all()
    assert len(accuracy.measured_points("gb300-nvl72", "deepseek-r1", "nvfp4", 1024, 8192)) == 0
    inferencex = accuracy.measured_points("mi355x", "deepseek-r1", "nvfp4", 1024, 1024)
    assert len(inferencex) > 10 and inferencex["source"].str.contains("InferenceX").all()
    assert inferencex["source"].str.contains("https://github.com/SemiAnalysisAI/InferenceX").all()


# --------------------------------------------------------------------------------------- at target


def test_at_target_table_equals_value_at(frames):
    table = board.at_target(frames, 50.0)
    assert list(table["system"]) == list(frames)
    for _, row in table.iterrows():
        f = frames[row["system"]]
        assert row["tokens_per_s_facility"] == pytest.approx(value_at(f, 50.0, "tokens_per_s_per_facility"))
        assert row["revenue_usd_per_year"] == pytest.approx(value_at(f, 50.0, "revenue_usd_per_year"))
        assert row["cost_per_m_output_tokens_usd"] == pytest.approx(value_at(f, 50.0, "cost_per_m_output_tokens_usd"))
        assert row["cost_per_m_total_tokens_usd"] == pytest.approx(value_at(f, 50.0, "cost_per_m_total_tokens_usd"))
        assert row["gpus"] == f.attrs["factory_gpus"] and row["racks"] == f.attrs["racks"]
        assert row["deployment"].startswith(("agg", "disagg"))
        assert not row["clamped"]


def test_at_target_clamps_and_flags_beyond_the_frontier(frames):
    fastest = float(frames["h200-sxm"]["tokens_per_s_per_user"].max())
    table = board.at_target(frames, fastest * 3)
    row = table.set_index("system").loc["h200-sxm"]
    assert row["clamped"] and row["flag"].startswith("clamped")
    assert row["tokens_per_s_per_user"] == pytest.approx(fastest)
    assert row["tokens_per_s_facility"] == pytest.approx(value_at(frames["h200-sxm"], fastest,
                                                                  "tokens_per_s_per_facility"))
    people = board.for_people(table)
    assert "Facility output tokens/s" in people.columns and "tokens_per_s_facility" not in people.columns


# ---------------------------------------------------------------------------------------- economics


def test_demand_cap_lowers_sold_utilisation_and_revenue(frames):
    f = frames["b200-sxm"]
    base = fm.economics(f, "b200-sxm", "deepseek-r1", 1024, 8192, mw=100)
    capacity = float(value_at(base, 50, "tokens_per_s_per_facility")) * 0.7
    capped = fm.economics(f, "b200-sxm", "deepseek-r1", 1024, 8192, mw=100,
                          economics=options(demand_cap_output_tokens_per_s=capacity / 2))
    assert value_at(capped, 50, "revenue_usd_per_year") == pytest.approx(value_at(base, 50, "revenue_usd_per_year") / 2,
                                                                         rel=0.02)
    assert (capped["utilisation_sold"] <= 0.7 + 1e-12).all() and capped["utilisation_sold"].min() < 0.7
    assert (capped["cost_per_m_output_tokens_usd"] >= base["cost_per_m_output_tokens_usd"] - 1e-12).all()
    assert "at most" in describe_revenue(options(demand_cap_output_tokens_per_s=1e6), "deepseek-r1")


def test_price_decline_averages_prices_over_the_life(frames):
    opts = options(price_decline_per_year=0.3)
    # 4 years falling 30 % a year, continuous average: (1 - 0.7^4) / (4 * -ln 0.7)
    assert opts.life_price_factor == pytest.approx((1 - 0.7 ** 4) / (4 * -math.log(0.7)))
    f = frames["b200-sxm"]
    base = fm.economics(f, "b200-sxm", "deepseek-r1", 1024, 8192, mw=100)
    down = fm.economics(f, "b200-sxm", "deepseek-r1", 1024, 8192, mw=100, economics=opts)
    assert np.allclose(down["revenue_usd_per_year"], base["revenue_usd_per_year"] * opts.life_price_factor)
    assert "fall 30%" in describe_revenue(opts, "deepseek-r1")
    with pytest.raises(fm.FactoryModelError):
        options(price_decline_per_year=1.0)


def test_revenue_sentence_states_price_and_utilisation():
    text = describe_revenue(options(), "deepseek-r1")
    assert "$2.19 per 1M output" in text and "70% of hours sold" in text and "no demand cap" in text


def test_sensitivity_rows_share_the_baseline(frames, catalog):
    for basis in ("tier", "buildup"):
        opts = options(cost_basis=basis)
        f = fm.economics(frames["b200-sxm"], "b200-sxm", "deepseek-r1", 1024, 8192, mw=100, economics=opts)
        point = analysis.sweet_spot(f)
        base, rows = analysis.sensitivity(point, catalog.system("b200-sxm"), "deepseek-r1", 1024, 8192, mw=100,
                                          pue=None, kw_per_gpu=None, economics=opts, catalog=catalog)
        assert base == pytest.approx(float(point["profit_usd_per_mw_hour"].iloc[0]))
        for _, row in rows.iterrows():  # the baseline lies between the two ends of every bar, which differ
            assert min(row["low"], row["high"]) <= base + 1e-6 <= max(row["low"], row["high"]) + 2e-6
            assert row["low"] != row["high"]
        assert ("Electricity ±50 %" in set(rows["factor"])) == (basis == "buildup")


# ---------------------------------------------------------------------------------------- style, charts


def test_log_ticks_are_1_2_5_with_full_numbers():
    values, text = style.log_ticks(7.0, 450.0)
    assert values == [10, 20, 50, 100, 200]
    assert text == ["10", "20", "50", "100", "200"]
    values, text = style.log_ticks(0.08, 30.0)
    assert text == ["0.1", "0.2", "0.5", "1", "2", "5", "10", "20"]


def test_human_units():
    assert style.human(30057803.4682) == "30.1 M"
    assert style.human(1.2e9) == "1.2 B" and style.human(950) == "950" and style.human(float("nan")) == "—"
    assert style.usd(0.000123) == "$0.000123" and style.usd(4.56e9) == "$4.56 B"


def test_frontier_chart_log_axis_ticks_and_bands(frames):
    fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW", target=50,
                                 labels={"h200-sxm": "H200"}, bands={"h200-sxm": (0.8, 1.25, "±25 %")},
                                 measured={"h200-sxm": accuracy.measured_points("h200-sxm", "deepseek-r1", "fp8",
                                                                                1024, 8192)
                                           .assign(tokens_per_s_per_mw=lambda d: d["output_tokens_per_s_per_gpu"])})
    assert "50" in fig.layout.xaxis.ticktext and "5" not in fig.layout.xaxis.ticktext
    names = [t.name for t in fig.data]
    assert "H200 · FP8" in names and "H200 measured" in names and "H200 · FP8 uncertainty band" in names


def test_charts_keep_their_look_whatever_the_process_default_template(frames, monkeypatch):
    """Importing Streamlit sets plotly's process default to its placeholder theme (colours #000001...); every chart
    names its own template, so the order of imports cannot change a chart (as it once did in a test run)."""
    import plotly.io as pio

    monkeypatch.setattr(pio.templates, "default", "plotly_dark")
    for fig in (charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW"),
                charts.money_figure(frames)):
        assert fig.layout.template.layout.plot_bgcolor == "white"
        assert fig.layout.template.layout.colorway[0] == "#636efa"  # plotly_white's, not the dark theme's


def test_frontier_chart_built_without_validation_is_valid_plotly(frames):
    """The frontier chart is built from plain dicts without plotly's validation (speed): a validating rebuild
    must accept every property (plotly raises on an unknown or mistyped one) and give the same figure."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    measured = accuracy.measured_points("h200-sxm", "deepseek-r1", "fp8", 1024, 8192)
    assert len(measured)  # the measured-points trace is part of what is checked
    fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW", target=50, present=True,
                                 bands={s: (0.8, 1.25, "±25 %") for s in frames}, badges={"h200-sxm": "calibrated"},
                                 measured={"h200-sxm": measured.assign(
                                     tokens_per_s_per_mw=lambda d: d["output_tokens_per_s_per_gpu"])})
    validated = go.Figure(fig.to_dict())
    assert json.loads(pio.to_json(validated)) == json.loads(pio.to_json(fig))
    assert len(fig.data) >= 2 * 6 and fig.layout.shapes[0].x0 == 50 and fig.layout.template.layout.plot_bgcolor


def test_bar_charts_use_categorical_axes(frames, catalog):
    table = analysis.cost_breakdown(catalog, list(frames), 100, None, None, options(), {"h200-sxm": "H200"})
    fig = charts.breakdown_figure(table)
    assert fig.layout.xaxis.type == "category"
    assert all(len(t.x) == len(frames) and min(t.y) >= 0 for t in fig.data)
    assert sum(fig.data[0].y) > 0
    point = analysis.sweet_spot(frames["b200-sxm"])
    base, rows = analysis.sensitivity(point, catalog.system("b200-sxm"), "deepseek-r1", 1024, 8192, mw=100, pue=None,
                                      kw_per_gpu=None, economics=options(), catalog=catalog)
    fig = charts.tornado_figure(rows, base)
    assert fig.layout.yaxis.type == "category" and list(fig.data[0].y) == list(rows["factor"])
    assert all(abs(v) > 0 for t in fig.data for v in t.x)  # every bar has a length


def test_chart_and_style_modules_import_without_streamlit():
    code = ("import sys; import pages.charts, pages.style, pages.target, pages.analysis, pages.exports, "
            "factory_model.accuracy; assert 'streamlit' not in sys.modules, 'streamlit imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
