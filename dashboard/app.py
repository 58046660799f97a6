"""Unrolled's Streamlit entry point: run() starts the server's one-time work and the pages
(Explore, Compare, Train) via st.navigation. Run it with `python3 dev.py app`; Streamlit executes
this file as __main__, so run() is called at the bottom rather than under a __main__ guard.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

try:  # light modules only: the pages (torch, the engine) are imported in run()
    from dashboard.ui import reconnect, startup
except ImportError:  # no editable install: Streamlit puts only dashboard/ on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from dashboard.ui import reconnect, startup


def run() -> None:
    """Set up the page, do the server's start-up work once, and run the selected page. The first
    chart's path comes first (the cold start): plotly.js goes to the browser while the pages'
    imports run, and the work only later reruns need waits until the page has been sent."""
    # Material icons, not emoji: checking an emoji imports Streamlit's emoji catalog and compiles
    # its regular expression (0.1-0.2 s), which would delay the plotly.js preload below
    st.set_page_config(page_title="Unrolled", page_icon=":material/repeat:", layout="wide")
    startup.start_once()  # plotly.js where the charts load it from
    startup.preload_plotly_js()  # the browser fetches and parses it during the imports below
    from dashboard.screens import compare, explore, train  # torch, the engine: 2-3 s once
    from dashboard.ui import present

    startup.freeze_imports()  # out of the collections Streamlit runs after every script run
    startup.defer_compiled_loops()  # the first page without numba; loaded after it is sent
    startup.keep_freed_memory()  # freed arrays stay in the heap for the next unroll

    st.set_page_config(initial_sidebar_state=present.sidebar_state())
    present.toggle()  # on every page; `present=1` in the URL turns it on
    pages = [st.Page(explore.page, title="Explore", icon=":material/search:", url_path="explore",
                     default=True),
             st.Page(compare.page, title="Compare", icon=":material/balance:", url_path="compare"),
             st.Page(train.page, title="Train", icon=":material/fitness_center:",
                     url_path="train")]
    st.navigation(pages).run()
    reconnect.rerun_on_reconnect()  # a page that changes replica redraws from its URL
    startup.after_first_page()  # once, after the first page: compiled loops, frozen objects


run()
