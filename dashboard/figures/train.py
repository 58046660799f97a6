"""Train page figure builders: pure functions of engine TrainResults -> plotly Figure (no Streamlit).

Every chart draws the models side by side in theme.MODEL_COLORS (slot order). Step axes are
training steps; time axes are the sequence's t. Arrays go out as float32 (base64 in the browser).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme
from dashboard.figures.base import (
    f32,
    log10_abs,
    log_colorbar,
    mark_cursor,
    row_colorbar,
    set_layout,
    symmetric_range,
)
from engine.train import TrainResult

SMOOTH_POINTS = 50  # the smoothed loss averages about steps / 50 steps per point
LINE_HEIGHT = theme.LINE_HEIGHT + 90  # room for the legend under the plot
ROW_HEIGHT = 150  # one model's hidden-state heatmap


def _color(i: int) -> str:
    return theme.MODEL_COLORS[i % len(theme.MODEL_COLORS)]


def smooth(y: np.ndarray) -> np.ndarray:
    """Trailing mean over max(1, n / SMOOTH_POINTS) steps (ignoring NaN), same length as y."""
    n = len(y)
    k = max(1, n // SMOOTH_POINTS)
    if k == 1 or n == 0:
        return y.astype(np.float64)
    v = np.where(np.isfinite(y), y, 0.0)
    ok = np.isfinite(y).astype(np.float64)
    cs, cn = np.cumsum(np.r_[0.0, v]), np.cumsum(np.r_[0.0, ok])
    lo = np.maximum(np.arange(1, n + 1) - k, 0)
    hi = np.arange(1, n + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (cs[hi] - cs[lo]) / (cn[hi] - cn[lo])


def _positive(y: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-positive and non-finite values become gaps."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(y) & (y > 0), y, np.nan)


def _legend_below(fig: go.Figure) -> go.Figure:
    """Legend under the plot: three models' names do not fit beside a third-of-a-page title."""
    fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=-0.4, yanchor="top"),
                      margin=dict(b=120))
    return fig


def loss_figure(results: list[TrainResult], marker: int | None = None) -> go.Figure:
    """Training loss per step (log axis), smoothed, against the task's trivial baselines."""
    fig = go.Figure()
    for i, r in enumerate(results):
        steps = np.arange(r.steps_done, dtype=np.int32)
        fig.add_trace(go.Scatter(x=steps, y=f32(_positive(r.loss)), mode="lines", opacity=0.3,
                                 line=dict(color=_color(i), width=1), name=f"{r.label} (per step)",
                                 legendgroup=r.label, showlegend=False,
                                 hovertemplate="step %{x}<br>loss %{y:.4g}<extra></extra>"))
        fig.add_trace(go.Scatter(x=steps, y=f32(_positive(smooth(r.loss))), mode="lines",
                                 line=dict(color=_color(i), width=2.5), name=r.label,
                                 legendgroup=r.label,
                                 hovertemplate="step %{x}<br>smoothed loss %{y:.4g}<extra></extra>"))
    for j, b in enumerate(results[0].baselines if results else []):
        fig.add_hline(y=b.loss, line=theme.BASELINE_LINES[min(j, 1)],
                      annotation_text=f"baseline: {b.name} = {b.loss:.3g}",
                      annotation_position="bottom left" if j else "top left",
                      annotation_font_color=theme.BASELINE_COLOR)
    mark_cursor(fig, marker)
    fig.update_yaxes(type="log", title="loss (log)")
    fig.update_xaxes(title="training step")
    return _legend_below(set_layout(fig, "Training loss vs the trivial baseline", LINE_HEIGHT))


def grad_norm_figure(results: list[TrainResult], marker: int | None = None) -> go.Figure:
    """||dL/dW|| per step before clipping (solid) and as applied after it (dotted), with the
    clipping threshold."""
    fig = go.Figure()
    for i, r in enumerate(results):
        steps = np.arange(r.steps_done, dtype=np.int32)
        fig.add_trace(go.Scatter(x=steps, y=f32(_positive(r.grad_norm)), mode="lines",
                                 line=dict(color=_color(i), width=1.5), name=r.label,
                                 legendgroup=r.label,
                                 hovertemplate="step %{x}<br>before clipping %{y:.3g}<extra></extra>"))
        if r.clip is not None:
            fig.add_trace(go.Scatter(x=steps, y=f32(_positive(r.grad_norm_clipped)), mode="lines",
                                     line=dict(color=_color(i), width=2, dash=theme.CLIPPED_DASH),
                                     name=f"{r.label}: applied", legendgroup=r.label,
                                     showlegend=False,
                                     hovertemplate="step %{x}<br>applied %{y:.3g}<extra></extra>"))
    clip = next((r.clip for r in results if r.clip is not None), None)  # a model may opt out
    if clip is not None:
        fig.add_hline(y=clip, line=theme.THRESHOLD_LINE,
                      annotation_text=f"clipping threshold {clip:g}",
                      annotation_font_color=theme.THRESHOLD_COLOR)
    mark_cursor(fig, marker)
    fig.update_yaxes(type="log", title="||dL/dW|| (log)")
    fig.update_xaxes(title="training step")
    title = "Gradient norm (solid) and as clipped (dotted)" if clip is not None \
        else "Gradient norm (no clipping)"
    return _legend_below(set_layout(fig, title, LINE_HEIGHT))


