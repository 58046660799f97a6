"""What every figure builder is made of: float32 arrays, time pooling, the heatmap building block,
titles and layout, colour bars, the time cursor and log10 tick labels. Pure: no Streamlit.

How a figure is written (the one convention of dashboard/figures/):
- A builder is a pure function `<what>_figure(trace or results, ...) -> go.Figure`, one per plot.
- A single plot over time (the plots the stacked views are made of, and the values at step t)
  is written as plain Plotly JSON (dicts and numpy arrays, in the form Plotly itself writes:
  titles as {"text": ...}, no magic underscores) and decorated with @plain_figure, which wraps
  the dict once with go.Figure(spec, _validate=False). `builder.json(...)` gives the dict itself:
  the stacked views assemble those directly (stack.stack_figures takes figures or their JSON).
- A figure with subplots (make_subplots) is built with Plotly's objects and finished with
  set_layout.
- Every colour, colour scale and line style comes from dashboard/theme.py.

Conventions of the data: heatmaps are units (rows) x time (columns); arrays go out as float32
numpy arrays (Plotly sends them base64, not as lists); heatmaps wider than theme.MAX_COLUMNS are
max-|value| pooled and say so in their title; NaN / Inf cells are drawn in
theme.NONFINITE_COLOR; every plot with a time axis marks the time cursor t with a vertical line.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go

from dashboard import theme
from engine import Trace

F32_MAX = float(np.finfo(np.float32).max)


# ---------------------------------------------------------------------------------------------
# Arrays and labels
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


def where_note(trace: Trace, layer: int, direction: int, sample: int) -> str:
    """' (layer 1, reverse, sample 2)': the parts of the selection worth naming in a title."""
    c = trace.config
    parts = []
    if c.num_layers > 1:
        parts.append(f"layer {layer}")
    if c.bidirectional:
        parts.append("reverse" if direction else "forward")
    if c.batch_size > 1:
        parts.append(f"sample {sample}")
    return f" ({', '.join(parts)})" if parts else ""


def weight_name(kind: str, layer: int, direction: int) -> str:
    """torch.nn's name, e.g. weight_hh_l0 or weight_hh_l1_reverse."""
    return f"{kind}_l{layer}" + ("_reverse" if direction else "")


def symmetric_range(z: np.ndarray, bounded: bool) -> tuple[float, float]:
    """-1..1 for bounded quantities (tanh-like), else +-max |finite value| (at least 1e-12)."""
    if bounded:
        return -1.0, 1.0
    finite = np.abs(z[np.isfinite(z)])
    m = float(min(finite.max(), F32_MAX)) if finite.size else 1.0
    m = max(m, 1e-12)
    return -m, m


# ---------------------------------------------------------------------------------------------
# Writing a figure
# ---------------------------------------------------------------------------------------------


def plain_figure(build: Callable[..., dict]) -> Callable[..., go.Figure]:
    """Decorator for a builder written as plain Plotly JSON ({"data": [...], "layout": {...}}).
    Calling the builder returns a go.Figure of that JSON, wrapped once without Plotly's
    property-by-property validation, which cost more than all the numerics of a view (0.1-0.2 s
    per build; tests/test_figures.py checks validation would change nothing). `builder.json(...)`
    returns the JSON itself: the stacked views assemble those without a round trip through
    Plotly's objects (measured: the LSTM gradient view at T=50 builds in 0.3 ms from JSON, 7 ms
    from go.Figures read back with to_plotly_json)."""

    @functools.wraps(build)
    def figure(*args, **kwargs) -> go.Figure:
        return go.Figure(figure.json(*args, **kwargs), _validate=False)

    figure.json = build
    return figure


def line_style(name: str, **kw) -> dict:
    """Plotly line settings of a named line: colour theme.LINE_COLORS[name], dashed or dotted as
    theme.LINE_DASHES[name] says (solid when it says nothing), and kw (e.g. width)."""
    dash = theme.LINE_DASHES.get(name)
    return dict(color=theme.LINE_COLORS[name], **kw, **({"dash": dash} if dash else {}))


