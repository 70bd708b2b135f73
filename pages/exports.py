"""Exports for presentations: PNG/SVG (kaleido + Debian chromium), self-contained HTML, CSV, PowerPoint.

Static images need a Chrome/Chromium binary; when none is found the image buttons are replaced by a note
(kaleido raises RuntimeError then). The PowerPoint deck falls back to native, editable PowerPoint charts when
no browser is available, so it always works.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from datetime import date

import pandas as pd
import plotly.graph_objects as go

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
_LOCK = threading.Lock()
_SERVER_STARTED = False


def browser_path() -> str | None:
    """The Chrome/Chromium kaleido will use, or None."""
    env = os.environ.get("BROWSER_PATH")
    if env and os.path.exists(env):
        return env
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def static_export_available() -> bool:
    return browser_path() is not None


def figure_image(fig: go.Figure, fmt: str = "png", scale: float = 2.0) -> bytes:
    """PNG or SVG bytes of ``fig``. Raises RuntimeError when no browser is available (callers catch it)."""
    global _SERVER_STARTED
    path = browser_path()
    if path is None:
        raise RuntimeError("no Chrome/Chromium found for static image export (install Debian's chromium)")
    os.environ.setdefault("BROWSER_PATH", path)
    import kaleido

    with _LOCK:  # one persistent browser per process: ~0.3 s per image after the first
        if not _SERVER_STARTED:
            try:
                kaleido.start_sync_server(silence_warnings=True)
                _SERVER_STARTED = True
            except Exception:  # noqa: BLE001 - fall back to one browser per call
                pass
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fig.to_image(format=fmt, width=1280, height=720, scale=scale if fmt == "png" else 1)


def figure_html(fig: go.Figure) -> bytes:
    """A self-contained interactive HTML file (plotly.js inlined; works offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


def frame_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


# ------------------------------------------------------------------------------------------ PowerPoint


def _native_chart(slide, frames: dict[str, pd.DataFrame], x: str, y: str, title: str, y_title: str, colours):
    from pptx.chart.data import XyChartData
    from pptx.dml.color import RGBColor
    from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
    from pptx.util import Inches, Pt

    data = XyChartData()
    names = []
    for name, frame in frames.items():
        if not len(frame):
            continue
        series = data.add_series(name)
        names.append(name)
        for xv, yv in zip(frame[x], frame[y]):
            series.add_data_point(float(xv), float(yv))
    if not names:
        return
    shape = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER_LINES, Inches(0.5), Inches(1.2), Inches(12.3),
                                   Inches(5.9), data)
    chart = shape.chart
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.BOTTOM
    chart.legend.include_in_layout = False
    chart.value_axis.has_title = True
    chart.value_axis.axis_title.text_frame.text = y_title
    chart.category_axis.has_title = True
    chart.category_axis.axis_title.text_frame.text = "Tokens/s per user (output)"
    # python-pptx has no log-axis API; the schema's c:logBase does it (first child of c:scaling)
    from lxml import etree

    scaling = chart.category_axis._element.find("{http://schemas.openxmlformats.org/drawingml/2006/chart}scaling")
    log = etree.SubElement(scaling, "{http://schemas.openxmlformats.org/drawingml/2006/chart}logBase")
    log.set("val", "10")
    scaling.insert(0, log)
    for plot in chart.plots:
        for series, name in zip(plot.series, names):
            hexcode = colours.get(name, "#444444").lstrip("#")
            series.format.line.color.rgb = RGBColor.from_string(hexcode.upper())
            series.format.line.width = Pt(2.5)
            series.marker.format.fill.solid()
            series.marker.format.fill.fore_color.rgb = RGBColor.from_string(hexcode.upper())
    chart.has_title = True
    chart.chart_title.text_frame.text = title


def deck(title: str, subtitle: str, figures: list[tuple[str, go.Figure]], frames: dict[str, pd.DataFrame],
         colours: dict[str, str], assumptions: list[str], y_column: str, y_title: str) -> bytes:
    """A 16:9 deck: title, one slide per figure (picture, or native charts without a browser), assumptions."""
    from pptx import Presentation
    from pptx.util import Inches, Pt

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    slide.shapes.title.text = title
    slide.placeholders[1].text = f"{subtitle}\nAI Factory Frontier · {date.today().isoformat()}"
    blank = prs.slide_layouts[5]  # title only
    native = {"Throughput vs interactivity": (y_column, y_title),
              "Revenue per MW-hour": ("revenue_usd_per_mw_hour", "USD per MW-hour")}
    for name, fig in figures:
        slide = prs.slides.add_slide(blank)
        slide.shapes.title.text = name
        try:
            png = figure_image(fig, "png", scale=2)
            slide.shapes.add_picture(io.BytesIO(png), Inches(0.5), Inches(1.2), width=Inches(12.3))
        except RuntimeError:
            x_y = native.get(name)
            if x_y:
                _native_chart(slide, frames, "tokens_per_s_per_user", x_y[0], name, x_y[1], colours)
    slide = prs.slides.add_slide(blank)
    slide.shapes.title.text = "Assumptions and sources"
    box = slide.shapes.add_textbox(Inches(0.6), Inches(1.3), Inches(12.1), Inches(5.8)).text_frame
    box.word_wrap = True
    for i, line in enumerate(assumptions):
        p = box.paragraphs[0] if i == 0 else box.add_paragraph()
        p.text = line
        p.font.size = Pt(14)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
