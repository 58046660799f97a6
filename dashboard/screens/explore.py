"""The Explore page: sidebar knobs -> Config -> engine.unroll (cached) -> figures, in lazy tabs."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard.figures import attention, equations, gradient, readouts, spectrum
from dashboard.figures.animation import DEFAULT_SPEED, SPEEDS, animation_figure
from dashboard.figures.base import shown_word
from dashboard.safe import md
from dashboard.state import explore as S
from dashboard.state.limits import size_problem
from dashboard.state.schema import DIRECTIONS, View
from dashboard.ui import compute
from dashboard.ui import export as export_ui
from dashboard.ui import series as series_ui
from dashboard.ui import weights as weights_ui
from dashboard.ui.charts import draw, guarded, view_figure
from dashboard.ui.cursor import following
from dashboard.ui.widgets import (
    config_ui,
    current_values,
    key,
    presets_ui,
    set_widgets,
    sync_url,
    view_controls,
    view_key,
    view_picker,
)
from engine import Config, Trace

# How each cell carries dL/dh_t one step back (the gradient view says it; so does Compare's)
CARRIES = {
    "rnn": "Going back one step it is multiplied by W_hh^T and by phi'(a_t), unit by unit: when "
           "their product shrinks it, the colour fades to the left (vanishing); when it grows "
           "it, the colour brightens (exploding).",
    "lstm": "An LSTM carries it back on two paths. On the cell path, dL/dc_{t-1} gets dL/dc_t "
            "times the forget gate f_t, unit by unit: no W_hh, no squashing, so f_t near 1 keeps "
            "it alive (the cell path ||dL/dc_t|| on the norm plot). The hidden path goes through "
            "W_hh^T and the gates' derivatives.",
    "gru": "A GRU's h_t = (1 - z_t) n_t + z_t h_{t-1} gives it a direct path: dL/dh_{t-1} gets "
           "dL/dh_t times the update gate z_t, unit by unit, so z_t near 1 keeps it alive. The "
           "other paths go through W_hh^T and the gates' derivatives.",
}
_GATES = ("Each gate on a fixed scale (sigmoid gates 0..1, the candidate {c} -1..1), so colours "
          "compare across runs; saturated gates (near 0 or 1) pass almost no gradient through "
          "their own derivative. ")
_HIDDEN = ("Each row is one unit, each column one step. Look for units stuck at ±1 (saturated: "
           "their derivative is ~0, so they block the gradient) and for patterns that fade or "
           "persist over time (memory).")
_SPECTRUM = "W_hh's eigenvalues against the unit circle, and its singular values"
# A view's explanation: one text, or one per cell (explain() picks it)
EXPLAIN = {
    "signals": "What the model reads (x_t), what it is asked for (y_t) and what it says (ŷ_t). "
               "The weights are untrained, so ŷ_t is not supposed to match: this page is about "
               "how the gradient flows, not about fit. The loss per step shows which steps "
               "inject gradient (only the last one with loss 'last').",
    "hidden": {"rnn": _HIDDEN, "gru": _HIDDEN,
               "lstm": _HIDDEN + " Below h_t, the cell state c_t: not squashed, it can hold a "
                                 "value for many steps."},
    "gates": {"rnn": "A plain RNN has no gates: this is phi'(a_t), the factor the gradient is "
                     "multiplied by at every step back (with W_hh^T), unit by unit. Dark means "
                     "the step kills it; below, the fraction of blocked units (phi' < 0.1) and "
                     "the mean phi'.",
              "lstm": _GATES.format(c="g") + "The forget gate f_t is the factor the cell path "
                      "multiplies dL/dc_t by at every step back: near 1 it keeps the gradient "
                      "alive.",
              "gru": _GATES.format(c="n") + "The update gate z_t is the factor the direct path "
                     "multiplies dL/dh_t by at every step back: near 1 it keeps the gradient "
                     "alive."},
    "gradient": {cell: "dL/dh_t is the total derivative of the loss with respect to h_t, through "
                       f"all later steps. {carries} The straight fitted line on the norm plot is "
                       "the decay rate; the bars are each step's contribution to dL/dW_hh."
                 for cell, carries in CARRIES.items()},
    "spectrum": {"rnn": f"{_SPECTRUM}. With gamma = max |phi'|, all singular values below "
                        "1/gamma guarantee vanishing gradients (Pascanu et al. 2013); a singular "
                        "value above 1/gamma is needed (not enough) for them to explode.",
                 **{cell: f"{_SPECTRUM}, per gate block. The Pascanu et al. (2013) bound is for a "
                          f"plain RNN: in {name} the {gate} sets how long gradients live."
                    for cell, name, gate in (("lstm", "an LSTM", "forget gate f_t"),
                                             ("gru", "a GRU", "update gate z_t"))}},
    "animate": "Press Play: the cursor walks the forward pass (h_t appears, t = 0..T-1), then the "
               "backward pass (dL/dh_t arrives step by step, T-1..0). It runs in the browser: "
               "nothing is recomputed per frame.",
}


def explain(name: str, cell: str) -> str:
    """The explanation of view `name` for this cell (EXPLAIN holds one text or one per cell)."""
    text = EXPLAIN[name]
    return text if isinstance(text, str) else text[cell]


def init_state() -> None:
    """On a session's first run, fill the widgets from the URL (warnings kept for display)."""
    if st.session_state.get("_ready") and widgets_present():
        return
    if st.session_state.get("_explore_last"):  # back from another page: it dropped our widgets
        set_widgets(*st.session_state["_explore_last"])
        return
    config, view, warnings = S.state_from_query(S.landing_query(st.query_params.to_dict()))
    set_widgets(config, view)
    st.session_state["url_warnings"] = warnings
    st.session_state["url_config"] = config
    st.session_state["_ready"] = True


