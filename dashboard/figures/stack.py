"""Stacked figures: several one-plot figures drawn as one, on one time axis, and the cheap edits
of a stacked figure's JSON (a moved cursor, the cursor split off for the browser). Pure: no
Streamlit. Every function takes figures or their JSON (fig.to_plotly_json(), or a plain builder's
.json(...), see base.plain_figure) and returns JSON, never modifying its input.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from dashboard import theme
from dashboard.figures.base import CURSOR, title_data

STACK_GAP = 76  # px between stacked plots: the tick labels above and the next plot's title + key
# Fixed margins, wide enough for the tick labels, axis titles and colour bars of the stacked views.
# Plotly's automatic margins draw a fresh plot twice (once to measure the labels, once to fit
# them): the stacked views turn them off. Measured in headless Chromium, newPlot of the gradient
# view at T=50: 112 ms with automatic margins, 62 ms without.
STACK_MARGIN = dict(l=80, r=110)


def figure_json(part: go.Figure | dict) -> dict:
    """A figure's JSON: a dict as it is, a go.Figure as fig.to_plotly_json()."""
    return part if isinstance(part, dict) else part.to_plotly_json()


def stack_figures(parts: list[go.Figure | dict], heights: list[int], title: str,
                  time_rows: int | None = None) -> dict:
    """Stack figures that each have one x axis into one figure whose time axes line up and zoom
    together (one Plotly root in the browser instead of one per plot). heights: each plot's
    height in px. The first time_rows parts (all by default) are time plots; the others keep
    their own x axis (e.g. units) and may have a right-hand y axis ('y2' overlaying 'y'). Each
    part's title becomes its subplot title; traces, axes, colour bars and cursor lines keep
    their settings."""
    n = len(parts)
    parts = [figure_json(p) for p in parts]
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
        for tr in _row_traces(spec, i, n):
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
    layout.update(title=title_data(title, height),
                  height=height, hovermode="closest", showlegend=False,  # see _row_title
                  margin={**STACK_MARGIN, "t": top_m, "b": bottom_m, "autoexpand": False})
    # The layout is assembled above as plain data (Plotly's property-by-property update_layout
    # cost more than the rest of a view's build).
    return {"data": data, "layout": layout}


def move_cursor(spec: dict, t: int | None) -> dict:
    """A figure's JSON dict with its cursor lines (base.CURSOR) moved to step t (removed for
    None): a time-cursor move without rebuilding the figure. The input is not modified."""
    shapes = []
    for sh in spec.get("layout", {}).get("shapes", ()):
        if sh.get("name") != CURSOR:
            shapes.append(sh)
        elif t is not None:
            shapes.append({**sh, "x0": t, "x1": t})
    return {**spec, "layout": {**spec.get("layout", {}), "shapes": shapes}}


def split_cursor(spec: dict) -> tuple[dict, list[dict]]:
    """(the figure's JSON dict without its cursor lines, the lines' place and style without their
    step): what a chart that follows the time cursor in the browser is sent, so that its JSON no
    longer depends on t (ui/cursor.py). Each line: {"axis": "x" for a vertical line at x = t
    ("y" for a horizontal one at y = t), "xref", "yref", "from", "to" (its extent along the
    other axis), "line"}. The input is not modified."""
    kept, lines = [], []
    for sh in spec.get("layout", {}).get("shapes", ()):
        if sh.get("name") != CURSOR:
            kept.append(sh)
            continue
        vertical = "domain" not in str(sh.get("xref", "x"))
        span = ("y0", "y1") if vertical else ("x0", "x1")
        lines.append({"axis": "x" if vertical else "y", "xref": sh.get("xref", "x"),
                      "yref": sh.get("yref", "y"), "from": sh.get(span[0], 0),
                      "to": sh.get(span[1], 1), "line": dict(sh.get("line") or {})})
    return {**spec, "layout": {**spec.get("layout", {}), "shapes": kept}}, lines


def _row_axes(row: int, rows: int) -> tuple[str, str, str]:
    """Axis ids of stacked row `row` (1-based) of `rows`: x, y, and a right-hand y after them."""
    xa, ya = ("x", "y") if row == 1 else (f"x{row}", f"y{row}")
    return xa, ya, f"y{rows + row}"


def _row_traces(spec: dict, row: int, rows: int) -> list[dict]:
    """spec's traces moved onto the axes of stacked row `row` of `rows` (copies)."""
    xa, ya, y2 = _row_axes(row, rows)
    return [{**tr, "xaxis": xa, "yaxis": y2 if tr.get("yaxis") == "y2" else ya}
            for tr in spec["data"]]


def _row_title(spec: dict) -> str:
    """A stacked plot's title, and under it the names of its lines and bars in their own colours:
    the stack's legend (legend_line)."""
    title = (spec["layout"].get("title") or {}).get("text", "")
    items = legend_line(spec["data"])
    return f"{title}<br>{items}" if items else title


def legend_line(data: list[dict]) -> str:
    """The names of a plot's lines and bars in their own colours (━ line, ┅ dashed, ■ filled
    area, ✕ markers), as one line of title text: the legend of stacked plots and of the values
    readout. Plotly's own legend cost more to draw than a whole plot of the stack (measured in
    Chromium: 45 -> 37 ms per draw without it) and sat far from the plots it named."""
    items = []
    for tr in data:
        if tr.get("type") == "heatmap" or not tr.get("name"):
            continue  # a heatmap is named by its colour bar
        line, marker = tr.get("line") or {}, tr.get("marker") or {}
        color = line.get("color") or marker.get("color") or theme.LINE_COLORS["neutral"]
        symbol = ("■" if tr.get("fill") else "✕" if tr.get("mode") == "markers"
                  else "┅" if line.get("dash") else "━")
        items.append(f'<span style="color:{color}">{symbol} {html.escape(tr["name"])}</span>')
    return "   ".join(items)
