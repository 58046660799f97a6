"""The time animation: a Plotly figure whose frames walk the cursor through the forward pass
(t = 0..T-1: h_t appears step by step) and back through the backward pass (t = T-1..0: dL/dh_t
arrives step by step). Pure function, no Streamlit.

The heatmaps are sent once (reduced to what the cursor can visit); a frame only moves shapes (a
grey cover over what is not computed yet, theme.COVER_COLOR, and the cursor line) so playing it
runs in the browser, never the engine, and each frame is a few hundred bytes. Long sequences are
walked with a stride, and the title says so.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import theme
from dashboard.figures.base import heatmap_data, label_steps, log_colorbar, pool_time, set_layout
from dashboard.figures.compare import shared_state_range
from engine import Trace

MAX_STEPS = 100  # cursor positions per pass: 200 frames in all, whatever T is
# A frame moves shapes, and plotly.js then redraws the whole figure, heatmaps included: its cost
# grows with the cells drawn. The cursor visits at most MAX_STEPS columns, and 128 rows fill the
# plot's height, so the animation draws heatmaps reduced to these (max |value| kept, labelled).
MAX_COLUMNS = 2 * MAX_STEPS
MAX_ROWS = 128
SPEEDS = (2, 5, 10, 20, 40)  # steps per second offered by the pages
DEFAULT_SPEED = 10
SHAPES_PER_PLOT = 2  # the cover and the cursor line, in every subplot, in every frame


def frame_steps(T: int, max_steps: int = MAX_STEPS) -> tuple[list[int], int]:
    """Cursor positions 0..T-1 with a stride k chosen so at most max_steps are visited (the last
    step always is); returns (positions, k)."""
    k = 1 if T <= max_steps else math.ceil(T / (max_steps - 1))  # room for the last step
    steps = list(range(0, T, k))
    if steps[-1] != T - 1:
        steps.append(T - 1)
    return steps, k


def frame_plan(T: int, max_steps: int = MAX_STEPS) -> list[tuple[str, int]]:
    """(pass, t) of every frame: the forward pass 0..T-1, then the backward pass T-1..0."""
    steps, _ = frame_steps(T, max_steps)
    return [("forward", t) for t in steps] + [("backward", t) for t in reversed(steps)]


def _frame_name(phase: str, t: int) -> str:
    return f"{phase[0]}{t}"


def _shapes(refs: list[tuple[str, str]], rows: int, phase: str, t: int,
            span: tuple[float, float]) -> list[dict]:
    """The cover and the cursor of every subplot at (phase, t). refs: (xref, yref) per subplot,
    row-major; row 0 holds h_t, row 1 dL/dh_t; span: the heatmaps' x extent."""
    lo, hi = span
    out = []
    for i, (xr, yr) in enumerate(refs):
        row = i // (len(refs) // rows)
        if phase == "forward":  # h_t known up to t; the backward pass has not started
            x0, x1 = (t + 0.5, hi) if row == 0 else (lo, hi)
        else:  # every h_t is known; dL/dh_t has arrived back to step t
            x0, x1 = (lo, lo) if row == 0 else (lo, t - 0.5)
        x1 = max(x0, x1)
        out.append(dict(type="rect", xref=xr, yref=f"{yr} domain", x0=x0, x1=x1, y0=0, y1=1,
                        fillcolor=theme.COVER_COLOR, line=dict(width=0)))
        out.append(dict(type="line", xref=xr, yref=f"{yr} domain", x0=t, x1=t, y0=0, y1=1,
                        line=theme.CURSOR_LINE))
    return out


