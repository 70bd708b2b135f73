"""Token economics of a frontier: price by speed, revenue, TCO, cost per million tokens, profit, ROI, payback.

Price (USD per 1M tokens) = list price of the model (data/prices.yaml; input and output priced separately) ×
a speed multiplier from the tokens/s/user a deployment delivers:

* ``flat``: 1;
* ``tiered``: the multiplier of the fastest tier whose floor the deployment reaches (batch 0.5x, standard 1x,
  priority 2x above 80 tok/s/user, fast 6x above 200, each sourced);
* ``fitted``: (tokens/s/user / v_ref)^β, β fitted by least squares (through the origin, log-log) to pairs of
  public offerings of one model at two speeds (data/prices.yaml ``speed_price_pairs``).

Per GPU and hour (u = utilisation, the share of hours sold at that operating point):

    revenue  = output tokens/s/GPU · u · 3600 · (p_out + p_in · isl/osl) / 1e6
    cost     = tier $/GPU-hour (SemiAnalysis TCO, energy included)          [cost_basis "tier"]
             | capex / (years · 8760) + kW_all-in · $/kWh + capex · f_facility / 8760   [cost_basis "buildup"]
    cost per 1M output tokens = cost / (output tokens/s/GPU · u · 3600) · 1e6  (total basis: total tokens/s;
    input basis: input tokens/s — each basis charges the whole cost to that kind of token)

Demand and price assumptions (both off by default): ``demand_cap_output_tokens_per_s`` caps the output tokens/s
the whole facility can sell, so the utilisation actually sold is min(u, cap / (output tokens/s/GPU · GPUs)) and
revenue and cost per token use that; ``price_decline_per_year`` d lowers token prices every year, and prices
(hence revenue) are the average over the depreciation life L: (1 − (1 − d)^L) / (−L · ln(1 − d)).

Per MW multiply by GPUs per MW (power.py). profit = revenue − cost; ROI = profit / cost; payback = capex /
(annual revenue − annual operating cost), operating cost = cost − capex / years; revenue_per_capex = revenue
over the depreciation life / capex (the "$5M → $75M" framing).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .catalog import DATA_DIR, GPU_HOUR_TIERS, System, _Fields, flatten_sourced, read_yaml
from .errors import CatalogError, FactoryModelError
from .power import Power
from .schemas import finite_number

PRICE_CURVES = ("flat", "tiered", "fitted")
COST_BASES = ("tier", "buildup")
HOURS_PER_YEAR = 8760.0


@dataclass(frozen=True)
class PriceBook:
    """Token prices: list prices per model, speed tiers, and the fitted speed elasticity."""

    list_prices: dict[str, tuple[float, float]]  # model -> (input, output) USD per 1M tokens
    tier_floors: np.ndarray                        # tokens/s/user
    tier_multipliers: np.ndarray
    elasticity: float                              # β of the fitted curve
    reference_tokens_per_s_per_user: float
    sources: dict[str, str]

    def multiplier(self, curve: str, tokens_per_s_per_user) -> np.ndarray:
        x = np.asarray(tokens_per_s_per_user, dtype=float)
        if curve == "flat":
            return np.ones_like(x)
        if curve == "tiered":
            idx = np.searchsorted(self.tier_floors, x, side="right") - 1
            return self.tier_multipliers[np.clip(idx, 0, len(self.tier_multipliers) - 1)]
        if curve == "fitted":
            return (np.maximum(x, 1e-9) / self.reference_tokens_per_s_per_user) ** self.elasticity
        raise FactoryModelError(f"unknown price curve '{curve}'; choose {', '.join(PRICE_CURVES)}")


@functools.lru_cache(maxsize=4)
def load_prices(data_dir: str | Path | None = None) -> PriceBook:
    path = Path(data_dir or DATA_DIR) / "prices.yaml"
    data = read_yaml(path)
    sources: dict[str, str] = {}
    prices = {}
    for model_id, entry in data.get("list_prices", {}).items():
        where = f"{path.name}: list_prices.{model_id}"
        f = _Fields(flatten_sourced(entry, where), where)
        prices[model_id] = (f.number("input_usd_per_m", positive=False), f.number("output_usd_per_m", positive=False))
        sources.update({f"{model_id}.{k}": v for k, v in f.sources().items()})
    floors, mults = [], []
    for i, tier in enumerate(data.get("speed_tiers", [])):
        where = f"{path.name}: speed_tiers[{i}]"
        f = _Fields(flatten_sourced(tier, where), where)
        floors.append(f.number("min_tokens_per_s_per_user", positive=False))
        mults.append(f.number("multiplier"))
    if not floors or floors != sorted(floors) or floors[0] != 0:
        raise CatalogError(f"{path.name}: speed_tiers must start at 0 tokens/s/user and rise")
    xs, ys = [], []
    for i, pair in enumerate(data.get("speed_price_pairs", [])):
        where = f"{path.name}: speed_price_pairs[{i}]"
        f = _Fields(flatten_sourced(pair, where), where)
        xs.append(math.log(f.number("fast_tokens_per_s_per_user") / f.number("slow_tokens_per_s_per_user")))
        ys.append(math.log(f.number("price_ratio")))
    if not xs:
        raise CatalogError(f"{path.name}: speed_price_pairs needs at least one pair")
    elasticity = float(np.dot(xs, ys) / np.dot(xs, xs))
    ref = data.get("fitted_reference_tokens_per_s_per_user")
    f = _Fields(flatten_sourced({"ref": ref}, path.name), path.name)
    return PriceBook(prices, np.array(floors), np.array(mults), elasticity, f.number("ref"), sources)


@dataclass(frozen=True)
class EconomicsOptions:
    """Economic assumptions (defaults from data/economics.yaml); None prices mean the model's list price."""

    price_curve: str = "tiered"
    input_usd_per_m: float | None = None
    output_usd_per_m: float | None = None
    utilisation: float = 0.7
    cost_basis: str = "tier"
    gpu_hour_tier: str = "hyperscaler"
    gpu_hour_usd: float | None = None
    capex_usd_per_gpu: float | None = None
    electricity_usd_per_kwh: float = 0.08
    depreciation_years: float = 4.0
    facility_and_operations_fraction_of_capex_per_year: float = 0.05
    demand_cap_output_tokens_per_s: float | None = None  # facility-wide output tokens/s the market buys
    price_decline_per_year: float = 0.0                   # share by which token prices fall each year

    @property
    def life_price_factor(self) -> float:
        """Average price over the depreciation life relative to today's, under ``price_decline_per_year``."""
        d, life = self.price_decline_per_year, self.depreciation_years
        if not d:
            return 1.0
        return float((1.0 - (1.0 - d) ** life) / (-life * math.log(1.0 - d)))

    def validated(self) -> "EconomicsOptions":
        if self.price_curve not in PRICE_CURVES:
            raise FactoryModelError(f"unknown price curve '{self.price_curve}'; choose {', '.join(PRICE_CURVES)}")
        if self.cost_basis not in COST_BASES:
            raise FactoryModelError(f"unknown cost basis '{self.cost_basis}'; choose {', '.join(COST_BASES)}")
        if self.gpu_hour_tier not in GPU_HOUR_TIERS:
            raise FactoryModelError(f"unknown $/GPU-hour tier '{self.gpu_hour_tier}'; "
                                    f"choose {', '.join(GPU_HOUR_TIERS)}")
        limits = {"input_usd_per_m": 1e4, "output_usd_per_m": 1e4, "gpu_hour_usd": 1e3, "capex_usd_per_gpu": 1e7,
                  "electricity_usd_per_kwh": 10.0, "facility_and_operations_fraction_of_capex_per_year": 10.0}
        for name, top in limits.items():  # finite, not negative, below a sane ceiling (units in the names)
            value = getattr(self, name)
            if value is not None:
                finite_number(name, value, ge=0, le=top, fix=f"give 0 to {top:g}")
        finite_number("utilisation", self.utilisation, ge=0.01, le=1, fix="give a fraction from 0.01 to 1")
        finite_number("depreciation_years", self.depreciation_years, gt=0, le=50, fix="give 0 < years <= 50")
        finite_number("price_decline_per_year", self.price_decline_per_year, ge=0, lt=1,
                      fix="give a yearly decline from 0 to below 1")
        cap = self.demand_cap_output_tokens_per_s
        if cap is not None:
            finite_number("demand_cap_output_tokens_per_s", cap, gt=0, le=1e15, fix="give a positive rate or none")
        return self


