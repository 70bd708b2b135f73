"""Tables behind the Revenue, TCO and deck views: cost per GPU-hour by part, profit sensitivity, assumptions.

Pure pandas (no Streamlit), so the pages, the PowerPoint deck and the tests use the same numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

import factory_model as fm
from factory_model.economics import cost_per_gpu_hour, load_prices
from factory_model.power import resolve_power
from factory_model.scenario import best_index


def cost_breakdown(catalog: fm.Catalog, systems, mw: float, pue: float | None, kw_per_gpu: float | None,
                   economics: fm.EconomicsOptions, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Cost per GPU-hour (USD) of each system split into depreciation, energy and the rest."""
    rows = []
    for system_id in systems:
        system = catalog.system(system_id)
        power = resolve_power(system, mw, pue=pue, kw_per_gpu=kw_per_gpu)
        cost = cost_per_gpu_hour(system, power, economics)
        energy = min(cost["energy"], cost["total"])
        depreciation = min(cost["depreciation"], cost["total"] - energy)
        rows.append({"label": (labels or {}).get(system_id, system_id), "system": system_id,
                     "total": cost["total"], "depreciation": depreciation, "energy": energy,
                     "other": cost["total"] - depreciation - energy, "capex_usd_per_gpu": cost["capex"],
                     "kw_per_gpu": power.kw_per_gpu, "capex_usd_per_mw": cost["capex"] * power.gpus_per_mw,
                     "gpus_in_envelope": power.gpus, "racks": power.racks})
    return pd.DataFrame(rows)


def sensitivity(point: pd.DataFrame, system: fm.System, model: str, isl: int, osl: int, *, mw: float,
                pue: float | None, kw_per_gpu: float | None, economics: fm.EconomicsOptions,
                catalog: fm.Catalog) -> tuple[float, pd.DataFrame]:
    """(baseline profit per MW-hour, rows factor/low/high/labels) at one frontier point.

    Every row moves one assumption from the same baseline (the scenario's own cost basis), so the baseline
    lies between or on each row's two ends: token price ±30 %, utilisation ±20 points, and on the tier basis
    $/GPU-hour ±20 %, on the built-up basis electricity ±50 % and capex ±20 %."""
    def profit(**changes) -> float:
        opts = dataclasses.replace(economics, **changes).validated()
        out = fm.economics(point, system.id, model, isl, osl, mw=mw, pue=pue, kw_per_gpu=kw_per_gpu, economics=opts,
                           catalog=catalog)
        return float(out["profit_usd_per_mw_hour"].iloc[0])

    base = profit()
    e = economics
    lin, lout = load_prices().list_prices.get(model, (np.nan, np.nan))
    p_in = e.input_usd_per_m if e.input_usd_per_m is not None else lin
    p_out = e.output_usd_per_m if e.output_usd_per_m is not None else lout
    rows = []
    if np.isfinite(p_in) and np.isfinite(p_out):
        rows.append({"factor": "Token price ±30 %", "low": profit(input_usd_per_m=p_in * 0.7, output_usd_per_m=p_out * 0.7),
                     "high": profit(input_usd_per_m=p_in * 1.3, output_usd_per_m=p_out * 1.3),
                     "low_label": "−30 %", "high_label": "+30 %"})
    rows.append({"factor": "Utilisation ±20 pts", "low": profit(utilisation=max(0.05, e.utilisation - 0.2)),
                 "high": profit(utilisation=min(1.0, e.utilisation + 0.2)), "low_label": "−20 pts",
                 "high_label": "+20 pts"})
    if e.cost_basis == "tier":
        hour = e.gpu_hour_usd if e.gpu_hour_usd is not None else system.gpu_hour_usd[e.gpu_hour_tier]
        rows.append({"factor": "$/GPU-hour ±20 %", "low": profit(gpu_hour_usd=hour * 1.2),
                     "high": profit(gpu_hour_usd=hour * 0.8), "low_label": "+20 % cost", "high_label": "−20 % cost"})
    else:
        rows.append({"factor": "Electricity ±50 %", "low": profit(electricity_usd_per_kwh=e.electricity_usd_per_kwh * 1.5),
                     "high": profit(electricity_usd_per_kwh=e.electricity_usd_per_kwh * 0.5),
                     "low_label": "+50 % $/kWh", "high_label": "−50 % $/kWh"})
        capex = e.capex_usd_per_gpu if e.capex_usd_per_gpu is not None else system.capex_usd_per_gpu
        rows.append({"factor": "Capex ±20 %", "low": profit(capex_usd_per_gpu=capex * 1.2),
                     "high": profit(capex_usd_per_gpu=capex * 0.8), "low_label": "+20 % capex",
                     "high_label": "−20 % capex"})
    return base, pd.DataFrame(rows)


