"""Figure builders: pure functions of an engine Trace -> plotly Figure (no Streamlit here).

Conventions: heatmaps are units (rows) x time (columns); arrays go out as float32 numpy arrays
(Plotly sends them base64, not as lists); heatmaps wider than theme.MAX_COLUMNS are max-|value|
pooled and say so in their title; NaN / Inf cells are drawn in theme.NONFINITE_COLOR; every plot
with a time axis marks the time cursor t with a vertical line.
"""

from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine import Trace

from dashboard import theme

F32_MAX = float(np.finfo(np.float32).max)
SATURATED = 0.05  # a sigmoid gate below 0.05 or above 0.95 (|tanh| above 0.95) is saturated
BLOCKED = 0.1  # an RNN unit with phi'(a_t) below this passes on less than a tenth of the gradient
MAX_BARS = 500  # bar charts with more steps are max-pooled: thinner bars than pixels help nobody
MAX_CHANNELS = 8  # line plots draw at most this many input channels


# ---------------------------------------------------------------------------------------------
# Array helpers
# ---------------------------------------------------------------------------------------------


def f32(x) -> np.ndarray:
    """float32 copy for the browser; finite values beyond float32's range are clipped, not Inf."""
    a = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        a = np.where(np.isfinite(a), np.clip(a, -F32_MAX, F32_MAX), a)
    return a.astype(np.float32)


def pool_time(z: np.ndarray, max_cols: int = theme.MAX_COLUMNS) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows, T) -> (rows, ceil(T/k)), keeping in each window of k steps the value of largest |.|
    (sign kept; NaN / Inf win, so trouble stays visible). Returns (pooled, first step of each
    column, k); k = 1 means nothing was reduced."""
    rows, T = z.shape
    if T <= max_cols:
        return z, np.arange(T, dtype=np.int32), 1
    k = math.ceil(T / max_cols)
    n = math.ceil(T / k)
    w = np.pad(z, ((0, 0), (0, n * k - T))).reshape(rows, n, k)
    with np.errstate(invalid="ignore"):
        key = np.where(np.isfinite(w), np.abs(w), np.inf)
    idx = key.argmax(axis=2)[..., None]
    return np.take_along_axis(w, idx, axis=2)[..., 0], np.arange(n, dtype=np.int32) * k, k


def reduced_note(k: int, T: int) -> str:
    """Title suffix saying a plot was pooled (empty when it was not)."""
    return f" · reduced: max |value| of every {k} steps ({T} steps)" if k > 1 else ""


def log10_abs(x: np.ndarray) -> np.ndarray:
    """log10 |x| with exact zeros at -inf (drawn at the bottom of the fixed range)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.abs(x))


def _ld(trace: Trace, layer: int, direction: int) -> int:
    return trace.layer_index(layer, direction)


def _where(trace: Trace, layer: int, direction: int, sample: int) -> str:
    c = trace.config
    parts = []
    if c.num_layers > 1:
        parts.append(f"layer {layer}")
    if c.bidirectional:
        parts.append("reverse" if direction else "forward")
    if c.batch_size > 1:
        parts.append(f"sample {sample}")
    return f" ({', '.join(parts)})" if parts else ""


def where_note(trace: Trace, layer: int, direction: int, sample: int) -> str:
    """' (layer 1, reverse, sample 2)': the parts of the selection worth naming in a title."""
    return _where(trace, layer, direction, sample)


def weight_name(kind: str, layer: int, direction: int) -> str:
    """torch.nn's name, e.g. weight_hh_l0 or weight_hh_l1_reverse."""
    return f"{kind}_l{layer}" + ("_reverse" if direction else "")


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


def heatmap_traces(z: np.ndarray, x: np.ndarray, **kw) -> list[go.Heatmap]:
    """heatmap_dicts as Plotly objects, for figures that edit their traces."""
    return [go.Heatmap(d) for d in heatmap_dicts(z, x, **kw)]


