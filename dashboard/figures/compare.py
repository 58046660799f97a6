"""Paired figures for the Compare page: A and B on ONE colour scale and ONE axis range, the ratio
of their gradient norms, and the summary table. Pure functions (no Streamlit).

The pairs are the Explore page's own builders (forward.py, gradient.py), then put on a range
computed from both traces, so equal colours (and equal heights) mean equal magnitudes on the two
sides.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from dashboard import theme
from dashboard.figures import forward, gradient, readouts
from dashboard.figures.base import (
    f32,
    label_steps,
    line_style,
    log10_ticks,
    mark_cursor,
    set_layout,
    symmetric_range,
    word_ticks,
)
from engine import Trace

if TYPE_CHECKING:
    import pandas as pd

SIDE_NAMES = ("A", "B")
PAIR_LEGEND_TOP = 110  # px above each norm plot of the pair: its title and a wrapped legend


def _titled(fig: go.Figure, side: str, trace: Trace) -> go.Figure:
    """A paired plot: its side in the title, and a sentence's words thinned for half the width."""
    fig.update_layout(title_text=f"{side} · {fig.layout.title.text}")
    if trace.step_labels is not None:
        fig.update_xaxes(**word_ticks(trace.step_labels, theme.PAIR_AXIS_PX))
    return fig


def _rows(trace: Trace, quantity: str, where: dict) -> np.ndarray:
    arr = getattr(trace, quantity)
    return arr[trace.layer_index(where["layer"], where["direction"]), :, where["sample"], :]


def shared_state_range(traces: list[Trace], quantity: str, where: dict) -> tuple[float, float]:
    """One symmetric colour range for h_t (or c_t) over every trace: -1..1 when all are bounded
    (tanh-like), else +-max |finite value| over all of them."""
    bounded = quantity == "hidden" and all(
        t.config.cell != "rnn" or t.config.activation in ("tanh", "sigmoid") for t in traces)
    return symmetric_range(np.concatenate([_rows(t, quantity, where).ravel() for t in traces]),
                             bounded)


def paired_state_figures(a: Trace, b: Trace, quantity: str, where: dict,
                         cursor: int | None = None) -> list[go.Figure]:
    """h_t (or c_t) of A and B as heatmaps on one shared colour range."""
    zmin, zmax = shared_state_range([a, b], quantity, where)
    sym = "h_t" if quantity == "hidden" else "c_t"
    figs = []
    for side, trace in zip(SIDE_NAMES, (a, b), strict=True):
        fig = forward.state_figure(trace, quantity, cursor=cursor, **where)
        fig.update_traces(zmin=zmin, zmax=zmax, selector=dict(type="heatmap", name=sym))
        figs.append(_titled(fig, side, trace))
    return figs


def paired_grad_heatmaps(a: Trace, b: Trace, where: dict, cursor: int | None = None) -> list[go.Figure]:
    """|dL/dh_t| of A and B: gradient.py already draws it on the fixed range theme.LOG10_RANGE."""
    return [_titled(gradient.grad_heatmap_figure(t, cursor=cursor, **where), side, t)
            for side, t in zip(SIDE_NAMES, (a, b), strict=True)]


def paired_gates_figures(a: Trace, b: Trace, where: dict, cursor: int | None = None) -> list[go.Figure]:
    """Gates (or phi'(a_t)) of A and B: every gate is on its fixed range (theme.gate_range), the
    fractions on 0..1, so the pair already shares its scales."""
    return [_titled(forward.gates_figure(t, cursor=cursor, **where), side, t)
            for side, t in zip(SIDE_NAMES, (a, b), strict=True)]


def _finite_y(fig: go.Figure) -> np.ndarray:
    ys = [np.asarray(tr.y, dtype=np.float64) for tr in fig.data if tr.y is not None]
    v = np.concatenate(ys) if ys else np.array([])
    return v[np.isfinite(v)]


