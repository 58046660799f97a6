"""Unrolled's Streamlit entry point: run() starts the server's one-time work and the pages
(Explore, Compare, Train) via st.navigation. Run it with `python3 dev.py app`; Streamlit executes
this file as __main__, so run() is called at the bottom rather than under a __main__ guard.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

try:
    from dashboard.screens import compare, explore, train
    from dashboard.ui import present, reconnect, startup
except ImportError:  # no editable install: Streamlit puts only dashboard/ on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from dashboard.screens import compare, explore, train
    from dashboard.ui import present, reconnect, startup


def run() -> None:
    """Set up the page, do the server's start-up work once, and run the selected page."""
    st.set_page_config(page_title="Unrolled", page_icon="🔁", layout="wide",
                       initial_sidebar_state=present.sidebar_state())
    startup.start_once()  # plotly.js copy, compiled loops, frozen start-up objects
    present.toggle()  # on every page; `present=1` in the URL turns it on
    pages = [st.Page(explore.page, title="Explore", icon="🔎", url_path="explore", default=True),
             st.Page(compare.page, title="Compare", icon="⚖️", url_path="compare"),
             st.Page(train.page, title="Train", icon="🏋️", url_path="train")]
    st.navigation(pages).run()
    reconnect.rerun_on_reconnect()  # a page that changes replica redraws from its URL


run()