def heatmap_dicts(z: np.ndarray, x: np.ndarray, *, colorscale, zmin: float, zmax: float,
                  name: str, colorbar: dict | None = None, y=None, hover: str = "%{z:.3g}",
                  log: bool = False, blank_zeros: bool = False) -> list[dict]:
    """A units x time heatmap on a fixed colour range, plus an overlay marking NaN / Inf cells
    of z in theme.NONFINITE_COLOR (only when there are any). log draws log10 |z| (exact zeros at
    the bottom of the range, or undrawn with blank_zeros). Plain trace data (see fast_figure)."""
    bad = ~np.isfinite(z)
    main = np.where(bad, np.nan, z)
    if log:
        zero = main == 0
        main = log10_abs(main)
        main[zero] = np.nan if blank_zeros else zmin
    where = {"x": x} if y is None else {"x": x, "y": y}
    out = [dict(type="heatmap", z=f32(main), **where, colorscale=colorscale, zmin=zmin, zmax=zmax,
                name=name, colorbar=colorbar or {}, hoverongaps=False,
                hovertemplate=f"t=%{{x}}<br>{'row' if y is not None else 'unit'}=%{{y}}"
                              f"<br>{name}={hover}<extra></extra>")]
    if bad.any():
        out.append(dict(type="heatmap", z=f32(np.where(bad, 1.0, np.nan)), **where,
                        colorscale=theme.NONFINITE_SCALE, zmin=0, zmax=1, showscale=False,
                        name="NaN / Inf", hoverongaps=False,
                        hovertemplate="t=%{x}<br>NaN or Inf<extra></extra>"))
    return out


def fast_figure(spec: dict) -> go.Figure:
    """A figure from a spec of plain data ({"data": [...], "layout": {...}}) in the form Plotly
    itself writes (titles as {"text": ...}, nested dicts instead of magic underscores), without
    Plotly's property-by-property validation: that cost more than all the numerics of a view
    (0.1-0.2 s per build). The *_spec builders below write such specs; the stacked views use them
    directly. tests/test_figures.py checks validation would change nothing in them."""
    return go.Figure(spec, _validate=False)


def log_colorbar(title: str) -> dict:
    """Colour bar of the fixed log10 range with ticks written as powers of ten."""
    lo, hi = theme.LOG10_RANGE
    ticks = list(range(int(lo), int(hi) + 1, 2))
    return dict(title=dict(text=title), tickvals=ticks, ticktext=[f"1e{v}" for v in ticks])


def symmetric_range(z: np.ndarray, bounded: bool) -> tuple[float, float]:
    """-1..1 for bounded quantities (tanh-like), else +-max |finite value| (at least 1e-12)."""
    if bounded:
        return -1.0, 1.0
    finite = np.abs(z[np.isfinite(z)])
    m = float(min(finite.max(), F32_MAX)) if finite.size else 1.0
    m = max(m, 1e-12)
    return -m, m


CURSOR = "time cursor"  # the name of mark_cursor's lines, so move_cursor can find them


CURSOR_LINE = dict(color=theme.CURSOR_COLOR, width=2, dash="dot")


def mark_cursor(fig: go.Figure, t: int | None) -> go.Figure:
    """Vertical line at step t on every subplot that has a time axis."""
    if t is not None:
        fig.add_vline(x=t, line=CURSOR_LINE, name=CURSOR)
    return fig


def cursor_shapes(t: int | None) -> list[dict]:
    """mark_cursor's line as layout data, for a one-plot fast_figure."""
    if t is None:
        return []
    return [dict(type="line", name=CURSOR, x0=t, x1=t, xref="x", y0=0, y1=1, yref="y domain",
                 line=dict(CURSOR_LINE))]


def move_cursor(spec: dict, t: int | None) -> dict:
    """A figure's JSON dict (fig.to_plotly_json()) with its cursor lines moved to step t (removed
    for None): a time-cursor move without rebuilding the figure. The input is not modified."""
    shapes = []
    for sh in spec.get("layout", {}).get("shapes", ()):
        if sh.get("name") != CURSOR:
            shapes.append(sh)
        elif t is not None:
            shapes.append({**sh, "x0": t, "x1": t})
    return {**spec, "layout": {**spec.get("layout", {}), "shapes": shapes}}


def _layout(fig: go.Figure, title: str, height: int, top: int | None = None) -> go.Figure:
    """Title, size and legend; figures with subplot titles get a taller top margin so the title,
    the legend and the subplot titles do not overlap."""
    fig.update_layout(layout_data(title, height, bool(fig.layout.annotations), top))
    return fig


