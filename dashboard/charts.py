"""Drawing a figure on a page: one place for the Plotly config and for failures becoming messages.

Every page draws through draw(), so page-wide choices (modebar buttons, presentation styling)
are made once here and never inside the pure figure builders.
"""

from __future__ import annotations

import streamlit as st

from .safe import md

PLOTLY_CONFIG = {"displaylogo": False}


def draw(build, *args, key: str, **kwargs) -> None:
    """Build one figure and draw it; a failure becomes a message, never a traceback."""
    try:
        fig = build(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the page must stay up whatever a builder hits
        st.error(f"Could not draw this plot ({build.__name__}): {type(e).__name__}: {md(str(e))}")
        return
    st.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, width="stretch")
