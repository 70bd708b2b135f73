"""The dashboard with hostile or unusual input: a model without a list price on every page, a hostile What-if
YAML and config.json through the real upload widgets."""

import json

from test_app import app, clear_caches, navigation_only  # noqa: F401 - fixtures

CONFIG = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8,
          "vocab_size": 128256, "intermediate_size": 14336}
PAGES = ["frontier", "revenue", "compare", "tco", "what_if", "methodology"]


def test_a_model_without_list_price_renders_every_page():
    at = app("what_if")
    at.file_uploader(key="config_upload").set_value(("config.json", json.dumps(CONFIG).encode(),
                                                     "application/json"))
    at.text_input(key="config_model_id").set_value("my-llama").run()
    at.button(key="add_model").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert [m.id for m in at.session_state["custom_models"]] == ["my-llama"]
    at.selectbox(key="model").set_value("my-llama").run()
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.message for e in at.exception])


def test_hostile_uploads_on_the_what_if_page_give_one_line_errors():
    at = app("what_if")
    bomb = b"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nsystems: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    at.file_uploader(key="custom_upload").set_value(("bomb.yaml", bomb, "application/x-yaml")).run()
    at.button(key="load_custom").click().run()
    assert not at.exception and any("anchors and aliases" in e.value for e in at.error)
    nan = json.dumps(CONFIG).replace("4096", "NaN").encode()
    at.file_uploader(key="config_upload").set_value(("config.json", nan, "application/json")).run()
    at.button(key="add_model").click().run()
    assert not at.exception and any("NaN" in e.value for e in at.error)
    assert not at.session_state["custom_models"]