def _title(text: str, height: int) -> dict:
    """A figure's title, top left, 12 px below the top edge of a figure `height` px tall."""
    return dict(text=text, x=0.0, xanchor="left", y=1 - 12 / height, yanchor="top",
                font=dict(size=15))


def layout_data(title: str, height: int, has_sub: bool = False, top: int | None = None) -> dict:
    """_layout's settings as layout data."""
    top = top if top is not None else (95 if has_sub else theme.MARGIN["t"])
    plot_h = max(height - top - theme.MARGIN["b"], 50)
    return dict(title=_title(title, height),
                height=height, margin={**theme.MARGIN, "t": top}, hovermode="closest",
                legend=dict(orientation="h", y=1 + (30 if has_sub else 4) / plot_h,
                            yanchor="bottom", x=1, xanchor="right"))


def _row_colorbar(fig: go.Figure, row: int, **kw) -> dict:
    """A colour bar placed beside subplot `row` (1-based) of a single-column figure."""
    axis = fig.layout["yaxis" if row == 1 else f"yaxis{row}"]
    lo, hi = axis.domain
    return dict(y=(lo + hi) / 2, len=(hi - lo) * 1.05, yanchor="middle", thickness=12, **kw)


def log10_ticks(lo: float, hi: float) -> dict:
    """Axis ticks for log10 values labelled as powers of ten (a log axis that cannot underflow);
    short ranges get 1-2-5 ticks so the axis still reads."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return {}
    if hi - lo < 3:
        e0, e1 = int(math.floor(lo)), int(math.ceil(hi))
        vals = [e + math.log10(m) for e in range(e0, e1 + 1) for m in (1, 2, 5)]
        vals = [v for v in vals if lo - 0.35 <= v <= hi + 0.35]
        return dict(tickvals=vals, ticktext=[f"{10 ** v:.0e}".replace("e+0", "e").replace("e-0", "e-")
                                             .replace("e+", "e") for v in vals])
    step = max(1, int(math.ceil((hi - lo) / 8)))
    ticks = list(range(int(math.floor(lo)), int(math.ceil(hi)) + 1, step))
    return dict(tickvals=ticks, ticktext=[f"1e{v}" for v in ticks])


# ---------------------------------------------------------------------------------------------
# 1. Signals
# ---------------------------------------------------------------------------------------------


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
                                 line=dict(color=theme.LINE_COLORS["output"], dash="dash")),
                      row=2, col=1)
    fig.add_trace(go.Scatter(x=t, y=f32(trace.step_loss), mode="lines", name="L_t",
                             line=dict(color="#444444"), showlegend=False), row=3, col=1)
    fig.update_xaxes(title_text="step t", row=3, col=1)
    mark_cursor(fig, cursor)
    return _layout(fig, f"What goes in and what comes out{_where(trace, 0, 0, sample)}", 520)


# ---------------------------------------------------------------------------------------------
# 2. Hidden and cell states
# ---------------------------------------------------------------------------------------------


def state_figure(trace: Trace, quantity: str = "hidden", layer: int = 0, direction: int = 0,
                 sample: int = 0, cursor: int | None = None) -> go.Figure:
    """h_t (or c_t for quantity='cell') as a units x time heatmap on a symmetric colour range."""
    arr = getattr(trace, quantity)
    z = arr[_ld(trace, layer, direction), :, sample, :].T  # (H, T)
    T = z.shape[1]
    bounded = quantity == "hidden" and (trace.config.cell != "rnn"
                                        or trace.config.activation in ("tanh", "sigmoid"))
    zmin, zmax = symmetric_range(z, bounded)
    zp, x, k = pool_time(z)
    sym = "h_t" if quantity == "hidden" else "c_t"
    fig = go.Figure(heatmap_traces(zp, x, colorscale=theme.SIGNED_SCALE, zmin=zmin, zmax=zmax,
                                   name=sym, colorbar=dict(title=sym, thickness=12)))
    fig.update_xaxes(title_text="step t")
    fig.update_yaxes(title_text="unit")
    mark_cursor(fig, cursor)
    what = "hidden state h_t" if quantity == "hidden" else "cell state c_t"
    return _layout(fig, f"{what}{_where(trace, layer, direction, sample)}{reduced_note(k, T)}",
                   theme.HEATMAP_HEIGHT)


# ---------------------------------------------------------------------------------------------
# 3. Gates (LSTM / GRU) or phi'(a_t) (RNN)
# ---------------------------------------------------------------------------------------------


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
    ld = _ld(trace, layer, direction)
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
        for tr in heatmap_traces(zp, x, colorscale=scale, zmin=lo, zmax=hi, name=g,
                                 colorbar=_row_colorbar(fig, r, title=g)):
            fig.add_trace(tr, row=r, col=1)
        fig.update_yaxes(title_text="unit", row=r, col=1)
    t = np.arange(T, dtype=np.int32)
    if trace.config.cell == "rnn":
        d = data["phi'"]
        with np.errstate(invalid="ignore"):
            fig.add_trace(go.Scatter(x=t, y=f32((d < BLOCKED).mean(axis=-1)), mode="lines",
                                     name="blocked fraction", line=dict(color="#d62728")),
                          row=rows, col=1)
            fig.add_trace(go.Scatter(x=t, y=f32(np.nanmean(d, axis=-1)), mode="lines",
                                     name="mean phi'", line=dict(color="#1f77b4")), row=rows, col=1)
    else:
        for g in names:
            fig.add_trace(go.Scatter(x=t, y=f32(saturation(data[g], g)), mode="lines", name=g,
                                     line=dict(color=theme.GATE_COLORS[g])), row=rows, col=1)
    fig.update_yaxes(range=[-0.02, 1.02], title_text="fraction", row=rows, col=1)
    fig.update_xaxes(title_text="step t", row=rows, col=1)
    mark_cursor(fig, cursor)
    title = "Gates" if trace.config.cell != "rnn" else "Activation derivative phi'(a_t)"
    return _layout(fig, f"{title}{_where(trace, layer, direction, sample)}{reduced_note(k, T)}",
                   230 * len(names) + 200)


# ---------------------------------------------------------------------------------------------
# 4. Gradient through time
# ---------------------------------------------------------------------------------------------


def _time_spec(data: list[dict], title: str, height: int, yaxis: dict,
               cursor: int | None) -> dict:
    """A one-plot spec over time: the data, its title and height, "step t" along x, this y axis
    and the time cursor's line."""
    return {"data": data, "layout": {**layout_data(title, height),
                                     "xaxis": {"title": {"text": "step t"}}, "yaxis": yaxis,
                                     "shapes": cursor_shapes(cursor)}}


