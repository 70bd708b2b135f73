"""AppTest for every page: runs without exception and reacts to its controls."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60


@pytest.fixture(autouse=True)
def clear_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield


def test_estimate_page_runs_and_reacts():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    before = [m.value for m in at.metric]
    assert len(before) == 4
    at.selectbox(key="model").set_value("llama-3.1-8b").run()
    assert not at.exception
    after = [m.value for m in at.metric]
    assert after != before


def test_estimate_page_explains_oom():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.selectbox(key="system").set_value("h100-sxm")
    at.selectbox(key="model").set_value("llama-3.1-405b")
    at.select_slider(key="tp").set_value(1).run()
    assert not at.exception
    assert any("does not fit" in w.value for w in at.warning)
