"""Plotly figures of the dashboard. Explicit layout (no Streamlit theme) so that charts look the same on screen
and in PNG/SVG/HTML/PowerPoint exports; every axis has a title with units and the token basis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import ui

FONT = "Open Sans, Liberation Sans, Arial, sans-serif"


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, *, x_log: bool = False,
            present: bool = False, y_log: bool = False) -> go.Figure:
    base = 20 if present else 14
    fig.update_layout(
        title={"text": title, "font": {"size": base + 6}}, template="plotly_white",
        font={"family": FONT, "size": base}, legend={"orientation": "h", "y": -0.2, "x": 0},
        margin={"l": 70, "r": 30, "t": 70, "b": 90}, hovermode="closest", height=620 if present else 520,
    )
    fig.update_xaxes(title_text=x_title, type="log" if x_log else "linear", showgrid=True, zeroline=False)
    fig.update_yaxes(title_text=y_title, type="log" if y_log else "linear", showgrid=True, rangemode="tozero")
    return fig


def deployment(row: pd.Series) -> str:
    """One-line description of the deployment behind a frontier point (hover text, tables)."""
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


def _hover(frame: pd.DataFrame) -> list[str]:
    return [f"{deployment(r)}<br>TTFT {r['ttft_s']:.2f} s · TPOT {r['tpot_s'] * 1e3:.1f} ms"
            for _, r in frame.iterrows()]


def frontier_figure(frames: dict[str, pd.DataFrame], y: str, y_title: str, *, x_log: bool = True,
                    target: float | None = None, present: bool = False, title: str | None = None) -> go.Figure:
    """Throughput (per MW or per GPU) against tokens/s per user, one trace per system, with markers for max
    throughput, max interactivity and max revenue."""
    fig = go.Figure()
    for system, frame in frames.items():
        if not len(frame):
            continue
        c = ui.colour(system)
        name = ui.label(system) + f" · {frame['precision'].iloc[0].upper()}"
        fig.add_trace(go.Scatter(
            x=frame["tokens_per_s_per_user"], y=frame[y], mode="lines+markers", name=name,
            line={"color": c, "width": 3, "shape": "hv"}, marker={"size": 6, "color": c},
            text=_hover(frame), legendgroup=system,
            hovertemplate=f"<b>{name}</b><br>%{{x:.1f}} tok/s/user · %{{y:,.0f}}<br>%{{text}}<extra></extra>"))
        extremes = [(frame[y].idxmax(), "max throughput", "diamond"),
                    (frame["tokens_per_s_per_user"].idxmax(), "max interactivity", "triangle-right")]
        if "revenue_usd_per_mw_hour" in frame and np.isfinite(frame["revenue_usd_per_mw_hour"]).any():
            extremes.append((frame["revenue_usd_per_mw_hour"].idxmax(), "max revenue", "star"))
        for idx, what, symbol in extremes:
            row = frame.loc[idx]
            fig.add_trace(go.Scatter(
                x=[row["tokens_per_s_per_user"]], y=[row[y]], mode="markers", showlegend=False, legendgroup=system,
                marker={"symbol": symbol, "size": 16, "color": c, "line": {"color": "white", "width": 1.5}},
                text=[f"{what}: {deployment(row)}"], name=f"{name} {what}",
                hovertemplate=f"<b>{name} — {what}</b><br>%{{x:.1f}} tok/s/user · %{{y:,.0f}}<br>%{{text}}<extra></extra>"))
    if target:  # the line takes data coordinates; an annotation on a log axis takes log10 of them
        fig.add_vline(x=target, line={"dash": "dot", "color": "#555"})
        fig.add_annotation(x=float(np.log10(target)) if x_log else target, y=1.0, yref="paper", yanchor="bottom",
                           text=f"{target:g} tok/s/user", showarrow=False)
    return _layout(fig, title or "Throughput vs interactivity (Pareto frontier)",
                   "Tokens/s per user (output, = 1 / TPOT)", y_title, x_log=x_log, present=present)


def money_figure(frames: dict[str, pd.DataFrame], *, x_log: bool = True, present: bool = False) -> go.Figure:
    """Revenue, cost and profit per MW-hour along each frontier."""
    fig = go.Figure()
    for system, frame in frames.items():
        if not len(frame):
            continue
        c, name = ui.colour(system), ui.label(system)
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
        best = frame.loc[frame["profit_usd_per_mw_hour"].idxmax()]
        fig.add_trace(go.Scatter(x=[best["tokens_per_s_per_user"]], y=[best["profit_usd_per_mw_hour"]], mode="markers",
                                 marker={"symbol": "star", "size": 18, "color": c}, showlegend=False,
                                 legendgroup=system, name=f"{name} sweet spot",
                                 hovertemplate=f"<b>{name} sweet spot</b><br>%{{x:.1f}} tok/s/user · profit "
                                               f"$%{{y:,.0f}}/MW-h<extra></extra>"))
    fig = _layout(fig, "Revenue, cost and profit per MW-hour", "Tokens/s per user (output)",
                  "USD per MW-hour (all-in power)", x_log=x_log, present=present)
    fig.update_yaxes(rangemode="normal")
    return fig


def cost_figure(frames: dict[str, pd.DataFrame], basis: str, *, x_log: bool = True,
                present: bool = False) -> go.Figure:
    column = "cost_per_m_output_tokens_usd" if basis == "output" else "cost_per_m_total_tokens_usd"
    fig = go.Figure()
    for system, frame in frames.items():
        if not len(frame):
            continue
        c, name = ui.colour(system), ui.label(system)
        fig.add_trace(go.Scatter(x=frame["tokens_per_s_per_user"], y=frame[column], name=name, mode="lines+markers",
                                 line={"color": c, "width": 3}, text=_hover(frame),
                                 hovertemplate="%{x:.1f} tok/s/user · $%{y:.3f} per 1M<br>%{text}<extra></extra>"))
    basis_text = "output tokens" if basis == "output" else "total (input + output) tokens"
    return _layout(fig, f"Cost per million {basis_text}", "Tokens/s per user (output)",
                   f"USD per 1M {basis_text}", x_log=x_log, y_log=True, present=present)


def breakdown_figure(table: pd.DataFrame, *, present: bool = False) -> go.Figure:
    """Stacked cost per GPU-hour: depreciation (capex), energy, facility/other."""
    fig = go.Figure()
    parts = [("depreciation", "Capex (depreciation)", "#1e88e5"), ("energy", "Energy", "#f9a825"),
             ("other", "Facility, operations, margin", "#8d6e63")]
    for column, name, c in parts:
        fig.add_trace(go.Bar(x=table["label"], y=table[column], name=name, marker_color=c,
                             hovertemplate="%{x}: $%{y:.2f} per GPU-hour<extra>" + name + "</extra>"))
    fig.update_layout(barmode="stack")
    return _layout(fig, "Cost per GPU-hour", "System", "USD per GPU-hour", present=present)


def ratio_figure(table: pd.DataFrame, base: str, *, present: bool = False) -> go.Figure:
    fig = go.Figure()
    for column in [c for c in table.columns if c.endswith(f"_vs_{base}")]:
        system = column.split("_vs_")[0]
        fig.add_trace(go.Bar(x=[str(v) for v in table["tokens_per_s_per_user"]], y=table[column], name=ui.label(system),
                             marker_color=ui.colour(system),
                             hovertemplate="%{x} tok/s/user: %{y:.1f}x<extra>" + ui.label(system) + "</extra>"))
    fig.update_layout(barmode="group")
    return _layout(fig, f"Throughput per MW relative to {ui.label(base)}", "Tokens/s per user",
                   "Ratio (x)", present=present)


def tornado_figure(rows: pd.DataFrame, base_value: float, *, present: bool = False) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Bar(y=rows["factor"], x=rows["low"] - base_value, base=base_value, orientation="h",
                         name="lower", marker_color="#e53935", text=rows["low_label"],
                         hovertemplate="%{y} %{text}: $%{x:,.0f}<extra></extra>"))
    fig.add_trace(go.Bar(y=rows["factor"], x=rows["high"] - base_value, base=base_value, orientation="h",
                         name="higher", marker_color="#43a047", text=rows["high_label"],
                         hovertemplate="%{y} %{text}: $%{x:,.0f}<extra></extra>"))
    fig.update_layout(barmode="overlay")
    fig.add_vline(x=base_value, line={"color": "#333"})
    fig = _layout(fig, "Profit sensitivity at the sweet spot", "Profit, USD per MW-hour", "", present=present)
    fig.update_xaxes(rangemode="normal")
    return fig


def validation_figure(points: pd.DataFrame, *, present: bool = False) -> go.Figure:
    fig = go.Figure()
    for (system, model, precision), g in points.groupby(["system", "model", "precision"]):
        fig.add_trace(go.Scatter(x=g["tpot_ms"], y=g["pred_tpot_ms"], mode="markers",
                                 name=f"{system} · {model} · {precision}", marker={"color": ui.colour(system), "size": 7,
                                                                                   "opacity": 0.75},
                                 hovertemplate="measured %{x:.1f} ms · model %{y:.1f} ms<extra></extra>"))
    top = float(max(points["tpot_ms"].max(), points["pred_tpot_ms"].max()))
    fig.add_trace(go.Scatter(x=[1, top], y=[1, top], mode="lines", name="model = measured",
                             line={"color": "#333", "dash": "dash"}))
    return _layout(fig, "TPOT: model vs measured reference points", "Measured TPOT (ms)", "Model TPOT (ms)",
                   x_log=True, y_log=True, present=present)