def grad_heatmap_figure(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                        cursor: int | None = None) -> go.Figure:
    """grad_heatmap_spec as a Plotly figure."""
    return fast_figure(grad_heatmap_spec(trace, layer, direction, sample, cursor))


def grad_heatmap_spec(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                        cursor: int | None = None) -> dict:
    """|dL/dh_t| per unit on the FIXED log10 range theme.LOG10_RANGE (comparable across runs)."""
    g = trace.grad_hidden[_ld(trace, layer, direction), :, sample, :].T  # (H, T)
    T = g.shape[1]
    gp, x, k = pool_time(g)
    lo, hi = theme.LOG10_RANGE
    data = heatmap_dicts(gp, x, colorscale=theme.LOG_SCALE, zmin=lo, zmax=hi, log=True,
                         name="log10|dL/dh|", hover="%{z:.2f}", colorbar=log_colorbar("|dL/dh_t|"))
    title = (f"|dL/dh_t| per unit, fixed log scale 1e{lo:.0f}..1e{hi:.0f}"
             f"{_where(trace, layer, direction, sample)}{reduced_note(k, T)}")
    return _time_spec(data, title, theme.HEATMAP_HEIGHT, {"title": {"text": "unit"}}, cursor)


def decay_line(trace: Trace, layer: int = 0, direction: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """(t, fitted log10 |dL/dh_t|) of trace.decay (sample 0), or None when there is no fit."""
    fit = trace.decay[_ld(trace, layer, direction)]
    slope, icpt = fit.get("slope_log10", math.nan), fit.get("intercept_log10", math.nan)
    if not (math.isfinite(slope) and math.isfinite(icpt)):
        return None
    T = trace.inputs.shape[0]
    t = np.arange(T)
    dist = (T - 1 - t) if direction == 0 else t  # distance from the end in processing order
    return t.astype(np.int32), icpt + slope * dist


def decay_readout(trace: Trace, layer: int = 0, direction: int = 0) -> str:
    """One line: rate per step, half-life and fit quality of |dL/dh_t|."""
    fit = trace.decay[_ld(trace, layer, direction)]
    rate, half, r2 = fit.get("rate", math.nan), fit.get("half_life", math.nan), fit.get("r2", math.nan)
    if not math.isfinite(rate):
        return "no decay fit (too few finite steps)"
    if r2 < 0.5:
        return f"no clear exponential trend (fit r² {r2:.2f})"
    if rate > 1:
        doubling = math.log10(2) / fit["slope_log10"]
        return f"x{rate:.3g} per step back · grows: doubles every {doubling:.3g} steps · fit r² {r2:.2f}"
    return f"x{rate:.3g} per step back · half-life {half:.3g} steps · fit r² {r2:.2f}"


def grad_norm_figure(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                     cursor: int | None = None) -> go.Figure:
    """grad_norm_spec as a Plotly figure."""
    return fast_figure(grad_norm_spec(trace, layer, direction, sample, cursor))


def grad_norm_spec(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                     cursor: int | None = None) -> dict:
    """log10 ||dL/dh_t|| vs t (exact, from trace.grad_hidden_log10) with the fitted decay line,
    the LSTM cell path ||dL/dc_t|| and, when computed, the Jacobian norm ||dh_T/dh_t||."""
    ld = _ld(trace, layer, direction)
    T = trace.inputs.shape[0]
    t = np.arange(T, dtype=np.int32)
    y = trace.grad_hidden_log10[ld, :, sample]

    def line(x, v, name, **style):
        return dict(type="scatter", x=x, y=f32(v), mode="lines", name=name, line=style)

    data = [line(t, y, "hidden path ||dL/dh_t||", color=theme.LINE_COLORS["hidden_path"], width=2)]
    ys = [y]
    if trace.grad_cell is not None:
        c = log10_abs(np.linalg.norm(trace.grad_cell[ld, :, sample], axis=-1))
        ys.append(c)
        data.append(line(t, c, "cell path ||dL/dc_t||", color=theme.LINE_COLORS["cell_path"],
                         width=2))
    if trace.jacobian_norm is not None:
        j = log10_abs(trace.jacobian_norm[ld])
        ys.append(j)
        data.append(line(t, j, "||dh_T/dh_t|| (Jacobian)", color=theme.LINE_COLORS["jacobian"],
                         dash="dot"))
    fit = decay_line(trace, layer, direction)
    if fit is not None and sample == 0:
        data.append(line(fit[0], fit[1], "fitted decay", color=theme.LINE_COLORS["fit"],
                         dash="dash"))
    finite = np.concatenate([v[np.isfinite(v)] for v in ys]) if ys else np.array([])
    ticks = log10_ticks(float(finite.min()), float(finite.max())) if finite.size else {}
    title = (f"Gradient norm through time{_where(trace, layer, direction, sample)}: "
             f"{decay_readout(trace, layer, direction)}")
    return _time_spec(data, title, theme.LINE_HEIGHT + 40,
                      {"title": {"text": "norm (log scale)"}, **ticks}, cursor)


def weight_terms_figure(trace: Trace, layer: int = 0, direction: int = 0,
                        cursor: int | None = None) -> go.Figure:
    """weight_terms_spec as a Plotly figure."""
    return fast_figure(weight_terms_spec(trace, layer, direction, cursor))


def weight_terms_spec(trace: Trace, layer: int = 0, direction: int = 0,
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
    return _time_spec(data, title, theme.LINE_HEIGHT, axis, cursor)


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
    fig = go.Figure(heatmap_traces(zp, x, y=steps.astype(np.int32), log=True,
                                   colorscale=theme.LOG_SCALE, zmin=lo, zmax=hi,
                                   name="log10|dL_s/dh_k|", hover="%{z:.2f}", blank_zeros=True,
                                   colorbar=log_colorbar("|dL_s/dh_k|")))
    fig.update_xaxes(title_text="state h_k at step k")
    fig.update_yaxes(title_text="loss L_s at step s", autorange="reversed")
    mark_cursor(fig, cursor)
    sub = (f" · subsampled: {len(steps)} of {T} loss steps (evenly spaced)"
           if trace.influence_subsampled else "")
    return _layout(fig, f"Influence matrix, top layer, sample 0{sub}{reduced_note(k, T)}",
                   theme.HEATMAP_HEIGHT)


# ---------------------------------------------------------------------------------------------
# 5. Spectrum
# ---------------------------------------------------------------------------------------------


def _circle(radius: float, n: int = 181) -> tuple[np.ndarray, np.ndarray]:
    a = np.linspace(0, 2 * np.pi, n)
    return f32(radius * np.cos(a)), f32(radius * np.sin(a))


def spectrum_figure(trace: Trace, layer: int = 0, direction: int = 0) -> go.Figure:
    """Eigenvalues of W_hh in the complex plane with the unit and 1/gamma circles; singular values."""
    sp = trace.spectrum[_ld(trace, layer, direction)]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.1,
                        subplot_titles=("eigenvalues of W_hh (complex plane)",
                                        "singular values of W_hh (largest first)"))
    cx, cy = _circle(1.0)
    bound = sp.get("bound")
    unit = "unit circle (= 1/gamma)" if bound is not None and abs(bound - 1.0) <= 1e-9 else "unit circle"
    fig.add_trace(go.Scatter(x=cx, y=cy, mode="lines", name=unit, hoverinfo="skip",
                             line=dict(color=theme.LINE_COLORS["unit_circle"], dash="dot")), 1, 1)
    if bound is not None and abs(bound - 1.0) > 1e-9:
        bx, by = _circle(bound)
        fig.add_trace(go.Scatter(x=bx, y=by, mode="lines", name=f"1/gamma = {bound:.3g}",
                                 hoverinfo="skip",
                                 line=dict(color=theme.LINE_COLORS["bound_circle"], dash="dash")), 1, 1)
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
                             line=dict(color="#444444")), 1, 2)
    fig.add_hline(y=1.0, line=dict(color=theme.LINE_COLORS["unit_circle"], dash="dot"), row=1, col=2)
    if bound is not None and abs(bound - 1.0) > 1e-9:
        fig.add_hline(y=bound, line=dict(color=theme.LINE_COLORS["bound_circle"], dash="dash"),
                      row=1, col=2)
    fig.update_xaxes(title_text="index", row=1, col=2)
    fig.update_yaxes(title_text="singular value", rangemode="tozero", row=1, col=2)
    return _layout(fig, f"Spectrum of W_hh{_where(trace, layer, direction, 0)}: radius "
                        f"{sp['spectral_radius']:.3g}, largest singular value "
                        f"{sp['max_singular']:.3g}", 420)


