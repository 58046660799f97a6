"""Work done once per server process, from app.run() (never as a side effect of an import): the
plotly.js copy the charts load, the engine's compiled loops, and freezing start-up objects; and
the engine's thread count for every page's engine call."""

from __future__ import annotations

import contextlib
import gc
import logging
import os

import streamlit as st
import torch

from dashboard.ui.plot_component import install_plotly_js
from engine import Config, unroll

# torch's intra-op threads for the engine call. The unroll is a chain of small per-step matrix
# products: a second thread saves little on an idle 2-core machine and, when anything else runs
# (the browser, another session), makes the run many times slower (LSTM T=1000 H=256 under load:
# 1.7-2.4 s with one thread, 16-32 s with two). UNROLLED_TORCH_THREADS overrides it.
ENGINE_THREADS = int(os.environ.get("UNROLLED_TORCH_THREADS", "1"))


@contextlib.contextmanager
def engine_threads():
    """Run the engine on ENGINE_THREADS torch threads, then restore the setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(ENGINE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_compiled_loops() -> None:
    """One tiny LSTM unroll: imports numba and loads the engine's compiled loops (from their disk
    cache, or compiles them once), which the engine otherwise does on the first LSTM run. Done
    before freeze_startup_objects so that numba's ~80,000 objects are frozen with the rest: left
    in sight they made every full collection take 45-95 ms (measured with gc.collect timed).
    Only a speed-up: if it fails, the page's own engine call reports the problem in words."""
    try:
        with engine_threads():
            unroll(Config(cell="lstm", seq_len=2, hidden_size=2), influence=False, jacobian=False)
    except Exception:  # noqa: BLE001 - never take the page down at start-up
        logging.getLogger(__name__).exception("warming up the compiled loops failed")


def freeze_startup_objects() -> None:
    """Move every object alive now (torch, numba, Plotly, Streamlit and their modules: about
    350,000) out of the garbage collector's sight. Streamlit runs a full collection after every
    script run (runner.postScriptGC) and holds the interpreter lock while it scans them: 0.1-0.4 s
    per update in which no message reaches the browser. Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


@st.cache_resource(show_spinner=False)
def start_once() -> bool:
    """The start-up work, once per server process (the first run of any session): every page
    module is imported by then, so the freeze covers them all."""
    install_plotly_js()
    load_compiled_loops()
    freeze_startup_objects()
    return True
