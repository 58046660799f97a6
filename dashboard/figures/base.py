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
import html
import itertools
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


def time_plot(data: list[dict], title: str, height: int, yaxis: dict, cursor: int | None,
              labels: list[str] | None = None) -> dict:
    """A one-plot figure over time as JSON: the data, its title and height, "step t" along x,
    this y axis and the time cursor's line; with step labels (a sentence's words) the x axis
    names the steps by them and every hover says the word (word_ticks, word_hover)."""
    xaxis = {"title": {"text": "step t"}}
    if labels is not None:
        data = [word_hover(tr, labels) for tr in data]
        xaxis.update(word_ticks(labels))
    return {"data": data, "layout": {**layout_data(title, height), "xaxis": xaxis,
                                     "yaxis": yaxis, "shapes": cursor_shapes(cursor)}}


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
# Steps named by words (task 'sentence'): thinned tick labels, the word in every hover
# ---------------------------------------------------------------------------------------------

WORD_HOVER_CELLS = 40_000  # a heatmap names the word on hover with one string per cell: above
# this many cells (about 0.4 MB of strings) its hover says only t


def shown_word(word: str) -> str:
    """A word as Plotly text: its own characters, never markup (Plotly reads a few HTML tags, and
    a sentence comes from a link)."""
    return html.escape(word, quote=False)


def label_width(text: str, font_px: float) -> float:
    """The px a tick label takes on the axis, generously: 0.6 em per character (about the widest
    lowercase letters of the page's sans-serif font) plus 0.8 em of air to its neighbours."""
    return (0.6 * len(text) + 0.8) * font_px


def thin_ticks(steps, labels, width_px: float, font_px: float) -> list[int]:
    """Which of these labelled steps (increasing) to label on an axis width_px wide spanning
    steps[0]..steps[-1], so that no two labels collide: every k-th from the first, k as small as
    that allows (a regular scale reads best), and the last one (the end of the sentence) in place
    of the k-th before it where both do not fit. Returns indices into steps."""
    n = len(steps)
    if n == 0:
        return []
    px = width_px / max(float(steps[-1]) - float(steps[0]) + 1, 1)  # per step: heatmap cells
    pos = [(float(s) - float(steps[0])) * px for s in steps]
    half = [label_width(str(w), font_px) / 2 for w in labels]

    def clear(i: int, j: int) -> bool:
        return abs(pos[j] - pos[i]) >= half[i] + half[j]

    for k in range(1, n + 1):
        keep = list(range(0, n, k))
        if not all(clear(i, j) for i, j in itertools.pairwise(keep)):
            continue
        if keep[-1] != n - 1:
            while len(keep) > 1 and not clear(keep[-1], n - 1):
                keep.pop()
            if clear(keep[-1], n - 1):
                keep.append(n - 1)
        return keep
    return [0]


def word_ticks(labels: list[str], width_px: float = theme.TIME_AXIS_PX,
               font_px: float = theme.TICK_FONT) -> dict:
    """x-axis settings naming steps 0..T-1 by their labels, thinned so none collide on a plot
    width_px wide (thin_ticks)."""
    keep = thin_ticks(range(len(labels)), labels, width_px, font_px)
    return dict(tickmode="array", tickvals=keep, ticktext=[shown_word(labels[i]) for i in keep])


def rethin_ticks(tickvals, ticktext, width_px: float, font_px: float) -> dict:
    """word_ticks' labels thinned again for a larger font (presentation mode): the same ends,
    fewer labels between them."""
    keep = thin_ticks(tickvals, ticktext, width_px, font_px)
    return dict(tickvals=[tickvals[i] for i in keep], ticktext=[ticktext[i] for i in keep])


def word_hover(tr: dict, labels: list[str]) -> dict:
    """A trace over time (plain data, x = steps) whose hover also says the word of each step
    ('t=3 word=does'); returned as a new dict. A heatmap over WORD_HOVER_CELLS cells, or a trace
    without x, is returned as it is."""
    if tr.get("x") is None:
        return tr
    words = [shown_word(labels[int(t)]) for t in np.asarray(tr["x"]).reshape(-1)]
    template = tr.get("hovertemplate")
    if tr.get("type") == "heatmap":
        rows = np.shape(tr["z"])[0]
        if rows * len(words) > WORD_HOVER_CELLS or template is None:
            return tr
        return {**tr, "customdata": [words] * rows,
                "hovertemplate": template.replace("t=%{x}", "t=%{x} word=%{customdata}", 1)}
    if tr.get("customdata") is not None:  # keep what it showed: it becomes customdata[0]
        old = np.asarray(tr["customdata"], dtype=object).reshape(-1)
        return {**tr, "customdata": [[c, w] for c, w in zip(old.tolist(), words, strict=True)],
                "hovertemplate": (template or "").replace("%{customdata", "%{customdata[0]")
                .replace("t=%{x}", "t=%{x} word=%{customdata[1]}", 1)}
    if template is None:
        template = f"t=%{{x}}<br>{tr.get('name', '')}: %{{y:.3g}}<extra></extra>"
    return {**tr, "customdata": words,
            "hovertemplate": template.replace("t=%{x}", "t=%{x} word=%{customdata}", 1)}


def label_steps(fig: go.Figure, labels: list[str] | None,
                width_px: float = theme.TIME_AXIS_PX) -> go.Figure:
    """A figure built with Plotly's objects whose x axes are all time axes, with its steps named
    by `labels` (every x axis, every hover); nothing for None. Returns fig, changed in place."""
    if labels is None:
        return fig
    fig.update_xaxes(**word_ticks(labels, width_px))
    for tr in fig.data:
        spec = tr.to_plotly_json()
        new = word_hover(spec, labels)
        if new is not spec:
            tr.update(customdata=new["customdata"], hovertemplate=new["hovertemplate"])
    return fig


def step_name(trace: Trace, t: int) -> str:
    """' ("does")': the word of step t, for titles (empty when steps have no names)."""
    labels = trace.step_labels
    return f' ("{shown_word(labels[t])}")' if labels is not None and 0 <= t < len(labels) else ""


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
