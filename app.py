"""AI Factory Frontier dashboard: entry point ("picture frame") for the pages in pages/.

Pages are listed explicitly with st.navigation, which also switches off Streamlit's legacy automatic
discovery of the pages/ folder. Run with ``python3 dev.py run``.
"""

import streamlit as st

st.set_page_config(page_title="AI Factory Frontier", page_icon="⚡", layout="wide")

navigation = st.navigation([
    st.Page("pages/estimate.py", title="Estimate", default=True, url_path="estimate"),
])
navigation.run()
