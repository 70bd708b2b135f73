"""Presentation exports: HTML, CSV, the PowerPoint deck (native charts, 16:9, shapes inside the slide, key
figures equal to the model's at the target), PNG/SVG with a source footnote (chromium)."""

import io
import os
import shutil

import pandas as pd
import pytest

import factory_model as fm
from factory_model.economics import options
from factory_model.pareto import value_at
from pages import charts, exports

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="module")
def frames():
    return {s: fm.frontier(s, "llama-3.1-70b", "fp8" if s.startswith("h") else "nvfp4", 1024, 1024)
            for s in ("h200-sxm", "b200-sxm")}


def test_html_is_self_contained(frames):
    fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW")
    html = exports.figure_html(fig).decode()
    assert "plotly" in html.lower() and len(html) > 1_000_000  # plotly.js inlined: works offline
    assert "<script src=\"https://cdn.plot.ly" not in html  # no external script tag


def test_csv_round_trip(frames):
    data = exports.frame_csv(frames["b200-sxm"])
    back = pd.read_csv(io.BytesIO(data))
    assert list(back.columns) == list(frames["b200-sxm"].columns)
    assert len(back) == len(frames["b200-sxm"])


# ------------------------------------------------------------------------------------------------ deck

SYSTEMS = ("h200-sxm", "b200-sxm", "gb300-nvl72")
TARGET = 50.0


@pytest.fixture(scope="module")
def deck():
    """The deck the Frontier page builds (pages/ui.py: deck_bytes) for three systems at 100 MW."""
    from pptx import Presentation

    from pages import ui

    sc = ui.Scenario(SYSTEMS, "deepseek-r1", "auto", 1024, 8192, "best", 100.0, None, None, None, 0, 0.7,
                     options(), True, True, False)
    frames = ui.frontiers(sc)
    return Presentation(io.BytesIO(ui.deck_bytes(sc, frames, TARGET))), frames


def _number(text: str) -> float:
    text = text.replace("$", "").replace(",", "").strip()
    parts = text.split()
    return float(parts[0]) * ({"k": 1e3, "M": 1e6, "B": 1e9}[parts[1]] if len(parts) > 1 else 1.0)


def test_deck_is_16_9_and_every_shape_lies_inside_its_slide(deck):
    prs, _ = deck
    assert prs.slide_width * 9 == pytest.approx(prs.slide_height * 16, rel=0.001)
    assert len(prs.slides) >= 7
    for i, slide in enumerate(prs.slides):
        for shape in slide.shapes:
            assert shape.left >= 0 and shape.top >= 0, (i, shape.name)
            assert shape.left + shape.width <= prs.slide_width, (i, shape.name)
            assert shape.top + shape.height <= prs.slide_height, (i, shape.name)
            if shape.has_text_frame:
                for p in shape.text_frame.paragraphs:
                    for run in p.runs:
                        assert run.font.size is None or run.font.size.pt >= 10, (i, run.text)


def test_charts_are_native_with_titled_axes_and_a_validation_note(deck):
    prs, _ = deck
    chart_slides = 0
    for slide in prs.slides:
        charts_here = [s.chart for s in slide.shapes if s.has_chart]
        if not charts_here:
            assert not any(s.shape_type == 13 for s in slide.shapes)  # no pictures of charts
            continue
        chart_slides += 1
        for chart in charts_here:
            assert chart.category_axis.has_title and chart.value_axis.has_title
            assert chart.category_axis.axis_title.text_frame.text and chart.value_axis.axis_title.text_frame.text
            assert len(list(chart.plots[0].series)) >= 1
        text = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        assert "Modelled" in text and "see Claims & validation" in text
    assert chart_slides >= 4  # frontier, revenue, TCO, sensitivity
    frontier = next(s.chart for slide in prs.slides for s in slide.shapes if s.has_chart)
    assert 'logBase val="10"' in frontier._chartSpace.xml
    names = [s.name for s in frontier.plots[0].series]
    assert any("H200" in n for n in names) and any("measured" in n for n in names)


def test_key_figures_table_equals_the_model_at_the_target(deck):
    prs, frames = deck
    slide = next(s for s in prs.slides if any(sh.has_table for sh in s.shapes))
    table = next(sh.table for sh in slide.shapes if sh.has_table)
    header = [c.text for c in table.rows[0].cells]
    rows = [[c.text for c in r.cells] for r in list(table.rows)[1:]]
    assert len(rows) == len(SYSTEMS)
    for system, row in zip(SYSTEMS, rows):
        values = dict(zip(header, row))
        f = frames[system]
        assert values["Facility output tokens/s"] and _number(values["Facility output tokens/s"]) == pytest.approx(
            value_at(f, TARGET, "tokens_per_s_per_facility"), rel=0.006)
        assert _number(values["Revenue / year"]) == pytest.approx(value_at(f, TARGET, "revenue_usd_per_year"), rel=0.006)
        assert _number(values["Cost per 1M output tokens"]) == pytest.approx(
            value_at(f, TARGET, "cost_per_m_output_tokens_usd"), rel=0.006)
        assert int(values["Racks"].replace(",", "")) == f.attrs["racks"]
    text = " ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame)
    assert "$2.19 per 1M output" in text  # the sentence saying what revenue assumes


def test_assumptions_slide_has_numbers_and_sources(deck):
    prs, _ = deck
    slide = list(prs.slides)[-1]
    table = next(sh.table for sh in slide.shapes if sh.has_table)
    cells = {r.cells[0].text: (r.cells[1].text, r.cells[2].text) for r in list(table.rows)[1:]}
    value, source = cells["Token list price (input / output, USD per 1M)"]
    assert value == "$0.55 / $2.19" and "DS-PRICE" in source
    text = " ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame)
    assert "DS-PRICE = https://api-docs.deepseek.com" in text  # every cited key resolved to its address
    assert cells["Utilisation (share of hours sold)"][0] == "70%"
    per_system = [(k, v, src) for k, (v, src) in cells.items() if "kW per GPU (all-in)" in k]
    assert len(per_system) == len(SYSTEMS)
    for name, value, source in per_system:
        kw, hour = value.split("; ")
        assert float(kw.split()[0]) > 0 and hour.startswith("$") and "$/GPU-h hyperscaler" in name
        assert "IX-TCO" in source


@pytest.mark.skipif(not shutil.which("chromium") and not IN_CI, reason="no chromium on this machine (CI installs it)")
def test_static_images_carry_a_footnote(frames):
    fig = charts.footnote(charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW"),
                          "Modelled (factory_model), not measured. Source: AI Factory Frontier")
    png = exports.figure_image(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    svg = exports.figure_image(fig, "svg").decode()
    assert "<svg" in svg[:500] and "Source: AI Factory Frontier" in svg
