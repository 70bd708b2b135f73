"""Fuzzing harness shared by tests/test_fuzz.py (CI: seeded, under a minute) and ``python3 dev.py fuzz`` (long).

Every user-facing boundary is a *target*: a function that takes the bytes a user could hand in and must either
succeed with sane output or raise :class:`FactoryModelError` with one short line. Anything else — another
exception (a traceback), a multi-line or overlong message, a hang past ``HANG_S``, or output with impossible
numbers (silent garbage) — is a finding. :class:`Tally` counts what was really checked.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import re
import signal
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from factory_model import custom, schemas
from factory_model.calibration import benchmarks, fit
from factory_model.calibration import session as sessions
from factory_model.errors import FactoryModelError
from factory_model.estimate import read_scenarios
from factory_model.reference import REFERENCE_COLUMNS

HANG_S = 20
MAX_CASE_CHARS = 3 * 2**20  # above the parsers' 2 MB document cap, so the cap itself is exercised
MAX_MESSAGE_CHARS = 400
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"


class Finding(AssertionError):
    pass


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """SIGALRM-based limit (main thread, Unix); elsewhere no limit."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGALRM"):
        yield
        return

    def fire(*_):
        raise Hang()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Tally:
    """Counts of cases checked per target and outcome (ok / one-line error), and findings."""

    def __init__(self):
        self.cases = Counter()
        self.outcomes = Counter()
        self.tracebacks = 0
        self.hangs = 0
        self.garbage = 0
        self.findings: list[str] = []

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        return (f"{self.total} cases ({', '.join(f'{k} {v}' for k, v in sorted(self.cases.items()))}); "
                f"outcomes: {dict(self.outcomes)}; tracebacks {self.tracebacks}, hangs {self.hangs}, "
                f"silent garbage {self.garbage}")


def _one_line(exc: FactoryModelError, target: str) -> None:
    message = str(exc)
    if "\n" in message or len(message) > MAX_MESSAGE_CHARS or not message.strip():
        raise Finding(f"{target}: error message not one short line: {message[:200]!r}")
    if "Traceback" in message:
        raise Finding(f"{target}: traceback text in the message")


def run(tally: Tally, target: str, data: bytes) -> str:
    """Check one case; returns 'ok' or 'error'; raises Finding on a traceback, hang or garbage."""
    tally.cases[target] += 1
    try:
        with time_limit(HANG_S):
            result = TARGETS[target](data)
        _sane(target, result)
        outcome = "ok"
    except FactoryModelError as exc:
        _one_line(exc, target)
        outcome = "error"
    except Hang:
        tally.hangs += 1
        raise Finding(f"{target}: no answer within {HANG_S} s") from None
    except Finding:
        tally.garbage += 1
        raise
    except Exception as exc:  # noqa: BLE001 - any other exception is a traceback for the user
        tally.tracebacks += 1
        raise Finding(f"{target}: {type(exc).__name__}: {str(exc)[:200]}") from exc
    tally.outcomes[outcome] += 1
    return outcome


# --------------------------------------------------------------------------------------------- targets


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _scenarios(data: bytes):
    path = io.StringIO(_text(data))
    return read_scenarios(path)


TARGETS = {
    "config_json": lambda d: custom.model_from_hf_config(d, "fuzz-model"),
    "what_if_yaml": lambda d: custom.from_yaml(d),
    "profile_yaml": lambda d: fit.load_profile(d),
    "session_csv": lambda d: sessions.load(d, "fuzz.csv"),
    "session_parquet": lambda d: sessions.load(d, "fuzz.parquet"),
    "bench_json": lambda d: benchmarks.import_vllm_bench(d, system="h100-sxm", model="llama-3.1-8b",
                                                         precision="fp8", tp=1),
    "points_csv": lambda d: benchmarks.import_points_csv(io.BytesIO(d)),
    "scenarios_csv": _scenarios,
}


def _finite_positive(values, what: str) -> None:
    arr = np.asarray(values, dtype=float)
    if arr.size and not (np.isfinite(arr).all() and (arr > 0).all()):
        raise Finding(f"silent garbage: {what} not finite and positive: {arr[:5]}")


