"""Figures of the backward pass: |dL/dh_t| per unit, its norm through time with the fitted decay,
the per-step terms of the BPTT sum dL/dW_hh, the influence matrix |dL_s/dh_k|, and the values
over units at the time cursor (the gradient view's last row). Pure functions of an engine Trace;
written as base.py describes.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from dashboard import theme
from dashboard.figures.attention import direct_line
from dashboard.figures.base import (
    f32,
    heatmap_data,
    label_steps,
    layout_data,
    line_style,
    log10_abs,
    log10_ticks,
    log_colorbar,
    mark_cursor,
    plain_figure,
    pool_time,
    reduced_note,
    set_layout,
    shown_word,
    step_name,
    thin_ticks,
    time_plot,
    weight_name,
    where_note,
)
from dashboard.figures.readouts import decay_readout, shown_fit
from dashboard.figures.stack import legend_line
from engine import Trace
from engine.gradients import batch_band

MAX_BARS = 500  # bar charts with more steps are max-pooled: thinner bars than pixels help nobody


@plain_figure
def grad_heatmap_figure(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                        cursor: int | None = None) -> dict:
    """|dL/dh_t| per unit on the FIXED log10 range theme.LOG10_RANGE (comparable across runs)."""
    g = trace.grad_hidden[trace.layer_index(layer, direction), :, sample, :].T  # (H, T)
    T = g.shape[1]
    gp, x, k = pool_time(g)
    lo, hi = theme.LOG10_RANGE
    data = heatmap_data(gp, x, colorscale=theme.LOG_SCALE, zmin=lo, zmax=hi, log=True,
                        name="log10|dL/dh|", hover="%{z:.2f}", colorbar=log_colorbar("|dL/dh_t|"))
    title = (f"|dL/dh_t| per unit, fixed log scale 1e{lo:.0f}..1e{hi:.0f}"
             f"{where_note(trace, layer, direction, sample)}{reduced_note(k, T)}")
    return time_plot(data, title, theme.HEATMAP_HEIGHT, {"title": {"text": "unit"}}, cursor,
                     trace.step_labels)


def decay_line(trace: Trace, layer: int = 0, direction: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """(t, fitted log10 |dL/dh_t|) of the fit the pages describe (readouts.shown_fit: sample 0,
    or the batch's median), or None when there is no fit."""
    fit = shown_fit(trace, layer, direction)
    slope, icpt = fit.get("slope_log10", math.nan), fit.get("intercept_log10", math.nan)
    if not (math.isfinite(slope) and math.isfinite(icpt)):
        return None
    T = trace.inputs.shape[0]
    t = np.arange(T)
    dist = (T - 1 - t) if direction == 0 else t  # distance from the end in processing order
    return t.astype(np.int32), icpt + slope * dist


def _line(x, v, name: str, style: str, **kw) -> dict:
    """A line over time as plain data, in the named line style (base.line_style)."""
    return dict(type="scatter", x=x, y=f32(v), mode="lines", name=name, line=line_style(style, **kw))


def batch_lines(trace: Trace, ld: int, t: np.ndarray) -> list[dict]:
    """With a batch: the 10-90 % band of log10 ||dL/dh_t|| over its samples (two lines, the area
    between them filled) and its median, drawn behind the selected sample; [] for one sample."""
    B = trace.grad_hidden_log10.shape[2]
    if B == 1:
        return []
    q = batch_band(trace.grad_hidden_log10[ld])  # (T, 3): 10 %, median, 90 %
    # the band as one closed outline: along the 90 % line, back along the 10 % line
    band = dict(type="scatter", x=np.concatenate([t, t[::-1]]), y=f32(np.concatenate(
                [q[:, 2], q[::-1, 0]])), mode="lines", fill="toself", fillcolor=theme.BAND_FILL,
                line=dict(width=0, color=theme.LINE_COLORS["hidden_path"]),  # the key: legible
                name=f"10-90 % of {B} samples",
                hoverinfo="skip")
    return [band, _line(t, q[:, 1], f"median of {B} samples", "median", width=1.5)]


@plain_figure
def grad_norm_figure(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                     cursor: int | None = None) -> dict:
    """log10 ||dL/dh_t|| vs t (exact, from trace.grad_hidden_log10) with the fitted decay line,
    the LSTM cell path ||dL/dc_t|| and, when computed, the Jacobian norm ||dh_T/dh_t||. With a
    batch, the samples' median and 10-90 % band behind the selected one (batch_lines), and the
    fit is the median's."""
    ld = trace.layer_index(layer, direction)
    T = trace.inputs.shape[0]
    t = np.arange(T, dtype=np.int32)
    y = trace.grad_hidden_log10[ld, :, sample]
    data = batch_lines(trace, ld, t)
    ys = [y, *(d["y"] for d in data)]
    data.append(_line(t, y, "hidden path ||dL/dh_t||", "hidden_path", width=2))
    direct = direct_line(trace, layer, direction, sample, t)  # attention: the readout's own share
    if direct is not None:
        ys.append(direct["y"])
        data.append(direct)
    if trace.grad_cell is not None:
        c = log10_abs(np.linalg.norm(trace.grad_cell[ld, :, sample], axis=-1))
        ys.append(c)
        data.append(_line(t, c, "cell path ||dL/dc_t||", "cell_path", width=2))
    if trace.jacobian_norm is not None:
        j = log10_abs(trace.jacobian_norm[ld])
        ys.append(j)
        data.append(_line(t, j, "||dh_T/dh_t|| (Jacobian)", "jacobian"))
    fit = decay_line(trace, layer, direction)
    batch = trace.grad_hidden_log10.shape[2] > 1
    if fit is not None and (sample == 0 or batch):  # one sample: it is sample 0's fit
        data.append(_line(fit[0], fit[1], "fitted decay (median)" if batch else "fitted decay", "fit"))
    finite = np.concatenate([v[np.isfinite(v)] for v in ys]) if ys else np.array([])
    ticks = log10_ticks(float(finite.min()), float(finite.max())) if finite.size else {}
    title = (f"Gradient norm through time{where_note(trace, layer, direction, sample)}: "
             f"{decay_readout(trace, layer, direction)}")
    return time_plot(data, title, theme.LINE_HEIGHT + 40,
                     {"title": {"text": "norm (log scale)"}, **ticks}, cursor, trace.step_labels)


@plain_figure
def weight_terms_figure(trace: Trace, layer: int = 0, direction: int = 0,
                        cursor: int | None = None) -> dict:
    """Bars: the norm of each step's term of the BPTT sum dL/dW_hh = sum_t (...), log axis;
    NaN / Inf terms are marked in theme.NONFINITE_COLOR along the top. The bars are drawn as one
    filled step outline, not as Plotly bars: one SVG path instead of one per step (up to
    MAX_BARS), which made this plot a third of the gradient view's drawing time at T=1000."""
    name = weight_name("weight_hh", layer, direction)
    terms = np.asarray(trace.weight_grad_terms[name], dtype=np.float64)
    T = terms.shape[0]
    pooled, x, k = pool_time(terms[None, :], MAX_BARS)
    y = pooled[0]
    bad = ~np.isfinite(y)
    with np.errstate(invalid="ignore"):
        y = np.where(~bad & (y > 0), y, np.nan)  # a log axis cannot draw 0
    color = theme.LINE_COLORS["terms"]
    # 'hvh': each value a flat step centred on its t, as a bar; filled down to the axis
    data = [dict(type="scatter", mode="lines", x=x, y=f32(y), fill="tozeroy", fillcolor=color,
                 line=dict(shape="hvh", width=0, color=color), name=name,
                 hovertemplate="t=%{x}<br>||term_t||=%{y:.3g}<extra></extra>")]
    finite = y[np.isfinite(y)]
    if bad.any():
        top = float(finite.max()) if finite.size else 1.0
        data.append(dict(type="scatter", x=x[bad], y=f32(np.full(bad.sum(), top)), mode="markers",
                         name="NaN / Inf term", hovertemplate="t=%{x}: NaN or Inf<extra></extra>",
                         marker=dict(color=theme.NONFINITE_COLOR, symbol="x", size=7)))
    axis = dict(type="log", title=dict(text="||term_t|| (log)"))
    if finite.size:  # the same 1e-k / 1-2-5 labels as the norm plot, as values for a log axis
        ticks = log10_ticks(math.log10(finite.min()), math.log10(finite.max()))
        axis.update(tickvals=[10.0**v for v in ticks["tickvals"]], ticktext=ticks["ticktext"])
    title = f"Per-step terms of dL/d{name} (they add up to the gradient){reduced_note(k, T)}"
    return time_plot(data, title, theme.LINE_HEIGHT, axis, cursor, trace.step_labels)


MAX_MARKERS = 200  # the reach plot marks every step with a dot up to this many steps


@plain_figure
def word_reach_figure(trace: Trace, sample: int = 0, cursor: int | None = None) -> dict:
    """How much each input reaches the loss: ||dL/dx_t|| per step on a log axis (log10 values
    labelled as powers of ten), one dot per step. A sentence's steps are its words: the axis
    names them and the title gives the first and the last word's value."""
    g = np.linalg.norm(trace.grad_input[:, sample].astype(np.float64), axis=-1)  # (T,)
    y = log10_abs(g)
    T = y.shape[0]
    t = np.arange(T, dtype=np.int32)
    data = [dict(type="scatter", x=t, y=f32(y), mode="lines+markers" if T <= MAX_MARKERS else "lines",
                 name="||dL/dx_t||", line=line_style("reach", width=1.5),
                 marker=dict(size=6, color=theme.LINE_COLORS["reach"]),
                 customdata=[f"{v:.3g}" for v in g],
                 hovertemplate="t=%{x}<br>||dL/dx_t|| = %{customdata}<extra></extra>")]
    finite = y[np.isfinite(y)]
    ticks = log10_ticks(float(finite.min()), float(finite.max())) if finite.size else {}
    labels = trace.step_labels
    where = where_note(trace, 0, 0, sample) if trace.config.batch_size > 1 else ""
    if labels is not None:
        title = (f"How much each word reaches the loss: ||dL/dx_t||{where} · first word"
                 f"{step_name(trace, 0)} {g[0]:.2g} · last{step_name(trace, T - 1)} {g[-1]:.2g}")
    else:
        title = f"How much each input x_t reaches the loss: ||dL/dx_t||{where}"
    return time_plot(data, title, theme.LINE_HEIGHT,
                     {"title": {"text": "||dL/dx_t|| (log)"}, **ticks}, cursor, labels)


# px of the influence matrix's height for its loss-step rows; a row label takes about two lines
# of the larger (presenting) font, so labels stay apart in either mode
INFLUENCE_ROWS_PX = theme.HEATMAP_HEIGHT - 90
ROW_LABEL = "xx"  # what thin_ticks measures a row label as: 2 em, a line of text and its air


def influence_figure(trace: Trace, cursor: int | None = None) -> go.Figure:
    """|dL_s/dh_k|: row s = a loss step, column k = the state it flows back to (log10, fixed)."""
    if trace.influence is None:
        raise ValueError("influence_figure: the trace has no influence matrix; "
                         "unroll(config, influence=True)")
    z = trace.influence  # (K, T)
    T = z.shape[1]
    steps = trace.influence_steps
    zp, x, k = pool_time(z)
    lo, hi = theme.LOG10_RANGE
    fig = go.Figure(heatmap_data(zp, x, y=steps.astype(np.int32), log=True,
                                 colorscale=theme.LOG_SCALE, zmin=lo, zmax=hi,
                                 name="log10|dL_s/dh_k|", hover="%{z:.2f}", blank_zeros=True,
                                 colorbar=log_colorbar("|dL_s/dh_k|")))
    fig.update_xaxes(title_text="state h_k at step k")
    fig.update_yaxes(title_text="loss L_s at step s", autorange="reversed")
    label_steps(fig, trace.step_labels)
    if trace.step_labels is not None:  # the loss steps s, down the side: a row of text each
        rows = thin_ticks(steps, [ROW_LABEL] * len(steps), INFLUENCE_ROWS_PX, theme.PRESENT_FONT)
        fig.update_yaxes(tickmode="array", tickvals=[int(steps[i]) for i in rows],
                         ticktext=[shown_word(trace.step_labels[int(steps[i])]) for i in rows],
                         automargin=True)  # words are wider than numbers: room for the title
    mark_cursor(fig, cursor)
    sub = (f" · subsampled: {len(steps)} of {T} loss steps (evenly spaced)"
           if trace.influence_subsampled else "")
    return set_layout(fig, f"Influence matrix, top layer, sample 0{sub}{reduced_note(k, T)}",
                      theme.HEATMAP_HEIGHT)


def _value_lines(trace: Trace, ld: int, sample: int, steps) -> list[tuple[str, np.ndarray, str]]:
    """The values readout's lines at `steps` (an index or a slice of t): h_t, then c_t (LSTM),
    phi'(a_t) (RNN) or z_t (GRU), then dL/dh_t; as (name, values, colour)."""
    left = [("h_t", trace.hidden[ld, steps, sample], theme.LINE_COLORS["hidden_path"])]
    if trace.cell is not None:
        left.append(("c_t", trace.cell[ld, steps, sample], theme.LINE_COLORS["cell_path"]))
    elif trace.act_deriv is not None:
        left.append(("phi'(a_t)", trace.act_deriv[ld, steps, sample], theme.GATE_COLORS["a"]))
    else:
        left.append(("z_t", trace.gates["z"][ld, steps, sample], theme.GATE_COLORS["z"]))
    return [*left, ("dL/dh_t (right axis)", trace.grad_hidden[ld, steps, sample],
                    theme.LINE_COLORS["output"])]


@plain_figure
def vectors_figure(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                   t: int = 0) -> dict:
    """Values over units at step t: h_t, c_t (LSTM) or phi'(a_t) (RNN) or z_t (GRU) on the left
    axis, dL/dh_t on the right axis (its own scale). Step lines, one path each: cheap to draw."""
    ld = trace.layer_index(layer, direction)
    H = trace.hidden.shape[-1]
    u = np.arange(H, dtype=np.int32)
    lines = _value_lines(trace, ld, sample, t)
    data = [dict(type="scatter", x=u, y=f32(v), mode="lines", name=name,
                 line=dict(color=color, width=1.5, shape="hvh"),
                 **({"yaxis": "y2"} if k == len(lines) - 1 else {}))
            for k, (name, v, color) in enumerate(lines)]
    layout = layout_data(f"{VALUES_TITLE}{t}{step_name(trace, t)}"
                         f"{where_note(trace, layer, direction, sample)}<br>{legend_line(data)}",
                         VALUES_HEIGHT)
    # the names in the title (stack.legend_line): Plotly's legend doubled the cost of the redraw
    # the browser makes at every move of the time cursor
    layout.update(yaxis=dict(title=dict(text="value")),
                  yaxis2=dict(title=dict(text="dL/dh_t"), overlaying="y", side="right",
                              showgrid=False, exponentformat="e"),
                  xaxis=dict(title=dict(text="unit")), margin={**theme.MARGIN, "r": 70, "b": 55},
                  showlegend=False)
    return {"data": data, "layout": layout}


VALUES_HEIGHT = 320  # px: the values readout
VALUES_TITLE = "Values at step t = "  # the readout's title up to the step (values_window)


VALUES_BUDGET = 2 ** 14  # numbers per line of values_window: 64 steps at H = 256, all of T = 50


def values_window(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                  t: int = 0) -> dict:
    """vectors_figure's lines at every step of a window of steps around t, for the browser to
    redraw the readout when the time cursor moves (ui/cursor.py): {"start", "stop" (the steps
    [start, stop)), "y" (per line, (stop - start, H) float32), "title" (what the readout's title
    says before the step; what follows the step is the figure's own, as drawn), "words" (per step
    the step's name, or None)}. The window is
    the block of steps holding t and one block either side, so a move within the block sends
    the same window again (and Streamlit's message cache passes it as a reference)."""
    ld = trace.layer_index(layer, direction)
    T, H = trace.hidden.shape[1], trace.hidden.shape[-1]
    block = max(1, VALUES_BUDGET // (3 * H))
    start = max(0, (t // block - 1) * block)
    stop = min(T, start + 3 * block)
    lines = _value_lines(trace, ld, sample, slice(start, stop))
    words = ([step_name(trace, s) for s in range(start, stop)]
             if trace.step_labels is not None else None)
    return {"start": start, "stop": stop, "y": [f32(v) for _, v, _ in lines],
            "title": VALUES_TITLE, "words": words}