def sweet_spot(frame: pd.DataFrame) -> pd.DataFrame:
    """The profit-maximising frontier point as a one-row frame (empty without revenue)."""
    if not len(frame) or not np.isfinite(frame["profit_usd_per_mw_hour"]).any():
        return frame.iloc[0:0]
    return frame.loc[[best_index(frame, "profit_usd_per_mw_hour")]]


def assumptions(catalog: fm.Catalog, systems, model: str, economics: fm.EconomicsOptions, *, mw: float,
                pue: float | None, kw_per_gpu: float | None, cite=lambda text: text) -> list[tuple[str, str, str]]:
    """(assumption, value, source) rows: prices, utilisation, demand, cost basis, $/GPU-hour, kW/GPU per system."""
    book = load_prices()
    rows = []
    lin, lout = book.list_prices.get(model, (None, None))
    if economics.input_usd_per_m is not None or economics.output_usd_per_m is not None:
        rows.append(("Token price (input / output, USD per 1M)",
                     f"${economics.input_usd_per_m or lin or 0:.2f} / ${economics.output_usd_per_m or lout or 0:.2f}",
                     "given by the user"))
    elif lin is not None:
        rows.append(("Token list price (input / output, USD per 1M)", f"${lin:.2f} / ${lout:.2f}",
                     cite(book.sources.get(f"{model}.output_usd_per_m", ""))))
    else:
        rows.append(("Token price", "none", "no list price for this model: revenue not computed"))
    rows.append(("Price vs speed", economics.price_curve,
                 "batch 0.5x, priority 2x ≥ 80 tok/s/user, fast 6x ≥ 200 (data/prices.yaml)"))
    rows.append(("Utilisation (share of hours sold)", f"{economics.utilisation:.0%}",
                 "assumption (data/economics.yaml)"))
    rows.append(("Demand cap (output tokens/s); price decline per year",
                 (f"{economics.demand_cap_output_tokens_per_s:,.0f}" if economics.demand_cap_output_tokens_per_s
                  else "none") + f"; {economics.price_decline_per_year:.0%}", "user settings"))
    rows.append(("Power envelope", f"{mw:g} MW all-in", "user setting"))
    for system_id in systems:
        s = catalog.system(system_id)
        power = resolve_power(s, mw, pue=pue, kw_per_gpu=kw_per_gpu)
        kw_source = cite(s.sources.get("all_in_power_kw_per_gpu", "")) if pue is None and kw_per_gpu is None \
            else power.basis
        if economics.cost_basis == "tier":
            hour = economics.gpu_hour_usd if economics.gpu_hour_usd is not None \
                else s.gpu_hour_usd[economics.gpu_hour_tier]
            cost, cost_name = f"${hour:.2f}", f"$/GPU-h {economics.gpu_hour_tier}"
            cost_source = "given by the user" if economics.gpu_hour_usd is not None \
                else cite(s.sources.get(f"gpu_hour_usd.{economics.gpu_hour_tier}", ""))
        else:
            cost, cost_name = f"${s.capex_usd_per_gpu:,.0f}", "capex per GPU"
            cost_source = cite(s.sources.get("capex_usd_per_gpu", ""))
        sources = kw_source if kw_source == cost_source else f"{kw_source}; {cost_source}"
        rows.append((f"{s.name.split(' (')[0]}: kW per GPU (all-in); {cost_name}",
                     f"{power.kw_per_gpu:.2f} kW; {cost}", sources))
    if economics.cost_basis != "tier":
        rows.append(("Electricity", f"${economics.electricity_usd_per_kwh:.3f}/kWh", "data/economics.yaml"))
        rows.append(("Depreciation life", f"{economics.depreciation_years:g} years", "data/economics.yaml"))
    return rows