def _sane(target: str, result) -> None:
    """Output checks: what a parser accepted must hold numbers the model can use."""
    if target == "config_json":
        _finite_positive([result.layers, result.hidden_size, result.heads, result.kv_heads, result.vocab_size],
                         "model sizes")
    elif target == "what_if_yaml":
        systems, models = result
        for s in systems:
            _finite_positive([s.hbm_bandwidth_tb_s, s.gpu_tdp_w, s.all_in_power_kw_per_gpu, s.gpus_per_rack],
                             f"system {s.id}")
        for m in models:
            _finite_positive([m.layers, m.hidden_size, m.heads], f"model {m.id}")
    elif target == "profile_yaml":
        values = list(result.overrides.values())
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise Finding("silent garbage: profile factor not finite/non-negative")
    elif target.startswith("session"):
        m = result.metadata
        _finite_positive([m["isl"], m["osl"], m["tp"]], "session metadata")
        power = result.table["power_w"].dropna()
        if (power < 0).any() or not np.isfinite(power).all():
            raise Finding("silent garbage: negative or infinite power in a session")
    elif target in ("bench_json", "points_csv"):
        _finite_positive(result[["output_tokens_per_s_per_gpu", "tokens_per_s_per_user", "ttft_s", "tpot_s",
                                 "concurrency"]].to_numpy(), "benchmark points")
    elif target == "scenarios_csv":
        _finite_positive(result[["isl", "osl", "tp", "concurrency"]].to_numpy(), "scenario numbers")
        if (result["concurrency"] > schemas.MAX_CONCURRENCY).any():
            raise Finding("silent garbage: concurrency above the cap")


# ----------------------------------------------------------------------------------------------- seeds

LLAMA = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
         "vocab_size": 128256, "intermediate_size": 14336, "_name_or_path": "meta-llama/Llama-3.1-8B"}
PROFILE = ("profile: x\nprovenance: {synthetic: false, points: 5}\nfactors:\n"
           "- {system: h200-sxm, precision: fp8, op_class: gemm, parameter: memory_fraction, value: 0.7}\n"
           "error_before_pct: {tpot_mdape_pct: 10.0}\nerror_after_pct: {tpot_mdape_pct: 5.0}\n")
SESSION = ("# system: h100-sxm\n# model: llama-3.1-8b\n# precision: fp8\n# isl: 1000\n# osl: 500\n# tp: 1\n"
           "kind,t_s,phase,concurrency,gpu,power_w,energy_j,generation_tokens_total\n"
           "gpu,0.0,c8,8,0,300,0,\nserver,0.0,c8,8,,,,0\ngpu,1.0,c8,8,0,310,305,\nserver,1.0,c8,8,,,,2000\n")
BENCH = {"completed": 100, "duration": 50.0, "total_input_tokens": 100000, "total_output_tokens": 100000,
         "median_ttft_ms": 400.0, "median_tpot_ms": 30.0, "max_concurrency": 32}
SCENARIOS = "system,model,precision,isl,osl,tp,ep,dp_attention,concurrency\nh100-sxm,llama-3.1-8b,fp8,1000,100,1,1,1,8\n"


def _what_if_seed() -> str:
    from factory_model import load_catalog

    h100 = load_catalog().system("h100-sxm")
    return custom.to_yaml([custom.edit_system(h100, "my-h100", hbm_bandwidth_tb_s=5.5)], [])


def _points_seed() -> str:
    row = {c: "1" for c in REFERENCE_COLUMNS} | {
        "backend": "vllm", "system": "h100-sxm", "model": "llama-3.1-8b", "precision": "fp8", "isl": "1000",
        "osl": "1000", "tp": "1", "moe_ep": "1", "dp_attention": "1", "gpus": "1", "concurrency": "8",
        "output_tokens_per_s_per_gpu": "2000", "tokens_per_s_per_user": "50", "ttft_ms": "200", "tpot_ms": "20"}
    return ",".join(row) + "\n" + ",".join(row.values()) + "\n"


