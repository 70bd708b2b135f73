#!/usr/bin/env python3
"""The long fuzz run behind ``python3 dev.py fuzz [--cases N] [--seed S]``.

Mutation fuzzing of every upload parser (70 % of the cases), the CLI in-process (15 %) and the Python API (15 %),
then the committed corpus of malformed files through the real CLI as subprocesses (exit status 2 and one line
each: no traceback, no signal such as SIGABRT) and a few URL-parameter runs through Streamlit's AppTest. Prints
the counts; exits 1 on any traceback, hang or silent garbage.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import fuzzing  # noqa: E402

MEMORY_LIMIT_BYTES = 8 * 2**30


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--url-cases", type=int, default=20)
    args = parser.parse_args(argv)
    try:  # a case that explodes memory becomes a MemoryError finding instead of starving the machine
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    rng = random.Random(args.seed)
    seeds = fuzzing.seeds()
    tally = fuzzing.Tally()
    findings: dict[str, int] = {}
    t0 = time.monotonic()

    def record(call, *a):
        try:
            call(tally, *a)
        except fuzzing.Finding as finding:
            key = str(finding)[:160]
            findings[key] = findings.get(key, 0) + 1

    for i in range(args.cases):
        r = rng.random()
        if r < 0.70:
            target, data = fuzzing.case(rng, seeds)
            record(fuzzing.run, target, data)
        elif r < 0.85:
            record(fuzzing.run_cli, fuzzing.cli_case(rng))
        else:
            record(fuzzing.run_api, fuzzing.api_case(rng))
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1:,} cases, {time.monotonic() - t0:.0f} s, {len(findings)} distinct findings", flush=True)

    # the corpus through the real CLI: subprocesses catch crashes of native code (a signal, not an exception)
    commands = {"session_csv": ["calibrate", "--replay"], "session_parquet": ["calibrate", "--replay"],
                "scenarios_csv": ["estimate", "--input"]}
    subprocess_runs = 0
    for path in fuzzing.corpus_files():
        command = commands.get(fuzzing.target_of(path))
        if not command:
            continue
        for _ in range(2):  # twice: the SIGABRT seen in issue 10 was intermittent
            subprocess_runs += 1
            tally.cases["cli subprocess"] += 1
            try:
                proc = subprocess.run([sys.executable, "-m", "factory_model", *command, str(path)],
                                      capture_output=True, text=True, timeout=fuzzing.HANG_S, cwd=HERE.parent)
            except subprocess.TimeoutExpired:
                tally.hangs += 1
                findings[f"subprocess hang: {path.name}"] = 1
                continue
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            if proc.returncode != 2 or len(lines) != 1 or "Traceback" in proc.stderr:
                tally.tracebacks += 1
                findings[f"subprocess {path.name}: rc {proc.returncode} {proc.stderr[-200:]!r}"] = 1
            else:
                tally.outcomes["cli subprocess error"] += 1

    if args.url_cases:
        import test_fuzz

        test_fuzz.N_URL = args.url_cases
        try:
            test_fuzz.test_fuzz_url_parameters()
            tally.cases["url"] += args.url_cases
            tally.outcomes["url ok"] += args.url_cases
        except AssertionError as exc:
            findings[f"url: {str(exc)[:200]}"] = 1

    corpus = len(fuzzing.corpus_files())
    try:
        import resource

        peak = f"; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB"
    except ImportError:
        peak = ""
    print(f"\nfuzz (seed {args.seed}, {time.monotonic() - t0:.0f} s): {tally.summary()}; corpus {corpus} malformed "
          f"files, {subprocess_runs} CLI subprocess runs{peak}")
    for finding, count in sorted(findings.items()):
        print(f"FINDING x{count}: {finding}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
