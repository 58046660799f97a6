"""Every chart on the pages: a Plotly figure in a small Streamlit component that redraws in place.

Why not st.plotly_chart: its element is keyed by a hash of the figure, so every new figure mounts
a new chart, and after mounting it applies its theme with a new fullscreen-button callback in
the config, which makes Plotly draw the whole figure a second time. Measured in Chromium
(benchmarks/bench_browser.py, LSTM gradient view): two full draws per update, 80-130 ms of the
0.3-0.6 s a seed change takes. This component (plot_component.js) keeps one chart per key and
updates it with a single Plotly.react; the figure JSON is the same one st.plotly_chart sends.

Plotly.js itself is the copy shipped with the plotly Python package (so it always matches the
JSON plotly.py writes), served once per page by Streamlit's static file serving from
dashboard/static/ (server.enableStaticServing, set in .streamlit/config.toml and by dev.py),
copied there, with a zip of it that the page fetches (plotly_loader.js), by ui/startup.py when the
server starts.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

from dashboard import theme
from dashboard.figures.stack import split_cursor
from dashboard.ui import cursor, startup

_chart = st.components.v2.component(
    "unrolled_chart", js=startup.with_plotly_loader("plot_component.js"),
    isolate_styles=False)  # no shadow root: Plotly's stylesheet lives in the page's <head>


def typed_array(a: np.ndarray) -> dict:
    """A numpy array as Plotly's typed-array JSON (the form plot_component.js decodes)."""
    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.str.lstrip("<>|="), "shape": ", ".join(map(str, a.shape)),
            "bdata": base64.b64encode(a.astype(a.dtype.newbyteorder("<")).tobytes()).decode()}


def payload(fig: go.Figure, config: dict, key: str, *, follow: bool = False,
            values: dict | None = None) -> bytes:
    """What the browser receives: the figure as Plotly JSON (numpy arrays as typed arrays, as
    st.plotly_chart sends them) with the page template, its Plotly config and its key; UTF-8
    JSON bytes, so the figure's JSON is not escaped a second time inside a string.
    follow: the chart follows the time cursor in the browser: its cursor lines travel apart
    ("cursor", stack.split_cursor), so the figure no longer depends on t (ui/cursor.py).
    values: the values readout's window (figures/gradient.values_window), for the same."""
    spec = fig.to_plotly_json()  # a copy (3 ms at T=5000): the caller's figure is not touched
    spec["layout"] = {**spec["layout"], "template": theme.PAGE_TEMPLATE}
    extra = ""
    if follow:
        spec, lines = split_cursor(spec)
        extra += f', "cursor": {json.dumps(lines)}' if lines else ""
    if values is not None:
        window = {**values, "y": [typed_array(v) for v in values["y"]]}
        extra += f', "values": {json.dumps(window)}'
    return (f'{{"key": {json.dumps(key)}, "config": {json.dumps(config)}{extra}, '
            f'"figure": {pio.to_json(spec, validate=False)}}}').encode()


def plotly_chart(fig: go.Figure, *, key: str, config: dict, values: dict | None = None) -> None:
    """Draw fig full width under this key; the next run's figure for the key redraws it in place.
    Inside cursor.following() the chart follows the page's time cursor in the browser."""
    data = payload(fig, config, key, follow=cursor.follows(), values=values)
    _chart(data=data, key=key, width="stretch")

