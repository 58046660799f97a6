"""Presentation mode for projectors: restyle any finished figure (bigger text, thicker lines,
colour-blind-safe scales). Pure: no Streamlit; charts.draw applies it to every figure of every
page when the mode is on, so no figure builder needs to know about it.
"""

from __future__ import annotations

import re

import plotly.graph_objects as go

from dashboard import theme
from dashboard.figures.base import rethin_ticks


def _norm_color(c) -> str:
    return str(c).replace(" ", "").lower()


def _norm_scale(scale) -> tuple:
    """A colour scale as Plotly stores it (names expanded), comparable with ==."""
    full = go.Heatmap(colorscale=scale).colorscale
    return tuple((round(float(p), 6), _norm_color(c)) for p, c in full)


# The dashboard's own scales and what replaces each (gate scales are recoloured stop by stop).
SCALE_SWAPS = {
    _norm_scale(theme.LOG_SCALE): theme.PRESENT_SEQUENTIAL,
    _norm_scale(theme.DERIV_SCALE): theme.PRESENT_SEQUENTIAL,
    _norm_scale(theme.SIGNED_SCALE): theme.PRESENT_DIVERGING,
}
_COLORS = {_norm_color(k): v for k, v in theme.PRESENT_COLORS.items()}


def present_color(c):
    """The presentation colour for a dashboard colour (others unchanged)."""
    return _COLORS.get(_norm_color(c), c) if isinstance(c, str) else c


_SPAN_COLOR = re.compile(r"color:\s*([^;\"']+)")


def present_text(text):
    """A title's coloured names (stack.legend_line's spans) in their presentation colours, so a
    name keeps the colour of its line."""
    if not isinstance(text, str):
        return text
    return _SPAN_COLOR.sub(lambda m: f"color:{present_color(m.group(1).strip())}", text)


def present_scale(scale):
    """The presentation colour scale replacing `scale` (None stays None)."""
    if scale is None:
        return None
    key = _norm_scale(scale)
    if key in SCALE_SWAPS:
        return SCALE_SWAPS[key]
    return [[p, present_color(c)] for p, c in key]  # e.g. a gate's white -> gate colour


def _font(size: int) -> dict:
    return dict(size=size)


def _style_trace(tr) -> None:
    if "colorscale" in tr and tr.colorscale is not None:
        tr.colorscale = present_scale(tr.colorscale)
    if "colorbar" in tr and (tr.showscale is None or tr.showscale):
        tr.colorbar.update(tickfont=_font(theme.PRESENT_FONT),
                           title=dict(font=_font(theme.PRESENT_FONT)), thickness=20)
    if "line" in tr and tr.line is not None and "width" in tr.line:
        width = tr.line.width if tr.line.width is not None else 2
        if width > 0:  # a filled area's hidden outline stays hidden
            tr.line.width = max(width * theme.PRESENT_LINE_SCALE, theme.PRESENT_MIN_LINE)
        if "color" in tr.line:
            tr.line.color = present_color(tr.line.color)
    if "fillcolor" in tr and isinstance(tr.fillcolor, str):
        tr.fillcolor = present_color(tr.fillcolor)
    if "marker" in tr and tr.marker is not None:
        if "color" in tr.marker and isinstance(tr.marker.color, str):
            tr.marker.color = present_color(tr.marker.color)
        if "size" in tr.marker and isinstance(tr.marker.size, (int, float)):
            tr.marker.size = tr.marker.size * 1.5


def _rethin_words(ax) -> None:
    """A time axis named by words (base.word_ticks: the only x axes with tick labels of their
    own) keeps fewer of them at the larger font, so they still never collide; presenting, plots
    are at least as wide as base.word_ticks assumed (theme.TIME_AXIS_PX)."""
    if ax.tickmode == "array" and ax.tickvals is not None and ax.ticktext is not None:
        ax.update(**rethin_ticks(list(ax.tickvals), list(ax.ticktext), theme.TIME_AXIS_PX,
                                 theme.PRESENT_FONT))


def style_for_presentation(fig: go.Figure) -> go.Figure:
    """Restyle fig for a projector and return it: fonts PRESENT_FONT / PRESENT_TITLE_FONT, lines
    at least PRESENT_MIN_LINE px, Cividis / purple-orange / Okabe-Ito colours in place of the
    usual scales, and a taller figure. Changes fig in place (figures are built fresh per draw)."""
    lay = fig.layout
    lay.font = dict(size=theme.PRESENT_FONT)
    lay.title.font = _font(theme.PRESENT_TITLE_FONT)
    lay.legend.font = _font(theme.PRESENT_FONT)
    if lay.height:
        lay.height = int(round(lay.height * theme.PRESENT_HEIGHT_SCALE))
    margin_t = lay.margin.t if lay.margin.t is not None else 50
    margin_l = lay.margin.l if lay.margin.l is not None else 60
    lay.margin.update(t=margin_t + 24, l=margin_l + 20)
    # an axis on the right (the values readout's dL/dh_t): its ticks and title grow too
    if any(ax.side == "right" for ax in fig.select_yaxes()):
        margin_r = lay.margin.r if lay.margin.r is not None else 80
        lay.margin.r = int(round(margin_r * theme.PRESENT_FONT / theme.TICK_FONT))
    lay.title.text = present_text(lay.title.text)
    for ann in lay.annotations:  # subplot titles
        ann.font = _font(theme.PRESENT_FONT)
        ann.text = present_text(ann.text)
    fig.for_each_xaxis(lambda ax: ax.update(tickfont=_font(theme.PRESENT_FONT),
                                            title_font=_font(theme.PRESENT_FONT)))
    fig.for_each_xaxis(_rethin_words)
    fig.for_each_yaxis(lambda ax: ax.update(tickfont=_font(theme.PRESENT_FONT),
                                            title_font=_font(theme.PRESENT_FONT)))
    for shape in lay.shapes:  # the time cursor and reference lines
        if shape.line is not None:
            width = shape.line.width if shape.line.width is not None else 2
            shape.line.width = max(width * theme.PRESENT_LINE_SCALE, theme.PRESENT_MIN_LINE)
            shape.line.color = present_color(shape.line.color)
    for tr in fig.data:
        _style_trace(tr)
    return fig
