"""Unrolled's Streamlit entry point: the pages, via st.navigation (Explore now; Compare and Train
later). Run it with `python3 dev.py app`; Streamlit executes this file as __main__, so run() is
called at the bottom rather than under an `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

try:
    from dashboard import explore, train_page
except ImportError:  # no editable install: Streamlit puts only dashboard/ on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from dashboard import explore, train_page


def run() -> None:
    """Set up the page and run the selected one."""
    st.set_page_config(page_title="Unrolled", page_icon="🔁", layout="wide")
    pages = [st.Page(explore.page, title="Explore", icon="🔎", url_path="explore", default=True)]
    pages.append(st.Page(train_page.page, title="Train", icon="🏋️", url_path="train"))
    st.navigation(pages).run()


run()
