"""Drawing a figure on a page: one place for the Plotly config and for failures becoming messages.

Every page draws through draw(), so page-wide choices (modebar buttons, presentation styling)
are made once here and never inside the pure figure builders.
"""

from __future__ import annotations

import streamlit as st

from . import present_ui
from .present import style_for_presentation
from .safe import md

PLOTLY_CONFIG = {"displaylogo": False}
# The modebar's camera downloads the plot as it is on screen (zoom included), as a PNG at twice
# the screen resolution (sharp in slides). SVG needs a JavaScript button, which a JSON config
# cannot carry: the HTML report (dashboard/export.py) has one on every plot.
IMAGE_OPTIONS = {"format": "png", "scale": 2}


def plotly_config(key: str) -> dict:
    """The Plotly config of one chart: the PNG download is named after the chart."""
    return {**PLOTLY_CONFIG, "toImageButtonOptions": {**IMAGE_OPTIONS, "filename": f"unrolled_{key}"}}


def draw(build, *args, key: str, **kwargs) -> None:
    """Build one figure and draw it; a failure becomes a message, never a traceback."""
    try:
        fig = build(*args, **kwargs)
        if present_ui.presenting():
            fig = style_for_presentation(fig)
    except Exception as e:  # noqa: BLE001 - the page must stay up whatever a builder hits
        st.error(f"Could not draw this plot ({build.__name__}): {type(e).__name__}: {md(str(e))}")
        return
    st.plotly_chart(fig, key=key, config=plotly_config(key), width="stretch")