# ---------------------------------------------------------------------------------------------
# 6. Values at the time cursor
# ---------------------------------------------------------------------------------------------


def vectors_figure(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                   t: int = 0) -> go.Figure:
    """vectors_spec as a Plotly figure."""
    return fast_figure(vectors_spec(trace, layer, direction, sample, t))


def vectors_spec(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                   t: int = 0) -> dict:
    """Values over units at step t: h_t, c_t (LSTM) or phi'(a_t) (RNN) or z_t (GRU) on the left
    axis, dL/dh_t on the right axis (its own scale). Step lines, one path each: cheap to draw."""
    ld = _ld(trace, layer, direction)
    H = trace.hidden.shape[-1]
    u = np.arange(H, dtype=np.int32)
    left = [("h_t", trace.hidden[ld, t, sample], theme.LINE_COLORS["hidden_path"])]
    if trace.cell is not None:
        left.append(("c_t", trace.cell[ld, t, sample], theme.LINE_COLORS["cell_path"]))
    elif trace.act_deriv is not None:
        left.append(("phi'(a_t)", trace.act_deriv[ld, t, sample], theme.GATE_COLORS["a"]))
    else:
        left.append(("z_t", trace.gates["z"][ld, t, sample], theme.GATE_COLORS["z"]))
    data = [dict(type="scatter", x=u, y=f32(v), mode="lines", name=name,
                 line=dict(color=color, width=1.5, shape="hvh")) for name, v, color in left]
    data.append(dict(type="scatter", x=u, y=f32(trace.grad_hidden[ld, t, sample]), mode="lines",
                     name="dL/dh_t (right axis)", yaxis="y2",
                     line=dict(color=theme.LINE_COLORS["output"], width=1.5, shape="hvh")))
    layout = layout_data(f"Values at step t = {t}{_where(trace, layer, direction, sample)}", 360)
    layout.update(yaxis=dict(title=dict(text="value")),
                  yaxis2=dict(title=dict(text="dL/dh_t"), overlaying="y", side="right",
                              showgrid=False, exponentformat="e"),
                  xaxis=dict(title=dict(text="unit")), margin={**theme.MARGIN, "r": 70, "b": 90},
                  legend=dict(orientation="h", x=0, xanchor="left", y=-0.22, yanchor="top"))
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------------------------------------
# 7. Flags
# ---------------------------------------------------------------------------------------------