def radius_figure(results: list[TrainResult], marker: int | None = None) -> go.Figure:
    """W_hh's spectral radius over training (LSTM / GRU: the largest over gate blocks)."""
    fig = go.Figure()
    for i, r in enumerate(results):
        if not len(r.radius_steps):
            continue
        gated = r.radius.shape[1] > 1
        fig.add_trace(go.Scatter(
            x=r.radius_steps.astype(np.int32), y=f32(r.radius.max(axis=1)), mode="lines+markers",
            marker=dict(size=4), line=dict(color=_color(i), width=2),
            name=r.label + (" (largest gate block)" if gated else ""),
            hovertemplate="step %{x}<br>spectral radius %{y:.4g}<extra></extra>"))
    fig.add_hline(y=1.0, line=theme.THRESHOLD_LINE,
                  annotation_text="radius 1", annotation_font_color=theme.THRESHOLD_COLOR)
    mark_cursor(fig, marker)
    fig.update_yaxes(title="max |eigenvalue| of W_hh", rangemode="tozero")
    fig.update_xaxes(title="training step")
    return _legend_below(set_layout(fig, "Spectral radius of W_hh over training", LINE_HEIGHT))


def grad_time_figure(results: list[TrainResult], marker: int | None = None) -> go.Figure:
    """Per model, a heatmap of training step (rows, the snapshots) x t (columns) of log10
    ||dL/dh_t||: how far back the gradient reaches, and how that changes as the model learns.
    Exact zeros are left blank: cut off by truncated BPTT, or blocked by ReLU units that are all
    off at that step."""
    n = max(len(results), 1)
    fig = make_subplots(rows=1, cols=n, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[r.label for r in results] or [""])
    lo, hi = theme.LOG10_RANGE
    for i, r in enumerate(results):
        if not r.snapshots:
            continue
        z = np.stack([s.grad_hidden_norm for s in r.snapshots])  # (S, T)
        rows = np.array([s.step for s in r.snapshots], dtype=np.int32)
        with np.errstate(divide="ignore"):
            logz = log10_abs(z)
        logz[~np.isfinite(logz)] = np.nan
        T = z.shape[1]
        fig.add_trace(go.Heatmap(
            z=f32(logz), x=np.arange(T, dtype=np.int32), y=rows, colorscale=theme.LOG_SCALE,
            zmin=lo, zmax=hi, showscale=i == n - 1, hoverongaps=False,
            colorbar=log_colorbar("||dL/dh_t||") if i == n - 1 else None,
            name=r.label,
            hovertemplate="step %{y}<br>t=%{x}<br>log10 ||dL/dh_t|| = %{z:.2f}<extra></extra>"),
            row=1, col=i + 1)
        fig.update_xaxes(title="t", row=1, col=i + 1)
    if marker is not None:
        fig.add_hline(y=marker, line=theme.CURSOR_LINE)
    fig.update_yaxes(title="training step", row=1, col=1)
    return set_layout(fig, "How far back the gradient reaches: ||dL/dh_t|| per training step",
                      theme.HEATMAP_HEIGHT + 60)


def _at_snapshot(results: list[TrainResult], index: int) -> tuple[list, int | None]:
    """([(slot, result, its snapshot number `index`)] of every model that has snapshots (a
    stopped run gives its last), the training step of the last of them or None)."""
    found = [(i, r, r.snapshots[min(index, len(r.snapshots) - 1)])
             for i, r in enumerate(results) if r.snapshots]
    return found, (found[-1][2].step if found else None)


def snapshot_figure(results: list[TrainResult], index: int) -> go.Figure:
    """||dL/dh_t|| against t at one snapshot, every model (log axis; a gap where truncation
    cut the gradient to exactly 0)."""
    fig = go.Figure()
    found, step = _at_snapshot(results, index)
    for i, r, s in found:
        fig.add_trace(go.Scatter(
            x=np.arange(len(s.grad_hidden_norm), dtype=np.int32), y=f32(_positive(s.grad_hidden_norm)),
            mode="lines", line=dict(color=_color(i), width=2), name=f"{r.label} (loss {s.loss:.3g})",
            hovertemplate="t=%{x}<br>||dL/dh_t|| %{y:.3g}<extra></extra>"))
    fig.update_yaxes(type="log", title="||dL/dh_t|| (log)")
    fig.update_xaxes(title="t")
    # the legend goes under the plot: three long names beside the title would run into it
    return _legend_below(set_layout(fig, f"||dL/dh_t|| along the sequence at step {step}",
                                    LINE_HEIGHT))


def hidden_figure(results: list[TrainResult], index: int) -> go.Figure:
    """Sample 0's hidden states h_t (units x t) at one snapshot, one row per model."""
    n = max(len(results), 1)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.12 if n > 1 else 0,
                        subplot_titles=[r.label for r in results] or [""])
    found, step = _at_snapshot(results, index)
    for i, r, s in found:
        z = s.hidden.T  # (H, T)
        bounded = r.config.cell != "rnn" or r.config.activation in ("tanh", "sigmoid")
        zmin, zmax = symmetric_range(z, bounded)
        fig.add_trace(go.Heatmap(
            z=f32(z), x=np.arange(z.shape[1], dtype=np.int32), colorscale=theme.SIGNED_SCALE,
            zmin=zmin, zmax=zmax, hoverongaps=False, name=r.label,
            hovertemplate="t=%{x}<br>unit %{y}<br>h=%{z:.3g}<extra></extra>"), row=i + 1, col=1)
        fig.update_yaxes(title="unit", row=i + 1, col=1)
    for i in range(len(results)):  # colour bars need the subplot domains, known only now
        fig.data[i].colorbar = row_colorbar(fig, i + 1)
    fig.update_xaxes(title="t", row=n, col=1)
    return set_layout(fig, f"Hidden states h_t of sample 0 at step {step}", 80 + ROW_HEIGHT * n)