@functools.lru_cache(maxsize=4)
def default_options(data_dir: str | Path | None = None) -> EconomicsOptions:
    path = Path(data_dir or DATA_DIR) / "economics.yaml"
    entry = read_yaml(path).get("default", {})
    f = _Fields(flatten_sourced(entry, f"{path.name}: default"), f"{path.name}: default")
    return EconomicsOptions(
        price_curve=f.text("price_curve", choices=PRICE_CURVES),
        utilisation=f.number("utilisation"),
        cost_basis=f.text("cost_basis", choices=COST_BASES),
        gpu_hour_tier=f.text("gpu_hour_tier", choices=GPU_HOUR_TIERS),
        electricity_usd_per_kwh=f.number("electricity_usd_per_kwh"),
        depreciation_years=f.number("depreciation_years"),
        facility_and_operations_fraction_of_capex_per_year=f.number(
            "facility_and_operations_fraction_of_capex_per_year", positive=False),
    )


def options(**overrides) -> EconomicsOptions:
    """Default options with ``overrides`` applied (None values keep the default), validated."""
    unknown = set(overrides) - set(EconomicsOptions.__dataclass_fields__)
    if unknown:
        raise FactoryModelError(f"unknown economics option(s): {', '.join(sorted(unknown))}")
    base = default_options()
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(base, **given).validated()


