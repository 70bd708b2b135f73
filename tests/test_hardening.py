"""Shared-server hardening: a model without a list price, bounded and typed inputs, one-line errors."""

import json

import numpy as np
import pandas as pd
import pytest

import factory_model as fm
from factory_model import custom
from factory_model.errors import FactoryModelError

LLAMA_CONFIG = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
                "vocab_size": 128256, "intermediate_size": 14336}


@pytest.fixture(scope="module")
def no_price():
    """A model imported from config.json: it has no list price, so revenue and profit are NaN."""
    model = custom.model_from_hf_config(json.dumps(LLAMA_CONFIG), "my-llama")
    catalog = custom.with_custom(fm.load_catalog(), [], [model])
    return catalog, fm.frontier("h100-sxm", "my-llama", "fp8", 1000, 1000, catalog=catalog)


def test_summary_of_a_model_without_price_has_nan_revenue_not_a_crash(no_price):
    _, frame = no_price
    assert len(frame) and frame["profit_usd_per_mw_hour"].isna().all()
    assert "no list price" in frame.attrs["note"]
    s = fm.summary(frame)
    assert np.isnan(s["max_revenue_usd_per_mw_hour"]) and np.isnan(s["tokens_per_s_per_user_at_max_profit"])
    assert s["max_tokens_per_s_per_mw"] == pytest.approx(frame["tokens_per_s_per_mw"].max())


def test_charts_and_deck_of_a_model_without_price(no_price):
    from pages import charts, exports

    _, frame = no_price
    frames = {"h100-sxm": frame}
    money = charts.money_figure(frames)
    assert not [t for t in money.data if "sweet spot" in (t.name or "")]  # no sweet spot without a price
    from pages import analysis, target

    assert len(analysis.sweet_spot(frame)) == 0  # no profit-maximising point without revenue
    table = target.at_target(frames, 50.0)
    assert table["revenue_usd_per_year"].isna().all()
    series = [exports.Series("H100", frame["tokens_per_s_per_user"].tolist(), frame["tokens_per_s_per_mw"].tolist())]
    deck = exports.board_deck(exports.DeckContent("t", "s", "Key figures", table.astype(str), "no list price",
                                                  series, "tokens/s per MW", revenue=[]))
    assert deck[:2] == b"PK"


def test_best_index_guards_all_nan_and_missing_columns():
    from factory_model.scenario import best_index

    frame = pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 3.0], "c": [np.inf, 2.0]})
    assert best_index(frame, "a") is None and best_index(frame, "missing") is None
    assert best_index(frame, "b") == 1 and best_index(frame, "c") == 1  # inf is not a maximum
    assert best_index(frame.iloc[:0], "b") is None


# ------------------------------------------------------------------------------------- bounded inputs

from factory_model import schemas  # noqa: E402
from factory_model.calibration import TelemetryError  # noqa: E402
from factory_model.calibration import session as sessions  # noqa: E402
from factory_model.calibration.benchmarks import import_points_csv, import_vllm_bench  # noqa: E402
from factory_model.calibration.fit import load_profile  # noqa: E402

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" \
             "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" \
             "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" \
             "systems: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"


@pytest.mark.parametrize("parse", [custom.from_yaml, load_profile])
def test_yaml_aliases_are_refused_everywhere_user_yaml_is_read(parse):
    with pytest.raises(FactoryModelError, match="anchors and aliases"):
        parse(ALIAS_BOMB)
    with pytest.raises(FactoryModelError, match="anchors and aliases"):
        parse("profile: &p x\nprovenance: {a: *p}\nfactors: []\n")


def test_yaml_node_depth_and_size_caps():
    with pytest.raises(FactoryModelError, match="values"):
        schemas.load_yaml("[" + ",".join(["1"] * (schemas.MAX_YAML_NODES + 1)) + "]", "f")
    with pytest.raises(FactoryModelError, match="nested deeper|nested"):
        schemas.load_yaml("[" * 10_000 + "]" * 10_000, "f")
    with pytest.raises(FactoryModelError, match="larger than"):
        schemas.load_yaml(b"a: " + b"x" * (schemas.MAX_DOCUMENT_BYTES + 1), "f")


