"""Colours, gate palettes, colour scales and sizes: every visual constant of the dashboard."""

from __future__ import annotations

import plotly.colors as pc

# |dL/dh_t| heatmaps use log10 values on this FIXED absolute range, whatever the config, so two
# configurations (or two browser tabs) compare by eye: 1e-12 and below is the darkest colour
# (vanished), 1e2 and above the brightest (exploding).
LOG10_RANGE = (-12.0, 2.0)

# Heatmaps with more time columns than this are max-|value| pooled on the server: no screen
# shows more columns than it has pixels (a plot on the page is about 900 px wide), spikes must
# stay visible after the reduction, and the browser draws a heatmap in time proportional to its
# cells (T=1000 becomes 500 columns of 2 steps).
MAX_COLUMNS = 800

NONFINITE_COLOR = "#ff00ff"  # NaN / Inf cells: a colour no colour scale below contains
NONFINITE_SCALE = [[0.0, NONFINITE_COLOR], [1.0, NONFINITE_COLOR]]


def _rgb_scale(hex_colors: list[str]) -> list:
    """An evenly spaced colour scale written with rgb() strings: plotly.js misdraws some hex
    colours at the ends of a heatmap scale (Inferno's '#000004' comes out pink)."""
    n = len(hex_colors) - 1
    return [[i / n, "rgb({}, {}, {})".format(*pc.hex_to_rgb(c))] for i, c in enumerate(hex_colors)]


# h_t, c_t, values at t: blue negative, white 0, red positive. Spelled out as Plotly's validation
# writes it: plotly.js knows no reversed "_r" names, and plain-data figures skip that validation.
SIGNED_SCALE = [[round(p, 6), c] for p, c in pc.get_colorscale("RdBu_r")]
LOG_SCALE = _rgb_scale(pc.sequential.Inferno)  # log10 |gradient|: dark = vanished, bright = large
DERIV_SCALE = _rgb_scale(pc.sequential.Viridis)  # phi'(a_t) on 0..1: dark = kills the gradient

# One palette per gate, 0 -> white, 1 -> the gate's colour; the same colour marks the gate in
# line plots and eigenvalue plots, so a gate is recognisable everywhere.
GATE_COLORS = {
    "i": "#1f77b4",  # input gate
    "f": "#2ca02c",  # forget gate: the LSTM's gradient highway
    "g": "#9467bd",  # candidate (tanh)
    "o": "#ff7f0e",  # output gate
    "r": "#d62728",  # GRU reset gate
    "z": "#2ca02c",  # GRU update gate: the GRU's gradient highway
    "n": "#9467bd",  # GRU candidate (tanh)
    "a": "#7f7f7f",  # RNN pre-activation
}
TANH_GATES = ("g", "n")  # these live in -1..1; the sigmoid gates in 0..1


def gate_scale(gate: str) -> list:
    """Colour scale of one gate: white at its low end, the gate's colour at its high end."""
    if gate in TANH_GATES:
        return [[0.0, "#3b3b3b"], [0.5, "#ffffff"], [1.0, GATE_COLORS[gate]]]
    return [[0.0, "#ffffff"], [1.0, GATE_COLORS[gate]]]


def gate_range(gate: str) -> tuple[float, float]:
    """Fixed colour range of one gate: 0..1 for sigmoid gates, -1..1 for the tanh candidate."""
    return (-1.0, 1.0) if gate in TANH_GATES else (0.0, 1.0)


LINE_COLORS = {
    "input": "#7f7f7f",
    "target": "#2ca02c",
    "output": "#d62728",
    "hidden_path": "#1f77b4",
    "cell_path": "#2ca02c",
    "fit": "#ff7f0e",
    "jacobian": "#9467bd",
    "direct": "#d62728",  # attention: the direct part ||dL/do_t|| the loss puts into o_t
    "terms": "#1f77b4",
    "eigen": "#1f77b4",
    "unit_circle": "#7f7f7f",
    "bound_circle": "#d62728",
    "neutral": "#444444",  # dark grey: lines of no gate and no path (the loss, singular values)
    "median": "#444444",  # the median over the batch of ||dL/dh_t||, over its 10-90 % band
    "reach": "#9467bd",  # ||dL/dx_t||: how much each input (word) reaches the loss
    "blocked": "#d62728",  # RNN: the fraction of units with phi'(a_t) below figures.forward.BLOCKED
    "mean_deriv": "#1f77b4",  # RNN: the mean phi'(a_t) over units
}
# Solid lines are measured; dashed and dotted ones are predictions, fits, bounds and references.
LINE_DASHES = {
    "output": "dash",  # the model's output y_hat_t, over the solid target y_t
    "jacobian": "dot",
    "fit": "dash",
    "unit_circle": "dot",
    "bound_circle": "dash",
}
CURSOR_COLOR = "#00b3b3"
# The time cursor's vertical line on every plot (and the Train page's marker at a training step)
CURSOR_LINE = dict(color=CURSOR_COLOR, width=2, dash="dot")
# The time animation's cover over what is not computed yet: the page's background, nearly opaque
COVER_COLOR = "rgba(235, 235, 235, 0.92)"

