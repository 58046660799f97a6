"""The Explore page's time plots, drawn fast: each view is one cached figure, and a time-cursor move
only moves the cursor lines in it.

A view's plots are stacked into one figure on one time axis (figures.stack_figures): one Plotly
root for the browser to draw instead of three. The figure is built once per (config, view) and
kept as JSON; a cursor move re-sends it with the lines moved (figures.move_cursor), without
rebuilding a single Plotly object. A plot whose builder fails becomes a message; the others draw.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os

import plotly.graph_objects as go
import streamlit as st
import torch

from dashboard.figures import plots as F
from dashboard.figures import views as V
from dashboard.figures.present import style_for_presentation
from dashboard.safe import md
from dashboard.state.limits import CACHE_TTL
from dashboard.ui import present as present_ui
from dashboard.ui.charts import plotly_config
from dashboard.ui.plot_component import plotly_chart
from engine import Config, Trace, unroll

# torch's intra-op threads for the engine call. The unroll is a chain of small per-step matrix
# products: a second thread saves little on an idle 2-core machine and, when anything else runs
# (the browser, another session), makes the run many times slower (LSTM T=1000 H=256 under load:
# 1.7-2.4 s with one thread, 16-32 s with two). UNROLLED_TORCH_THREADS overrides it.
ENGINE_THREADS = int(os.environ.get("UNROLLED_TORCH_THREADS", "1"))


def load_compiled_loops() -> None:
    """One tiny LSTM unroll: imports numba and loads the engine's compiled loops (from their disk
    cache, or compiles them once), which the engine otherwise does on the first LSTM run. Done
    before freeze_startup_objects so that numba's ~80,000 objects are frozen with the rest: left
    in sight they made every full collection take 45-95 ms (measured with gc.collect timed).
    Only a speed-up: if it fails, the page's own engine call reports the problem in words."""
    try:
        with engine_threads():
            unroll(Config(cell="lstm", seq_len=2, hidden_size=2), influence=False, jacobian=False)
    except Exception:  # noqa: BLE001 - never take the page down at import
        logging.getLogger(__name__).exception("warming up the compiled loops failed")


def freeze_startup_objects() -> None:
    """Move every object alive now (torch, numba, Plotly, Streamlit and their modules: about
    350,000) out of the garbage collector's sight. Streamlit runs a full collection after every
    script run (runner.postScriptGC) and holds the interpreter lock while it scans them: 0.1-0.4 s
    per update in which no message reaches the browser. Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def engine_threads():
    """Run the engine on ENGINE_THREADS torch threads, then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(ENGINE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@st.cache_data(max_entries=24, ttl=CACHE_TTL, show_spinner=False)
def view_spec(config: Config, influence: bool, jacobian: bool, name: str, layer: int,
              direction: int, sample: int, _trace: Trace) -> tuple[dict | None, list[str], int]:
    """(the view's figure as JSON with its cursor at step 0, messages for plots that failed, the
    row of its values-at-t plot or 0). Keyed by what the trace was computed from and the view:
    built once, whatever the cursor."""
    return V.build_view(name, _trace, layer, direction, sample)


def draw_view(name: str, trace: Trace, where: dict, t: int, view, key: str) -> None:
    """Draw one view's figure with the time cursor at t (cached figure, moved cursor)."""
    spec, errors, values_row = view_spec(trace.config, view.influence, view.jacobian, name,
                                         where["layer"], where["direction"], where["sample"], trace)
    for e in errors:
        st.error(md(e))
    if spec is None:
        return
    try:  # the values at t: the one part a cursor move rebuilds; the lines move to t
        fig = V.with_cursor(spec, values_row, trace, where, t)
    except Exception as e:  # noqa: BLE001 - the rest of the figure still draws
        if not values_row:  # nothing was rebuilt: not a failing plot, a failing page
            raise
        st.error(f"Could not draw this plot (vectors_figure): {type(e).__name__}: {md(str(e))}")
        fig = V.with_cursor(F.replace_row(spec, values_row, go.Figure()), 0, trace, where, t)
    if present_ui.presenting():
        fig = style_for_presentation(fig)
    plotly_chart(fig, key=key, config=plotly_config(key))


# Once per server process (a module body runs once): everything imported so far lives forever.
load_compiled_loops()
freeze_startup_objects()
