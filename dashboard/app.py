"""Unrolled's Streamlit page: for now, one default unroll summarised as a table.

Run it with `python3 dev.py app`; Streamlit executes this file as __main__, so run() is called at
the bottom rather than under an `if __name__ == "__main__"` guard.
"""

from __future__ import annotations

import os
import sys

import pandas as pd
import streamlit as st

try:
    from engine import Config, unroll
except ImportError:  # no editable install: Streamlit puts only dashboard/ on sys.path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from engine import Config, unroll


def _fmt(value: object) -> str:
    """One display string per value, so the table's single column has a single Arrow type."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@st.cache_data
def summary_table() -> pd.DataFrame:
    """Headline numbers of the default model: loss, W_hh's spectral radius and regime, half-life."""
    trace = unroll(Config())
    spectrum, decay = trace.spectrum[0], trace.decay[0]  # first layer, forward direction
    rows = [
        ("loss", trace.loss),
        ("spectral radius of W_hh", spectrum["spectral_radius"]),
        ("regime", spectrum["regime"]),
        ("fitted half-life (steps)", decay["half_life"]),
    ]
    return pd.DataFrame({"quantity": [q for q, _ in rows], "value": [_fmt(v) for _, v in rows]})


def run() -> None:
    st.set_page_config(page_title="Unrolled", layout="wide")
    st.title("Unrolled")
    st.caption(
        "Backpropagation through time, step by step. The interactive explorer is coming; "
        "below, real numbers from the engine's default model."
    )
    st.dataframe(summary_table(), hide_index=True)


run()
