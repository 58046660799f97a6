"""The engine calls the pages make, cached by Streamlit: one Trace per configuration, shared by
every rerun and session (cache_resource: no pickled copy; figure builders never modify a Trace)."""

from __future__ import annotations

import streamlit as st
import torch

from dashboard.state.limits import CACHE_TTL
from dashboard.ui.startup import engine_threads
from engine import Config, Trace, unroll
from engine.inputs import make_task


@st.cache_resource(max_entries=6, ttl=CACHE_TTL, show_spinner="Unrolling the network…")
def explore_trace(config: Config, influence: bool, jacobian: bool, series=None) -> Trace:
    """Explore's engine.unroll, cached per (config, heavy views, the series' values for a
    'series' task: an upload's content, not only its name); heavy views only when shown.
    cache_resource, not cache_data: pickling a Trace cost 0.2 s per new run and 0.04 s per rerun
    at T=5000, H=256."""
    # adjoints=False: the per-step BPTT tensors are never drawn here and would double the cache
    with engine_threads():  # one torch thread: see startup.ENGINE_THREADS
        return unroll(config, influence=influence, jacobian=jacobian, adjoints=False,
                      series=series)


@st.cache_resource(max_entries=8, ttl=CACHE_TTL, show_spinner="Unrolling the network…")
def side_trace(config: Config, data: Config, series=None) -> Trace:
    """One Compare side: engine.unroll on the inputs and targets made from `data` (A's input
    knobs, state/compare.py's data_config) and, for a 'series' task, the series' values, so A
    and B read the very same tensors."""
    x, y = make_task(data, series=series)  # (T, B, I), (T, B, O)
    with engine_threads():
        return unroll(config, inputs=x, targets=y, influence=False, jacobian=False,
                      adjoints=False)


@st.cache_resource(max_entries=4, ttl=CACHE_TTL, show_spinner="Unrolling your model…")
def own_trace(config: Config, sha256: str, _weights: dict, influence: bool, jacobian: bool,
              series=None, data_sha256: str | None = None, _data: tuple | None = None) -> Trace:
    """Explore's engine.unroll of an uploaded model (ui/weights.py), keyed by the file's SHA-256
    (its weights are not hashed again). The task's inputs at the model's input_size, or _data =
    (x (T, 1, I), y (T, 1, O) or None) from your CSV (keyed by data_sha256); the targets when
    they are as wide as the model's output, else zeros (a note says so)."""
    if _data is None:
        x, y = make_task(config, series=series)  # (T, B, I), (T, B, k)
    else:
        x = torch.as_tensor(_data[0])
        y = x.new_zeros(*x.shape[:2], 0) if _data[1] is None else torch.as_tensor(_data[1])
    I, O = _weights["weight_ih_l0"].shape[1], _weights["readout.weight"].shape[0]
    if x.shape[-1] != I:
        raise ValueError(f"the task {config.task!r} gives inputs x_t of width {x.shape[-1]}; your "
                         f"model reads input_size={I}: pick a task that takes the model's width "
                         "(noise, impulse, sentence)")
    note = None
    if y.shape[-1] != O:
        note = ("your CSV has no target columns" if y.shape[-1] == 0 else
                f"the task's targets are {y.shape[-1]} wide and your model gives {O} outputs")
        note += ": the targets are zero, so L_t = mean_b |y_hat_t|^2"
        y = y.new_zeros(*y.shape[:2], O)
    with engine_threads():
        trace = unroll(config, inputs=x, targets=y, weights=_weights, influence=influence,
                       jacobian=jacobian, adjoints=False)
    if note:
        trace.notes.append(note)
    trace.weights_sha256 = f"{sha256}:{data_sha256}"  # the figure cache's key (charts.view_spec)
    return trace


@st.cache_data(max_entries=16, ttl=CACHE_TTL, show_spinner=False)
def spectra(config: Config, _trace: Trace) -> list[dict]:
    """W_hh's spectrum per layer-direction (an eigendecomposition each), computed only when shown
    and keyed by the config alone: W_hh depends on nothing else, so toggling a heavy view or
    moving the cursor does not redo it."""
    return _trace.spectrum
