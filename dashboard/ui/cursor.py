"""The time cursor that follows the hand: moved in the browser, told to the server afterwards.

A lecturer walks a room through the unrolled network by dragging the cursor (or pressing the
arrow keys on it). Each step used to wait for a server round trip (0.24-0.41 s). Now the cursor
is a small component (cursor_component.js): a move redraws every chart's cursor lines and the
"values at step t" readout in the browser at once (plot_component.js holds what they need), and
only when the hand rests (250 ms) does the component tell the server, which then updates the
URL and the equations section.

For that, the charts that follow the cursor are sent without it: following() marks the charts
drawn inside it, and their payload carries the cursor lines' style apart from the figure
(figures/stack.split_cursor), so a figure's JSON no longer depends on t. The server's redraw
after a move then sends identical figures, which Streamlit's message cache passes as a short
reference instead of the figure again.
"""

from __future__ import annotations

import contextlib
import contextvars
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
_FOLLOW: contextvars.ContextVar[bool] = contextvars.ContextVar("unrolled_follow", default=False)

_cursor = st.components.v2.component(
    "unrolled_cursor", js=(HERE / "cursor_component.js").read_text(encoding="utf-8"),
    isolate_styles=False)  # the page's font and colours, like Streamlit's own widgets


@contextlib.contextmanager
def following():
    """Charts drawn inside follow the page's time cursor in the browser."""
    token = _FOLLOW.set(True)
    try:
        yield
    finally:
        _FOLLOW.reset(token)


def follows() -> bool:
    """Whether the chart being drawn follows the time cursor (inside following())."""
    return _FOLLOW.get()


def time_cursor(label: str, T: int, state_key: str, *, help: str = "",
                labels: list[str] | None = None) -> int:
    """The cursor over steps 0..T-1; st.session_state[state_key] holds t (the page sets it before,
    e.g. from the URL; a move in the browser lands there before the next run). Returns t.
    labels: a name per step (a sentence's words), shown beside t."""
    ss = st.session_state

    def moved() -> None:
        value = (ss.get(f"{state_key}_cursor") or {}).get("t")
        if isinstance(value, int) and 0 <= value < T:
            ss[state_key] = value

    t = ss[state_key]
    data = {"t": t, "T": T, "label": label, "help": help,
            "labels": list(labels) if labels is not None and len(labels) == T else None}
    _cursor(key=f"{state_key}_cursor", data=data, default={"t": t}, on_t_change=moved,
            width="stretch")
    return t
