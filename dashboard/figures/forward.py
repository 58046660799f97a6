"""Figures of the forward pass over time: what goes in and comes out (signals), the hidden and
cell states, and the gates (LSTM / GRU) or phi'(a_t) (RNN). Pure functions of an engine Trace;
written as base.py describes.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme
from dashboard.figures.base import (
    f32,
    heatmap_data,
    label_steps,
    line_style,
    mark_cursor,
    plain_figure,
    pool_time,
    reduced_note,
    row_colorbar,
    set_layout,
    symmetric_range,
    time_plot,
    where_note,
)
from engine import Trace

SATURATED = 0.05  # a sigmoid gate below 0.05 or above 0.95 (|tanh| above 0.95) is saturated
BLOCKED = 0.1  # an RNN unit with phi'(a_t) below this passes on less than a tenth of the gradient
MAX_CHANNELS = 8  # line plots draw at most this many input channels


def signals_figure(trace: Trace, sample: int = 0, cursor: int | None = None) -> go.Figure:
    """Inputs x_t, target y_t vs output y_hat_t, and the per-step loss L_t."""
    T, _, I = trace.inputs.shape
    t = np.arange(T, dtype=np.int32)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(f"input x_t ({min(I, MAX_CHANNELS)} of {I} channels)"
                                        if I > MAX_CHANNELS else "input x_t",
                                        "target y_t and output ŷ_t", "loss per step L_t"))
    for ch in range(min(I, MAX_CHANNELS)):
        fig.add_trace(go.Scatter(x=t, y=f32(trace.inputs[:, sample, ch]), mode="lines",
                                 name=f"x[{ch}]", line=dict(width=1), opacity=0.8,
                                 showlegend=I <= 3, legendgroup="x"), row=1, col=1)
    O = trace.targets.shape[-1]
    for ch in range(min(O, 3)):
        sfx = f"[{ch}]" if O > 1 else ""
        fig.add_trace(go.Scatter(x=t, y=f32(trace.targets[:, sample, ch]), mode="lines",
                                 name=f"target y{sfx}", line=dict(color=theme.LINE_COLORS["target"])),
                      row=2, col=1)
        fig.add_trace(go.Scatter(x=t, y=f32(trace.outputs[:, sample, ch]), mode="lines",
                                 name=f"output ŷ{sfx}",
                                 line=line_style("output")),
                      row=2, col=1)
    fig.add_trace(go.Scatter(x=t, y=f32(trace.step_loss), mode="lines", name="L_t",
                             line=dict(color=theme.LINE_COLORS["neutral"]), showlegend=False),
                  row=3, col=1)
    fig.update_xaxes(title_text="step t", row=3, col=1)
    label_steps(fig, trace.step_labels)
    mark_cursor(fig, cursor)
    return set_layout(fig, f"What goes in and what comes out{where_note(trace, 0, 0, sample)}", 520)


@plain_figure
def state_figure(trace: Trace, quantity: str = "hidden", layer: int = 0, direction: int = 0,
                 sample: int = 0, cursor: int | None = None) -> dict:
    """h_t (or c_t for quantity='cell') as a units x time heatmap on a symmetric colour range."""
    arr = getattr(trace, quantity)
    z = arr[trace.layer_index(layer, direction), :, sample, :].T  # (H, T)
    T = z.shape[1]
    bounded = quantity == "hidden" and (trace.config.cell != "rnn"
                                        or trace.config.activation in ("tanh", "sigmoid"))
    zmin, zmax = symmetric_range(z, bounded)
    zp, x, k = pool_time(z)
    sym = "h_t" if quantity == "hidden" else "c_t"
    data = heatmap_data(zp, x, colorscale=theme.SIGNED_SCALE, zmin=zmin, zmax=zmax, name=sym,
                        colorbar=dict(title=dict(text=sym), thickness=12))
    what = "hidden state h_t" if quantity == "hidden" else "cell state c_t"
    return time_plot(data, f"{what}{where_note(trace, layer, direction, sample)}{reduced_note(k, T)}",
                     theme.HEATMAP_HEIGHT, {"title": {"text": "unit"}}, cursor, trace.step_labels)


def saturation(values: np.ndarray, gate: str) -> np.ndarray:
    """(T, H) -> (T,) fraction of units saturated at each step."""
    with np.errstate(invalid="ignore"):
        if gate in theme.TANH_GATES:
            sat = np.abs(values) > 1 - SATURATED
        else:
            sat = (values < SATURATED) | (values > 1 - SATURATED)
    return sat.mean(axis=-1)


def gates_figure(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                 cursor: int | None = None) -> go.Figure:
    """One heatmap per gate on its fixed range (0..1, tanh candidate -1..1) and the fraction of
    saturated units per step; for a plain RNN, phi'(a_t) and the fraction of blocked units."""
    ld = trace.layer_index(layer, direction)
    T = trace.inputs.shape[0]
    if trace.config.cell == "rnn":
        names = ["phi'"]
        data = {"phi'": trace.act_deriv[ld, :, sample, :]}  # (T, H)
        titles = ["phi'(a_t): the factor each step multiplies the gradient by (per unit)",
                  f"fraction of units with phi'(a_t) < {BLOCKED} (blocked) and mean phi'"]
    else:
        names = list(trace.gates)
        data = {g: trace.gates[g][ld, :, sample, :] for g in names}
        titles = [f"gate {g}" for g in names] + [f"fraction of saturated units per step "
                                                 f"(sigmoid < {SATURATED} or > {1 - SATURATED})"]
    rows = len(names) + 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[1.0] * len(names) + [0.8], subplot_titles=titles)
    k = 1
    for r, g in enumerate(names, start=1):
        z = data[g].T  # (H, T)
        zp, x, k = pool_time(z)
        if g == "phi'":
            scale, (lo, hi) = theme.DERIV_SCALE, (0.0, 1.0)
        else:
            scale, lo, hi = theme.gate_scale(g), *theme.gate_range(g)
        for tr in heatmap_data(zp, x, colorscale=scale, zmin=lo, zmax=hi, name=g,
                               colorbar=row_colorbar(fig, r, title=g)):
            fig.add_trace(tr, row=r, col=1)
        fig.update_yaxes(title_text="unit", row=r, col=1)
    t = np.arange(T, dtype=np.int32)
    if trace.config.cell == "rnn":
        d = data["phi'"]
        with np.errstate(invalid="ignore"):
            fig.add_trace(go.Scatter(x=t, y=f32((d < BLOCKED).mean(axis=-1)), mode="lines",
                                     name="blocked fraction",
                                     line=dict(color=theme.LINE_COLORS["blocked"])),
                          row=rows, col=1)
            fig.add_trace(go.Scatter(x=t, y=f32(np.nanmean(d, axis=-1)), mode="lines",
                                     name="mean phi'", line=dict(color=theme.LINE_COLORS["mean_deriv"])),
                          row=rows, col=1)
    else:
        for g in names:
            fig.add_trace(go.Scatter(x=t, y=f32(saturation(data[g], g)), mode="lines", name=g,
                                     line=dict(color=theme.GATE_COLORS[g])), row=rows, col=1)
    fig.update_yaxes(range=[-0.02, 1.02], title_text="fraction", row=rows, col=1)
    fig.update_xaxes(title_text="step t", row=rows, col=1)
    label_steps(fig, trace.step_labels)
    mark_cursor(fig, cursor)
    title = "Gates" if trace.config.cell != "rnn" else "Activation derivative phi'(a_t)"
    return set_layout(fig, f"{title}{where_note(trace, layer, direction, sample)}{reduced_note(k, T)}",
                      230 * len(names) + 200)
