"""The command line: outputs, exit codes, one-line errors, never a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args, check_rc=None):
    proc = subprocess.run([sys.executable, "-m", "factory_model", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


def test_list_json_has_ids_and_sources():
    data = json.loads(run("list", "--format", "json", check_rc=0).stdout)
    assert {"systems", "models", "precisions", "workloads"} <= set(data)
    for kind in data.values():
        for entry in kind:
            assert entry["id"]
            assert entry["sources"]
    ids = {s["id"] for s in data["systems"]}
    assert "rubin-nvl72" in ids


def test_list_table():
    out = run("list", check_rc=0).stdout
    assert "SYSTEMS" in out and "gb300-nvl72" in out and "WORKLOADS" in out


def test_estimate_json():
    out = run("estimate", "--system", "gb200-nvl72", "--model", "deepseek-r1", "--precision", "nvfp4",
              "--isl", "8192", "--osl", "1024", "--tp", "1", "--ep", "32", "--dp-attention", "32",
              "--concurrency", "1024", "--format", "json", check_rc=0).stdout
    row = json.loads(out)[0]
    assert row["gpus"] == 32 and row["tpot_s"] > 0 and row["reason"] == ""


@pytest.mark.parametrize("args, message", [
    (["estimate", "--system", "h100", "--model", "llama-3.1-70b", "--precision", "fp8", "--isl", "1", "--osl", "1",
      "--tp", "1"], "did you mean 'h100-sxm'"),
    (["estimate", "--system", "h100-sxm", "--model", "llama-3.1-405b", "--precision", "fp8", "--isl", "1024",
      "--osl", "1024", "--tp", "1"], "does not fit"),
    (["estimate", "--system", "h100-sxm", "--model", "llama-3.1-70b", "--precision", "fp8", "--isl", "-3",
      "--osl", "1024", "--tp", "1"], "isl must be at least 1"),
    (["estimate", "--system", "h100-sxm"], "estimate needs --model"),
    (["estimate", "--input", "missing.csv"], "file not found"),
    (["validate", "--profile", "nope"], "unknown calibration profile"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    proc = run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_estimate_input_csv(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("system,model,precision,isl,osl,tp,ep,dp_attention,concurrency\n"
                    "h200-sxm,llama-3.1-70b,fp8,1024,1024,8,1,1,64\n"
                    "h100-sxm,llama-3.1-405b,fp8,1024,1024,1,1,1,64\n")
    out = run("estimate", "--input", str(path), "--format", "csv", check_rc=0).stdout.splitlines()
    header = out[0].split(",")
    for col in ("ttft_s", "tpot_s", "tokens_per_s_per_user", "output_tokens_per_s_per_gpu",
                "total_tokens_per_s_per_gpu", "gpus", "max_batch_per_rank", "bound", "reason"):
        assert col in header
    assert len(out) == 3
    assert "does not fit" in out[2]


def test_validate_prints_error_table():
    out = run("validate", check_rc=0).stdout
    assert "TPOT_MdAPE_%" in out and "all" in out


def test_frontier_cli_table_and_json():
    out = run("frontier", "--system", "b200-sxm", "--model", "llama-3.1-70b", "--precision", "nvfp4", "--isl", "1024",
              "--osl", "1024", "--mw", "10", check_rc=0).stdout
    assert "tokens_per_s_per_mw" in out and "max profit" in out
    rows = json.loads(run("frontier", "--system", "b200-sxm", "--model", "llama-3.1-70b", "--precision", "nvfp4",
                          "--isl", "1024", "--osl", "1024", "--format", "json", check_rc=0).stdout)
    for col in ("tokens_per_s_per_user", "output_tokens_per_s_per_gpu", "total_tokens_per_s_per_gpu",
                "tokens_per_s_per_mw", "ttft_s", "tpot_s", "serving", "tp", "ep", "dp_attention", "pp",
                "concurrency", "prefill_gpus", "decode_gpus", "revenue_usd_per_mw_hour", "cost_per_m_output_tokens_usd"):
        assert col in rows[0]


def test_frontier_cli_empty_with_reason():
    out = run("frontier", "--system", "h100-sxm", "--model", "llama-3.1-70b", "--precision", "fp8", "--isl", "8192",
              "--osl", "1024", "--ttft-max-s", "0.001", check_rc=0).stdout
    assert "empty frontier: no deployment meets TTFT" in out


@pytest.mark.parametrize("args, message", [
    (["--mw", "-1"], "positive number of MW"),
    (["--pue", "0.8"], "PUE must be at least 1.0"),
    (["--output-price", "-2"], "must not be negative"),
    (["--pue", "1.2", "--kw-per-gpu", "2"], "not allowed with argument"),
    (["--mtp", "2", "--mtp-acceptance", "1.5"], "acceptance rate in [0, 1]"),
])
def test_frontier_cli_bad_options(args, message):
    proc = run("frontier", "--system", "h100-sxm", "--model", "llama-3.1-8b", "--precision", "fp8", "--isl", "128",
               "--osl", "128", *args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr


def test_compare_cli():
    out = run("compare", "--systems", "h200-sxm,gb200-nvl72", "--model", "deepseek-r1", "--precision", "fp8,nvfp4",
              "--isl", "1024", "--osl", "8192", "--at", "20,50", check_rc=0).stdout
    assert "gb200-nvl72_vs_h200-sxm" in out