def _with(value: str) -> str:
    return json.dumps(LLAMA_CONFIG)[:-1] + f', "num_hidden_layers": {value}}}'


@pytest.mark.parametrize("text, field", [
    (_with("NaN"), "NaN"), (_with("Infinity"), "NaN"), (_with('"32"'), "num_hidden_layers"),
    (_with("1" + "0" * 400), "num_hidden_layers"), (_with("1" + "0" * 5000), "number too long"),
    ("[" * 200_000 + "]" * 200_000, "nested"), (_with("true"), "num_hidden_layers"),
    ('[1, 2, 3]', "JSON object"), ("{not json", "not valid JSON"),
])
def test_config_json_problems_are_one_line(text, field):
    with pytest.raises(FactoryModelError) as info:
        custom.model_from_hf_config(text, "x")
    message = str(info.value)
    assert "\n" not in message and len(message) < 300 and field in message


def test_config_json_huge_sizes_are_refused_before_conversion():
    doc = dict(LLAMA_CONFIG, hidden_size=10**30)
    with pytest.raises(FactoryModelError, match="hidden_size"):
        custom.model_from_hf_config(json.dumps(doc), "x")


def test_what_if_yaml_shapes_and_built_in_ids():
    for text, message in [("systems: [1, 2, 3]\n", "systems"), ("models: {BAD ID: {}}\n", "models"),
                          ("other: 1\n", "top-level keys"), ("systems: {x: 1}\n", "systems.x")]:
        with pytest.raises(FactoryModelError, match=message):
            custom.from_yaml(text)
    h100 = fm.load_catalog().system("h100-sxm")
    text = custom.to_yaml([custom.edit_system(h100, "h100-sxm")], [])
    with pytest.raises(FactoryModelError, match="built-in id"):
        custom.from_yaml(text)
    with pytest.raises(FactoryModelError, match="built-in id"):
        custom.with_custom(fm.load_catalog(), [custom.edit_system(h100, "h100-sxm")])
    # a user-defined entry round-trips through YAML with its numbers intact
    mine = custom.edit_system(h100, "my-h100", hbm_bandwidth_tb_s=5.5)
    systems, _ = custom.from_yaml(custom.to_yaml([mine], []))
    assert systems[0].hbm_bandwidth_tb_s == 5.5 and systems[0].gpus_per_rack == h100.gpus_per_rack


def test_profile_with_text_where_numbers_belong():
    good = ("profile: x\nprovenance: {}\nfactors: [{system: h200-sxm, precision: fp8, op_class: gemm,"
            " parameter: memory_fraction, value: 0.7}]\n")
    assert load_profile(good).overrides
    with pytest.raises(FactoryModelError, match="error_after_pct"):
        load_profile(good + "error_after_pct: oops\n")
    with pytest.raises(FactoryModelError, match="unknown_key"):
        load_profile(good + "unknown_key: 1\n")


VLLM = {"completed": 100, "duration": 50.0, "total_input_tokens": 100_000, "total_output_tokens": 100_000,
        "median_ttft_ms": 400.0, "median_tpot_ms": 30.0, "max_concurrency": 32}


@pytest.mark.parametrize("change, field", [({"median_tpot_ms": 0}, "median_tpot_ms"),
                                           ({"median_ttft_ms": "fast"}, "median_ttft_ms"),
                                           ({"duration": -1}, "duration"), ({"completed": True}, "completed"),
                                           ({"max_concurrency": 1e300}, "max_concurrency")])
def test_vllm_bench_fields_are_typed_and_ranged(change, field):
    with pytest.raises(FactoryModelError, match=field):
        import_vllm_bench(json.dumps({**VLLM, **change}), system="h100-sxm", model="llama-3.1-8b",
                          precision="fp8", tp=1)


