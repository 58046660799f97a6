"""Drawing a figure on a page: one place for the Plotly config and for failures becoming messages.

Every page draws through draw(), so page-wide choices (modebar buttons, presentation styling)
are made once here and never inside the pure figure builders.
"""

from __future__ import annotations

import streamlit as st

from dashboard.figures.present import style_for_presentation
from dashboard.safe import md
from dashboard.ui import present as present_ui
from dashboard.ui.plot_component import plotly_chart

PLOTLY_CONFIG = {"displaylogo": False}
# The modebar's camera downloads the plot as it is on screen (zoom included): a PNG at twice the
# screen resolution (sharp in slides), or an SVG (vector, for print) when the user picks it.
IMAGE_OPTIONS = {"format": "png", "scale": 2}
IMAGE_FORMATS = ("png", "svg")
FORMAT_KEY = "image_format"  # session state: the camera's format on every page


def plotly_config(key: str) -> dict:
    """The Plotly config of one chart: the download is named after the chart, in the chosen format."""
    fmt = st.session_state.get(FORMAT_KEY, "png")
    fmt = fmt if fmt in IMAGE_FORMATS else "png"
    return {**PLOTLY_CONFIG, "toImageButtonOptions": {**IMAGE_OPTIONS, "format": fmt,
                                                      "filename": f"unrolled_{key}"}}


def image_format_ui() -> None:
    """Which format the camera in every plot's toolbar downloads."""
    st.radio("Plot toolbar camera downloads", IMAGE_FORMATS, key=FORMAT_KEY, horizontal=True,
             format_func=str.upper, help="Hover a plot and click the camera: PNG for slides, "
             "SVG (vector) for print.")


def guarded(body, hint: str) -> None:
    """Run a page (or a fragment of one); a failure no page code foresaw becomes a message with
    what to try, never a traceback. Exception, not BaseException: Streamlit's rerun and stop
    signals must pass through."""
    try:
        body()
    except Exception as e:  # noqa: BLE001 - the page never shows a traceback
        st.error(f"Something went wrong building this page: {type(e).__name__}: "
                 f"{md(str(e))}. {hint}")


def draw(build, *args, key: str, **kwargs) -> None:
    """Build one figure and draw it; a failure becomes a message, never a traceback."""
    try:
        fig = build(*args, **kwargs)
        if present_ui.presenting():
            fig = style_for_presentation(fig)
    except Exception as e:  # noqa: BLE001 - the page must stay up whatever a builder hits
        st.error(f"Could not draw this plot ({build.__name__}): {type(e).__name__}: {md(str(e))}")
        return
    plotly_chart(fig, key=key, config=plotly_config(key))