def flag_lines(trace: Trace) -> list[str]:
    """One sentence per numerical problem (quantity, kind, first step); empty when healthy."""
    from engine.flags import describe

    return describe(trace.flags)


# ---------------------------------------------------------------------------------------------
# 8. Stacked views: several time plots drawn as one figure
# ---------------------------------------------------------------------------------------------

STACK_GAP = 76  # px between stacked plots: the tick labels above and the next plot's title + key
# Fixed margins, wide enough for the tick labels, axis titles and colour bars of the stacked views.
# Plotly's automatic margins draw a fresh plot twice (once to measure the labels, once to fit
# them): the stacked views turn them off. Measured in headless Chromium, newPlot of the gradient
# view at T=50: 112 ms with automatic margins, 62 ms without.
STACK_MARGIN = dict(l=80, r=110)


def stack_figures(parts: list[go.Figure | dict], heights: list[int], title: str,
                  time_rows: int | None = None) -> dict:
    """Stack figures that each have one x axis into one figure whose time axes line up and zoom
    together (one Plotly root in the browser instead of one per plot). heights: each plot's
    height in px. The first time_rows parts (all by default) are time plots; the others keep
    their own x axis (e.g. units) and may have a right-hand y axis ('y2' overlaying 'y'). Each
    part's title becomes its subplot title; traces, axes, colour bars and cursor lines keep
    their settings."""
    n = len(parts)
    parts = [p if isinstance(p, dict) else p.to_plotly_json() for p in parts]
    time_rows = n if time_rows is None else time_rows
    gaps = [STACK_GAP + (25 if i == time_rows else 0) for i in range(1, n)]  # room for "step t"
    inner = sum(heights) + sum(gaps)  # plot area in px: paper coordinates 0..1
    data: list[dict] = []
    layout: dict = {"shapes": [], "annotations": []}
    top = inner
    for i, (spec, h) in enumerate(zip(parts, heights, strict=True), start=1):
        lo, hi = (top - h) / inner, top / inner
        top -= h + (gaps[i - 1] if i < n else 0)
        xa, ya, y2 = _row_axes(i, n)
        for tr in spec["data"]:
            tr = {**tr, "xaxis": xa, "yaxis": y2 if tr.get("yaxis") == "y2" else ya}
            if "colorbar" in tr:  # beside its own plot, not the whole figure
                tr["colorbar"] = {**tr["colorbar"], "y": (lo + hi) / 2, "len": (hi - lo) * 1.05,
                                  "yanchor": "middle"}
            data.append(tr)
        lay = spec["layout"]
        xaxis = {**lay.get("xaxis", {}), "domain": [0.0, 1.0], "anchor": ya}
        if 1 < i <= time_rows:
            xaxis["matches"] = "x"
        if i < time_rows:  # one "step t" label, under the bottom time plot
            xaxis.pop("title", None)
        layout["xaxis" if i == 1 else f"xaxis{i}"] = xaxis
        layout["yaxis" if i == 1 else f"yaxis{i}"] = {**lay.get("yaxis", {}), "domain": [lo, hi],
                                                      "anchor": xa}
        if "yaxis2" in lay:
            layout[f"yaxis{y2[1:]}"] = {**lay["yaxis2"], "overlaying": ya, "anchor": xa}
        for sh in lay.get("shapes", ()):
            layout["shapes"].append({**sh, "xref": xa,
                                     "yref": str(sh.get("yref", "y domain")).replace("y", ya, 1)})
        layout["annotations"].append(dict(text=_row_title(spec), x=0.0, xref="paper", xanchor="left", y=hi,
                                          yref="paper", yanchor="bottom", yshift=4, align="left",
                                          showarrow=False, font=dict(size=13)))
    top_m, bottom_m = 75, 110
    height = top_m + inner + bottom_m
    for name in [k for k in layout if k.startswith(("xaxis", "yaxis"))]:
        layout[name]["automargin"] = False  # see STACK_MARGIN
    layout.update(title=_title(title, height),
                  height=height, hovermode="closest", showlegend=False,  # see _row_title
                  margin={**STACK_MARGIN, "t": top_m, "b": bottom_m, "autoexpand": False})
    # The layout is assembled above as plain data (Plotly's property-by-property update_layout
    # cost more than the rest of a view's build); the traces and axes came out of Plotly already.
    return {"data": data, "layout": layout}


