"""Plotly figures of the dashboard. Explicit layout (no Streamlit theme) so that charts look the same on screen
and in PNG/SVG/HTML/PowerPoint exports; every axis has a title with units and the token basis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from factory_model.calibration.server_metrics import output_token_rates
from factory_model.scenario import best_index

from .style import FONT, colour, log_ticks


# Every dashboard figure names its template: plotly_white's 2-D parts only (the full template, with 3-D, polar, geo
# and colour scales, is copied again when each chart is serialised and sent: ~2.5 ms and ~7 kB per chart). Named
# per figure, not as plotly's process default, which importing Streamlit resets to its own placeholder theme.
_WHITE = pio.templates["plotly_white"]
_TEMPLATE_PARTS = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor",
                   "xaxis", "yaxis", "shapedefaults", "annotationdefaults", "title")
TEMPLATE = go.layout.Template(layout={k: _WHITE.layout[k] for k in _TEMPLATE_PARTS},
                              data={"bar": _WHITE.data.bar})


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, *, x_log: bool = False,
            present: bool = False, y_log: bool = False, x_type: str | None = None,
            y_type: str | None = None) -> go.Figure:
    """Common layout (:func:`_layout_dict`) applied in one ``update_layout`` call (each plotly update call walks
    the whole layout: ~10 ms apiece)."""
    fig.update_layout(_layout_dict(fig.data, title, x_title, y_title, x_log=x_log, present=present, y_log=y_log,
                                   x_type=x_type, y_type=y_type))
    return fig


def _layout_dict(traces, title: str, x_title: str, y_title: str, *, x_log: bool = False, present: bool = False,
                 y_log: bool = False, x_type: str | None = None, y_type: str | None = None) -> dict:
    """Common layout: title left (the toolbar sits top right, clear of it), legend below, 1-2-5 log ticks over
    the data of ``traces``."""
    base = 16 if present else 14
    x_axis = {"title": {"text": x_title}, "type": x_type or ("log" if x_log else "linear"), "showgrid": True,
              "zeroline": False, **(_log_ticks(traces, "x") if x_log else {})}
    y_axis = {"title": {"text": y_title}, "type": y_type or ("log" if y_log else "linear"), "showgrid": True,
              "rangemode": "tozero" if not y_log else "normal", **(_log_ticks(traces, "y") if y_log else {})}
    return {"template": TEMPLATE,
            "title": {"text": title, "font": {"size": base + 4}, "x": 0.0, "xanchor": "left", "xref": "paper",
                      "y": 0.98, "yanchor": "top", "yref": "container"},
            "font": {"family": FONT, "size": base},
            "legend": {"orientation": "h", "y": -0.16, "yanchor": "top", "x": 0, "font": {"size": base - 2}},
            "margin": {"l": 80, "r": 30, "t": 80, "b": 80}, "hovermode": "closest", "height": 480 if present else 520,
            "xaxis": x_axis, "yaxis": y_axis}


def _log_ticks(traces, axis: str) -> dict:
    """Ticks at 1-2-5 of each decade the traces' ``axis`` data span, labelled with full numbers (50, 2,000), not
    '5' or '2': {"tickvals": [...], "ticktext": [...]}, or {} when there are no positive values."""
    values = []
    for trace in traces:
        data = trace.get(axis) if isinstance(trace, dict) else getattr(trace, axis, None)
        if data is None or isinstance(data, (str, bytes)):
            continue
        arr = np.asarray(data, dtype=float)
        values.extend(arr[np.isfinite(arr) & (arr > 0)].tolist())
    if not values:
        return {}
    tickvals, ticktext = log_ticks(min(values), max(values))
    return {"tickvals": tickvals, "ticktext": ticktext}


def footnote(fig: go.Figure, text: str) -> go.Figure:
    """A copy of ``fig`` with a source/assumptions footnote under the plot (for PNG/SVG exports)."""
    out = go.Figure(fig)
    lines = text.count("<br>") + 1
    block = lines * 15 + 6
    bottom = int(out.layout.margin.b or 80) + block + 45
    out.update_layout(margin={"b": bottom}, legend={"y": -0.12})
    out.add_annotation(text=text, xref="paper", yref="paper", x=0, y=0, xanchor="left", yanchor="top",
                       yshift=-(bottom - block - 8), showarrow=False, align="left", font={"size": 11, "color": "#555"})
    return out


def deployment(row: pd.Series | dict) -> str:
    """One-line description of the deployment behind a frontier point (hover text, tables); ``row`` is a frontier
    row (Series or a ``to_dict("records")`` record)."""
    layout = f"TP{int(row['tp'])}"
    if row["ep"] > 1:
        layout += f" EP{int(row['ep'])}"
    if row["dp_attention"] > 1:
        layout += f" DP{int(row['dp_attention'])}"
    if row["pp"] > 1:
        layout += f" PP{int(row['pp'])}"
    if row["serving"] == "disagg":
        pre = f"TP{int(row['prefill_tp'])}" + (f" EP{int(row['prefill_ep'])}" if row["prefill_ep"] > 1 else "") \
            + (f" DP{int(row['prefill_dp_attention'])}" if row["prefill_dp_attention"] > 1 else "")
        return (f"disagg {int(row['prefill_instances'])}P({pre}):{int(row['decode_instances'])}D({layout}), "
                f"decode batch {int(row['concurrency'])}")
    return f"agg {layout}, {int(row['gpus'])} GPUs, batch {int(row['concurrency'])}"


_DEPLOYMENT_COLUMNS = ("tp", "ep", "dp_attention", "pp", "serving", "prefill_tp", "prefill_ep", "prefill_dp_attention",
                       "prefill_instances", "decode_instances", "concurrency", "gpus")  # what deployment() reads


def deployments(frame: pd.DataFrame) -> list[str]:
    """:func:`deployment` of every row (plain records of the columns it reads, not iterrows: ~50x faster)."""
    columns = [c for c in _DEPLOYMENT_COLUMNS if c in frame.columns]
    values = [frame[c].tolist() for c in columns]
    return [deployment(dict(zip(columns, row))) for row in zip(*values)]


def _hover(frame: pd.DataFrame) -> list[str]:
    return [f"{d}<br>TTFT {ttft:.2f} s · TPOT {tpot * 1e3:.1f} ms"
            for d, ttft, tpot in zip(deployments(frame), frame["ttft_s"], frame["tpot_s"])]


def _name(system: str, labels: dict[str, str] | None) -> str:
    return (labels or {}).get(system, system)


def frontier_figure(frames: dict[str, pd.DataFrame], y: str, y_title: str, *, x_log: bool = True,
                    target: float | None = None, present: bool = False, title: str | None = None,
                    labels: dict[str, str] | None = None, bands: dict | None = None,
                    measured: dict[str, pd.DataFrame] | None = None, badges: dict[str, str] | None = None,
                    ) -> go.Figure:
    """Throughput (per MW or per GPU) against tokens/s per user, one trace per system, with markers for max
    throughput, max interactivity and max revenue.

    ``labels``: system id -> display name. ``bands``: system id -> (low factor, high factor, label) drawn as a
    shaded band around the curve. ``measured``: system id -> measured points (columns tokens_per_s_per_user and
    ``y``) drawn as open diamonds named "measured". ``badges``: system id -> provenance shown in the hover."""
    traces = []  # plain dicts; tests/test_board.py rebuilds the figure with plotly's validation
    for system, frame in frames.items():
        if not len(frame):
            continue
        c = colour(system)
        name = _name(system, labels) + f" · {frame['precision'].iloc[0].upper()}"
        badge = (badges or {}).get(system, "")
        band = (bands or {}).get(system)
        x, values = _floats(frame["tokens_per_s_per_user"]), _floats(frame[y])
        if band:
            low, high, band_label = band
            traces.append({"type": "scatter", "x": x, "y": values * high, "mode": "lines",
                           "line": {"width": 0, "color": c, "shape": "hv"}, "showlegend": False,
                           "legendgroup": system, "hoverinfo": "skip", "name": f"{name} band high"})
            traces.append({"type": "scatter", "x": x, "y": values * low, "mode": "lines",
                           "line": {"width": 0, "color": c, "shape": "hv"}, "fill": "tonexty",
                           "fillcolor": _rgba(c, 0.15), "legendgroup": system, "showlegend": False,
                           "name": f"{name} uncertainty band", "hovertemplate": f"{band_label}<extra></extra>"})
        traces.append({
            "type": "scatter", "x": x, "y": values, "mode": "lines+markers", "name": name,
            "line": {"color": c, "width": 3, "shape": "hv"}, "marker": {"size": 6, "color": c},
            "text": _hover(frame), "legendgroup": system,
            "hovertemplate": f"<b>{name}</b> (modelled{'; ' + badge if badge else ''})<br>%{{x:.1f}} tok/s/user · "
                             f"%{{y:,.0f}}<br>%{{text}}<extra></extra>"})
        extremes = [(best_index(frame, y), "max throughput", "diamond"),
                    (best_index(frame, "tokens_per_s_per_user"), "max interactivity", "triangle-right"),
                    (best_index(frame, "revenue_usd_per_mw_hour"), "max revenue", "star")]
        for idx, what, symbol in [e for e in extremes if e[0] is not None]:  # no price: no revenue marker
            row = frame.loc[idx]
            traces.append({
                "type": "scatter", "x": [float(row["tokens_per_s_per_user"])], "y": [float(row[y])],
                "mode": "markers", "showlegend": False, "legendgroup": system,
                "marker": {"symbol": symbol, "size": 16, "color": c, "line": {"color": "white", "width": 1.5}},
                "text": [f"{what}: {deployment(row)}"], "name": f"{name} {what}",
                "hovertemplate": f"<b>{name} — {what}</b><br>%{{x:.1f}} tok/s/user · %{{y:,.0f}}<br>%{{text}}"
                                 "<extra></extra>"})
        points = (measured or {}).get(system)
        if points is not None and len(points):
            source = str(points["source"].iloc[0]) if "source" in points else "measured"
            trace = {"type": "scatter", "x": _floats(points["tokens_per_s_per_user"]), "y": _floats(points[y]),
                     "mode": "markers", "name": f"{_name(system, labels)} measured", "legendgroup": system,
                     "marker": {"symbol": "diamond-open", "size": 10, "color": c, "line": {"width": 2}},
                     "hovertemplate": f"<b>measured</b> {_name(system, labels)}: %{{text}}<br>%{{x:.1f}} tok/s/user · "
                                      f"%{{y:,.0f}}<br>{source}<extra></extra>"}
            if {"backend", "tp", "gpus", "concurrency"} <= set(points.columns):
                trace["text"] = [f"{b}, TP{int(t)}, {int(g)} GPUs, concurrency {int(k)}" for b, t, g, k in
                                 zip(points["backend"], points["tp"], points["gpus"], points["concurrency"])]
            traces.append(trace)
    layout = _layout_dict(traces, title or "Throughput vs interactivity (Pareto frontier)",
                          "Tokens/s per user (output, = 1 / TPOT)", y_title, x_log=x_log, present=present)
    if target:  # the line takes data coordinates; an annotation on a log axis takes log10 of them
        layout["shapes"] = [{"type": "line", "x0": target, "x1": target, "xref": "x", "y0": 0, "y1": 1,
                             "yref": "y domain", "line": {"dash": "dot", "color": "#555"}}]
        layout["annotations"] = [{"x": float(np.log10(target)) if x_log else target, "y": 1.0, "yref": "paper",
                                  "yanchor": "bottom", "text": f"target {target:g} tok/s/user", "showarrow": False}]
    # Validating ~10 traces of ~100 points and the layout through plotly's object API costs ~70 ms a chart (most
    # of a rerun); these dicts are valid by construction and by test, so the figure is built without it.
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def _floats(values) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _rgba(hexcode: str, alpha: float) -> str:
    h = hexcode.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def solid_dashed_figure(system: str, solid: pd.DataFrame, dashed: pd.DataFrame, *, title: str, x_log: bool = True,
                        present: bool = False, labels: dict[str, str] | None = None) -> go.Figure:
    """Two frontiers of one system (tokens/s per MW, all-in) on one chart: ``solid`` as usual, ``dashed`` dashed
    (FP8 vs NVFP4, aggregated vs disaggregated)."""
    fig = frontier_figure({system: solid}, "tokens_per_s_per_mw", "Output tokens/s per MW (all-in)", x_log=x_log,
                          present=present, title=title, labels=labels)
    if len(dashed):
        for trace in frontier_figure({system: dashed}, "tokens_per_s_per_mw", "", x_log=x_log, labels=labels).data:
            trace.line.dash = "dash"
            trace.name = f"{trace.name} (dashed)"
            fig.add_trace(trace)
    if x_log:
        fig.update_xaxes(**_log_ticks(fig.data, "x"))
    return fig


def money_figure(frames: dict[str, pd.DataFrame], *, x_log: bool = True, present: bool = False,
                 labels: dict[str, str] | None = None) -> go.Figure:
    """Revenue, cost and profit per MW-hour along each frontier."""
    fig = go.Figure()
    for system, frame in frames.items():
        if not len(frame) or not np.isfinite(frame["revenue_usd_per_mw_hour"]).any():
            continue
        c, name = colour(system), _name(system, labels)
        x = frame["tokens_per_s_per_user"]
        fig.add_trace(go.Scatter(x=x, y=frame["revenue_usd_per_mw_hour"], name=f"{name} revenue", mode="lines+markers",
                                 line={"color": c, "width": 3}, legendgroup=system, text=_hover(frame),
                                 hovertemplate="%{x:.1f} tok/s/user · revenue $%{y:,.0f}/MW-h<br>%{text}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=frame["profit_usd_per_mw_hour"], name=f"{name} profit", mode="lines",
                                 line={"color": c, "width": 2, "dash": "dash"}, legendgroup=system,
                                 hovertemplate="%{x:.1f} tok/s/user · profit $%{y:,.0f}/MW-h<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=frame["cost_usd_per_mw_hour"], name=f"{name} cost", mode="lines",
                                 line={"color": c, "width": 1, "dash": "dot"}, legendgroup=system,
                                 hovertemplate="cost $%{y:,.0f}/MW-h<extra></extra>"))
        if best_index(frame, "profit_usd_per_mw_hour") is None:  # a model without a list price: no sweet spot
            continue
        best = frame.loc[best_index(frame, "profit_usd_per_mw_hour")]
        fig.add_trace(go.Scatter(x=[best["tokens_per_s_per_user"]], y=[best["profit_usd_per_mw_hour"]], mode="markers",
                                 marker={"symbol": "star", "size": 18, "color": c}, showlegend=False,
                                 legendgroup=system, name=f"{name} sweet spot",
                                 hovertemplate=f"<b>{name} sweet spot</b><br>%{{x:.1f}} tok/s/user · profit "
                                               f"$%{{y:,.0f}}/MW-h<extra></extra>"))
    fig = _layout(fig, "Revenue, cost and profit per MW-hour", "Tokens/s per user (output)",
                  "USD per MW-hour (all-in power)", x_log=x_log, present=present)
    fig.update_yaxes(rangemode="normal", tickprefix="$", separatethousands=True)
    return fig


def cost_figure(frames: dict[str, pd.DataFrame], basis: str, *, x_log: bool = True,
                present: bool = False, labels: dict[str, str] | None = None) -> go.Figure:
    column = "cost_per_m_output_tokens_usd" if basis == "output" else "cost_per_m_total_tokens_usd"
    fig = go.Figure()
    for system, frame in frames.items():
        if not len(frame):
            continue
        c, name = colour(system), _name(system, labels)
        fig.add_trace(go.Scatter(x=frame["tokens_per_s_per_user"], y=frame[column], name=name, mode="lines+markers",
                                 line={"color": c, "width": 3}, text=_hover(frame),
                                 hovertemplate="%{x:.1f} tok/s/user · $%{y:.3f} per 1M<br>%{text}<extra></extra>"))
    basis_text = "output tokens" if basis == "output" else "total (input + output) tokens"
    fig = _layout(fig, f"Cost per million {basis_text}", "Tokens/s per user (output)",
                  f"USD per 1M {basis_text}", x_log=x_log, y_log=True, present=present)
    if fig.layout.yaxis.ticktext:
        fig.update_yaxes(ticktext=[f"${t}" for t in fig.layout.yaxis.ticktext])
    return fig


def breakdown_figure(table: pd.DataFrame, *, present: bool = False) -> go.Figure:
    """Stacked cost per GPU-hour by system (a categorical axis): depreciation (capex), energy, facility/other."""
    fig = go.Figure()
    parts = [("depreciation", "Capex (depreciation)", "#1e88e5"), ("energy", "Energy", "#f9a825"),
             ("other", "Facility, operations, margin", "#8d6e63")]
    for column, name, c in parts:
        fig.add_trace(go.Bar(x=list(table["label"]), y=list(table[column]), name=name, marker_color=c,
                             hovertemplate="%{x}: $%{y:.2f} per GPU-hour<extra>" + name + "</extra>"))
    fig.update_layout(barmode="stack")
    fig = _layout(fig, "Cost per GPU-hour", "System", "USD per GPU-hour", present=present, x_type="category")
    fig.update_yaxes(tickprefix="$")
    return fig


def ratio_figure(table: pd.DataFrame, base: str, *, present: bool = False,
                 labels: dict[str, str] | None = None) -> go.Figure:
    fig = go.Figure()
    for column in [c for c in table.columns if c.endswith(f"_vs_{base}")]:
        system = column.split("_vs_")[0]
        fig.add_trace(go.Bar(x=[f"{v:g}" if isinstance(v, (int, float)) else str(v)
                                for v in table["tokens_per_s_per_user"]], y=list(table[column]),
                             name=_name(system, labels), marker_color=colour(system),
                             hovertemplate="%{x} tok/s/user: %{y:.1f}x<extra>" + _name(system, labels) + "</extra>"))
    fig.update_layout(barmode="group")
    return _layout(fig, f"Throughput per MW relative to {_name(base, labels)}", "Tokens/s per user",
                   "Ratio (x)", present=present, x_type="category")


def tornado_figure(rows: pd.DataFrame, base_value: float, *, present: bool = False,
                   title: str = "Profit sensitivity at the sweet spot") -> go.Figure:
    """Horizontal bars from the baseline profit to the profit with each factor moved down (red) and up (green);
    factor names on a categorical y axis."""
    fig = go.Figure()
    factors = list(rows["factor"])
    fig.add_trace(go.Bar(y=factors, x=list(rows["low"] - base_value), base=base_value, orientation="h",
                         name="factor moved down", marker_color="#e53935", text=list(rows["low_label"]),
                         textposition="auto",
                         hovertemplate="%{y} %{text}: $%{x:,.0f}<extra></extra>"))
    fig.add_trace(go.Bar(y=factors, x=list(rows["high"] - base_value), base=base_value, orientation="h",
                         name="factor moved up", marker_color="#43a047", text=list(rows["high_label"]),
                         textposition="auto",
                         hovertemplate="%{y} %{text}: $%{x:,.0f}<extra></extra>"))
    fig.update_layout(barmode="overlay")
    fig.add_vline(x=base_value, line={"color": "#333"})
    fig = _layout(fig, title, "Profit, USD per MW-hour", "", present=present, y_type="category")
    fig.update_xaxes(rangemode="normal", tickprefix="$", separatethousands=True)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=380 if not present else 460, margin={"l": 200})
    return fig


def validation_figure(points: pd.DataFrame, *, present: bool = False) -> go.Figure:
    """Model vs measured TPOT, one colour per system."""
    fig = go.Figure()
    for (system, model, precision), g in points.groupby(["system", "model", "precision"]):
        fig.add_trace(go.Scatter(x=g["tpot_ms"], y=g["pred_tpot_ms"], mode="markers",
                                 name=f"{system} · {model} · {precision}", marker={"color": colour(system), "size": 7,
                                                                                   "opacity": 0.75},
                                 hovertemplate="measured %{x:.1f} ms · model %{y:.1f} ms<extra></extra>"))
    top = float(max(points["tpot_ms"].max(), points["pred_tpot_ms"].max()))
    fig.add_trace(go.Scatter(x=[1, top], y=[1, top], mode="lines", name="model = measured",
                             line={"color": "#333", "dash": "dash"}))
    return _layout(fig, "TPOT: model vs measured reference points", "Measured TPOT (ms)", "Model TPOT (ms)",
                   x_log=True, y_log=True, present=present)


# ---------------------------------------------------------------------------------------- calibration

GPU_LINE_COLOURS = ["#76b900", "#0d47a1", "#e53935", "#8e24aa", "#ff8f00", "#00897b", "#6d4c41", "#3949ab"]
MANY_GPUS = 16  # above this many GPUs the live chart shows mean and min–max band instead of one line per GPU


def telemetry_figure(gpu: pd.DataFrame, server: pd.DataFrame, *, tdp_w: float | None = None,
                     present: bool = False) -> go.Figure:
    """Live telemetry: GPU power (W), SM clock (MHz) and the server's output tokens/s against time (s)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("GPU power (W)", "SM clock (MHz)", "Server output tokens/s"))
    starts = [f["t_s"].min() for f in (gpu, server) if len(f) and "t_s" in f]
    t0 = min(starts) if starts else 0.0
    if len(gpu):
        ids = gpu["gpu"].astype(str)
        for row, column in ((1, "power_w"), (2, "sm_clock_mhz")):
            if column not in gpu or gpu[column].isna().all():
                continue
            if ids.nunique() <= MANY_GPUS:
                for i, (name, g) in enumerate(gpu.groupby(ids, sort=True)):
                    fig.add_trace(go.Scatter(x=g["t_s"] - t0, y=g[column], mode="lines", name=f"GPU {name}",
                                             legendgroup=name, showlegend=row == 1,
                                             line={"color": GPU_LINE_COLOURS[i % len(GPU_LINE_COLOURS)], "width": 1.5}),
                                  row=row, col=1)
            else:  # a fleet: thousands of lines would be slow and unreadable
                stats = gpu.groupby(gpu["t_s"].round(0))[column].agg(["mean", "min", "max"])
                x = stats.index - t0
                fig.add_trace(go.Scatter(x=x, y=stats["max"], mode="lines", line={"width": 0}, showlegend=False,
                                         hoverinfo="skip"), row=row, col=1)
                fig.add_trace(go.Scatter(x=x, y=stats["min"], mode="lines", line={"width": 0}, fill="tonexty",
                                         fillcolor="rgba(118,185,0,0.25)", name="min–max over GPUs",
                                         showlegend=row == 1), row=row, col=1)
                fig.add_trace(go.Scatter(x=x, y=stats["mean"], mode="lines", name="mean over GPUs",
                                         line={"color": "#2e7d32"}, showlegend=row == 1), row=row, col=1)
        if tdp_w:
            fig.add_hline(y=tdp_w, line={"color": "#b71c1c", "dash": "dot"}, annotation_text=f"TDP {tdp_w:.0f} W",
                          row=1, col=1)
    rates = output_token_rates(server)
    if len(rates):
        fig.add_trace(go.Scatter(x=rates["t_s"] - t0, y=rates["output_tokens_per_s"], mode="lines+markers",
                                 name="output tokens/s", line={"color": "#0d47a1"}), row=3, col=1)
    base = 20 if present else 13
    fig.update_layout(template=TEMPLATE, font={"family": FONT, "size": base}, height=640 if present else 560,
                      margin={"l": 70, "r": 30, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.12},
                      uirevision="live")  # keep the user's zoom while new samples arrive
    fig.update_xaxes(title_text="Time since start of recording (s)", row=3, col=1)
    fig.update_yaxes(rangemode="tozero")
    return fig