def test_points_csv_with_text_in_a_number_column():
    from factory_model.reference import REFERENCE_COLUMNS

    import io
    row = {c: "1" for c in REFERENCE_COLUMNS} | {"backend": "vllm", "system": "h100-sxm", "model": "llama-3.1-8b",
                                                   "precision": "fp8", "isl": "lots"}
    text = ",".join(row) + "\n" + ",".join(row.values()) + "\n"
    with pytest.raises(FactoryModelError, match="row 2: 'isl'"):
        import_points_csv(io.BytesIO(text.encode()))


SESSION_HEAD = "# system: h100-sxm\n# model: llama-3.1-8b\n# precision: fp8\n# isl: 100\n# osl: 100\n"
SESSION_BODY = "kind,t_s,gpu,power_w\ngpu,0,0,300\ngpu,1,0,300\n"


@pytest.mark.parametrize("tp, message", [("inf", "tp"), ("1e300", "tp"), ("-2", "tp"), ("{not json", "tp"),
                                         ("[1,2,3]", "tp"), ("0", "tp")])
def test_session_metadata_is_validated(tp, message):
    with pytest.raises(TelemetryError, match=message):
        sessions.load((SESSION_HEAD + f"# tp: {tp}\n" + SESSION_BODY).encode(), "s.csv")


def test_session_rows_with_negative_power_are_refused():
    body = "kind,t_s,gpu,power_w\ngpu,0,0,300\ngpu,1,0,-1e9\n"
    with pytest.raises(TelemetryError, match="power_w"):
        sessions.load((SESSION_HEAD + "# tp: 1\n" + body).encode(), "s.csv")
    ok = sessions.load((SESSION_HEAD + "# tp: 1\n" + SESSION_BODY).encode(), "s.csv")
    assert ok.metadata["tp"] == 1 and len(ok.table) == 2


def test_parquet_session_metadata_that_is_not_json(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"kind": ["gpu"], "t_s": [0.0], "gpu": ["0"], "power_w": [300.0]})
    for bad in (b"{not json", b"[1,2,3]", b'{"tp": Infinity}'):
        pq.write_table(table.replace_schema_metadata({sessions.METADATA_KEY: bad}), tmp_path / "s.parquet")
        with pytest.raises(TelemetryError):
            sessions.load(tmp_path / "s.parquet")


@pytest.mark.parametrize("kwargs, message", [
    ({"isl": float("inf")}, "isl"), ({"mtp_tokens": float("nan")}, "mtp_tokens"), ({"mw": "1"}, "number"),
    ({"mtp_tokens": 100, "mtp_acceptance": 0.5}, "mtp_tokens"), ({"mtp_tokens": 2, "mtp_acceptance": 1.0},
                                                                  "mtp_acceptance"),
    ({"pue": 1e308}, "PUE"), ({"kw_per_gpu": 1e-300}, "kW per GPU"), ({"mw": 1e306}, "facility power"),
    ({"isl": 10**30}, "isl")])
def test_api_numbers_are_range_checked(kwargs, message):
    args = {"isl": 1000, "osl": 1000, **kwargs}
    isl, osl = args.pop("isl"), args.pop("osl")
    with pytest.raises(FactoryModelError, match=message):
        fm.frontier("h100-sxm", "llama-3.1-8b", "fp8", isl, osl, **args)


def test_utilisation_and_prices_are_range_checked():
    from factory_model.economics import options

    for change in ({"utilisation": 1e-320}, {"output_usd_per_m": float("inf")}, {"input_usd_per_m": 1e300}):
        with pytest.raises(FactoryModelError):
            fm.frontier("h100-sxm", "llama-3.1-8b", "fp8", 1000, 1000, economics=options(**change))