def _row_title(spec: dict) -> str:
    """A stacked plot's title, and under it the names of its lines and bars in their own colours
    (━ line, ┅ dashed, ■ filled area, ✕ markers): the stack's legend. Plotly's own legend cost more to
    draw than a whole plot of the stack (measured in Chromium: 45 -> 37 ms per draw without it)
    and sat far from the plots it named."""
    title = (spec["layout"].get("title") or {}).get("text", "")
    items = []
    for tr in spec["data"]:
        if tr.get("type") == "heatmap" or not tr.get("name"):
            continue  # a heatmap is named by its colour bar
        line, marker = tr.get("line") or {}, tr.get("marker") or {}
        color = line.get("color") or marker.get("color") or "#444444"
        symbol = ("■" if tr.get("fill") else "✕" if tr.get("mode") == "markers"
                  else "┅" if line.get("dash") else "━")
        items.append(f'<span style="color:{color}">{symbol} {html.escape(tr["name"])}</span>')
    return f"{title}<br>{'   '.join(items)}" if items else title


def _row_axes(row: int, rows: int) -> tuple[str, str, str]:
    """Axis ids of stacked row `row` (1-based) of `rows`: x, y, and a right-hand y after them."""
    xa, ya = ("x", "y") if row == 1 else (f"x{row}", f"y{row}")
    return xa, ya, f"y{rows + row}"


