"""Drawing a figure on a page: the one drawing path, the Plotly config, and failures as messages.

Every chart goes through draw(build, ...): the builder (a pure figure function, or view_figure for
Explore's cached stacked views) makes a figure, presentation mode restyles it, and the chart
component draws it. Page-wide choices (modebar buttons, presentation styling) are made here once
and never inside the pure figure builders.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard.figures import stack
from dashboard.figures import views as stacked
from dashboard.figures.present import style_for_presentation
from dashboard.safe import md
from dashboard.state.limits import CACHE_TTL
from dashboard.ui import present as present_ui
from dashboard.ui.plot_component import plotly_chart
from engine import Config, Trace

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


def draw(build, *args, key: str, values: dict | None = None, **kwargs) -> None:
    """Build one figure and draw it; a failure becomes a message, never a traceback. A builder
    that returns None (it already said why) draws nothing. values: the values readout's window
    for the browser's time cursor (ui/cursor.py)."""
    try:
        fig = build(*args, **kwargs)
        if fig is not None and present_ui.presenting():
            fig = style_for_presentation(fig)
    except Exception as e:  # noqa: BLE001 - the page must stay up whatever a builder hits
        st.error(f"Could not draw this plot ({build.__name__}): {type(e).__name__}: {md(str(e))}")
        return
    if fig is not None:
        plotly_chart(fig, key=key, config=plotly_config(key), values=values)


@st.cache_data(max_entries=24, ttl=CACHE_TTL, show_spinner=False)
def view_spec(config: Config, influence: bool, jacobian: bool, name: str, layer: int,
              direction: int, sample: int, _trace: Trace,
              weights_sha256: str | None = None) -> tuple[dict | None, list[str]]:
    """(the view's figure as JSON with its cursor at step 0, messages for plots that failed).
    Keyed by what the trace was computed from and the view: built once, whatever the cursor
    (figures/views.py). The page draws the values at step t as a chart of its own (the browser
    redraws it when the cursor moves), so the view is built without that row. weights_sha256:
    an uploaded model's file (compute.own_trace), whose weights the config does not describe."""
    return stacked.build_view(name, _trace, layer, direction, sample)


def view_figure(name: str, trace: Trace, where: dict, t: int, view) -> go.Figure | None:
    """An Explore time view (its plots stacked on one time axis) with the time cursor at t: the
    cached figure with its cursor lines moved. A plot that failed is a message; the others draw."""
    spec, errors = view_spec(trace.config, view.influence, view.jacobian, name, where["layer"],
                             where["direction"], where["sample"], trace,
                             getattr(trace, "weights_sha256", None))
    for e in errors:
        st.error(md(e))
    # _validate=False: the spec came out of Plotly already validated
    return None if spec is None else go.Figure(stack.move_cursor(spec, t), _validate=False)