def _parquet_seed() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    session = sessions.load(SESSION.encode(), "seed.csv")
    table = pa.Table.from_pandas(session.table, preserve_index=False)
    meta = {**(table.schema.metadata or {}), sessions.METADATA_KEY: json.dumps(session.metadata).encode()}
    out = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), out)
    return out.getvalue()


def seeds() -> dict[str, bytes]:
    return {"config_json": json.dumps(LLAMA).encode(), "what_if_yaml": _what_if_seed().encode(),
            "profile_yaml": PROFILE.encode(), "session_csv": SESSION.encode(), "session_parquet": _parquet_seed(),
            "bench_json": json.dumps(BENCH).encode(), "points_csv": _points_seed().encode(),
            "scenarios_csv": SCENARIOS.encode()}


# --------------------------------------------------------------------------------------------- mutation

WEIRD = ["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "1e300", "1e-320", "-1", "0", "-0", "1" + "0" * 400,
         "9223372036854775808", "18446744073709551616", "1e19", "true", "null", "~", '"text"', "oops", "[1,2,3]",
         "{}", "[]", "'", '"', "&a x", "*a", "!!python/object:os.system ['id']", "\u202e", "\x00", "💥",
         "-2", "0.0", "1.5", "{not json", "[" * 50, "]" * 50, "2**64", "0x10", "1_000", " ", "", ",", ":",
         "# comment", "\n", "\t", "\r\n", "- -", "<<: *a"]


