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
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .catalog import load_catalog
from .errors import FactoryModelError
from .estimate import RESULT_COLUMNS, estimate, estimate_table
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
    from .validation import validate

    points, summary = validate(args.profile, args.backend)
    if args.points:
        points.to_csv(args.points, index=False)
    if args.format != "table":
        _print_frame(summary, args.format)
        return 0
    print(f"Model vs measured reference points (profile '{args.profile}', target: {args.backend} framework per "
          f"configuration). MdAPE = median absolute % error; bias = median signed % error (+ = model slower "
          f"for TPOT/TTFT, higher for throughput).")
    shown = summary.rename(columns={
        "tpot_mdape_pct": "TPOT_MdAPE_%", "tpot_bias_pct": "TPOT_bias_%", "ttft_mdape_pct": "TTFT_MdAPE_%",
        "ttft_bias_pct": "TTFT_bias_%", "output_tokens_per_s_per_gpu_mdape_pct": "tok/s/GPU_MdAPE_%",
        "output_tokens_per_s_per_gpu_bias_pct": "tok/s/GPU_bias_%"})
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from .fitting import fit, write_profile

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

    p = sub.add_parser("validate", help="model error against data/reference/measured_agg_points.csv")
    p.add_argument("--profile", default=DEFAULT_PROFILE)
    p.add_argument("--backend", default="best", help="best (default), trtllm, vllm or sglang")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--points", help="also write per-point predictions and errors to this CSV")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("fit", help="fit efficiency factors to the reference set; write data/calibration/<profile>.csv")
    p.add_argument("--backend", default="best", help="best (default), trtllm, vllm or sglang")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="name of the profile to write")
    p.add_argument("--max-evaluations", type=int, default=80, dest="max_evaluations")
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
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        return 130