# Time axes named by words (task 'sentence') are thinned on the server so that no two labels
# collide on a plot this wide (px of plot area, measured in Chromium in a 1400 px window: an
# Explore plot 750, one of Compare's side-by-side plots 306-382, both about 1000 presenting).
TIME_AXIS_PX = 740  # an Explore plot
PAIR_AXIS_PX = 300  # one of Compare's pair, or of its two animations
TICK_FONT = 12  # px: the charts' tick labels (PAGE_TEMPLATE's font)
# With a batch, the norm plot draws the samples' spread (10-90 %) as a band behind the selected
# sample, and their median as a line.
BAND_FILL = "rgba(31, 119, 180, 0.18)"  # hidden_path's blue, faint

HEATMAP_HEIGHT = 320  # px: enough rows for H = 256 to stay readable
LINE_HEIGHT = 280
# The attention map alpha_tk (query step t x key step k): weights on the FIXED range 0..1, dark =
# ignored, bright = read (Viridis, as phi'; Cividis when presenting). Above MAX_SIDE steps it is
# max-pooled on the server to at most that many rows and columns: about a pixel each.
ATTENTION_RANGE = (0.0, 1.0)
ATTENTION_SCALE = DERIV_SCALE
ATTENTION_HEIGHT = 460  # px: a near-square map beside a 740 px wide time axis
ATTENTION_MAX_SIDE = 400
MARGIN = dict(l=60, r=20, t=50, b=40)

# ---- presentation mode (projectors): see dashboard/figures/present.py ----------------------
# Projectors wash out dark ends and thin lines, and about one viewer in twelve has a colour-vision
# deficiency: bigger text, thicker lines, and scales that stay ordered for every viewer.
PRESENT_FONT = 18  # px: axis labels, ticks, legends
PRESENT_TITLE_FONT = 24  # px: figure titles
PRESENT_LINE_SCALE = 1.75  # line widths are multiplied by this...
PRESENT_MIN_LINE = 3.0  # ...and never thinner than this (px)
PRESENT_HEIGHT_SCALE = 1.3  # figures grow with their text
PRESENT_PAGE_FONT = 20  # px: the page's root font size (Streamlit sizes its text in rem)
# Cividis (Nuñez et al. 2018) was built to read the same with deuteranopia and protanopia and rises
# monotonically in lightness: it replaces Inferno (log |gradient|) and Viridis (phi').
PRESENT_SEQUENTIAL = _rgb_scale(pc.sequential.Cividis)
# Purple-orange (ColorBrewer PuOr, marked colour-blind safe) replaces red-blue for signed values.
PRESENT_DIVERGING = [[round(1 - p, 6), c] for p, c in reversed(pc.make_colorscale(pc.diverging.PuOr))]
# Okabe & Ito's palette for line and gate colours: distinguishable with any common deficiency.
PRESENT_COLORS = {
    "#1f77b4": "#0072b2",  # blue
    "#2ca02c": "#009e73",  # bluish green
    "#d62728": "#d55e00",  # vermillion
    "#ff7f0e": "#e69f00",  # orange
    "#9467bd": "#cc79a7",  # reddish purple
    "#7f7f7f": "#000000",  # grey -> black: grey lines vanish on a projector
    "#444444": "#000000",
    BAND_FILL: "rgba(0, 114, 178, 0.2)",  # the batch band: the presenting blue, faint
}

# Train page: one colour per model slot (up to three side by side), kept on every chart.
MODEL_COLORS = ("#1f77b4", "#d62728", "#2ca02c")
BASELINE_COLOR = "#7f7f7f"  # trivial-baseline lines beside the loss curves
THRESHOLD_COLOR = "#ff7f0e"  # the clipping threshold and the radius-1 line
BASELINE_LINES = (dict(color=BASELINE_COLOR, width=1.5, dash="dash"),  # the first baseline...
                  dict(color=BASELINE_COLOR, width=1.5, dash="dot"))  # ...and any other
THRESHOLD_LINE = dict(color=THRESHOLD_COLOR, width=1.5, dash="dash")
CLIPPED_DASH = "dot"  # a model's gradient norm as applied after clipping, in the model's colour

# ---- the offline HTML report (dashboard/export/report.py): its page colours --------------------
# A light page whatever the dashboard's theme: a report is printed or opened as a handout.
REPORT_COLORS = {
    "text": "#1a1a1a",
    "muted": "#555",  # the link, the query and the footer
    "explain_fill": "#f4f6f8", "explain_edge": "#1f77b4",  # the view's explanation
    "flag_fill": "#fdecea", "flag_edge": "#d62728",  # numerical trouble
    "note_fill": "#eef4fb", "note_edge": "#7f7f7f",  # the engine's notes on the run
    "table_rule": "#ddd",  # the configuration and view tables
}

# The template of every chart drawn on the pages (dashboard/ui/plot_component.py), in place of the
# 7 kB Plotly default each figure carries: colour bars without outline or ticks (as Plotly's
# default draws them), a bold title. The browser adds the page's font, text and grid colours
# from Streamlit's theme, so charts follow a light or a dark theme.
# Tick labels may overflow the chart ("allow"): Plotly's default, "hide past div", measures every
# tick label's box at every redraw to hide the ones past the edge, a third of the axes' cost when
# the time cursor redraws the values readout; the margins keep them inside anyway.
_TICKS = {"ticklabeloverflow": "allow"}
PAGE_TEMPLATE = {
    "data": {"heatmap": [{"type": "heatmap",
                          "colorbar": {"outlinewidth": 0, "ticks": "", **_TICKS}}]},
    "layout": {"font": {"size": 12}, "title": {"font": {"size": 16, "weight": 600}},
               "colorway": pc.qualitative.Plotly, "xaxis": _TICKS, "yaxis": _TICKS},
}