def heatmap_data(z: np.ndarray, x: np.ndarray, *, colorscale, zmin: float, zmax: float,
                 name: str, colorbar: dict | None = None, y=None, hover: str = "%{z:.3g}",
                 log: bool = False, blank_zeros: bool = False) -> list[dict]:
    """A units x time heatmap on a fixed colour range, plus an overlay marking NaN / Inf cells
    of z in theme.NONFINITE_COLOR (only when there are any), as plain trace data. log draws
    log10 |z| (exact zeros at the bottom of the range, or undrawn with blank_zeros)."""
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


def log_colorbar(title: str) -> dict:
    """Colour bar of the fixed log10 range with ticks written as powers of ten."""
    lo, hi = theme.LOG10_RANGE
    ticks = list(range(int(lo), int(hi) + 1, 2))
    return dict(title=dict(text=title), tickvals=ticks, ticktext=[f"1e{v}" for v in ticks])


def row_colorbar(fig: go.Figure, row: int, **kw) -> dict:
    """A colour bar placed beside subplot `row` (1-based) of a single-column figure."""
    axis = fig.layout["yaxis" if row == 1 else f"yaxis{row}"]
    lo, hi = axis.domain
    return dict(y=(lo + hi) / 2, len=(hi - lo) * 1.05, yanchor="middle", thickness=12, **kw)


def title_data(text: str, height: int) -> dict:
    """A figure's title, top left, 12 px below the top edge of a figure `height` px tall."""
    return dict(text=text, x=0.0, xanchor="left", y=1 - 12 / height, yanchor="top",
                font=dict(size=15))


def layout_data(title: str, height: int, has_sub: bool = False, top: int | None = None) -> dict:
    """Title, size and legend as layout data; figures with subplot titles (has_sub) get a taller
    top margin so the title, the legend and the subplot titles do not overlap."""
    top = top if top is not None else (95 if has_sub else theme.MARGIN["t"])
    plot_h = max(height - top - theme.MARGIN["b"], 50)
    return dict(title=title_data(title, height),
                height=height, margin={**theme.MARGIN, "t": top}, hovermode="closest",
                legend=dict(orientation="h", y=1 + (30 if has_sub else 4) / plot_h,
                            yanchor="bottom", x=1, xanchor="right"))


def set_layout(fig: go.Figure, title: str, height: int, top: int | None = None) -> go.Figure:
    """layout_data applied to a figure built with Plotly's objects; returns the figure."""
    fig.update_layout(layout_data(title, height, bool(fig.layout.annotations), top))
    return fig


def time_plot(data: list[dict], title: str, height: int, yaxis: dict, cursor: int | None) -> dict:
    """A one-plot figure over time as JSON: the data, its title and height, "step t" along x,
    this y axis and the time cursor's line."""
    return {"data": data, "layout": {**layout_data(title, height),
                                     "xaxis": {"title": {"text": "step t"}}, "yaxis": yaxis,
                                     "shapes": cursor_shapes(cursor)}}


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
# The time cursor
# ---------------------------------------------------------------------------------------------

CURSOR = "time cursor"  # the name of the cursor lines, so stack.move_cursor can find them


def mark_cursor(fig: go.Figure, x: int | None) -> go.Figure:
    """The cursor (theme.CURSOR_LINE) at x on every subplot: the time cursor at step t, or the
    Train page's marker at a training step. Nothing for None."""
    if x is not None:
        fig.add_vline(x=x, line=theme.CURSOR_LINE, name=CURSOR)
    return fig


def cursor_shapes(t: int | None) -> list[dict]:
    """mark_cursor's line as layout data, for a one-plot figure written as JSON."""
    if t is None:
        return []
    return [dict(type="line", name=CURSOR, x0=t, x1=t, xref="x", y0=0, y1=1, yref="y domain",
                 line=dict(theme.CURSOR_LINE))]
