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
import os

import plotly.graph_objects as go
import streamlit as st
import torch

from engine import Config, Trace

from . import figures as F
from .charts import PLOTLY_CONFIG

# torch's intra-op threads for the engine call. The unroll is a chain of small per-step matrix
# products: a second thread saves little on an idle 2-core machine and, when anything else runs
# (the browser, another session), makes the run many times slower (LSTM T=1000 H=256 under load:
# 1.7-2.4 s with one thread, 16-32 s with two). UNROLLED_TORCH_THREADS overrides it.
ENGINE_THREADS = int(os.environ.get("UNROLLED_TORCH_THREADS", "1"))


def freeze_startup_objects() -> None:
    """Move every object alive now (torch, Plotly, Streamlit and their modules: about 250,000)
    out of the garbage collector's sight. Streamlit runs a full collection after every script
    run (runner.postScriptGC) and holds the interpreter lock while it scans them: 0.1-0.4 s per
    update in which no message reaches the browser. Objects made later are collected as before."""
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


VALUES = "vectors_figure"  # the values-at-t plot: the one row of a view that a cursor move redraws


def _parts(name: str, trace: Trace, layer: int, direction: int, sample: int) -> tuple[list, str]:
    """(builders of the view's plots as (name, function, height), the figure's title)."""
    where = dict(layer=layer, direction=direction, sample=sample, cursor=0)
    note = F.where_note(trace, layer, direction, sample)
    if name == "gradient":
        h, n, b = F.GRADIENT_HEIGHTS
        return [("grad_heatmap_figure", lambda: F.grad_heatmap_figure(trace, **where), h),
                ("grad_norm_figure", lambda: F.grad_norm_figure(trace, **where), n),
                ("weight_terms_figure",
                 lambda: F.weight_terms_figure(trace, layer, direction, cursor=0), b),
                (VALUES, lambda: F.vectors_figure(trace, layer, direction, sample, t=0),
                 F.VALUES_HEIGHT)], f"Gradient through time{note}"
    if name == "hidden":
        qs = ["hidden"] + (["cell"] if trace.cell is not None else [])
        return [("state_figure", lambda q=q: F.state_figure(trace, q, **where), F.STATE_HEIGHT)
                for q in qs], f"States{note}"
    if name == "gates":
        return [("gates_figure", lambda: F.gates_figure(trace, **where), 0)], ""
    if name == "signals":
        return [("signals_figure", lambda: F.signals_figure(trace, sample=sample, cursor=0), 0)], ""
    raise ValueError(f"render: no cached figure for view {name!r}")


@st.cache_data(max_entries=24, show_spinner=False)
def view_spec(config: Config, influence: bool, jacobian: bool, name: str, layer: int,
              direction: int, sample: int, _trace: Trace) -> tuple[dict | None, list[str], int]:
    """(the view's figure as JSON with its cursor at step 0, messages for plots that failed, the
    row of its values-at-t plot or 0). Keyed by what the trace was computed from and the view:
    built once, whatever the cursor."""
    parts, title = _parts(name, _trace, layer, direction, sample)
    figs, heights, errors, values_row = [], [], [], 0
    for builder, build, height in parts:
        try:
            figs.append(build())
            heights.append(height)
            values_row = len(figs) if builder == VALUES else values_row
        except Exception as e:  # noqa: BLE001 - one failing plot must not take the others down
            errors.append(f"Could not draw this plot ({builder}): {type(e).__name__}: {e}")
    if not figs:
        return None, errors, 0
    if len(parts) == 1:
        return figs[0].to_plotly_json(), errors, 0
    time_rows = len(figs) - (1 if values_row else 0)
    return F.stack_figures(figs, heights, title, time_rows).to_plotly_json(), errors, values_row


def draw_view(name: str, trace: Trace, where: dict, t: int, view, key: str) -> None:
    """Draw one view's figure with the time cursor at t (cached figure, moved cursor)."""
    spec, errors, values_row = view_spec(trace.config, view.influence, view.jacobian, name,
                                         where["layer"], where["direction"], where["sample"], trace)
    for e in errors:
        st.error(e)
    if spec is not None and values_row:  # the values at t: the one part a cursor move rebuilds
        try:
            spec = F.replace_row(spec, values_row, F.vectors_figure(trace, t=t, **where))
        except Exception as e:  # noqa: BLE001 - the rest of the figure still draws
            st.error(f"Could not draw this plot (vectors_figure): {type(e).__name__}: {e}")
            spec = F.replace_row(spec, values_row, go.Figure())
    if spec is not None:
        # _validate=False: the spec came out of Plotly already validated; re-checking every
        # property costs more than the rest of a cursor move
        fig = go.Figure(F.move_cursor(spec, t), _validate=False)
        st.plotly_chart(fig, key=key, config=PLOTLY_CONFIG, width="stretch")


# Once per server process (a module body runs once): everything imported so far lives forever.
freeze_startup_objects()
