"""AI Factory Frontier dashboard: entry point ("picture frame") for the pages in pages/.

The shared sidebar (scenario, prices, view) is drawn here, before the chosen page runs, so it stays put when the
page changes; pages are listed explicitly with st.navigation, which also switches off Streamlit's legacy
automatic discovery of the pages/ folder. Run with ``python3 dev.py run``.
"""

import streamlit as st

from pages import server, ui

st.set_page_config(page_title="AI Factory Frontier", page_icon="⚡", layout="wide",
                   initial_sidebar_state="expanded")

PAGES = {  # file name -> page
    "frontier.py": st.Page("pages/frontier.py", title="Frontier", icon=":material/show_chart:", default=True,
                           url_path="home"),
    "revenue.py": st.Page("pages/revenue.py", title="Revenue", icon=":material/payments:", url_path="revenue"),
    "compare.py": st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    "tco.py": st.Page("pages/tco.py", title="TCO", icon=":material/savings:", url_path="tco"),
    "what_if.py": st.Page("pages/what_if.py", title="What-if", icon=":material/tune:", url_path="what_if"),
    "calibration.py": st.Page("pages/calibration.py", title="Calibration", icon=":material/sensors:",
                              url_path="calibration"),
    "claims.py": st.Page("pages/claims.py", title="Claims & validation", icon=":material/fact_check:",
                         url_path="claims"),
    "methodology.py": st.Page("pages/methodology.py", title="Methodology", icon=":material/menu_book:",
                              url_path="methodology"),
}

# url_path = file stem, so a page first opened by Streamlit's legacy pages/ router keeps its identity when
# pages/ui.py reruns it through this file (see ui.require_app)
# the default page is served at "/"; the same page is also served at /frontier (hidden from the menu), so a link
# to /frontier opens it rather than "Page not found"
ALIASES = [st.Page("pages/frontier.py", title="Frontier", icon=":material/show_chart:", url_path="frontier",
                   visibility="hidden")]
with server.rerun_slot():  # sessions take turns (see pages/server.py)
    navigation = st.navigation(list(PAGES.values()) + ALIASES, position="top")
    ui.check_query_params()
    ui.apply_presentation_requests()
    st.session_state["_scenario"] = ui.sidebar()
    ui.presentation_css(st.session_state["_scenario"].present)
    if st.session_state.get("url_notice"):
        st.warning(st.session_state.pop("url_notice"))
    st.session_state["_app_ran"] = True  # pages check this to know app.py framed them in this run
    navigation.run()
server.freeze_heap_once()
