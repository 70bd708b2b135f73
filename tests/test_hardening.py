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
    fig = charts.frontier_figure(frames, "tokens_per_s_per_mw", "tokens/s per MW")
    deck = exports.deck("t", "s", [("Throughput vs interactivity", fig), ("Revenue per MW-hour", money)],
                        {"H100": frame}, {"H100": "#000000"}, ["a"], "tokens_per_s_per_mw", "tokens/s per MW")
    assert deck[:2] == b"PK"


def test_best_index_guards_all_nan_and_missing_columns():
    from factory_model.scenario import best_index

    frame = pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 3.0], "c": [np.inf, 2.0]})
    assert best_index(frame, "a") is None and best_index(frame, "missing") is None
    assert best_index(frame, "b") == 1 and best_index(frame, "c") == 1  # inf is not a maximum
    assert best_index(frame.iloc[:0], "b") is None
