"""Exports for presentations: PNG/SVG (kaleido + Debian chromium), self-contained HTML, CSV, PowerPoint.

Static images need a Chrome/Chromium binary; when none is found the image buttons are replaced by a note
(kaleido raises RuntimeError then). The PowerPoint deck is built from native, editable PowerPoint charts
(python-pptx), so it needs no browser.
"""

from __future__ import annotations

import io
import os
import shutil
import threading
from dataclasses import dataclass, field
from datetime import date

import numpy as np
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
# A 16:9 deck of native, editable PowerPoint charts (python-pptx): every shape inside the 13.333 x 7.5 in slide,
# titles in their own box above the chart, axis titles on every chart, a "modelled, see validation" note under
# every chart, fonts of 12 pt and more.

SLIDE_W_IN, SLIDE_H_IN = 13.333, 7.5
NOTE = "Modelled (factory_model), not measured — see Claims & validation for the model's error."


@dataclass
class Series:
    name: str
    x: list
    y: list
    colour: str = "#444444"
    markers_only: bool = False


@dataclass
class DeckContent:
    """Everything a deck shows, already computed (numbers from the model, strings for people)."""

    title: str
    subtitle: str
    key_figures_title: str
    key_figures: pd.DataFrame                     # readable headers, formatted strings
    key_figures_note: str
    frontier: list[Series]
    frontier_y_title: str
    revenue: list[Series] = field(default_factory=list)
    cost_breakdown: pd.DataFrame | None = None     # columns label, depreciation, energy, other (USD per GPU-hour)
    sensitivity_title: str = ""
    sensitivity: pd.DataFrame | None = None        # columns factor, low, high (profit USD per MW-hour)
    assumptions: list[tuple[str, str, str]] = field(default_factory=list)
    source_addresses: dict[str, str] = field(default_factory=dict)  # key in the assumptions -> address
    x_log: bool = True


def _rgb(hexcode: str):
    from pptx.dml.color import RGBColor

    return RGBColor.from_string(hexcode.lstrip("#").upper())


def _text(slide, text: str, left: float, top: float, width: float, height: float, size: int, *, bold=False,
          colour: str = "#222222"):
    from pptx.util import Inches, Pt

    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    frame = box.text_frame
    frame.word_wrap = True
    for i, line in enumerate(text.split("\n")):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        p.text = line
        p.font.size = Pt(size)
        p.font.bold = bold
        p.font.color.rgb = _rgb(colour)
    return box


def _slide(prs, title: str, note: bool = True):
    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank: no placeholder to overlap the chart
    _text(slide, title, 0.5, 0.25, SLIDE_W_IN - 1.0, 0.8, 28, bold=True)
    if note:
        _text(slide, NOTE, 0.5, 6.95, SLIDE_W_IN - 1.0, 0.4, 12, colour="#666666")
    return slide


def _axis_title(axis, text: str) -> None:
    from pptx.util import Pt

    axis.has_title = True
    axis.axis_title.text_frame.text = text
    axis.axis_title.text_frame.paragraphs[0].font.size = Pt(14)
    axis.tick_labels.font.size = Pt(12)


def _xy_chart(slide, series: list[Series], x_title: str, y_title: str, *, x_log: bool):
    from lxml import etree
    from pptx.chart.data import XyChartData
    from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION, XL_MARKER_STYLE
    from pptx.util import Inches, Pt

    data = XyChartData()
    kept = []
    for s in series:
        points = [(float(a), float(b)) for a, b in zip(s.x, s.y) if np.isfinite(a) and np.isfinite(b)]
        if not points:
            continue
        ser = data.add_series(s.name)
        for a, b in points:
            ser.add_data_point(a, b)
        kept.append(s)
    if not kept:
        _text(slide, "No data for this chart under the chosen scenario.", 0.5, 3.0, 12.0, 1.0, 18)
        return None
    shape = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER_LINES, Inches(0.5), Inches(1.15), Inches(12.3),
                                   Inches(5.7), data)
    chart = shape.chart
    chart.font.size = Pt(12)
    chart.has_title = False
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.TOP
    chart.legend.include_in_layout = True
    chart.legend.font.size = Pt(12)
    _axis_title(chart.category_axis, x_title)
    _axis_title(chart.value_axis, y_title)
    chart.value_axis.tick_labels.number_format = "#,##0"
    chart.value_axis.tick_labels.number_format_is_linked = False
    chart.category_axis.tick_labels.number_format = "#,##0"
    chart.category_axis.tick_labels.number_format_is_linked = False
    if x_log:  # python-pptx has no log-axis API; the schema's c:logBase (first child of c:scaling) does it
        ns = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
        scaling = chart.category_axis._element.find(f"{ns}scaling")
        log = etree.SubElement(scaling, f"{ns}logBase")
        log.set("val", "10")
        scaling.insert(0, log)
    for ser, s in zip(chart.plots[0].series, kept):
        ser.smooth = False
        ser.marker.format.fill.solid()
        ser.marker.format.fill.fore_color.rgb = _rgb(s.colour)
        if s.markers_only:
            ser.format.line.fill.background()
            ser.marker.style = XL_MARKER_STYLE.DIAMOND
            ser.marker.size = 9
        else:
            ser.format.line.color.rgb = _rgb(s.colour)
            ser.format.line.width = Pt(2.5)
            ser.marker.style = XL_MARKER_STYLE.CIRCLE
            ser.marker.size = 5
    return chart


