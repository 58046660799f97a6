"""Shared AppTest helpers: run a page with URL query parameters, and insist it ran clean."""

from __future__ import annotations

import json

from plotly_decode import decode
from streamlit.testing.v1 import AppTest


def run_page(at: AppTest, query: dict | None = None) -> AppTest:
    """Run an AppTest (from_file or from_function) with these query parameters in the URL."""
    at.query_params.update(query or {})
    return at.run()


def ok(at: AppTest) -> AppTest:
    """at, after checking the page shows no exception and no error message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


CHART = "unrolled_chart"  # the component every page draws its charts with (ui/plot_component.py)


def chart_elements(at: AppTest) -> list:
    """The page's chart elements, in page order."""
    return [el for el in at.get("bidi_component") if el.proto.component_name == CHART]


def chart_payloads(at: AppTest) -> list[dict]:
    """What each chart sends to the browser: {"key", "config", "figure"} (figure as Plotly JSON)."""
    return [json.loads(el.proto.bytes) for el in chart_elements(at)]


def chart_specs(at: AppTest) -> list[dict]:
    """The decoded figure of every chart on the page (numpy arrays for typed arrays)."""
    return [decode(p["figure"]) for p in chart_payloads(at)]


def charts_by_key(at: AppTest) -> dict[str, dict]:
    """The decoded figure of every chart on the page, by its key."""
    return {p["key"]: decode(p["figure"]) for p in chart_payloads(at)}


FAILURE = "simulated engine failure"


def break_engine(monkeypatch) -> None:
    """Make every page's engine call (dashboard/ui/compute.py) raise RuntimeError(FAILURE)."""
    from dashboard.ui import compute

    def broken(*args, **kwargs):
        raise RuntimeError(FAILURE)

    monkeypatch.setattr(compute, "unroll", broken)