def mutate(rng: random.Random, data: bytes, steps: int) -> bytes:
    """A malformed variant of ``data``: replace a token (number/word) by a weird one, cut, duplicate, nest,
    insert anchors and aliases, or flip bytes."""
    text = data.decode("utf-8", errors="replace")
    for _ in range(steps):
        op = rng.randrange(9)
        tokens = list(re.finditer(r"-?[\w.]+", text))
        if op <= 2 and tokens:  # replace a value or key by something weird
            m = rng.choice(tokens)
            text = text[:m.start()] + rng.choice(WEIRD) + text[m.end():]
        elif op == 3 and text:  # cut
            i = rng.randrange(len(text))
            text = text[:i] if rng.random() < 0.5 else text[:i] + text[i + rng.randrange(1, 20):]
        elif op == 4 and text:  # duplicate a slice
            i, j = sorted(rng.randrange(len(text) + 1) for _ in range(2))
            text = text[:j] + text[i:j] * rng.randrange(1, 5) + text[j:]
        elif op == 5:  # deep nesting
            depth = rng.choice([10, 100, 1000, 100_000])
            text = rng.choice(["[" * depth + "]" * depth, "{\"a\":" * depth + "1" + "}" * depth, "- " * depth])
        elif op == 6:  # alias bomb
            text = "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n" + text
        elif op == 7 and text:  # random bytes
            raw = bytearray(text.encode("utf-8", errors="replace"))
            for _ in range(rng.randrange(1, 8)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            return bytes(raw)
        elif len(text) < 100_000:  # many rows
            lines = text.splitlines(keepends=True)
            if lines:
                text += lines[-1] * rng.choice([2, 50, 1000])
        text = text[:MAX_CASE_CHARS]  # keep the generator itself bounded (compounding duplications)
    return text.encode("utf-8", errors="replace")


def mutate_parquet(rng: random.Random, data: bytes) -> bytes:
    """Parquet variants: flipped bytes, truncation, wrong columns, hostile metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    op = rng.randrange(4)
    if op == 0:
        raw = bytearray(data)
        for _ in range(rng.randrange(1, 10)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)
    if op == 1:
        return data[:rng.randrange(len(data))]
    columns = {"kind": ["gpu", "server", "x"], "t_s": [0.0, float("inf"), -1.0], "power_w": [300.0, -5.0, 1e300],
               "gpu": ["0", None, "1"], "wrong": [1, 2, 3], "tp": ["a", "b", "c"]}
    chosen = rng.sample(sorted(columns), rng.randrange(1, len(columns)))
    table = pa.table({c: columns[c] for c in chosen})
    meta = rng.choice([b"{not json", b"[1,2,3]", b'{"tp": Infinity}', b'{"system": "h100-sxm", "model": '
                       b'"llama-3.1-8b", "precision": "fp8", "isl": 1e300, "osl": 1, "tp": 1}', b"1" * 5000,
                       json.dumps({"system": "h100-sxm", "model": "llama-3.1-8b", "precision": "fp8", "isl": 100,
                                   "osl": 100, "tp": rng.choice([1, -2, 0, 10**30])}).encode()])
    out = io.BytesIO()
    pq.write_table(table.replace_schema_metadata({sessions.METADATA_KEY: meta}), out)
    return out.getvalue()


def case_for(rng: random.Random, target: str, seed_bytes: dict[str, bytes]) -> bytes:
    if target == "session_parquet":
        return mutate_parquet(rng, seed_bytes[target])
    return mutate(rng, seed_bytes[target], rng.randrange(1, 4))


def case(rng: random.Random, seed_bytes: dict[str, bytes]) -> tuple[str, bytes]:
    target = rng.choice(sorted(TARGETS))
    return target, case_for(rng, target, seed_bytes)


# ------------------------------------------------------------------------------------------------ CLI

CLI_FLAGS = ["--mw", "--pue", "--kw-per-gpu", "--isl", "--osl", "--mtp", "--mtp-acceptance", "--utilisation",
             "--input-price", "--output-price", "--ttft-max-s", "--tpot-max-s", "--gpu-hour-usd"]
CLI_VALUES = ["1", "0", "-1", "nan", "inf", "1e306", "1e-320", "abc", "", "9223372036854775808", "1e19", "0.5",
              "1.0", "100", "1000000", "2", "8"]


def cli_case(rng: random.Random) -> list[str]:
    """A CLI invocation: a cheap command with random, mostly hostile, flag values."""
    kind = rng.randrange(5)
    if kind == 0:
        args = ["frontier", "--system", rng.choice(["h100-sxm", "nope", "", "gb200-nvl72"]),
                "--model", "llama-3.1-8b", "--precision", "fp8", "--isl", "1000", "--osl", "1000"]
        flag = rng.choice(CLI_FLAGS)
        args += [flag, rng.choice(CLI_VALUES)]
        args += ["--format", rng.choice(["json", "csv", "table"])]
        if rng.random() < 0.7:  # most cases: an invalid value, so the search is skipped (cheap)
            args += ["--mw", rng.choice(["-1", "nan", "abc", "1e306"])]
        return args
    if kind == 1:
        return ["compare", "--systems", "h100-sxm,h200-sxm", "--model", "llama-3.1-8b", "--precision", "fp8",
                "--isl", "1000", "--osl", "1000", "--at", rng.choice(["20,", "abc", "nan", "1e400", ",,", "-5"])]
    if kind == 2:
        return ["estimate", "--system", "h100-sxm", "--model", "llama-3.1-8b", "--precision", "fp8", "--isl",
                rng.choice(CLI_VALUES), "--osl", "100", "--tp", rng.choice(["1", "0", "-3", "99999"]),
                "--concurrency", rng.choice(CLI_VALUES)]
    if kind == 3:
        return ["estimate", "--input", rng.choice(["/", "/nonexistent.csv", "/dev/null", "."])]
    return ["calibrate", "--replay", rng.choice(["/", "/nonexistent.csv", "/dev/null", "."])]


def run_cli(tally: Tally, argv: list[str]) -> int:
    """Run the CLI in-process; rc must be 0 or 2, an error exactly one line on stderr, never a traceback."""
    from factory_model.cli import main

    tally.cases["cli"] += 1
    out, err = io.StringIO(), io.StringIO()
    try:
        with time_limit(HANG_S), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    except Hang:
        tally.hangs += 1
        raise Finding(f"cli {argv}: no answer within {HANG_S} s") from None
    except SystemExit as exc:  # argparse --help only
        rc = exc.code if isinstance(exc.code, int) else 2
    except Exception as exc:  # noqa: BLE001
        tally.tracebacks += 1
        raise Finding(f"cli {argv}: {type(exc).__name__}: {exc}") from exc
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if rc not in (0, 2) or "Traceback" in err.getvalue() or (rc == 2 and len(lines) != 1):
        tally.tracebacks += 1
        raise Finding(f"cli {argv}: rc {rc}, stderr {err.getvalue()[:300]!r}")
    if rc == 0 and argv[0] == "frontier" and "--format" in argv:
        fmt = argv[argv.index("--format") + 1]
        text = out.getvalue()
        if fmt == "json" and text.strip() == "[]":
            tally.garbage += 1
            raise Finding(f"cli {argv}: empty frontier without its reason")
        if re.search(r"(?<![\d.eE])-0(\.0+)?(?![\d.eE])", text) or "-9.2e18" in text.lower():
            tally.garbage += 1
            raise Finding(f"cli {argv}: negative zero or wrapped integer in the output")
    tally.outcomes["cli ok" if rc == 0 else "cli error"] += 1
    return rc


# ------------------------------------------------------------------------------------------------ API

API_VALUES = [1, 0, -1, 1.5, float("nan"), float("inf"), -float("inf"), 1e306, 1e-320, "1", "abc", None, True,
              2**63, 10**30, [1], 8, 9, 0.999, 1.0]
API_ARGS = ("mw", "pue", "kw_per_gpu", "isl", "osl", "mtp_tokens", "mtp_acceptance", "ttft_max_s", "tpot_max_s",
            "min_tokens_per_s_per_user", "max_gpus")


def api_case(rng: random.Random) -> dict:
    """Keyword arguments for fm.frontier with one or two hostile values (one valid baseline otherwise)."""
    kwargs = {"isl": 1000, "osl": 1000}
    for name in rng.sample(API_ARGS, rng.randrange(1, 3)):
        kwargs[name] = rng.choice(API_VALUES)
    if "pue" in kwargs and "kw_per_gpu" in kwargs:
        kwargs.pop("kw_per_gpu")
    return kwargs


def run_api(tally: Tally, kwargs: dict) -> str:
    import factory_model as fm

    tally.cases["api"] += 1
    args = dict(kwargs)
    isl, osl = args.pop("isl"), args.pop("osl")
    try:
        with time_limit(HANG_S):
            frame = fm.frontier("h100-sxm", "llama-3.1-8b", "fp8", isl, osl, **args)
    except FactoryModelError as exc:
        _one_line(exc, "api")
        tally.outcomes["api error"] += 1
        return "error"
    except Hang:
        tally.hangs += 1
        raise Finding(f"api {kwargs}: no answer within {HANG_S} s") from None
    except Exception as exc:  # noqa: BLE001
        tally.tracebacks += 1
        raise Finding(f"api {kwargs}: {type(exc).__name__}: {exc}") from exc
    if not len(frame) and not frame.attrs.get("reason"):
        tally.garbage += 1
        raise Finding(f"api {kwargs}: empty frontier without a reason")
    if len(frame):
        cols = ["tokens_per_s_per_user", "output_tokens_per_s_per_gpu", "tokens_per_s_per_mw", "ttft_s", "tpot_s"]
        values = frame[cols].to_numpy(dtype=float)
        if not (np.isfinite(values).all() and (values > 0).all()):
            tally.garbage += 1
            raise Finding(f"api {kwargs}: non-finite or non-positive figures")
        if (frame["tokens_per_s_per_user"] > 5000).any():
            tally.garbage += 1
            raise Finding(f"api {kwargs}: implausible tokens/s/user")
    tally.outcomes["api ok"] += 1
    return "ok"


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.name != "README.md") if CORPUS.exists() else []


def target_of(path: Path) -> str:
    return path.name.split("--", 1)[0]


def frame_summary(frame: pd.DataFrame) -> str:  # pragma: no cover - debugging aid
    return frame.describe().to_string()