def _category_chart(slide, chart_type, categories: list, series: list[tuple[str, list, str]], x_title: str,
                    y_title: str):
    """A native bar/column chart filling the slide body: ``series`` = (name, values, colour), legend below."""
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_LEGEND_POSITION
    from pptx.util import Inches, Pt

    data = CategoryChartData()
    data.categories = categories
    for name, values, _ in series:
        data.add_series(name, values)
    chart = slide.shapes.add_chart(chart_type, Inches(0.5), Inches(1.15), Inches(12.3), Inches(5.7), data).chart
    chart.font.size = Pt(12)
    chart.has_legend = True
    chart.legend.position = XL_LEGEND_POSITION.BOTTOM
    chart.legend.include_in_layout = True
    _axis_title(chart.category_axis, x_title)
    _axis_title(chart.value_axis, y_title)
    for plot_series, (_, _, colour) in zip(chart.plots[0].series, series):
        plot_series.format.fill.solid()
        plot_series.format.fill.fore_color.rgb = _rgb(colour)
    return chart


def _table(slide, frame: pd.DataFrame, left: float, top: float, width: float, row_h: float, size: int,
           widths: list[float] | None = None):
    from pptx.util import Inches, Pt

    rows, cols = len(frame) + 1, len(frame.columns)
    shape = slide.shapes.add_table(rows, cols, Inches(left), Inches(top), Inches(width), Inches(row_h * rows))
    table = shape.table
    for j, column in enumerate(frame.columns):
        if widths:
            table.columns[j].width = Inches(widths[j])
        table.cell(0, j).text = str(column)
        for i, value in enumerate(frame[column], start=1):
            table.cell(i, j).text = str(value)
    for i in range(rows):
        for j in range(cols):
            for p in table.cell(i, j).text_frame.paragraphs:
                p.font.size = Pt(size)
    return table


def board_deck(content: DeckContent) -> bytes:
    """A 16:9 deck: title, key figures at the target, frontier, revenue, TCO, sensitivity, assumptions."""
    from pptx import Presentation
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(SLIDE_W_IN), Inches(7.5)

    slide = prs.slides.add_slide(prs.slide_layouts[6])
    _text(slide, content.title, 0.8, 2.2, 11.7, 1.2, 40, bold=True)
    _text(slide, f"{content.subtitle}\nAI Factory Frontier · {date.today().isoformat()}", 0.8, 3.6, 11.7, 1.6, 20,
          colour="#444444")
    _text(slide, NOTE, 0.8, 6.6, 11.7, 0.5, 14, colour="#666666")

    slide = _slide(prs, content.key_figures_title, note=False)
    figures = content.key_figures
    wide = {"System": 2.0, "Deployment at the target": 2.4, "Note": 1.6}
    rest = (12.3 - sum(w for c, w in wide.items() if c in figures.columns)) / \
        max(1, sum(1 for c in figures.columns if c not in wide))
    widths = [wide.get(c, rest) for c in figures.columns]
    _table(slide, figures, 0.5, 1.2, 12.3, 0.55 if len(figures) < 6 else 0.42, 12, widths)
    _text(slide, content.key_figures_note + "\n" + NOTE, 0.5, 5.6, 12.3, 1.3, 12, colour="#444444")

    slide = _slide(prs, "Throughput vs interactivity (Pareto frontier)")
    _xy_chart(slide, content.frontier, "Tokens/s per user (output, = 1 / TPOT)", content.frontier_y_title,
              x_log=content.x_log)

    if content.revenue:
        slide = _slide(prs, "Revenue per MW-hour along each frontier")
        _xy_chart(slide, content.revenue, "Tokens/s per user (output)", "Revenue, USD per MW-hour",
                  x_log=content.x_log)

    if content.cost_breakdown is not None and len(content.cost_breakdown):
        slide = _slide(prs, "Cost per GPU-hour (TCO)")
        frame = content.cost_breakdown
        _category_chart(slide, XL_CHART_TYPE.COLUMN_STACKED, list(frame["label"]),
                        [(name, [round(float(v), 4) for v in frame[column]], colour) for column, name, colour in
                         (("depreciation", "Capex (depreciation)", "#1e88e5"), ("energy", "Energy", "#f9a825"),
                          ("other", "Facility, operations, margin", "#8d6e63"))],
                        "System", "USD per GPU-hour")

    if content.sensitivity is not None and len(content.sensitivity):
        slide = _slide(prs, content.sensitivity_title or "Profit sensitivity")
        frame = content.sensitivity
        _category_chart(slide, XL_CHART_TYPE.BAR_CLUSTERED, list(frame["factor"]),
                        [("factor moved down", [round(float(v), 2) for v in frame["low"]], "#e53935"),
                         ("factor moved up", [round(float(v), 2) for v in frame["high"]], "#43a047")],
                        "Assumption moved", "Profit, USD per MW-hour")

    slide = _slide(prs, "Assumptions and sources", note=False)
    rows = pd.DataFrame(content.assumptions, columns=["Assumption", "Value", "Source"])
    size = 12 if len(rows) <= 10 else 11
    row_h = min(0.34, 4.6 / (len(rows) + 1))
    _table(slide, rows, 0.5, 1.05, 12.3, row_h, size, [4.2, 1.8, 6.3])
    if content.source_addresses:
        _text(slide, "Sources: " + "; ".join(f"{k} = {v}" for k, v in content.source_addresses.items()),
              0.5, 6.15, 12.3, 0.8, 10, colour="#444444")
    _text(slide, NOTE, 0.5, 6.95, 12.3, 0.4, 12, colour="#666666")

    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
