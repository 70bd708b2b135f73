"""Command line: ``python -m factory_model {list,estimate,validate,fit} ...``.

Bad input (unknown ids, impossible numbers, malformed files, a deployment that cannot run) prints one line
``error: ...`` on stderr and exits with status 2; it never shows a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .catalog import load_catalog
from .errors import FactoryModelError
from .estimate import estimate, estimate_table
from .factors import DEFAULT_PROFILE, available_profiles, load_factors

FORMATS = ("table", "json", "csv")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        raise FactoryModelError(f"{message} (see '{self.prog} --help')")


def _clean(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        return [_clean(v) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value)]
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [_clean(row) for row in frame.to_dict(orient="records")]


def _print_frame(frame: pd.DataFrame, fmt: str, *, vertical: bool = False) -> None:
    if fmt == "json":
        print(json.dumps(_records(frame), indent=2))
    elif fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif vertical and len(frame) == 1:
        row = frame.iloc[0]
        width = max(len(c) for c in frame.columns)
        for col in frame.columns:
            print(f"{col:<{width}}  {_fmt(row[col])}")
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_rows", 10_000):
            print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(float(value)) else f"{float(value):.6g}"
    return str(value)


# ---------------------------------------------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace) -> int:
    cat = load_catalog()
    entries = {
        "systems": [dataclasses.asdict(s) for s in cat.systems.values()],
        "models": [dataclasses.asdict(m) for m in cat.models.values()],
        "precisions": [dataclasses.asdict(p) for p in cat.precisions.values()],
        "workloads": [dataclasses.asdict(w) for w in cat.workloads.values()],
    }
    if args.format == "json":
        print(json.dumps(_clean(entries), indent=2, ensure_ascii=False))
        return 0
    rows = {
        "systems": [{"id": s.id, "name": s.name, "year": s.year, "hbm_gib": s.hbm_capacity_gib,
                     "hbm_tb_s": s.hbm_bandwidth_tb_s, "fp8_tflops": s.peak_dense_tflops["fp8"],
                     "fp4_tflops": s.peak_dense_tflops["fp4"], "domain_gpus": s.scale_up_domain_gpus,
                     "all_in_kw_per_gpu": s.all_in_power_kw_per_gpu,
                     "status": "preliminary" if s.preliminary else ""} for s in cat.systems.values()],
        "models": [{"id": m.id, "name": m.name, "attention": m.attention, "layers": m.layers,
                    "hidden": m.hidden_size, "experts": m.experts or "", "experts_per_token": m.experts_per_token or "",
                    "native": m.native_precision} for m in cat.models.values()],
        "precisions": [{"id": p.id, "name": p.name, "weight_bytes": p.weight_bytes_per_element,
                        "kv_bytes": p.kv_cache_bytes_per_element, "math": p.math} for p in cat.precisions.values()],
        "workloads": [{"id": w.id, "name": w.name, "isl": w.isl_tokens, "osl": w.osl_tokens}
                      for w in cat.workloads.values()],
    }
    for i, (kind, table) in enumerate(rows.items()):
        if args.format == "csv":
            print(f"# {kind}")
            sys.stdout.write(pd.DataFrame(table).to_csv(index=False))
            continue
        print(("\n" if i else "") + kind.upper())
        print(pd.DataFrame(table).to_string(index=False))
    if args.format == "table":
        print("\nEvery number's source: python -m factory_model list --format json (field 'sources').")
    return 0


# ------------------------------------------------------------------------------------------------ estimate


def cmd_estimate(args: argparse.Namespace) -> int:
    factors = load_factors(args.profile)
    if args.input:
        single = [n for n in ("system", "model", "precision", "isl", "osl", "tp") if getattr(args, n) is not None]
        if single:
            raise FactoryModelError(f"--input reads every scenario from the CSV; drop --{single[0]}")
        frame = estimate_table(args.input, factors=factors, details=args.details)
        _print_frame(frame, args.format)
        return 0
    missing = [n for n in ("system", "model", "precision", "isl", "osl", "tp") if getattr(args, n) is None]
    if missing:
        raise FactoryModelError(f"estimate needs --{missing[0]} (or --input scenarios.csv)")
    frame = estimate(args.system, args.model, args.precision, args.isl, args.osl, args.tp, args.ep,
                     args.dp_attention, args.pp, args.concurrency, factors=factors, details=args.details)
    reason = frame["reason"].iloc[0]
    if reason:
        raise FactoryModelError(f"{args.system} {args.model} {args.precision} tp={args.tp} ep={args.ep} "
                                f"dp_attention={args.dp_attention} pp={args.pp}: {reason}")
    _print_frame(frame, args.format, vertical=True)
    return 0


# ------------------------------------------------------------------------------------------ validate, fit


def cmd_validate(args: argparse.Namespace) -> int:
    if args.cross or args.attribute:  # --attribute reads the stored leave-one-system-out folds
        return _validate_cross(args)
    if args.frontier:
        return _validate_frontier(args)
    if args.mtp:
        return _validate_mtp(args)
    from .validation import validate

    points, summary = validate(args.profile, args.backend)
    shown = summary.rename(columns={
        "tpot_mdape_pct": "TPOT_MdAPE_%", "tpot_bias_pct": "TPOT_bias_%", "ttft_mdape_pct": "TTFT_MdAPE_%",
        "ttft_bias_pct": "TTFT_bias_%", "output_tokens_per_s_per_gpu_mdape_pct": "tok/s/GPU_MdAPE_%",
        "output_tokens_per_s_per_gpu_bias_pct": "tok/s/GPU_bias_%"})
    return _report(args, points, summary,
                   f"Model vs measured reference points (profile '{args.profile}', target: {args.backend} framework "
                   f"per configuration). MdAPE = median absolute % error; bias = median signed % error (+ = model "
                   f"slower for TPOT/TTFT, higher for throughput).", shown=shown, digits=1)


def _report(args: argparse.Namespace, points: pd.DataFrame, summary: pd.DataFrame, heading: str, *,
            shown: pd.DataFrame | None = None, digits: int = 2) -> int:
    """The validate commands' output: per-point rows to ``--points``, the summary as json/csv or as a table under
    ``heading`` (``shown``: the summary with display names)."""
    if args.points:
        points.to_csv(args.points, index=False)
    if args.format != "table":
        _print_frame(summary, args.format)
        return 0
    print(heading)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print((summary if shown is None else shown).to_string(index=False, float_format=lambda v: f"{v:.{digits}f}"))
    return 0


def _validate_frontier(args: argparse.Namespace) -> int:
    from .factors import load_factors
    from .frontier_validation import frontier_points, summarize_frontier
    from .serving_reference import load_serving_reference, repeat_spread

    points = frontier_points(load_factors(args.profile))
    by = ["system", "model", "precision", "isl", "osl"] if args.by_scenario else ["system"]
    code = _report(args, points, summarize_frontier(points, by),
                   f"Modelled optimum vs the best measured stacks (profile '{args.profile}', IN-SAMPLE unless the "
                   "profile was fitted without these systems): at each measured Pareto point of "
                   "measured_serving_points.csv, model/measured output tokens/s/GPU at the same tokens/s/user. "
                   "Out-of-sample: validate --cross.")
    if args.format == "table":
        print("\nRepeatability of the measurements themselves: configurations run more than once (same framework, "
              "layout, concurrency; other dates), median |run_i / run_j - 1| (the model is compared with the "
              "latest run):")
        print(repeat_spread(load_serving_reference(all_runs=True)).to_string(
            index=False, float_format=lambda v: f"{v:.3f}"))
    return code


def _validate_mtp(args: argparse.Namespace) -> int:
    from .factors import load_factors
    from .mtp_validation import mtp_gains, summarize_mtp_gains

    gains = mtp_gains(load_factors(args.profile))
    return _report(args, gains, summarize_mtp_gains(gains),
                   "MTP gain = TPOT without MTP / TPOT with MTP, per framework, on the aggregated configurations it "
                   "measured both ways (measured_serving_points.csv), beside the model's gain for the same "
                   f"configurations (profile '{args.profile}': each stack's own calibrated acceptance).")


def _validate_cross(args: argparse.Namespace) -> int:
    from . import cross_validation as cv

    if args.attribute:
        return _attribute_folds(args)
    if args.show:
        table = cv.load_table(cv.THINNED_PATH if args.thin else None)
    else:
        from .accuracy import FOLDS_DIR
        systems = [s.strip() for s in args.systems.split(",")] if args.systems else None
        loso = cv.cross_validate(systems, max_nfev=args.max_evaluations,
                                 progress=lambda m: print(m, file=sys.stderr, flush=True), thin=args.thin,
                                 folds_dir=FOLDS_DIR if args.write and not args.thin else None)
        table = loso
        if args.write and args.thin:
            print(f"wrote {cv.write_table(loso, cv.THINNED_PATH)}", file=sys.stderr)
        elif args.write:
            from .factors import load_factors
            table = pd.concat([loso, cv.in_sample(load_factors(args.profile))], ignore_index=True)
            print(f"wrote {cv.write_table(table)}", file=sys.stderr)
    if args.format != "table":
        _print_frame(table, args.format)
        return 0
    shown = table[(table["model"] == "*")].copy()
    print("Accuracy by system (model '*' rows = all of that system's points). Leave-one-system-out rows are "
          "out-of-sample: the fit never saw that system.")
    with pd.option_context("display.width", 220, "display.max_columns", 50):
        print(shown.drop(columns=["model", "precision", "command"]).to_string(
            index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


def _attribute_folds(args: argparse.Namespace) -> int:
    """validate --cross --attribute: which fitted factor carries each left-out system's TPOT error (stored folds,
    no refit; fold_attribution)."""
    from . import cross_validation as cv
    from .factors import load_factors
    from .fold_attribution import attribute, load_fold

    if args.systems:
        systems = [s.strip() for s in args.systems.split(",")]
    else:
        systems = sorted(set(cv.load_table().query("method == @cv.LOSO_METHOD")["system"]))
    in_sample = load_factors(args.profile)
    frames = []
    for system in systems:
        table = attribute(system, load_fold(system), in_sample)
        frames.append(table.assign(system=system))
        if args.format == "table":
            # families that move the error by less than 0.05 points are counted, not listed (csv/json: all)
            moving = (table.index < 2) | (table["change_pct_points"].abs() >= 0.05)
            print(f"{system}: TPOT median |error| % with the fold's factors, the in-sample profile "
                  f"('{args.profile}'), and the fold's with one factor family taken from the in-sample profile")
            print(table[moving].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
            print(f"({int((~moving).sum())} other families that differ move it by less than 0.05 points)\n")
    if args.format != "table":
        _print_frame(pd.concat(frames, ignore_index=True), args.format)
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from .custom import ID_PATTERN
    from .fitting import fit, write_profile

    if not ID_PATTERN.match(args.profile) or ".." in args.profile:  # it names a file under data/calibration/
        raise FactoryModelError(f"--profile {args.profile[:40]!r}: a profile name is lower-case letters, digits, "
                                f"'.', '_' or '-' (no path)")
    result = fit(args.backend, max_nfev=args.max_evaluations)
    path = write_profile(result, args.profile)
    rows = pd.DataFrame({"parameter": [p.name for p in result.parameters], "prior": result.prior,
                         "fitted": result.fitted})
    print(rows.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    cols = ["system", "model", "precision", "points", "tpot_mdape_pct", "ttft_mdape_pct",
            "output_tokens_per_s_per_gpu_mdape_pct"]
    for title, table in (("before (priors, all configurations)", result.before),
                         (f"after, in-sample ({result.points} configurations)", result.after),
                         (f"after, held out ({result.holdout_points} configurations)", result.holdout_after)):
        print(f"\nMedian absolute % error {title}:")
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"\nwrote {path}")
    return 0


# ------------------------------------------------------------------------------------ frontier, compare


FRONTIER_TABLE_COLUMNS = [
    "serving", "tp", "ep", "dp_attention", "pp", "concurrency", "prefill_gpus", "decode_gpus",
    "tokens_per_s_per_user", "output_tokens_per_s_per_gpu", "tokens_per_s_per_mw", "ttft_s", "tpot_s",
    "price_output_usd_per_m", "revenue_usd_per_mw_hour", "cost_per_m_output_tokens_usd", "profit_usd_per_mw_hour",
]


def _economics_from_args(args: argparse.Namespace):
    from .economics import options

    return options(price_curve=args.price_curve, input_usd_per_m=args.input_price, output_usd_per_m=args.output_price,
                   utilisation=args.utilisation, cost_basis=args.cost_basis, gpu_hour_tier=args.gpu_hour_tier,
                   gpu_hour_usd=args.gpu_hour_usd, electricity_usd_per_kwh=args.electricity_usd_per_kwh)


def _frontier_kwargs(args: argparse.Namespace) -> dict:
    return dict(serving=args.serving, mw=args.mw, pue=args.pue, kw_per_gpu=args.kw_per_gpu,
                ttft_max_s=args.ttft_max_s, tpot_max_s=args.tpot_max_s,
                min_tokens_per_s_per_user=args.min_tokens_per_s_per_user, mtp_tokens=args.mtp,
                mtp_acceptance=args.mtp_acceptance, economics=_economics_from_args(args), profile=args.profile)


def _numbers(flag: str, text: str) -> list[float]:
    """'20,50,100' -> [20.0, 50.0, 100.0]; anything else is one error line naming the flag."""
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise FactoryModelError(f"{flag} takes comma-separated numbers such as 20,50,100; got "
                                    f"{part.strip()[:20]!r}") from None
        if not (math.isfinite(value) and 0 < value < 1e6):
            raise FactoryModelError(f"{flag}: tokens/s per user must be positive and finite, got {part.strip()[:20]}")
        values.append(value)
    if len(values) > 100:
        raise FactoryModelError(f"{flag}: at most 100 values")
    return values


def cmd_frontier(args: argparse.Namespace) -> int:
    from .scenario import frontier, summary

    frame = frontier(args.system, args.model, args.precision, args.isl, args.osl, **_frontier_kwargs(args))
    if args.format != "table":
        if not len(frame):  # an empty frontier keeps its reason (and note) in JSON/CSV too
            frame = pd.DataFrame([{"system": args.system, "model": args.model, "precision": args.precision,
                                   "reason": frame.attrs.get("reason", ""), "note": frame.attrs.get("note", "")}])
        _print_frame(frame, args.format)
        return 0
    a = frame.attrs
    print(f"{args.system} · {args.model} · {args.precision} · isl {a['isl']} / osl {a['osl']} · "
          f"{a['mw']:g} MW = {a['racks']} racks, {a['factory_gpus']} GPUs at {a['kw_per_gpu']:.3g} kW/GPU "
          f"({a['power_basis']}); {a['candidates']} deployments searched")
    if a.get("note"):
        print(f"note: {a['note']}")
    if not len(frame):
        print(f"empty frontier: {a['reason']}")
        return 0
    _print_frame(frame[FRONTIER_TABLE_COLUMNS], "table")
    s = summary(frame)
    print(f"\nmax {s['max_tokens_per_s_per_mw']:,.0f} output tokens/s per MW; max {s['max_tokens_per_s_per_user']:.1f} "
          f"tokens/s/user; max revenue ${s['max_revenue_usd_per_mw_hour']:,.0f}/MW-h at "
          f"{s['tokens_per_s_per_user_at_max_revenue']:.1f} tok/s/user; max profit "
          f"${s['max_profit_usd_per_mw_hour']:,.0f}/MW-h at {s['tokens_per_s_per_user_at_max_profit']:.1f} tok/s/user")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .scenario import compare

    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    precisions = [p.strip() for p in args.precision.split(",")]
    precision = precisions[0] if len(precisions) == 1 else precisions
    at = _numbers("--at", args.at) if args.at else None
    kwargs = _frontier_kwargs(args)
    table, frontiers = compare(systems, args.model, precision, args.isl, args.osl,
                               **({"at": at} if at else {}), **kwargs)
    if args.format != "table":
        _print_frame(table, args.format)
        return 0
    print(f"{args.model} · isl {args.isl} / osl {args.osl}: output tokens/s per MW at each tokens/s/user "
          f"(NaN: that system cannot serve so fast); ratios against {systems[0]}")
    _print_frame(table, "table")
    for system, frame in frontiers.items():
        if frame.attrs.get("reason"):
            print(f"{system}: empty frontier: {frame.attrs['reason']}")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from .claims import evaluate_claims

    frame = evaluate_claims(profile=args.profile)
    if args.format == "json":
        print(json.dumps(_records(frame), indent=2, ensure_ascii=False))
    elif args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    else:
        for row in frame.itertuples():
            print(f"[{row.id}] {row.claim}\n    claimed {_fmt(row.claimed_value)} {row.unit} · model "
                  f"{_fmt(row.model_value)} {row.unit} · {row.verdict}\n    assumptions: {row.assumptions}\n"
                  f"    source: {row.source}\n")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibration import session as sessions
    from .calibration.fit import calibrate, profile_yaml

    if args.live:
        from .calibration.live import record

        if not args.record:
            raise FactoryModelError("calibrate --live needs --record FILE (.csv or .parquet)")
        meta = {k: v for k, v in (("system", args.system), ("model", args.model), ("precision", args.precision),
                                  ("isl", args.isl), ("osl", args.osl), ("tp", args.tp), ("ep", args.ep),
                                  ("dp_attention", args.dp_attention), ("pp", args.pp)) if v is not None}
        if meta.get("system"):
            load_catalog().system(meta["system"])
        session = record(args.duration, meta, prometheus_url=args.prometheus, metrics_url=args.metrics_url,
                         rate_hz=args.rate, path=args.record, concurrency=args.concurrency,
                         phase=f"c{args.concurrency:g}" if args.concurrency else "live",
                         progress=lambda s: None,
                         gpus=[g.strip() for g in args.gpus.split(",") if g.strip()] if args.gpus else None)
        gpu, server = session.gpu, session.server
        print(f"recorded {len(gpu)} GPU readings from {gpu['gpu'].nunique() if len(gpu) else 0} GPU(s) and "
              f"{len(server)} server snapshots in {args.duration:g} s → {args.record}")
        for note in session.notes:
            print(f"note: {note}")
        return 0
    if not args.replay:
        raise FactoryModelError("calibrate needs --replay FILE or --live")
    parts = [sessions.load(path) for path in args.replay]
    session = parts[0] if len(parts) == 1 else sessions.merge(parts)
    result = calibrate(session, args.name or Path(args.replay[0]).stem)
    if args.save_profile:
        Path(args.save_profile).write_text(profile_yaml(result))
    if args.format == "json":
        print(json.dumps(_clean({
            "session": session.describe(), "notes": session.notes, "provenance": result.provenance,
            "factors": [{"system": s, "precision": p, "op_class": o, "parameter": k, "prior": pr, "fitted": v}
                        for (s, p, o, k), pr, v in zip(result.parameters, result.prior, result.fitted)],
            "error_before_pct": result.error_before_pct, "error_after_pct": result.error_after_pct,
            "power": result.power, "points": _records(result.points)}), indent=2))
        return 0
    print(session.describe())
    for note in session.notes:
        print(f"note: {note}")
    print("\nMeasured operating points:")
    _print_frame(result.points[["phase", "concurrency", "output_tokens_per_s_per_gpu", "tokens_per_s_per_user",
                                "ttft_s", "tpot_s", "power_w_per_gpu", "tokens_per_joule", "tokens_per_s_per_mw"]],
                 "table")
    print("\nFitted factors:")
    for (s, p, o, k), prior, value in zip(result.parameters, result.prior, result.fitted):
        print(f"  {s}/{p}/{o}.{k}: {prior:.4g} → {value:.4g}")
    b, a = result.error_before_pct, result.error_after_pct
    print(f"\nmedian abs % error before → after: TPOT {b['tpot_mdape_pct']:.1f} → {a['tpot_mdape_pct']:.1f}, "
          f"TTFT {b['ttft_mdape_pct']:.1f} → {a['ttft_mdape_pct']:.1f}, tokens/s/GPU "
          f"{b['output_tokens_per_s_per_gpu_mdape_pct']:.1f} → {a['output_tokens_per_s_per_gpu_mdape_pct']:.1f}")
    p = result.power
    print(f"measured GPU power {p['measured_w_per_gpu_mean']:.0f} W = {p['fraction_of_tdp']:.0%} of the "
          f"{p['tdp_w']:.0f} W TDP")
    if args.save_profile:
        print(f"profile written to {args.save_profile}")
    return 0


def _add_frontier_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True)
    p.add_argument("--isl", type=int, required=True, help="input tokens per request")
    p.add_argument("--osl", type=int, required=True, help="output tokens per request")
    p.add_argument("--serving", choices=("agg", "disagg", "best"), default="best")
    p.add_argument("--mw", type=float, default=1.0, help="facility power, all-in MW (default 1)")
    power = p.add_mutually_exclusive_group()
    power.add_argument("--pue", type=float, help="use the catalog's IT kW/GPU x this PUE")
    power.add_argument("--kw-per-gpu", type=float, dest="kw_per_gpu", help="all-in kW per GPU")
    p.add_argument("--ttft-max-s", type=float, dest="ttft_max_s")
    p.add_argument("--tpot-max-s", type=float, dest="tpot_max_s")
    p.add_argument("--min-tokens-per-s-per-user", type=float, dest="min_tokens_per_s_per_user")
    p.add_argument("--mtp", default="0", help="speculative/MTP draft tokens per step (0-8), or 'auto': the "
                   "model's calibrated MTP where it ships MTP heads, searched beside serving without it")
    p.add_argument("--mtp-acceptance", type=float, default=None, dest="mtp_acceptance",
                   help="acceptance probability of each draft token")
    p.add_argument("--price-curve", choices=("flat", "tiered", "fitted"), dest="price_curve")
    p.add_argument("--input-price", type=float, dest="input_price", help="USD per 1M input tokens (list price)")
    p.add_argument("--output-price", type=float, dest="output_price", help="USD per 1M output tokens (list price)")
    p.add_argument("--utilisation", type=float)
    p.add_argument("--cost-basis", choices=("tier", "buildup"), dest="cost_basis")
    p.add_argument("--gpu-hour-tier", choices=("hyperscaler", "neocloud", "rental"), dest="gpu_hour_tier")
    p.add_argument("--gpu-hour-usd", type=float, dest="gpu_hour_usd", help="all-in cost per GPU-hour")
    p.add_argument("--electricity-usd-per-kwh", type=float, dest="electricity_usd_per_kwh")
    p.add_argument("--profile", default=DEFAULT_PROFILE)
    p.add_argument("--format", choices=FORMATS, default="table")


# ------------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m factory_model",
                     description="AI Factory Frontier model: LLM serving performance per GPU system.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("list", help="systems, models, precisions and workloads with their sources")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("estimate", help="TTFT, TPOT and throughput of one deployment (or a CSV of them)")
    p.add_argument("--system")
    p.add_argument("--model")
    p.add_argument("--precision")
    p.add_argument("--isl", type=int, help="input tokens per request")
    p.add_argument("--osl", type=int, help="output tokens per request")
    p.add_argument("--tp", type=int, help="attention tensor parallelism")
    p.add_argument("--ep", type=int, default=1, help="expert parallelism (MoE; 1 for dense models)")
    p.add_argument("--dp-attention", type=int, default=1, dest="dp_attention",
                   help="attention data-parallel groups")
    p.add_argument("--pp", type=int, default=1, help="pipeline stages")
    p.add_argument("--concurrency", type=int, default=1, help="requests in flight (closed loop)")
    p.add_argument("--input", help="scenarios CSV: system,model,precision,isl,osl,tp,ep,dp_attention,concurrency[,pp]")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="calibration profile (default: %(default)s)")
    p.add_argument("--details", action="store_true", help="add running batch, weights per GPU, step times")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("frontier", help="Pareto frontier of tokens/s per MW vs tokens/s per user, with economics")
    p.add_argument("--system", required=True)
    p.add_argument("--precision", required=True)
    _add_frontier_options(p)
    p.set_defaults(func=cmd_frontier)

    p = sub.add_parser("compare", help="several systems' frontiers side by side, with ratios")
    p.add_argument("--systems", required=True, help="comma-separated system ids; the first is the baseline")
    p.add_argument("--precision", required=True, help="one precision, or one per system (comma-separated)")
    p.add_argument("--at", help="comma-separated tokens/s/user to compare at (default 20,50,100,200)")
    _add_frontier_options(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("claims", help="the seed articles' headline claims next to the model's values")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--profile", default=DEFAULT_PROFILE)
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser("calibrate", help="fit factors to a recorded session, or record one live from GPUs")
    p.add_argument("--replay", nargs="+", metavar="FILE", help="recorded session(s) (.csv or .parquet) of one "
                   "deployment to measure and fit; several files (e.g. one per concurrency) are merged")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--save-profile", dest="save_profile", help="write the calibration profile YAML here")
    p.add_argument("--name", help="profile name (default: the file's name)")
    p.add_argument("--live", action="store_true", help="record from NVML (or --prometheus) and a metrics URL")
    p.add_argument("--duration", type=float, default=60.0, help="seconds to record (live)")
    p.add_argument("--rate", type=float, default=2.0, help="samples per second (live)")
    p.add_argument("--metrics-url", dest="metrics_url", help="inference server /metrics URL (vLLM, SGLang, Dynamo)")
    p.add_argument("--prometheus", help="Prometheus server URL to read DCGM GPU metrics from instead of NVML")
    p.add_argument("--record", help="where to save the live session (.csv or .parquet)")
    p.add_argument("--gpus", help="GPU indices the deployment runs on, e.g. 0,1 (default: the first tp x dp x pp)")
    for name in ("system", "model", "precision"):
        p.add_argument(f"--{name}", help="deployment metadata stored with a live recording")
    for name in ("isl", "osl", "tp", "ep", "pp"):
        p.add_argument(f"--{name}", type=int)
    p.add_argument("--dp-attention", type=int, dest="dp_attention")
    p.add_argument("--concurrency", type=float, help="requests the load generator keeps in flight")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("validate", help="model error against the measured reference sets (config, frontier, "
                                         "leave-one-system-out)")
    p.add_argument("--profile", default=DEFAULT_PROFILE)
    p.add_argument("--backend", default="best", help="best (default), trtllm, vllm or sglang")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--points", help="also write per-point predictions and errors to this CSV")
    p.add_argument("--frontier", action="store_true",
                   help="frontier level: modelled optimum vs the best measured stacks (measured_serving_points.csv)")
    p.add_argument("--mtp", action="store_true",
                   help="MTP gain per framework: measured (same configuration without/with MTP) vs the model")
    p.add_argument("--by-scenario", action="store_true", dest="by_scenario",
                   help="with --frontier: one row per system/model/precision/isl/osl")
    p.add_argument("--cross", action="store_true",
                   help="leave-one-system-out: refit without each system and score it (minutes)")
    p.add_argument("--systems", help="with --cross: only these systems (comma-separated)")
    p.add_argument("--thin", action="store_true",
                   help="with --cross: stability check, each fold also drops every 5th configuration of the other "
                        "systems (--write: data/validation/out_of_sample_thinned.csv)")
    p.add_argument("--show", action="store_true", help="with --cross: print data/validation/out_of_sample.csv")
    p.add_argument("--attribute", action="store_true",
                   help="with --cross: which fitted factor carries each left-out system's TPOT error (reads the "
                        "folds --cross --write stored in data/validation/folds/; no refit)")
    p.add_argument("--write", action="store_true",
                   help="with --cross: write data/validation/out_of_sample.csv (plus the profile's in-sample rows)")
    p.add_argument("--max-evaluations", type=int, default=12, dest="max_evaluations")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("fit", help="fit efficiency factors to the reference set; write data/calibration/<profile>.csv")
    p.add_argument("--backend", default="best", help="best (default), trtllm, vllm or sglang")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="name of the profile to write")
    p.add_argument("--max-evaluations", type=int, default=12, dest="max_evaluations")
    p.set_defaults(func=cmd_fit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        if getattr(args, "profile", None) and args.profile not in available_profiles() and args.command != "fit":
            raise FactoryModelError(f"unknown calibration profile '{args.profile}'; available: "
                                    f"{', '.join(available_profiles())}")
        return args.func(args)
    except FactoryModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (RecursionError, MemoryError):  # a pathological input that slipped past the parsers' caps
        print("error: the input is nested too deeply or too large; check the file", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        return 130