def test_concurrency_two_to_the_63_does_not_wrap(tmp_path):
    from factory_model.estimate import estimate, read_scenarios

    with pytest.raises(FactoryModelError, match="concurrency"):
        estimate("h100-sxm", "llama-3.1-8b", "fp8", 1000, 100, 1, concurrency=9223372036854775808)
    path = tmp_path / "s.csv"
    path.write_text("system,model,precision,isl,osl,tp,ep,dp_attention,concurrency\n"
                    "h100-sxm,llama-3.1-8b,fp8,1000,100,1,1,1,1e19\n")
    with pytest.raises(FactoryModelError, match="row 2, column concurrency"):
        read_scenarios(path)
    path.write_text(path.read_text().replace("1e19", "inf"))
    with pytest.raises(FactoryModelError, match="row 2, column concurrency"):
        read_scenarios(path)


def test_zero_rack_facility_is_a_visible_note():
    frame = fm.frontier("gb200-nvl72", "llama-3.1-8b", "fp8", 1000, 1000, mw=0.1)
    assert frame.attrs["racks"] == 0 and "no whole rack" in frame.attrs["note"]


def test_real_world_configs_still_import():
    deepseek = {"architectures": ["DeepseekV3ForCausalLM"], "num_hidden_layers": 61, "hidden_size": 7168,
                "num_attention_heads": 128, "num_key_value_heads": 128, "vocab_size": 129280,
                "intermediate_size": 18432, "moe_intermediate_size": 2048, "n_routed_experts": 256,
                "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "kv_lora_rank": 512,
                "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
                "num_nextn_predict_layers": 1, "rope_scaling": {"factor": 40, "type": "yarn"},
                "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]},
                "torch_dtype": "bfloat16", "tie_word_embeddings": False, "_name_or_path": "deepseek-ai/V3"}
    m = custom.model_from_hf_config(json.dumps(deepseek), "my-deepseek")
    assert m.is_mla and m.experts == 256 and m.dense_layers == 3 and m.native_precision == "fp8"
    gpt_oss = {"num_hidden_layers": 24, "hidden_size": 2880, "num_attention_heads": 64, "num_key_value_heads": 8,
               "head_dim": 64, "vocab_size": 201088, "intermediate_size": 2880, "num_local_experts": 32,
               "num_experts_per_tok": 4, "sliding_window": 128,
               "layer_types": ["sliding_attention", "full_attention"] * 12,
               "quantization_config": {"quant_method": "mxfp4"}}
    m = custom.model_from_hf_config(json.dumps(gpt_oss), "my-gpt-oss")
    assert m.experts == 32 and m.sliding_window_layers == 12 and m.four_bit_format == "mxfp4"


# ------------------------------------------------------------------------------------------------- CLI


def cli(*argv):
    import contextlib
    import io

    from factory_model.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def test_fit_profile_name_cannot_escape_the_data_directory():
    rc, _, err = cli("fit", "--profile", "../../evil")
    assert rc == 2 and "no path" in err and len(err.splitlines()) == 1


def test_empty_frontier_keeps_its_reason_in_json_and_csv():
    args = ("frontier", "--system", "h100-sxm", "--model", "llama-3.1-8b", "--precision", "fp8", "--isl", "1000",
            "--osl", "1000", "--ttft-max-s", "0.00001")
    rc, out, _ = cli(*args, "--format", "json")
    rows = json.loads(out)
    assert rc == 0 and len(rows) == 1 and "no deployment meets TTFT" in rows[0]["reason"]
    rc, out, _ = cli(*args, "--format", "csv")
    assert rc == 0 and "reason" in out.splitlines()[0] and "no deployment meets TTFT" in out


@pytest.mark.parametrize("at", ["20,", "abc", "nan", ",,"])
def test_compare_at_values_are_parsed_with_one_line_errors(at):
    rc, _, err = cli("compare", "--systems", "h100-sxm", "--model", "llama-3.1-8b", "--precision", "fp8",
                     "--isl", "1000", "--osl", "1000", "--at", at)
    assert rc == 2 and "--at" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [("estimate", "--input", "/"), ("calibrate", "--replay", "/")])
def test_directories_given_as_files(argv):
    rc, _, err = cli(*argv)
    assert rc == 2 and "not a" in err and "Traceback" not in err


def test_upload_limit_in_streamlit_config_matches_the_parsers():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == schemas.MAX_UPLOAD_MB