def paired_grad_norm_figures(a: Trace, b: Trace, where: dict,
                             cursor: int | None = None) -> list[go.Figure]:
    """log10 ||dL/dh_t|| of A and B (with their fits, cell paths) on one shared y range."""
    figs = [_titled(gradient.grad_norm_figure(t, cursor=cursor, **where), side, t)
            for side, t in zip(SIDE_NAMES, (a, b), strict=True)]
    v = np.concatenate([_finite_y(f) for f in figs])
    if v.size:
        lo, hi = float(v.min()), float(v.max())
        pad = max(0.05 * (hi - lo), 0.1)
        for f in figs:
            f.update_yaxes(range=[lo - pad, hi + pad], **log10_ticks(lo, hi))
    for f in figs:  # half a page wide, a legend of three lines wraps into rows (more of them in
        # presentation mode's larger font): room for them between the title and the plot
        f.update_layout(margin_t=PAIR_LEGEND_TOP, height=f.layout.height + PAIR_LEGEND_TOP
                        - f.layout.margin.t)
    for f in figs:
        _readout_under_title(f)
    return figs


PAIR_TITLE_CHARS = 56  # a readout line of a paired plot: about half a page in the title's font
READOUT_LINE = 20  # px per readout line under a paired plot's title


def _readout_under_title(fig: go.Figure) -> None:
    """A paired norm plot's title as its head, then the decay readout broken at ' · ' into
    lines that fit half a page (the readout of a batch runs to ~110 characters and
    was cut off at the plot's edge); the plot moves down by the lines added."""
    head, _, readout = fig.layout.title.text.partition(": ")
    if not readout:
        return
    lines = [""]
    for part in readout.split(" · "):
        if lines[-1] and len(lines[-1]) + 3 + len(part) > PAIR_TITLE_CHARS:
            lines.append(part)
        else:
            lines[-1] = f"{lines[-1]} · {part}" if lines[-1] else part
    extra = READOUT_LINE * len(lines)
    fig.update_layout(title_text="<br>".join([head, *lines]), margin_t=fig.layout.margin.t + extra,
                      height=fig.layout.height + extra)


def log10_ratio(a: Trace, b: Trace, where: dict) -> np.ndarray:
    """(T,) log10 (||dL/dh_t||_B / ||dL/dh_t||_A), exact from the traces' log10 norms."""
    la = a.grad_hidden_log10[a.layer_index(where["layer"], where["direction"]), :, where["sample"]]
    lb = b.grad_hidden_log10[b.layer_index(where["layer"], where["direction"]), :, where["sample"]]
    with np.errstate(invalid="ignore"):
        return lb - la


def ratio_figure(a: Trace, b: Trace, where: dict, cursor: int | None = None) -> go.Figure:
    """||dL/dh_t|| of B over A per step, on a log axis (log10 values labelled as powers of ten,
    so ratios beyond float range still draw); 1 = equal, above = B keeps more gradient."""
    r = log10_ratio(a, b, where)
    T = r.shape[0]
    t = np.arange(T, dtype=np.int32)
    fig = go.Figure(go.Scatter(x=t, y=f32(r), mode="lines", name="B / A",
                               line=dict(color=theme.LINE_COLORS["hidden_path"], width=2),
                               customdata=f32(10.0 ** np.clip(r, -300, 300)),
                               hovertemplate="t=%{x}<br>B / A = %{customdata:.3g}<extra></extra>"))
    fig.add_hline(y=0.0, line=line_style("unit_circle"),
                  annotation_text="B = A", annotation_position="top left")
    finite = r[np.isfinite(r)]
    lo, hi = (min(float(finite.min()), 0.0), max(float(finite.max()), 0.0)) if finite.size else (-1, 1)
    fig.update_yaxes(title_text="||dL/dh_t||: B / A (log scale)", **log10_ticks(lo, hi))
    fig.update_xaxes(title_text="step t")
    label_steps(fig, a.step_labels)
    mark_cursor(fig, cursor)
    return set_layout(fig, "Gradient norm ratio B / A per step (above 1: B keeps more gradient)",
                      theme.LINE_HEIGHT)


# ---------------------------------------------------------------------------------------------
# Summary table
# ---------------------------------------------------------------------------------------------