def widgets_present() -> bool:
    """False after a visit to another page: Streamlit drops the state of widgets not drawn."""
    return all(key(p.name) in st.session_state for p in S.PARAMS)


HINT = "Try another setting or a preset; the link in the address bar reproduces it."
SERIES = series_ui.Keys(series=key("series"), task=key("task"), upload="series_upload",
                        fill="series_fill", seen="_series_seen")


def page() -> None:
    """Build the whole Explore page; whatever goes wrong is a message, never a traceback."""
    guarded(_page, HINT)


def _page() -> None:
    init_state()
    read_before = views_inputs()
    st.title("Unrolled · Explore")
    # The views before the sidebar: they read the knobs from the session state, so the first
    # chart need not wait for the sidebar's 46 widgets to be built, sent and mounted in the
    # browser (0.3-0.5 s of a cold start at T = 1000, measured)
    explorer()
    presets_ui()
    weights_ui.sidebar()  # your model: pins the architecture knobs before they are drawn
    config_ui(on_change=_rerun_views, fixed=weights_ui.fixed(),
              custom={"series": partial(series_ui.series_widget, keys=SERIES)})
    redraw_if_changed(read_before)


# What the views read that drawing the sidebar can change, besides the knobs and the model in
# use: your model's data (read by the sidebar's uploader), the note that a series' file is gone
# (series_widget)
SIDEBAR_WRITES = (weights_ui.DATA_HELD, SERIES.gone)
REDRAWN = "_explore_redrawn"  # session: the last run ended with a redraw


def views_inputs() -> tuple:
    """Every knob's value, the model in use and SIDEBAR_WRITES' objects, as the views read them."""
    return (tuple(current_values().values()) + (weights_ui.current(),)
            + tuple(st.session_state.get(k) for k in SIDEBAR_WRITES))


def _same(a: tuple, b: tuple) -> bool:
    """The same objects, or equal plain values (a held model or CSV is compared by identity)."""
    plain = (str, int, float, bool)
    return all(x is y or (type(x) is type(y) and isinstance(x, plain) and x == y)
               for x, y in zip(a, b, strict=True))


def redraw_if_changed(read_before: tuple) -> None:
    """Run the page again when drawing the sidebar changed what the views were drawn from (a new
    upload read, the knobs it pins, a series that fell back): once, so nothing can loop."""
    ss = st.session_state
    if _same(read_before, views_inputs()) or ss.get(REDRAWN):
        ss[REDRAWN] = False
        return
    ss[REDRAWN] = True
    st.rerun()


