"""Presentation mode on the page: the flag (URL `present=1`, then session state), its toggle, the
page's larger text, chart columns that stack into one chart per row when it is on, and tables
in that larger text."""

from __future__ import annotations

import streamlit as st

from dashboard import theme
from dashboard.state import explore as S
from dashboard.state.schema import parse_value

KEY = "present"  # session flag; not a widget key, so it survives pages that draw no toggle
WIDGET = "view_present"  # the toggle's key (also its CSS class: st-key-view_present)


def presenting() -> bool:
    """Whether presentation mode is on: from the URL on a session's first run, then the toggle.
    A bad URL value counts as off (the page's URL parsing warns about it by name)."""
    ss = st.session_state
    if KEY not in ss:
        raw = st.query_params.get("present")
        try:
            ss[KEY] = raw is not None and parse_value(S.VIEW_PARAM["present"], raw) is True
        except ValueError:
            ss[KEY] = False
    return bool(ss[KEY])


def sidebar_state() -> str:
    """st.set_page_config's initial_sidebar_state: collapsed while presenting."""
    return "collapsed" if presenting() else "auto"


def _flip() -> None:
    st.session_state[KEY] = bool(st.session_state[WIDGET])


def toggle() -> None:
    """The presentation-mode toggle (main area, so it stays reachable with the sidebar shut),
    and, when on, the page's larger text."""
    st.session_state[WIDGET] = presenting()
    st.toggle("Presentation mode", key=WIDGET, on_change=_flip, help=S.VIEW_PARAM["present"].help)
    if presenting():
        page_style()


def page_style() -> None:
    """Larger text for the whole page: Streamlit sizes its text in rem, so the root size scales it."""
    st.html(f"<style>html {{ font-size: {theme.PRESENT_PAGE_FONT}px; }}</style>")


def chart_columns(spec):
    """st.columns(spec) normally; while presenting, one full-width container per column, so
    every chart gets its own row."""
    n = spec if isinstance(spec, int) else len(spec)
    if presenting():
        return [st.container() for _ in range(n)]
    return st.columns(spec)


def table(data, **kwargs) -> None:
    """A table: Streamlit's dataframe (sortable, scrolls), or while presenting a plain table
    (st.table) in the page's larger text: the dataframe draws on a canvas that the larger root
    font does not reach, so a room read its numbers at 14 px. kwargs: st.dataframe's."""
    if presenting():
        st.table(data, hide_index=kwargs.get("hide_index"))
    else:
        st.dataframe(data, **kwargs)
