"""Fuzz every user boundary (uploads, CLI, Python API, URL parameters): seeded, under a minute in CI.

``python3 dev.py fuzz`` runs the same targets longer (FUZZ_CASES, default 10,000) and the committed corpus of
malformed files through the CLI as subprocesses. Each test counts the cases it really checked and asserts the
count, so a strategy that silently generates nothing fails.
"""

import os
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzing

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
N_UPLOADS = int(400 * SCALE)
N_CLI = int(150 * SCALE)
N_API = int(150 * SCALE)
N_URL = int(os.environ.get("FUZZ_URL_CASES", "3"))
FUZZ = dict(derandomize=True, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def seed_bytes():
    return fuzzing.seeds()


def test_corpus_of_malformed_files_gives_one_line_errors():
    files = fuzzing.corpus_files()
    assert len(files) >= 100, "regenerate with tests/make_fuzz_corpus.py"
    tally = fuzzing.Tally()
    for path in files:
        assert fuzzing.run(tally, fuzzing.target_of(path), path.read_bytes()) == "error", path.name
    assert tally.total == len(files) and tally.outcomes["error"] == len(files)
    assert not (tally.tracebacks or tally.hangs or tally.garbage)


def test_corpus_through_the_cli(tmp_path):
    tally = fuzzing.Tally()
    commands = {"session_csv": ["calibrate", "--replay"], "session_parquet": ["calibrate", "--replay"],
                "scenarios_csv": ["estimate", "--input"]}
    files = [p for p in fuzzing.corpus_files() if fuzzing.target_of(p) in commands]
    for path in files:
        assert fuzzing.run_cli(tally, [*commands[fuzzing.target_of(path)], str(path)]) == 2, path.name
    assert tally.cases["cli"] == len(files) >= 30


def test_fuzz_uploads(seed_bytes):
    tally = fuzzing.Tally()

    @settings(max_examples=N_UPLOADS, **FUZZ)
    @given(st.randoms(use_true_random=False))
    def check(rng):
        target, data = fuzzing.case(rng, seed_bytes)
        fuzzing.run(tally, target, data)

    check()
    assert tally.total == N_UPLOADS and len(tally.cases) == len(fuzzing.TARGETS)
    assert tally.outcomes["error"] > 0 and tally.outcomes["ok"] > 0  # both sides of the boundary were reached


def _fuzzed(examples: int, run, case) -> "fuzzing.Tally":
    """``examples`` seeded cases ``case(rng)`` through ``run(tally, case)``; the tally counts what really ran."""
    tally = fuzzing.Tally()

    @settings(max_examples=examples, **FUZZ)
    @given(st.randoms(use_true_random=False))
    def check(rng):
        run(tally, case(rng))

    check()
    return tally


def test_fuzz_cli():
    tally = _fuzzed(N_CLI, fuzzing.run_cli, fuzzing.cli_case)
    assert tally.cases["cli"] == N_CLI and tally.outcomes["cli error"] > 0


def test_fuzz_api():
    tally = _fuzzed(N_API, fuzzing.run_api, fuzzing.api_case)
    assert tally.cases["api"] == N_API and tally.outcomes["api error"] > 0 and tally.outcomes["api ok"] > 0


URL_KEYS = ["systems", "model", "precision", "isl", "osl", "mw", "pue", "utilisation", "serving", "present",
            "xlog", "y_metric", "workload", "tier", "bogus"]
URL_VALUES = ["h100-sxm", "nope", "nan", "inf", "-1", "1e308", "", "true", "<script>", "0", "1000", "x" * 300]


def test_fuzz_url_parameters():
    from streamlit.testing.v1 import AppTest

    import factory_model as fm
    from pages import ui
    from test_app import APP

    catalog = fm.load_catalog()
    checked = 0
    rng = random.Random(10)
    t0 = time.monotonic()
    for _ in range(N_URL):
        at = AppTest.from_file(APP, default_timeout=120)
        params = {k: rng.choice(URL_VALUES) for k in rng.sample(URL_KEYS, rng.randrange(1, 5))}
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, (params, [e.message for e in at.exception])
        dropped = [k for k, v in params.items() if not ui._valid(k, v, catalog)]
        notice = str(at.session_state["url_notice"]) if "url_notice" in at.session_state else ""
        notice += " ".join(str(w.value) for w in at.warning) + " ".join(str(i.value) for i in at.info)
        assert all(f"{k}=" in notice for k in dropped), (params, notice)  # every dropped parameter is named
        checked += 1
    assert checked == N_URL and time.monotonic() - t0 < 60 * max(1.0, N_URL / 3)