def cost_per_gpu_hour(system: System, power: Power, opts: EconomicsOptions) -> dict[str, float]:
    """Total cost per GPU-hour and its depreciation part (USD)."""
    capex = opts.capex_usd_per_gpu if opts.capex_usd_per_gpu is not None else system.capex_usd_per_gpu
    depreciation = capex / (opts.depreciation_years * HOURS_PER_YEAR)
    if opts.cost_basis == "tier":
        total = opts.gpu_hour_usd if opts.gpu_hour_usd is not None else system.gpu_hour_usd[opts.gpu_hour_tier]
        energy = power.kw_per_gpu * opts.electricity_usd_per_kwh
    else:
        energy = power.kw_per_gpu * opts.electricity_usd_per_kwh
        facility = capex * opts.facility_and_operations_fraction_of_capex_per_year / HOURS_PER_YEAR
        total = depreciation + energy + facility
    return {"total": float(total), "depreciation": float(min(depreciation, total)), "energy": float(energy),
            "capex": float(capex)}


ECONOMICS_COLUMNS = [
    "price_input_usd_per_m", "price_output_usd_per_m", "revenue_usd_per_gpu_hour", "revenue_usd_per_mw_hour",
    "revenue_usd_per_year", "cost_usd_per_gpu_hour", "cost_usd_per_mw_hour", "cost_per_m_output_tokens_usd",
    "cost_per_m_total_tokens_usd", "cost_per_m_input_tokens_usd", "profit_usd_per_mw_hour", "profit_usd_per_year", "roi", "payback_years",
    "revenue_per_capex", "utilisation_sold",
]