VIEWS = "explore_views"  # the fragment a knob change reruns


def _rerun_views() -> None:
    """A knob's on_change: rerun only the explorer fragment (warnings and views). The knobs,
    presets and navigation are not re-sent or redrawn: the browser's work per update grows with
    every element redrawn (about 1.5 ms per widget, measured), so this is what keeps a seed change
    quick. Knobs that grey out others (state.RESHAPES_KNOBS) rerun the whole page instead."""
    st.rerun(VIEWS)


@st.fragment(key=VIEWS)
def explorer() -> None:
    """The warnings and the views of the knobs' configuration: a fragment a knob change reruns."""
    guarded(_explorer, HINT)


def _explorer() -> None:
    values = current_values()
    config, warnings = S.build_config(values)
    if config == st.session_state.get("url_config"):
        warnings = st.session_state.get("url_warnings", []) + warnings
    for w in warnings:
        st.warning(md(w), icon=":material/warning:")
    problem = size_problem(config)
    if problem:
        st.error(problem)
        sync_url(S.state_to_query(config, S.DEFAULT_VIEW))  # the link still says exactly what was asked for
        return
    data = series_ui.shown_series_data(config, SERIES)
    if data is None:
        sync_url(S.state_to_query(config, S.DEFAULT_VIEW))
        return
    main_view(config, data)


def _summary(trace: Trace, layer: int, direction: int) -> str:
    """The line under the title: the decay of |dL/dh_t| in one sentence, then the loss."""
    return (f"**{readouts.decay_sentence(trace, layer, direction)}** · loss L = "
            f"{trace.loss:.4g}")


@st.fragment
def main_view(config: Config, data: series_ui.SeriesData) -> None:
    """The views; a fragment inside explorer(), so view controls (the time cursor) do not redraw
    the knobs either."""
    guarded(lambda: _main_view(config, data), HINT)


def _main_view(config: Config, data: series_ui.SeriesData) -> None:
    ss = st.session_state
    export_ui.rerun_if_restored()
    try:
        heavy = bool(ss.get(view_key("influence"))), bool(ss.get(view_key("jacobian")))
        model = weights_ui.current()  # an uploaded model, or None: the knobs' initialization
        trace = (compute.explore_trace(config, *heavy, data.values) if model is None else
                 weights_ui.own_trace(config, model, heavy, data.values))  # your CSV, or the task
    except Exception as e:  # noqa: BLE001 - the page never shows a traceback
        st.error(f"The engine could not run this configuration: {type(e).__name__}: {md(str(e))}")
        sync_url(S.state_to_query(config, S.DEFAULT_VIEW))
        return
    T = trace.inputs.shape[0]
    summary = st.empty()  # the decay sentence, right under the title (filled once the view is known)
    words = None if trace.step_labels is None else [shown_word(w) for w in trace.step_labels]
    view = view_controls([config], T, view_key, S.VIEW_TITLES, labels=words)
    sync_url(S.state_to_query(config, view))
    st.session_state["_explore_last"] = (config, view)  # restored after a visit to another page
    flags = readouts.flag_lines(trace)
    if flags:
        st.error("**Numerical trouble** (non-finite cells are drawn in magenta): "
                 + "; ".join(flags), icon=":material/error:")
    for note in trace.notes:
        st.info(note, icon=":material/info:")
    summary.markdown(_summary(trace, view.layer, DIRECTIONS.index(view.direction)))
    if data.caption:
        st.caption(md(data.caption))
    d = DIRECTIONS.index(view.direction)
    where = dict(layer=view.layer, direction=d, sample=view.sample)
    t = view.cursor(T)
    view_picker(S.VIEW_TITLES, view_key("tab"), view.view)
    with following():  # the charts' cursor lines and the values at t move in the browser
        st.caption(explain(view.view, config.cell))
        _draw(view.view, trace, where, t, view)
        if view.view != "gradient":  # the gradient view draws it under its time plots
            _values(trace, where, t)
    _equations(trace, t, where)
    export_ui.export_section(trace, view, {n: explain(n, config.cell) for n in S.VIEWS}, source=weights_ui.export_source(data.source))