def reduce(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """(H, T) -> at most MAX_ROWS x MAX_COLUMNS, keeping the value of largest |.| in each block;
    returns (pooled, first step of each column, first unit of each row, steps per column,
    units per row)."""
    zt, x, kt = pool_time(z, MAX_COLUMNS)  # (H, T')
    zu, y, ku = pool_time(np.ascontiguousarray(zt.T), MAX_ROWS)  # (T', H')
    return np.ascontiguousarray(zu.T), x, y, kt, ku


def _reduced_note(kt: int, ku: int) -> str:
    parts = [f"{k} {what}" for k, what in ((kt, "steps"), (ku, "units")) if k > 1]
    return f"<br>drawn reduced: max |value| of every {' x '.join(parts)}" if parts else ""


def _title(k: int, T: int) -> str:
    stride = f" · one frame every {k} steps (T = {T})" if k > 1 else ""
    return (f"Play: → the forward pass computes h_t, ← the backward pass brings dL/dh_t back"
            f"{stride}")


def animation_figure(sides: list[tuple[str, Trace]], layer: int = 0, direction: int = 0,
                     sample: int = 0, frame_ms: int = 100, max_steps: int = MAX_STEPS) -> go.Figure:
    """h_t (top) and |dL/dh_t| (bottom) of one trace, or of two side by side on shared colour
    scales, with frames that walk the time cursor forward and then backward; Plotly's own Play /
    Pause buttons and a frame slider drive it. sides: [(label, trace)], label may be ''."""
    if not 1 <= len(sides) <= 2:
        raise ValueError(f"animation_figure: expected one or two traces, got {len(sides)}")
    traces = [tr for _, tr in sides]
    T = traces[0].inputs.shape[0]
    if any(tr.inputs.shape[0] != T for tr in traces):
        raise ValueError("animation_figure: the traces must have the same length T")
    where = dict(layer=layer, direction=direction, sample=sample)
    n = len(sides)
    titles = [f"{(lab + ' · ') if lab else ''}{q}" for q in ("h_t", "|dL/dh_t|") for lab, _ in sides]
    fig = make_subplots(rows=2, cols=n, shared_xaxes=True, vertical_spacing=0.14,
                        horizontal_spacing=0.06, subplot_titles=titles)
    hmin, hmax = shared_state_range(traces, "hidden", where)
    glo, ghi = theme.LOG10_RANGE
    pooled = (1, 1)  # the largest (steps, units) reduction of any heatmap
    span = (-0.5, T - 0.5)  # x extent of the heatmaps' cells (wider when columns are pooled)
    for c, tr in enumerate(traces, start=1):
        ld = tr.layer_index(layer, direction)
        h = tr.hidden[ld, :, sample, :].T  # (H, T)
        g = tr.grad_hidden[ld, :, sample, :].T  # (H, T)
        last = c == n  # one colour bar per row: the scales are shared
        for r, (z, kw) in enumerate([
                (h, dict(colorscale=theme.SIGNED_SCALE, zmin=hmin, zmax=hmax, name="h_t")),
                (g, dict(colorscale=theme.LOG_SCALE, zmin=glo, zmax=ghi, log=True,
                         name="log10|dL/dh|", hover="%{z:.2f}"))], start=1):
            zp, x, y, kt, ku = reduce(z)
            pooled = max(pooled[0], kt), max(pooled[1], ku)
            span = min(span[0], x[0] - kt / 2), max(span[1], x[-1] + kt / 2)
            dom = fig.get_subplot(r, c).yaxis.domain
            bar = log_colorbar("|dL/dh_t|") if r == 2 else dict(title=dict(text="h_t"))
            bar.update(y=(dom[0] + dom[1]) / 2, len=dom[1] - dom[0], yanchor="middle", thickness=12)
            for hm in heatmap_data(zp, x, y=y, colorbar=bar, **kw):
                hm["showscale"] = last and hm.get("showscale") is not False
                fig.add_trace(hm, row=r, col=c)
            fig.update_yaxes(title_text="unit" if c == 1 else None, row=r, col=c)
        fig.update_xaxes(title_text="step t", row=2, col=c)
    label_steps(fig, traces[0].step_labels, theme.TIME_AXIS_PX if n == 1 else theme.PAIR_AXIS_PX)
    refs = []
    for r in (1, 2):
        for c in range(1, n + 1):
            sp = fig.get_subplot(r, c)
            refs.append((sp.xaxis.plotly_name.replace("axis", ""), sp.yaxis.plotly_name.replace("axis", "")))
    plan = frame_plan(T, max_steps)
    _, k = frame_steps(T, max_steps)
    # A frame moves shapes only: nothing is resent, and the title is not redrawn by a frame
    # (so the slider names the step instead).
    fig.frames = [go.Frame(name=_frame_name(ph, t), group=ph,
                           layout=dict(shapes=_shapes(refs, 2, ph, t, span))) for ph, t in plan]
    play = dict(frame=dict(duration=int(frame_ms), redraw=False), transition=dict(duration=0),
                mode="immediate")
    fig.update_layout(
        shapes=_shapes(refs, 2, *plan[0], span),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, xanchor="left", y=-0.12,
                          yanchor="top", showactive=False, pad=dict(t=0, r=6), buttons=[
                              dict(label="▶ Play", method="animate",
                                   args=[None, {**play, "fromcurrent": True}]),
                              dict(label="Pause", method="animate",
                                   args=[[None], dict(frame=dict(duration=0, redraw=False),
                                                      transition=dict(duration=0),
                                                      mode="immediate")]),
                              dict(label="Start over", method="animate",
                                   args=[None, {**play, "fromcurrent": False}])])],
        sliders=[dict(active=0, x=0.32, len=0.68, y=-0.08, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix="cursor ", font=dict(size=12)),
                      steps=[dict(method="animate", label=("→" if ph == "forward" else "←") + str(t),
                                  args=[[_frame_name(ph, t)],
                                        dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                             transition=dict(duration=0))])
                             for ph, t in plan])])
    note = _reduced_note(*pooled)
    set_layout(fig, _title(k, T) + note, 2 * theme.HEATMAP_HEIGHT + 80, top=115 if note else None)
    fig.update_layout(margin=dict(b=110))  # room for the buttons and the slider
    return fig

