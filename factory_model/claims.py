"""The seed articles' headline claims, each reproduced by the model under assumptions written beside it.

``python -m factory_model claims`` evaluates ``data/claims.yaml``. Each claim fixes a scenario (or two, for a
ratio) first; the model's value follows, and the verdict says how far it lands from the claim. Nothing is tuned:
a claim the model does not reproduce is reported as such, with the factor.
"""

from __future__ import annotations

import copy
import functools

import math
from pathlib import Path

import numpy as np
import pandas as pd

from . import pareto as pareto_math
from .catalog import DATA_DIR, read_yaml
from .economics import options as economics_options
from .errors import CatalogError
from .factors import DEFAULT_PROFILE, load_factors
from .scenario import frontier

AGREEMENT_BAND = 1.5  # within a factor of 1.5 either way counts as "agrees"
SCENARIO_KEYS = {"system", "model", "precision", "isl", "osl", "serving", "mtp_tokens", "mtp_acceptance",
                 "gpu_hour_usd"}
KINDS = ("max_throughput_per_mw", "max_interactivity", "ratio", "revenue_over_years")
COLUMNS = ["id", "claim", "claimed_value", "model_value", "unit", "verdict", "assumptions", "source"]


def load_claims(path: Path | None = None) -> dict[str, dict]:
    """The claims catalog, validated (parsed once per file version; a copy each call, so callers may edit)."""
    path = Path(path or DATA_DIR / "claims.yaml")
    return copy.deepcopy(_load_claims(str(path), path.stat().st_mtime if path.exists() else 0.0))


@functools.lru_cache(maxsize=4)
def _load_claims(path_text: str, _mtime: float) -> dict[str, dict]:
    path = Path(path_text)
    claims = read_yaml(path)
    for claim_id, c in claims.items():
        where = f"{path.name}: {claim_id}"
        for key in ("claim", "claimed_value", "unit", "source", "kind", "assumptions"):
            if key not in c:
                raise CatalogError(f"{where}: missing '{key}'")
        if c["kind"] not in KINDS:
            raise CatalogError(f"{where}: unknown kind '{c['kind']}'")
        for side in ("base", "new"):
            if side in c and set(c[side]) - SCENARIO_KEYS:
                raise CatalogError(f"{where}.{side}: unknown keys {sorted(set(c[side]) - SCENARIO_KEYS)}")
    return claims


class _Frontiers:
    """Frontier cache for one claims run (several claims share scenarios)."""

    def __init__(self, profile: str):
        self.factors = load_factors(profile)
        self.cache: dict[tuple, pd.DataFrame] = {}

    def get(self, scenario: dict, utilisation: float | None = None) -> pd.DataFrame:
        key = tuple(sorted(scenario.items())) + (utilisation,)
        if key not in self.cache:
            s = dict(scenario)
            econ = economics_options(gpu_hour_usd=s.pop("gpu_hour_usd", None), utilisation=utilisation)
            self.cache[key] = frontier(s.pop("system"), s.pop("model"), s.pop("precision"), s.pop("isl"),
                                       s.pop("osl"), economics=econ, factors=self.factors, **s)
        return self.cache[key]


def _value(f: pd.DataFrame, metric: str, at: float | None) -> float:
    if not len(f):
        return float("nan")
    if metric == "max_tokens_per_s_per_user":
        return float(f["tokens_per_s_per_user"].max())
    if at is None:
        return float(f[metric].max())
    if metric == "cost_per_m_output_tokens_usd":  # cheapest deployment at least this fast
        fast = f[f["tokens_per_s_per_user"] >= at]
        return float(fast[metric].min()) if len(fast) else float("nan")
    return pareto_math.value_at(f, at, metric)


def _evaluate(c: dict, frontiers: _Frontiers) -> float:
    kind = c["kind"]
    if kind == "max_throughput_per_mw":
        f = frontiers.get(c["base"])
        return float(f["tokens_per_s_per_mw"].max()) * float(c.get("mw", 1)) if len(f) else float("nan")
    if kind == "max_interactivity":
        f = frontiers.get(c["base"])
        return float(f["tokens_per_s_per_user"].max()) if len(f) else float("nan")
    if kind == "revenue_over_years":
        f = frontiers.get(c["new"], utilisation=c.get("utilisation"))
        per_gpu_hour = pareto_math.value_at(f, c["at"], "revenue_usd_per_gpu_hour")
        return per_gpu_hour * c["gpus"] * c["years"] * 8760.0
    base = _value(frontiers.get(c["base"]), c["metric"], c.get("base_at", c.get("at")))
    new = _value(frontiers.get(c["new"]), c["metric"], c.get("at"))
    if c.get("lower_is_better"):
        ratio = base / new
    else:
        ratio = new / base
    if c.get("as_percent_reduction"):
        return (1.0 - 1.0 / ratio) * 100.0
    return ratio


def verdict(claimed: float, model: float) -> str:
    if model is None or not math.isfinite(model):
        return "not reproduced: a scenario cannot reach the stated speed (see assumptions)"
    if model <= 0 or claimed <= 0:
        return f"model disagrees (model {model:.3g} vs claimed {claimed:.3g})"
    factor = model / claimed
    if 1 / AGREEMENT_BAND <= factor <= AGREEMENT_BAND:
        return f"agrees (model/claim = {factor:.2f})"
    direction = "below" if factor < 1 else "above"
    return f"model disagrees: {max(factor, 1 / factor):.1f}x {direction} the claim"


def evaluate_claims(profile: str = DEFAULT_PROFILE, path: Path | None = None) -> pd.DataFrame:
    """One row per claim: :data:`COLUMNS` (``source`` = seed file name)."""
    frontiers = _Frontiers(profile)
    rows = []
    for claim_id, c in load_claims(path).items():
        value = _evaluate(c, frontiers)
        rows.append({"id": claim_id, "claim": c["claim"], "claimed_value": float(c["claimed_value"]),
                     "model_value": float(value) if np.isfinite(value) else float("nan"), "unit": c["unit"],
                     "verdict": verdict(float(c["claimed_value"]), value), "assumptions": c["assumptions"],
                     "source": c["source"]})
    return pd.DataFrame(rows, columns=COLUMNS)
