"""Leaf module of the dashboard's look: colours, fonts, number formats, log-axis ticks, source citations.

Imports nothing from pages/ and never imports Streamlit, so charts, exports and tests can use it outside a
Streamlit session (pages/charts.py and pages/ui.py both import it; neither imports the other's internals).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re

import numpy as np

FONT = "Open Sans, Liberation Sans, Arial, sans-serif"
PALETTE = {  # one colour per architecture, the same on every page and in every export
    "h100-sxm": "#8c8c8c", "h200-sxm": "#4d4d4d", "b200-sxm": "#76b900", "gb200-nvl72": "#2e7d32",
    "b300-sxm": "#1e88e5", "gb300-nvl72": "#0d47a1", "rubin-nvl72": "#8e24aa", "mi300x": "#e53935",
    "mi325x": "#f4511e", "mi355x": "#b71c1c",
}
EXTRA_COLOURS = ["#ff8f00", "#00897b", "#6d4c41", "#c2185b", "#3949ab", "#7cb342"]
MODELLED_NOTE = "Modelled (factory_model), not measured; see Claims & validation for the model's error."


def colour(system_id: str) -> str:
    if system_id in PALETTE:
        return PALETTE[system_id]
    digest = int(hashlib.sha1(system_id.encode()).hexdigest(), 16)
    return EXTRA_COLOURS[digest % len(EXTRA_COLOURS)]


# ------------------------------------------------------------------------------------------ numbers


def human(value, digits: int = 3, unit: str = "") -> str:
    """A number as people read it: 3 significant digits and k / M / B / T (``unit`` appended), '—' if missing."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    sign = "−" if v < 0 else ""
    v = abs(v)
    for size, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")):
        if v >= size * 0.9995:
            return f"{sign}{_sig(v / size, digits)}{suffix}{unit}"
    return f"{sign}{_sig(v, digits)}{' ' + unit if unit else ''}"


def _sig(v: float, digits: int) -> str:
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(v))))
    text = f"{v:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def usd(value, digits: int = 3) -> str:
    """'$1.23', '$45.6 M', '—'."""
    text = human(value, digits)
    if text in ("—", "∞", "−∞"):
        return text
    return f"−${text[1:]}" if text.startswith("−") else f"${text}"


def ratio(value) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.1f}x"


# --------------------------------------------------------------------------------------- log axes


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick values at 1-2-5 of every decade spanning [lo, hi], labelled with full numbers ('50', '2,000')."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= 0:
        return [], []
    lo = max(lo, hi * 1e-9, 1e-12)
    values = []
    for exponent in range(int(math.floor(math.log10(lo))) - 1, int(math.ceil(math.log10(hi))) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** exponent
            if lo / 1.001 <= v <= hi * 1.001:
                values.append(v)
    if len(values) < 2:  # a narrow range: add the neighbours so at least two ticks show
        values = sorted(set(values) | {10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))})
    return values, [tick_label(v) for v in values]


def tick_label(v: float) -> str:
    if v >= 1e6:
        return human(v, 3).replace(" ", "")
    if v >= 1:
        return f"{v:,.0f}"
    return f"{v:.10f}".rstrip("0").rstrip(".")


# ------------------------------------------------------------------------------------------ sources

_KEY = re.compile(r"\[([A-Z0-9][A-Z0-9_.-]+)\]")


@functools.lru_cache(maxsize=2)
def source_addresses(path: str | None = None) -> dict[str, str]:
    """Source key -> address (URL or 'owner/repo : path') from data/sources.yaml."""
    import yaml

    from factory_model.catalog import DATA_DIR

    with open(path or DATA_DIR / "sources.yaml") as handle:
        data = yaml.safe_load(handle) or {}
    return {str(k): str(v) for k, v in (data.get("keys") or {}).items()}


def cite(text: str, markdown: bool = False) -> str:
    """A source text with every [KEY] replaced by the address it stands for ('DeepSeek API pricing' style titles
    are not in the data; the address is what a reader can follow)."""
    addresses = source_addresses()

    def replace(match: re.Match) -> str:
        key = match.group(1)
        address = addresses.get(key)
        if not address:
            return match.group(0)
        if markdown and address.startswith("http"):
            return f"[{key}]({address})"
        return f"{key} <{address}>"

    return _KEY.sub(replace, text or "")


# The seed articles the claims come from (data/claims.yaml names them by file name): title, and address where
# the project's research notes record one (research/specs.md, [NVB-AIF]).
SEED_TITLES = {
    "000_c623d756eee93b01.txt": ('NVIDIA blog "The More You Buy, the More You Make"',
                                 "https://blogs.nvidia.com/blog/ai-factory-inference-optimization"),
    "001_f177e787a8f98013.txt": ('NVIDIA AI-factory article "From AI assistants doing deep research…"', ""),
    "002_0a0833251f124b3c.txt": ('"Maximize AI Factory Efficiency to Boost Revenue"', ""),
    "003_868e8c4be1ce0a94.txt": ('commentary "It feels like just yesterday…" (AI inference at scale)', ""),
    "004_0e395e60145039cd.txt": ('NVIDIA Blog "AI is making a big difference…" (AI factories, first token to value)', ""),
}


def cite_seed(name: str) -> str:
    """A seed article's title and address instead of its file name."""
    title, address = SEED_TITLES.get(str(name), (str(name), ""))
    return f"{title} <{address}>" if address else f"{title} (seed article {str(name)[:3]}; address not recorded)"
