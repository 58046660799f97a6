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


CURSOR = "unrolled_cursor"  # the time cursor's component (ui/cursor.py)


def cursor_data(at: AppTest) -> dict | None:
    """What the page's time cursor was sent ({"t", "T", "label", ...}), or None without one."""
    found = [json.loads(el.proto.json) for el in at.get("bidi_component")
             if el.proto.component_name == CURSOR]
    assert len(found) <= 1, f"one time cursor per page, found {len(found)}"
    return found[0] if found else None


def move_cursor(at: AppTest, t: int, state_key: str = "view_t") -> AppTest:
    """Move the time cursor to t as the browser's move does when it reaches the server."""
    at.session_state[state_key] = t
    return at.run()


def shown(payload: dict, t: int | None) -> dict:
    """The figure as the browser draws it with the time cursor at t (plot_component.js): the
    cursor lines that travel apart ("cursor") placed at t, the values readout's row t."""
    fig = decode(payload["figure"])
    if t is None:
        return fig
    for ln in payload.get("cursor", ()):
        along, across = ("x", "y") if ln["axis"] == "x" else ("y", "x")
        fig["layout"].setdefault("shapes", []).append({
            "type": "line", "name": "time cursor", "xref": ln["xref"], "yref": ln["yref"],
            f"{along}0": t, f"{along}1": t, f"{across}0": ln["from"], f"{across}1": ln["to"],
            "line": ln["line"]})
    values = payload.get("values")
    if values and values["start"] <= t < values["stop"]:
        row = t - values["start"]
        for trace, y in zip(fig["data"], decode(values["y"]), strict=False):
            trace["y"] = y[row]
        words = values["words"] or [""] * (values["stop"] - values["start"])
        head = f"{values['title']}{values['start']}{words[0]}"  # the figure is drawn at start
        suffix = fig["layout"]["title"]["text"].removeprefix(head)
        fig["layout"]["title"]["text"] = f"{values['title']}{t}{words[row]}{suffix}"
    return fig


def chart_specs(at: AppTest) -> list[dict]:
    """The decoded figure of every chart on the page (numpy arrays for typed arrays), as the
    browser draws it at the page's time cursor."""
    t = (cursor_data(at) or {}).get("t")
    return [shown(p, t) for p in chart_payloads(at)]


def charts_by_key(at: AppTest) -> dict[str, dict]:
    """The decoded figure of every chart on the page, by its key, as the browser draws it."""
    t = (cursor_data(at) or {}).get("t")
    return {p["key"]: shown(p, t) for p in chart_payloads(at)}


FAILURE = "simulated engine failure"


def break_engine(monkeypatch) -> None:
    """Make every page's engine call (dashboard/ui/compute.py) raise RuntimeError(FAILURE)."""
    from dashboard.ui import compute

    def broken(*args, **kwargs):
        raise RuntimeError(FAILURE)

    monkeypatch.setattr(compute, "unroll", broken)
