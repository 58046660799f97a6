"""Unrolled's Streamlit entry point: the pages (Explore, Compare, Train) via st.navigation. Run it with `python3 dev.py app`; Streamlit executes this file as __main__, so run() is
called at the bottom rather than under an `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

try:
    from dashboard.screens import compare
    from dashboard.screens import explore
    from dashboard.ui import present as present_ui
    from dashboard.screens import train as train_page
except ImportError:  # no editable install: Streamlit puts only dashboard/ on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from dashboard.screens import compare
    from dashboard.screens import explore
    from dashboard.ui import present as present_ui
    from dashboard.screens import train as train_page


def run() -> None:
    """Set up the page and run the selected one."""
    st.set_page_config(page_title="Unrolled", page_icon="🔁", layout="wide",
                       initial_sidebar_state=present_ui.sidebar_state())
    present_ui.toggle()  # on every page; `present=1` in the URL turns it on
    pages = [st.Page(explore.page, title="Explore", icon="🔎", url_path="explore", default=True),
             st.Page(compare.page, title="Compare", icon="⚖️", url_path="compare"),
             st.Page(train_page.page, title="Train", icon="🏋️", url_path="train")]
    st.navigation(pages).run()


run()