def calibration_figure(points: pd.DataFrame, curves: pd.DataFrame, *, synthetic: bool = False,
                       present: bool = False) -> go.Figure:
    """Measured operating points on the model's curve for the same deployment, before and after the fit."""
    fig = go.Figure()
    styles = {"reference fit": {"color": "#8c8c8c", "dash": "dash"}, "calibrated": {"color": "#2e7d32"},
              "frontier": {"color": "#0d47a1", "dash": "dot"}}
    names = {"frontier": "model frontier (best deployment at each speed)"}
    for label, g in curves.groupby("factors", sort=False):
        g = g.sort_values("tokens_per_s_per_user")
        fig.add_trace(go.Scatter(x=g["tokens_per_s_per_user"], y=g["output_tokens_per_s_per_gpu"], mode="lines",
                                 name=names.get(label, f"model, this deployment, {label}"),
                                 line=styles.get(label, {}),
                                 text=[f"concurrency {int(c)}" for c in g["concurrency"]],
                                 hovertemplate="%{text}: %{x:.1f} tok/s/user · %{y:,.0f} tok/s/GPU<extra></extra>"))
    fig.add_trace(go.Scatter(x=points["tokens_per_s_per_user"], y=points["output_tokens_per_s_per_gpu"],
                             mode="markers", name="measured" + (" (SYNTHETIC)" if synthetic else ""),
                             marker={"color": "#e53935", "size": 11, "symbol": "diamond"},
                             text=[f"{p}, concurrency {c:g}" for p, c in zip(points["phase"], points["concurrency"])],
                             hovertemplate="%{text}: %{x:.1f} tok/s/user · %{y:,.0f} tok/s/GPU<extra></extra>"))
    first = points.iloc[0]
    title = (f"{first['system']} · {first['model']} · {first['precision']} · TP{int(first['tp'])}<br>"
             f"<sup>measured vs model" + (" — SYNTHETIC data" if synthetic else "") + "</sup>")
    return _layout(fig, title, "Tokens/s per user (1 / TPOT)", "Output tokens/s per GPU", present=present)
