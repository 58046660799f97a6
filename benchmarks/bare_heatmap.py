"""The yardstick for bench_browser.py: a bare Streamlit page with one Plotly heatmap of random
256 x T float32 data. URL parameter T sets the width; the 'seed' number input redraws it.
With sidebar=explore the page also draws Explore's own sidebar (its lecture presets and every
knob, by the functions Explore draws them with; nothing reads them): the same page with the
widgets a seed change makes Streamlit's frontend render again."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

T = int(st.query_params.get("T", "50"))
if st.query_params.get("sidebar") == "explore":
    from dashboard.state import explore as S
    from dashboard.ui.widgets import config_ui, presets_ui, set_widgets

    if "_ready" not in st.session_state:
        st.session_state["_ready"] = True
        set_widgets(S.DEFAULT_CONFIG, S.DEFAULT_VIEW)
    presets_ui()
    config_ui()
seed = st.number_input("seed", min_value=0, value=0, step=1, key="seed")
z = np.random.default_rng(seed).standard_normal((256, T), dtype=np.float32)  # (H, T)
st.plotly_chart(go.Figure(go.Heatmap(z=z, colorscale="RdBu_r")), key="bare")