def replace_row(spec: dict, row: int, part: go.Figure | dict) -> dict:
    """A stack_figures JSON dict with row `row` (1-based) drawn from `part` instead: its traces
    and its subplot title; the row's axes and the other rows are kept as they are (the values
    at a new step t without rebuilding the rest). The input is not modified."""
    rows = len(spec["layout"]["annotations"])
    xa, ya, y2 = _row_axes(row, rows)
    new = part if isinstance(part, dict) else part.to_plotly_json()
    data = [tr for tr in spec["data"] if tr.get("xaxis", "x") != xa]
    at = next((k for k, tr in enumerate(spec["data"]) if tr.get("xaxis", "x") == xa), len(data))
    traces = [{**tr, "xaxis": xa, "yaxis": y2 if tr.get("yaxis") == "y2" else ya}
              for tr in new["data"]]
    notes = list(spec["layout"]["annotations"])
    notes[row - 1] = {**notes[row - 1], "text": _row_title(new)}
    return {**spec, "data": data[:at] + traces + data[at:],
            "layout": {**spec["layout"], "annotations": notes}}


GRADIENT_HEIGHTS = (250, 190, 150)  # px: |dL/dh_t| heatmap, its norm, the BPTT terms
VALUES_HEIGHT = 200  # px: the values over units at step t, under a view's time plots
STATE_HEIGHT = 230  # px per stacked state heatmap (h_t, c_t)