def saturated_fraction(trace: Trace, where: dict) -> tuple[str, float]:
    """(what was counted, fraction): LSTM/GRU gates saturated (sigmoid < 0.05 or > 0.95, |tanh|
    > 0.95) over all gates, steps and units; plain RNN units with phi'(a_t) < 0.1 (blocked)."""
    ld = trace.layer_index(where["layer"], where["direction"])
    s = where["sample"]
    if trace.config.cell == "rnn":
        d = trace.act_deriv[ld, :, s, :]
        with np.errstate(invalid="ignore"):
            return f"units with phi' < {forward.BLOCKED}", float((d < forward.BLOCKED).mean())
    fr = [forward.saturation(g[ld, :, s, :], name).mean() for name, g in trace.gates.items()]
    return "saturated gate values", float(np.mean(fr))


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.3g}"


def _pow10(log10: float) -> str:
    """10**log10 written without overflow or underflow (1e-300 and 1e400 alike)."""
    if not math.isfinite(log10):
        return "–"
    if -3 <= log10 < 4:
        return f"{10 ** log10:.3g}"
    e = math.floor(log10)
    return f"{10 ** (log10 - e):.2f}e{e}"


def _half_life(fit: dict) -> str:
    """The fitted half-life, or why there is none (growth, or no exponential trend to fit)."""
    rate, r2 = fit.get("rate", math.nan), fit.get("r2", math.nan)
    if not math.isfinite(rate):
        return "–"
    if r2 < 0.5:
        return "no clear trend"
    return "grows" if rate > 1 else _num(fit.get("half_life", math.nan))


def _half_life_spread(fit: dict) -> str:
    """'2.8-3.5' (10 % to 90 % of the samples' own half-lives); ∞ where a sample grows."""
    lo, hi = fit.get("half_life_q10", math.nan), fit.get("half_life_q90", math.nan)
    return "–" if math.isnan(lo) or math.isnan(hi) else f"{_num(lo)}-{_num(hi)}"


def summary_row(trace: Trace, where: dict) -> dict[str, str]:
    """The Compare page's numbers for one side (all as display strings)."""
    c = trace.config
    ld = trace.layer_index(where["layer"], where["direction"])
    sp = trace.spectrum[ld]
    fit = readouts.shown_fit(trace, where["layer"], where["direction"])
    logn = trace.grad_hidden_log10[ld, :, where["sample"]]
    rel = float(logn[0] - logn[-1]) if np.isfinite(logn[[0, -1]]).all() else math.nan
    what, sat = saturated_fraction(trace, where)
    bound = sp["bound"]
    s = sp["max_singular"]
    versus = ("gated cell: no bound" if bound is None else
              f"{s:.3g} {'<' if s < bound else '≥'} {bound:.3g}")
    rate = fit.get("rate", math.nan)
    flags = readouts.flag_lines(trace)
    cell = c.cell if c.cell != "rnn" else f"rnn ({c.activation})"
    B = fit.get("samples", 1)  # A and B read the same batch, so their rows match
    of = f"median of {B} samples"
    median = f" ({of})" if B > 1 else ""
    return {
        "cell": cell,
        "spectral radius of W_hh": _num(sp["spectral_radius"]),
        "largest singular value s vs 1/gamma": versus,
        f"fitted decay rate per step{median}": _num(rate),
        f"half-life (steps{', ' + of if B > 1 else ''})": _half_life(fit),
        **({"half-life, 10-90 % of the samples": _half_life_spread(fit)} if B > 1 else {}),
        f"fit r²{median}": _num(fit.get("r2", math.nan)),
        "||dL/dh_0|| / ||dL/dh_T||": _pow10(rel),
        "saturated fraction": f"{sat:.1%} ({what})",
        "loss L": _num(trace.loss),
        "flags": "; ".join(flags) if flags else "none",
    }


def summary_table(a: Trace, b: Trace, where: dict) -> pd.DataFrame:
    """A vs B, one row per quantity; a third column marks the rows where they differ."""
    import pandas as pd  # here, not at the top: its import (0.5 s) stays off the cold start

    ra, rb = summary_row(a, where), summary_row(b, where)
    return pd.DataFrame({"A": list(ra.values()), "B": [rb[k] for k in ra],
                         "differs": ["◀▶" if ra[k] != rb[k] else "" for k in ra]},
                        index=pd.Index(list(ra), name="quantity"))
