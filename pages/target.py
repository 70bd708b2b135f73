"""The board's question for every chosen system: what does the factory deliver at the target tokens/s per user?

Pure pandas (no Streamlit): used by the Frontier and Compare pages, the CSV export and the PowerPoint deck.
Every figure is ``factory_model.pareto.value_at`` of the frontier column at the target (linear in log10
interactivity between neighbouring frontier points). A target beyond a system's fastest frontier point is
**clamped**: the row then shows that fastest point and says so in ``flag``; the system cannot serve the target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from factory_model.pareto import value_at

from .charts import deployment
from .style import human, usd

COLUMNS = {  # column -> (header for people, formatter)
    "system_label": ("System", str),
    "precision": ("Precision", lambda v: str(v).upper()),
    "tokens_per_s_per_user": ("Tokens/s per user", lambda v: f"{v:,.0f}" if v >= 10 else f"{v:.1f}"),
    "tokens_per_s_facility": ("Facility output tokens/s", human),
    "revenue_usd_per_year": ("Revenue / year", usd),
    "profit_usd_per_year": ("Profit / year", usd),
    "cost_per_m_output_tokens_usd": ("Cost per 1M output tokens", lambda v: usd(v, 3)),
    "cost_per_m_total_tokens_usd": ("Cost per 1M total tokens", lambda v: usd(v, 3)),
    "gpus": ("GPUs", lambda v: f"{int(v):,}"),
    "racks": ("Racks", lambda v: f"{int(v):,}" if np.isfinite(v) else "—"),
    "deployment": ("Deployment at the target", str),
    "flag": ("Note", str),
}
VALUE_COLUMNS = ["tokens_per_s_facility", "revenue_usd_per_year", "profit_usd_per_year",
                 "cost_per_m_output_tokens_usd", "cost_per_m_total_tokens_usd"]
SOURCE_COLUMN = {"tokens_per_s_facility": "tokens_per_s_per_facility"}


def at_target(frames: dict[str, pd.DataFrame], target: float, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per system with a frontier: the frontier's figures at ``target`` tokens/s per user (clamped to
    the fastest point, and flagged, when the system cannot reach it). Systems without a frontier get a row
    with the reason and no figures."""
    labels = labels or {}
    rows = []
    for system, frame in frames.items():
        row = {"system": system, "system_label": labels.get(system, system), "target_tokens_per_s_per_user": target}
        if not len(frame):
            row.update({"precision": "", "tokens_per_s_per_user": np.nan, "gpus": np.nan, "racks": np.nan,
                        "deployment": "", "flag": f"no frontier: {frame.attrs.get('reason') or 'no deployment'}",
                        "clamped": True, **{c: np.nan for c in VALUE_COLUMNS}})
            rows.append(row)
            continue
        fastest = float(frame["tokens_per_s_per_user"].max())
        slowest = float(frame["tokens_per_s_per_user"].min())
        clamped = target > fastest * (1 + 1e-12)
        x = fastest if clamped else float(target)
        for column in VALUE_COLUMNS:
            row[column] = value_at(frame, x, SOURCE_COLUMN.get(column, column))
        # the deployment that serves the target: the highest-throughput frontier point at least that fast
        speed = frame["tokens_per_s_per_user"].to_numpy(dtype=float)
        throughput = frame["output_tokens_per_s_per_gpu"].to_numpy(dtype=float)
        fast_enough = np.flatnonzero(speed >= x * (1 - 1e-12))  # positions (a boolean row filter of the
        point = frame.iloc[fast_enough[np.argmax(throughput[fast_enough])]]  # whole frame costs ~10x more)
        if clamped:
            flag = f"clamped: cannot reach {target:g}; fastest point is {fastest:.0f} tok/s/user"
        elif target < slowest:
            flag = f"slowest frontier point is {slowest:.0f} tok/s/user (max throughput shown)"
        elif target > 0.8 * fastest:
            flag = f"near the edge: fastest point is {fastest:.0f} tok/s/user"
        else:
            flag = ""
        row.update({"precision": frame["precision"].iloc[0], "tokens_per_s_per_user": x,
                    "gpus": float(frame.attrs.get("factory_gpus", np.nan)),
                    "racks": float(frame.attrs.get("racks", np.nan)), "deployment": deployment(point),
                    "flag": flag, "clamped": clamped})
        rows.append(row)
    order = ["system", "system_label", "precision", "target_tokens_per_s_per_user", "tokens_per_s_per_user",
             "tokens_per_s_facility", "revenue_usd_per_year", "profit_usd_per_year", "cost_per_m_output_tokens_usd",
             "cost_per_m_total_tokens_usd", "gpus", "racks", "deployment", "flag", "clamped"]
    return pd.DataFrame(rows, columns=order)


# on screen the System column stays in view while a narrow window scrolls the wide table sideways
PINNED_COLUMNS = {"System": {"pinned": True}}


def for_people(table: pd.DataFrame) -> pd.DataFrame:
    """The at-target table with readable headers and human units ('12.3 M', '$4.56 B'), as strings."""
    out = {}
    for column, (header, fmt) in COLUMNS.items():
        if column in table:
            out[header] = [fmt(v) if not (isinstance(v, float) and np.isnan(v)) else "—" for v in table[column]]
    return pd.DataFrame(out)
