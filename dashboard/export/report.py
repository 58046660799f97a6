"""The offline HTML report: the Explore view's figures, its explanation, the configuration and
the link in one self-contained page (plotly.js embedded, no network). Pure, no Streamlit; every
given string is escaped, and the same view gives the same bytes.
"""

from __future__ import annotations

import html
import json
import string
import urllib.parse

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from dashboard import theme
from dashboard.export.config_file import file_stem
from dashboard.figures import gradient, spectrum, views
from dashboard.figures.animation import DEFAULT_SPEED, animation_figure
from dashboard.state import explore
from dashboard.state.schema import DIRECTIONS, View, format_value
from engine import Config, Trace


def view_figures(trace: Trace, view: View) -> list[tuple[str, go.Figure]]:
    """(key, figure) for every plot the Explore page draws for this view, in page order
    (the same builders and arguments as explore._draw, plus the values at the cursor)."""
    T = trace.inputs.shape[0]
    t = view.cursor(T)
    d = DIRECTIONS.index(view.direction)
    where = dict(layer=view.layer, direction=d, sample=view.sample)
    out: list[tuple[str, go.Figure]] = []
    if view.view in ("signals", "hidden", "gates", "gradient"):  # one stacked figure each
        fig = views.view_figure(view.view, trace, where, t)
        if fig is not None:
            out.append(({"gradient": "grad"}.get(view.view, view.view), fig))
        if view.view == "gradient":  # the values at t right under the time plots
            out.append(("vectors", gradient.vectors_figure(trace, t=t, **where)))
            if trace.influence is not None:
                out.append(("influence", gradient.influence_figure(trace, cursor=t)))
    elif view.view == "spectrum":
        out.append(("spectrum", spectrum.spectrum_figure(trace, view.layer, d)))
    elif view.view == "animate":  # the report plays at the page's default speed
        out.append(("anim", animation_figure([("", trace)], frame_ms=int(1000 / DEFAULT_SPEED),
                                             **where)))
    if view.view != "gradient":  # the gradient view draws it under its time plots
        out.append(("vectors", gradient.vectors_figure(trace, t=t, **where)))
    return out


# $name: a colour of theme.REPORT_COLORS
REPORT_CSS = string.Template("""
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: $text; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: $muted; font-size: .9rem; word-break: break-all; }
.explain { background: $explain_fill; border-left: 4px solid $explain_edge; padding: .6rem 1rem; }
.flag { background: $flag_fill; border-left: 4px solid $flag_edge; padding: .6rem 1rem; }
.note { background: $note_fill; border-left: 4px solid $note_edge; padding: .6rem 1rem; }
table.config { border-collapse: collapse; font-size: .9rem; }
table.config td, table.config th { border: 1px solid $table_rule; padding: .2rem .6rem; text-align: left; }
.figure { margin: 1rem 0 2rem; }
@media print { .figure { page-break-inside: avoid; } }
""").substitute(theme.REPORT_COLORS)

# Adds a "Download plot as an svg" modebar button beside the PNG one (JSON configs cannot carry
# the click function, so it is attached here in the report's own script).
REPORT_JS = """
function unrolledPlot(id, fig, config, filename) {
  config.toImageButtonOptions = {format: 'png', filename: filename, scale: 2};
  config.modeBarButtonsToAdd = [{
    name: 'Download plot as an svg', title: 'Download plot as an svg', icon: Plotly.Icons.camera,
    click: function (gd) { Plotly.downloadImage(gd, {format: 'svg', filename: filename}); }
  }];
  return Plotly.newPlot(id, fig.data, fig.layout, config);
}
"""


def _table_rows(params, values) -> str:
    """<tr> rows of label, name and URL value for each Param, read from `values` (escaped)."""
    e = html.escape
    return "".join(f"<tr><th>{e(p.label)}</th><td><code>{e(p.name)}</code></td>"
                   f"<td>{e(format_value(p, getattr(values, p.name)))}</td></tr>" for p in params)


def report_html(figures: list[tuple[str, go.Figure]], config: Config, *, view: View | None = None,
                explanations: list[tuple[str, str]] = (), summary: list[str] = (),
                warnings: list[str] = (), notes: list[str] = (), url: str = "") -> str:
    """A self-contained HTML page (plotly.js embedded, no network) of the current view: the
    figures, the config table, the explanations and the link. Every given string is escaped."""
    e = html.escape
    view = view if view is not None else explore.DEFAULT_VIEW
    parts = [f'<div class="explain"><strong>{e(title)}.</strong> {e(text)}</div>'
             for title, text in explanations]
    parts += [f'<p>{e(s)}</p>' for s in summary]
    parts += [f'<div class="flag">{e(w)}</div>' for w in warnings]
    parts += [f'<div class="note">{e(n)}</div>' for n in notes]
    plots, scripts = [], []
    for i, (key, fig) in enumerate(figures):
        div = f"figure-{i}"
        plots.append(f'<div class="figure"><div id="{div}"></div></div>')
        # "<" only occurs inside JSON strings, where \u003c means the same: no user text (a
        # sentence in a tick label) can close or open a tag inside this <script>
        # white background: the page gets Streamlit's theme, a handout gets printed
        fig = go.Figure(fig).update_layout(template="plotly_white")
        fig_json = pio.to_json(fig, validate=False).replace("<", "\\u003c")
        name = json.dumps(f"{file_stem(config)}_{key}").replace("<", "\\u003c")
        scripts.append(f'unrolledPlot("{div}", {fig_json}, {{"displaylogo": false, '
                       f'"responsive": true}}, {name});')
    link = (f'<p class="meta">Link: <a href="{e(url, quote=True)}">{e(url)}</a></p>'
            if url else "")
    query = urllib.parse.urlencode(explore.state_to_query(config, view))
    title = explore.VIEW_TITLES[view.view]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:">
<title>Unrolled · {e(title)} · {e(file_stem(config))}</title>
<style>{REPORT_CSS}</style>
<script>{plotly.offline.get_plotlyjs()}</script>
<script>{REPORT_JS}</script>
</head>
<body>
<h1>Unrolled · {e(title)}</h1>
{link}
<p class="meta">Query: <code>?{e(query)}</code></p>
{"".join(parts)}
{"".join(plots)}
<h2>Configuration</h2>
<table class="config">{_table_rows(explore.PARAMS, config)}</table>
<h2>View</h2>
<table class="config">{_table_rows(explore.VIEW_PARAMS, view)}</table>
<p class="meta">Made by Unrolled; works offline (plotly.js is embedded). Every plot's modebar
downloads it as PNG or SVG.</p>
<script>
{chr(10).join(scripts)}
</script>
</body>
</html>
"""
