"""Figures of the attention readout (engine/attention.py): the attention map alpha_tk, and the
direct part ||dL/do_t|| that the loss puts into the top layer's output at every step (a line of
the gradient norm plot). Pure functions of an engine Trace; written as base.py describes.
"""

from __future__ import annotations

import math

import numpy as np

from dashboard import theme
from dashboard.figures.base import (
    CURSOR,
    f32,
    heatmap_data,
    layout_data,
    log10_abs,
    plain_figure,
    pool_time,
    shown_word,
    word_ticks,
)
from engine import Trace


def pool_square(z: np.ndarray, max_side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(T, T) -> at most (max_side, max_side): the largest |value| of every k x k block (NaN and
    Inf win, so trouble stays visible). Returns (pooled, first step of each row, first step of
    each column, k); k = 1 means nothing was reduced."""
    cols, x, k = pool_time(z, max_side)  # (T, n): columns pooled
    rows, y, _ = pool_time(cols.T, max_side)  # (n, n) transposed back below
    return rows.T, y, x, k


@plain_figure
def attention_figure(trace: Trace, sample: int = 0, cursor: int | None = None) -> dict:
    """The attention map: row t = the output at step t, column k = the state o_k it reads, colour
    alpha_tk on the fixed range theme.ATTENTION_RANGE. The causal triangle above the diagonal
    (k > t, not yet read) is left blank; each row sums to 1. The time cursor marks row t (what
    step t reads) and column t (who reads step t)."""
    if trace.attention is None:
        raise ValueError("attention_figure: this trace has a linear readout; unroll a config with "
                         "readout='attention'")
    alpha = np.asarray(trace.attention[:, sample, :], dtype=np.float64)  # (T query, T key)
    T = alpha.shape[0]
    z, y, x, k = pool_square(alpha, theme.ATTENTION_MAX_SIDE)
    lo, hi = theme.ATTENTION_RANGE
    data = heatmap_data(z, x.astype(np.int32), y=y.astype(np.int32), colorscale=theme.ATTENTION_SCALE,
                        zmin=lo, zmax=hi, name="alpha_tk", colorbar=dict(title=dict(text="alpha_tk")))
    last_row = np.minimum(y + k - 1, T - 1)  # the last query step pooled into each row
    z_main = data[0]["z"]
    z_main[x[None, :] > last_row[:, None]] = np.nan  # k > t: the blank causal triangle
    data[0]["hovertemplate"] = ("query t=%{y}, key k=%{x}<br>alpha_tk=%{z:.3g}<extra></extra>"
                                if k == 1 else f"query t=%{{y}}.., key k=%{{x}}..<br>largest alpha"
                                f" in {k}x{k} steps=%{{z:.3g}}<extra></extra>")
    note = f" · reduced: largest alpha of every {k}x{k} steps ({T} steps)" if k > 1 else ""
    title = (f"Attention map: what the output at step t reads (each row sums to 1)"
             f"{f' (sample {sample})' if trace.config.batch_size > 1 else ''}{note}")
    layout = layout_data(title, theme.ATTENTION_HEIGHT)
    labels = trace.step_labels if k == 1 else None  # a sentence: its words along both axes
    widest = max(map(len, labels)) if labels is not None else 4  # characters of a y tick label
    # fixed margins (automatic ones draw twice): room for the ticks and the axis titles, also in
    # presentation mode's larger font
    layout["margin"] = {**layout["margin"], "l": 50 + min(widest, 16) * theme.TICK_FONT, "b": 70}
    layout.update(xaxis=dict(title=dict(text="key: state o_k at step k"), range=[-0.5, T - 0.5]),
                  yaxis=dict(title=dict(text="query: output at step t"), range=[T - 0.5, -0.5]),
                  shapes=_cross(cursor))
    if labels is not None:
        layout["xaxis"].update(word_ticks(labels))
        layout["yaxis"].update(_row_ticks(labels))
    return {"data": data, "layout": layout}


def _row_ticks(labels: list[str]) -> dict:
    """y-axis settings naming the map's rows by words, every k-th so that rows of text never
    overlap: each label needs about 1.5 lines of theme.TICK_FONT of the plot's height."""
    rows = theme.ATTENTION_HEIGHT - theme.MARGIN["t"] - theme.MARGIN["b"]
    every = max(1, math.ceil(len(labels) * 1.5 * theme.TICK_FONT / rows))
    keep = list(range(0, len(labels), every))
    return dict(tickmode="array", tickvals=keep, ticktext=[shown_word(labels[i]) for i in keep])


def _cross(t: int | None) -> list[dict]:
    """The time cursor on the map: row t and column t, in theme.CURSOR_LINE."""
    if t is None:
        return []
    line = dict(theme.CURSOR_LINE)
    return [dict(type="line", name=CURSOR, x0=t, x1=t, xref="x", y0=0, y1=1, yref="y domain",
                 line=line),
            dict(type="line", name=CURSOR, x0=0, x1=1, xref="x domain", y0=t, y1=t, yref="y",
                 line=line)]


def direct_log10(trace: Trace, layer: int, direction: int, sample: int) -> np.ndarray | None:
    """log10 ||dL/do_t|| of the direction's part of the top layer's output (trace.grad_direct):
    what the loss puts into h_t directly, through the readout alone. None below the top layer
    and for the linear readout (there it is V^T dL/dy_hat_t, at the scored steps only); exact
    zeros are NaN (no point drawn)."""
    c = trace.config
    if c.readout != "attention" or layer != c.num_layers - 1:
        return None
    H = c.hidden_size
    part = trace.grad_direct[:, sample, direction * H:(direction + 1) * H].astype(np.float64)
    out = log10_abs(np.linalg.norm(part, axis=-1))  # (T,)
    out[np.isneginf(out)] = math.nan  # log10 0 = -inf: a gap in the line
    return out


def direct_line(trace: Trace, layer: int, direction: int, sample: int, t: np.ndarray) -> dict | None:
    """The direct part as a line of the gradient norm plot (theme.LINE_COLORS['direct']), or None."""
    y = direct_log10(trace, layer, direction, sample)
    if y is None:
        return None
    return dict(type="scatter", x=t, y=f32(y), mode="lines", name="direct part ||dL/do_t||",
                line=dict(color=theme.LINE_COLORS["direct"], width=1.5))
