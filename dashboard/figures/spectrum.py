"""The spectrum of W_hh: its eigenvalues against the unit circle (and 1/gamma), and its singular
values. Pure function of an engine Trace; written as base.py describes.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme
from dashboard.figures.base import f32, line_style, set_layout, where_note
from engine import Trace


def _circle(radius: float, n: int = 181) -> tuple[np.ndarray, np.ndarray]:
    a = np.linspace(0, 2 * np.pi, n)
    return f32(radius * np.cos(a)), f32(radius * np.sin(a))


def spectrum_figure(trace: Trace, layer: int = 0, direction: int = 0) -> go.Figure:
    """Eigenvalues of W_hh in the complex plane with the unit and 1/gamma circles; singular values."""
    sp = trace.spectrum[trace.layer_index(layer, direction)]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.1,
                        subplot_titles=("eigenvalues of W_hh (complex plane)",
                                        "singular values of W_hh (largest first)"))
    cx, cy = _circle(1.0)
    bound = sp.get("bound")
    other = bound is not None and abs(bound - 1.0) > 1e-9  # 1/gamma is not the unit circle
    unit = "unit circle (= 1/gamma)" if bound is not None and not other else "unit circle"
    fig.add_trace(go.Scatter(x=cx, y=cy, mode="lines", name=unit, hoverinfo="skip",
                             line=line_style("unit_circle")), 1, 1)
    if other:
        bx, by = _circle(bound)
        fig.add_trace(go.Scatter(x=bx, y=by, mode="lines", name=f"1/gamma = {bound:.3g}",
                                 hoverinfo="skip", line=line_style("bound_circle")), 1, 1)
    for gate, ev in sp["block_eigenvalues"].items():
        label = "eigenvalues" if trace.config.cell == "rnn" else f"block {gate}"
        color = theme.LINE_COLORS["eigen"] if trace.config.cell == "rnn" else theme.GATE_COLORS[gate]
        fig.add_trace(go.Scatter(x=f32(ev.real), y=f32(ev.imag), mode="markers", name=label,
                                 marker=dict(size=6, color=color, opacity=0.8),
                                 hovertemplate="%{x:.3f} + %{y:.3f}i<extra></extra>"), 1, 1)
    fig.update_xaxes(title_text="real", zeroline=True, row=1, col=1)
    fig.update_yaxes(title_text="imaginary", scaleanchor="x", scaleratio=1, row=1, col=1)
    sv = np.asarray(sp["singular_values"])
    fig.add_trace(go.Scatter(x=np.arange(1, sv.size + 1, dtype=np.int32), y=f32(sv),
                             mode="lines+markers", name="singular values", marker=dict(size=4),
                             line=dict(color=theme.LINE_COLORS["neutral"])), 1, 2)
    fig.add_hline(y=1.0, line=line_style("unit_circle"), row=1, col=2)
    if other:
        fig.add_hline(y=bound, line=line_style("bound_circle"), row=1, col=2)
    fig.update_xaxes(title_text="index", row=1, col=2)
    fig.update_yaxes(title_text="singular value", rangemode="tozero", row=1, col=2)
    return set_layout(fig, f"Spectrum of W_hh{where_note(trace, layer, direction, 0)}: radius "
                           f"{sp['spectral_radius']:.3g}, largest singular value "
                           f"{sp['max_singular']:.3g}", 420)