def economics_columns(table, system: System, model_id: str, isl: float, osl: float, power: Power,
                      opts: EconomicsOptions, prices: PriceBook | None = None) -> dict[str, np.ndarray]:
    """:data:`ECONOMICS_COLUMNS` for a table with tokens/s/user and output/total tokens/s/GPU columns."""
    prices = prices or load_prices()
    list_in, list_out = prices.list_prices.get(model_id, (None, None))
    base_in = opts.input_usd_per_m if opts.input_usd_per_m is not None else list_in
    base_out = opts.output_usd_per_m if opts.output_usd_per_m is not None else list_out
    if base_in is None or base_out is None:  # e.g. a user-defined model: revenue unknown until priced
        base_in = np.nan if base_in is None else base_in
        base_out = np.nan if base_out is None else base_out
    mult = prices.multiplier(opts.price_curve, np.asarray(table["tokens_per_s_per_user"], dtype=float))
    mult = mult * opts.life_price_factor
    p_in, p_out = base_in * mult, base_out * mult
    out_tps = np.asarray(table["output_tokens_per_s_per_gpu"], dtype=float)
    total_tps = np.asarray(table["total_tokens_per_s_per_gpu"], dtype=float)
    u = np.full_like(out_tps, opts.utilisation)
    if opts.demand_cap_output_tokens_per_s is not None:  # the market buys at most this many tokens/s
        gpus = power.gpus if power.gpus > 0 else power.mw * power.gpus_per_mw
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.minimum(u, opts.demand_cap_output_tokens_per_s / (out_tps * gpus))
    revenue_gpu_h = out_tps * u * 3600.0 * (p_out + p_in * isl / osl) / 1e6
    cost = cost_per_gpu_hour(system, power, opts)
    gpus_per_mw = power.gpus_per_mw
    ones = np.ones_like(out_tps)
    with np.errstate(divide="ignore", invalid="ignore"):
        operating = cost["total"] - cost["depreciation"]
        margin_per_year = (revenue_gpu_h - operating) * HOURS_PER_YEAR
        return {
            "price_input_usd_per_m": p_in,
            "price_output_usd_per_m": p_out,
            "revenue_usd_per_gpu_hour": revenue_gpu_h,
            "revenue_usd_per_mw_hour": revenue_gpu_h * gpus_per_mw,
            "revenue_usd_per_year": revenue_gpu_h * HOURS_PER_YEAR * power.gpus,
            "cost_usd_per_gpu_hour": cost["total"] * ones,
            "cost_usd_per_mw_hour": cost["total"] * gpus_per_mw * ones,
            "cost_per_m_output_tokens_usd": cost["total"] / (out_tps * u * 3600.0) * 1e6,
            "cost_per_m_total_tokens_usd": cost["total"] / (total_tps * u * 3600.0) * 1e6,
            "cost_per_m_input_tokens_usd": cost["total"] / ((total_tps - out_tps) * u * 3600.0) * 1e6,
            "profit_usd_per_mw_hour": (revenue_gpu_h - cost["total"]) * gpus_per_mw,
            "profit_usd_per_year": (revenue_gpu_h - cost["total"]) * HOURS_PER_YEAR * power.gpus,
            "roi": (revenue_gpu_h - cost["total"]) / cost["total"],
            "payback_years": np.where(np.isnan(margin_per_year), np.nan,
                                      np.where(margin_per_year > 0, cost["capex"] / margin_per_year, np.inf)),
            "revenue_per_capex": revenue_gpu_h * HOURS_PER_YEAR * opts.depreciation_years / cost["capex"],
            "utilisation_sold": u,
        }


def describe_revenue(opts: EconomicsOptions, model_id: str, prices: PriceBook | None = None) -> str:
    """One plain sentence saying what a revenue figure assumes (price, speed curve, utilisation, demand, decline)."""
    prices = prices or load_prices()
    list_in, list_out = prices.list_prices.get(model_id, (None, None))
    p_in = opts.input_usd_per_m if opts.input_usd_per_m is not None else list_in
    p_out = opts.output_usd_per_m if opts.output_usd_per_m is not None else list_out
    if p_in is None or p_out is None:
        return (f"No revenue: {model_id} has no list price; give input and output prices per 1M tokens to see "
                f"revenue (costs are shown without them).")
    given = "given" if opts.output_usd_per_m is not None or opts.input_usd_per_m is not None else "list"
    curve = {"flat": "at every speed",
             "tiered": "scaled by speed tier (batch 0.5x below 20 tok/s/user, priority 2x from 80, fast 6x from 200)",
             "fitted": "scaled by a power law of speed fitted to public speed/price pairs"}[opts.price_curve]
    demand = (f"the market buys at most {opts.demand_cap_output_tokens_per_s:,.0f} output tokens/s for the whole "
              f"facility" if opts.demand_cap_output_tokens_per_s else "every token produced in those hours finds a buyer "
              "(no demand cap)")
    decline = (f"prices fall {opts.price_decline_per_year:.0%} a year (revenue is the {opts.depreciation_years:g}-year "
               f"average, {opts.life_price_factor:.0%} of today's)" if opts.price_decline_per_year
               else "prices stay at today's level for the whole life")
    return (f"Assumes tokens sell at the {given} price of ${p_out:.2f} per 1M output and ${p_in:.2f} per 1M input "
            f"tokens, {curve}; {opts.utilisation:.0%} of hours sold; {demand}; {decline}.")
