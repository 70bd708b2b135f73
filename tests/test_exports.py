"""Presentation exports: HTML, CSV, PowerPoint deck (native charts without a browser), PNG/SVG with chromium."""

import io
import os
import shutil

import pandas as pd
import pytest

import factory_model as fm
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


def test_deck_without_browser_uses_native_charts(frames, monkeypatch):
    from pptx import Presentation

    monkeypatch.setattr(exports, "browser_path", lambda: None)
    fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW")
    labelled = {f"{s} · {f['precision'].iloc[0]}": f for s, f in frames.items()}
    colours = {k: "#76b900" for k in labelled}
    data = exports.deck("Title", "Sub", [("Throughput vs interactivity", fig)], labelled, colours,
                        ["assumption one", "assumption two"], "tokens_per_s_per_mw", "Output tokens/s per MW")
    prs = Presentation(io.BytesIO(data))
    assert len(prs.slides) == 3
    chart_slide = prs.slides[1]
    chart = next(s for s in chart_slide.shapes if s.has_chart).chart
    assert len(list(chart.plots[0].series)) == 2
    xml = chart._chartSpace.xml
    assert 'logBase val="10"' in xml
    text = " ".join(sh.text_frame.text for sh in prs.slides[2].shapes if sh.has_text_frame)
    assert "assumption two" in text


@pytest.mark.skipif(not shutil.which("chromium") and not IN_CI, reason="no chromium on this machine (CI installs it)")
def test_static_images_with_chromium(frames):
    fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "Output tokens/s per MW")
    png = exports.figure_image(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    svg = exports.figure_image(fig, "svg")
    assert b"<svg" in svg[:500]