EQUATIONS = "equations_open"  # session state: whether the equations section is open


def _equations(trace: Trace, t: int, where: dict) -> None:
    """The cell's equations with the live numbers at step t, in a section that is built only
    while open: typeset maths is the costliest text on the page to redraw (about 1,200 page
    elements), so a closed section keeps every control change fast."""
    box = st.expander("The cell's equations with the numbers at the time cursor t", key=EQUATIONS,
                      on_change="rerun", icon=":material/function:")
    if not box.open:
        return
    with box:
        cell = trace.config.cell
        st.caption(f"The same maths in plain Python, one line per equation: `engine/reference.py`, "
                   f"`{cell}_step` (forward) and `{cell}_step_back` (backward: dL/dh_t, every "
                   "gate's adjoint, the step's term of dL/dW).")
        try:  # one KaTeX element: cheaper to redraw than one per line
            lines = equations.cell_equations(trace, t=t, **where)
            st.latex(r"\begin{gathered}" + r" \\[4pt] ".join(lines) + r"\end{gathered}")
        except Exception as e:  # noqa: BLE001
            st.error(f"Could not write the equations: {type(e).__name__}: {md(str(e))}")


ATTENTION_NOTE = ("With the attention readout the output at step t reads every earlier state o_k "
                  "with weight alpha_tk (row t of the map), so the loss reaches h_k directly: the "
                  "red line on the norm plot, the direct part, does not have to pass back through "
                  "every step in between, and dL/dh_t no longer fades with the distance.")


def _values(trace: Trace, where: dict, t: int) -> None:
    """The values over units at step t, with the window of steps around t that the browser
    redraws it from when the cursor moves (built at the window's first step: the same chart
    for every t in the window, so a move's rerun resends nothing new)."""
    try:
        window = gradient.values_window(trace, t=t, **where)
    except Exception as e:  # noqa: BLE001 - the page never shows a traceback
        st.error(f"Could not draw this plot (vectors_figure): {type(e).__name__}: {md(str(e))}")
        return
    draw(gradient.vectors_figure, trace, t=window["start"], key="fig_vectors", values=window,
         **where)


def _draw(name: str, trace: Trace, where: dict, t: int, view: View) -> None:
    """The figures of one view."""
    if name in ("signals", "hidden", "gates"):  # one cached figure each; the cursor is moved
        draw(view_figure, name, trace, where, t, view, key=f"fig_{name}")
    elif name == "gradient":  # heatmap, norm and BPTT terms on one time axis, the values at t
        draw(view_figure, name, trace, where, t, view, key="fig_grad")
        _values(trace, where, t)
        if trace.attention is not None:  # the attention readout: what each step's output reads
            draw(attention.attention_figure, trace, sample=where["sample"], cursor=t,
                 key="fig_attention")
            st.caption(ATTENTION_NOTE)
        c1, c2 = st.columns(2)
        c1.toggle("Influence matrix", key=view_key("influence"),
                  help=S.VIEW_PARAM["influence"].help)
        c2.toggle("Jacobian norms ||dh_T/dh_t||", key=view_key("jacobian"),
                  help=S.VIEW_PARAM["jacobian"].help)
        if trace.influence is not None:
            draw(gradient.influence_figure, trace, cursor=t, key="fig_influence")
    elif name == "spectrum":
        ld = trace.layer_index(where["layer"], where["direction"])
        if weights_ui.current() is None:  # an uploaded model's weights are not its config's
            trace.spectrum = compute.spectra(trace.config, trace)  # cached per config, not redone
        st.info(trace.spectrum[ld]["verdict"])
        draw(spectrum.spectrum_figure, trace, where["layer"], where["direction"],
             key="fig_spectrum")
    elif name == "animate":
        speed = st.select_slider("Speed (steps per second)", SPEEDS, value=DEFAULT_SPEED,
                                 key=view_key("speed"))
        draw(animation_figure, [("", trace)], frame_ms=int(1000 / speed), key="fig_anim",
               **where)
