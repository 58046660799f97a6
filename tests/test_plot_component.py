"""The chart element's server side (dashboard/ui/plot_component.py): what a chart sends to the
browser. Its browser side: tests/test_browser_chart.py; the plotly.min.js the page loads:
tests/test_startup.py."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
from plotly_decode import decode

from dashboard import theme
from dashboard.ui import plot_component as PC


def _figure() -> go.Figure:
    z = np.arange(12, dtype=np.float32).reshape(3, 4)  # (H, T)
    return go.Figure(go.Heatmap(z=z), layout=dict(title=dict(text="a title"), height=300))


def test_payload_is_the_figure_with_the_page_template_its_config_and_key():
    fig = _figure()
    template_before = fig.layout.template.to_plotly_json()
    config = {"displaylogo": False, "toImageButtonOptions": {"filename": "unrolled_k"}}
    raw = PC.payload(fig, config, "fig_k")
    sent = json.loads(raw)
    assert sent["key"] == "fig_k" and sent["config"] == config
    figure = decode(sent["figure"])
    assert figure["layout"]["template"] == theme.PAGE_TEMPLATE  # not Plotly's 7 kB default
    assert figure["layout"]["title"]["text"] == "a title" and figure["layout"]["height"] == 300
    z = figure["data"][0]["z"]
    assert z.dtype == np.float32 and np.array_equal(z, np.arange(12).reshape(3, 4))
    assert b'"dtype":"f4"' in raw, "arrays travel as base64 typed arrays, as st.plotly_chart sends"
    assert fig.layout.template.to_plotly_json() == template_before, "the caller's figure is untouched"


def test_payload_escapes_text_as_json():
    fig = go.Figure(layout=dict(title=dict(text='quote " backslash \\ </script> ünïcode')))
    sent = json.loads(PC.payload(fig, {}, 'key "x"'))
    assert sent["key"] == 'key "x"'
    assert sent["figure"]["layout"]["title"]["text"] == 'quote " backslash \\ </script> ünïcode'
