"""``python -m factory_model.bench``: timings of the model (median of repeats), for the closing notes.

1. ``frontier`` for every catalog scenario (system × model × precision × workload preset): full deployment
   search (aggregated + disaggregated), Pareto frontier, power and economics; median of repeats per scenario,
   summarised per system and overall (``--full`` prints every scenario), plus the total for the whole catalog;
   then the scenarios of models with MTP heads under ``mtp_tokens="auto"`` (searched without and with MTP).
2. One single-deployment ``estimate``, ``estimate_table`` over 1,000 and 10,000 random scenario rows (the CLI's
   ``estimate --input`` path, file reading excluded) and one ``validate`` pass over the reference set.

Timings are wall-clock on this machine; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from .catalog import load_catalog
from .estimate import estimate, estimate_table
from .factors import load_factors
from .scenario import frontier
from .validation import validate


def random_scenarios(n: int, seed: int = 0) -> pd.DataFrame:
    """n valid-looking rows over the whole catalog (some will not fit: those still cost model time)."""
    cat = load_catalog()
    rng = np.random.default_rng(seed)
    systems, models = list(cat.systems), list(cat.models)
    rows = []
    for _ in range(n):
        model = cat.model(models[rng.integers(len(models))])
        tp = int(rng.choice([1, 2, 4, 8]))
        ep = int(rng.choice([1, 2, 4, 8])) if model.is_moe else 1
        rows.append({"system": systems[rng.integers(len(systems))], "model": model.id,
                     "precision": str(rng.choice(["bf16", "fp8", "nvfp4"])),
                     "isl": int(rng.choice([1024, 8192, 32768])), "osl": int(rng.choice([1024, 8192])),
                     "tp": tp, "ep": min(ep, tp), "dp_attention": 1, "concurrency": int(rng.integers(1, 1024))})
    return pd.DataFrame(rows)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (catalog and factor caches)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_frontiers(repeats: int, full: bool) -> None:
    cat = load_catalog()
    factors = load_factors()
    rows = []
    for system in cat.systems:
        for model in cat.models:
            for precision in cat.precisions:
                for workload in cat.workloads.values():
                    args = (system, model, precision, workload.isl_tokens, workload.osl_tokens)
                    result = {}

                    def run():
                        result["f"] = frontier(*args, catalog=cat, factors=factors)

                    seconds = timed(run, repeats)
                    rows.append({"system": system, "model": model, "precision": precision,
                                 "workload": workload.id, "ms": seconds * 1e3, "points": len(result["f"]),
                                 "candidates": result["f"].attrs["candidates"]})
    frame = pd.DataFrame(rows)
    if full:
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    per_system = frame.groupby("system", sort=False)["ms"].agg(["median", "max", "count"])
    print(f"frontier per scenario (median of {repeats} runs each), by system:")
    print(per_system.to_string(float_format=lambda v: f"{v:.1f}"))
    print(f"all {len(frame)} scenarios: median {frame['ms'].median():.1f} ms, p90 {frame['ms'].quantile(0.9):.1f} ms, "
          f"max {frame['ms'].max():.1f} ms; whole catalog once: {frame['ms'].sum() / 1e3:.2f} s; "
          f"{(frame['points'] == 0).sum()} scenarios empty (model does not fit)")
    # models that ship MTP heads, searched without and with MTP (--mtp auto): twice the candidates
    mtp_rows = []
    for system in cat.systems:
        for model in (m for m in cat.models.values() if m.mtp_layers):
            for workload in cat.workloads.values():
                args = (system, model.id, "nvfp4" if system not in ("h100-sxm", "h200-sxm") else "fp8",
                        workload.isl_tokens, workload.osl_tokens)
                mtp_rows.append(timed(lambda: frontier(*args, mtp_tokens="auto", catalog=cat, factors=factors),
                                      repeats) * 1e3)
    if mtp_rows:
        print(f"--mtp auto, {len(mtp_rows)} scenarios of models with MTP heads: median "
              f"{statistics.median(mtp_rows):.1f} ms, max {max(mtp_rows):.1f} ms\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m factory_model.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="print every scenario's timing")
    parser.add_argument("--skip-frontier", action="store_true")
    args = parser.parse_args(argv)
    load_factors()
    if not args.skip_frontier:
        bench_frontiers(max(1, args.repeats // 2), args.full)
    rows = [("estimate, 1 deployment", 1,
             timed(lambda: estimate("h200-sxm", "llama-3.1-70b", "fp8", 1024, 1024, tp=8, concurrency=64),
                   args.repeats))]
    for n in (1_000, 10_000):
        frame = random_scenarios(n)
        rows.append((f"estimate_table, {n:,} rows", n, timed(lambda: estimate_table(frame), args.repeats)))
    rows.append(("validate, reference set", 554, timed(lambda: validate(), max(3, args.repeats // 2))))
    print(f"{'benchmark':<32}{'rows':>8}{'median ms':>12}{'us/row':>10}")
    for name, n, seconds in rows:
        print(f"{name:<32}{n:>8}{seconds * 1e3:>12.1f}{seconds / n * 1e6:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
