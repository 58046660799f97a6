"""The Explore page's time views as single figures (pure: no Streamlit): each view's plots stacked
on one time axis (stack.stack_figures). The values at step t are a chart of their own
(gradient.vectors_figure), which the browser redraws when the time cursor moves (ui/cursor.py).
dashboard/ui/charts.py caches and draws these; dashboard/export/ puts the same figures in the
HTML report.
"""

from __future__ import annotations

import plotly.graph_objects as go

from dashboard.figures import forward, gradient, stack
from dashboard.figures.base import where_note
from engine import Trace

GRADIENT_HEIGHTS = (250, 190, 150)  # px: |dL/dh_t| heatmap, its norm, the BPTT terms
REACH_HEIGHT = 170  # px: ||dL/dx_t|| per word, in the gradient view of a sentence
STATE_HEIGHT = 230  # px per stacked state heatmap (h_t, c_t)


def _parts(name: str, trace: Trace, layer: int, direction: int, sample: int) -> tuple[list, str]:
    """(the view's plots as (builder name, build, height), the figure's title). The stacked
    plots are built as JSON (builder.json, see base.plain_figure): the stack is assembled from
    plain data, never through Plotly's objects."""
    where = dict(layer=layer, direction=direction, sample=sample, cursor=0)
    note = where_note(trace, layer, direction, sample)
    if name == "gradient":
        h, n, b = GRADIENT_HEIGHTS
        return [("grad_heatmap_figure",
                 lambda: gradient.grad_heatmap_figure.json(trace, **where), h),
                ("grad_norm_figure", lambda: gradient.grad_norm_figure.json(trace, **where), n),
                *([("word_reach_figure", lambda: gradient.word_reach_figure.json(
                    trace, sample=sample, cursor=0), REACH_HEIGHT)]
                  if trace.step_labels is not None else []),
                ("weight_terms_figure",
                 lambda: gradient.weight_terms_figure.json(trace, layer, direction, cursor=0), b)
                ], f"Gradient through time{note}"
    if name == "hidden":
        qs = ["hidden"] + (["cell"] if trace.cell is not None else [])
        return [("state_figure", lambda q=q: forward.state_figure.json(trace, q, **where),
                 STATE_HEIGHT) for q in qs], f"States{note}"
    if name == "gates":
        return [("gates_figure", lambda: forward.gates_figure(trace, **where), 0)], ""
    if name == "signals":
        return [("signals_figure",
                 lambda: forward.signals_figure(trace, sample=sample, cursor=0), 0)], ""
    raise ValueError(f"views: no stacked figure for view {name!r}")


def build_view(name: str, trace: Trace, layer: int, direction: int, sample: int
               ) -> tuple[dict | None, list[str]]:
    """(the view's figure as JSON with its cursor at step 0, messages for plots that failed)."""
    parts, title = _parts(name, trace, layer, direction, sample)
    figs, heights, errors = [], [], []
    for builder, build, height in parts:
        try:
            figs.append(build())
            heights.append(height)
        except Exception as e:  # noqa: BLE001 - one failing plot must not take the others down
            errors.append(f"Could not draw this plot ({builder}): {type(e).__name__}: {e}")
    if not figs:
        return None, errors
    if len(parts) == 1:
        return stack.figure_json(figs[0]), errors
    return stack.stack_figures(figs, heights, title), errors


def view_figure(name: str, trace: Trace, where: dict, t: int) -> go.Figure | None:
    """The figure the Explore page draws for a time view, cursor at t (None if every plot failed)."""
    spec, _ = build_view(name, trace, where["layer"], where["direction"], where["sample"])
    # _validate=False: the spec came out of Plotly already validated; re-checking every property
    # costs more than the rest of a cursor move
    return None if spec is None else go.Figure(stack.move_cursor(spec, t), _validate=False)
