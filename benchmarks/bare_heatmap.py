"""The yardstick for bench_browser.py: a bare Streamlit page with one Plotly heatmap of random
256 x T float32 data. URL parameter T sets the width; the 'seed' number input redraws it."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

T = int(st.query_params.get("T", "50"))
seed = st.number_input("seed", min_value=0, value=0, step=1, key="seed")
z = np.random.default_rng(seed).standard_normal((256, T), dtype=np.float32)  # (H, T)
st.plotly_chart(go.Figure(go.Heatmap(z=z, colorscale="RdBu_r")), key="bare")
