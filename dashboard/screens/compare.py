"""The Compare page: configurations A and B side by side on the same inputs and targets.

B starts as a copy of A; the user changes one thing. The input knobs are shared (B reads A's x_t and
y_t), every paired chart is on one colour scale and one axis range, one time cursor marks both, and
both configurations live in the URL (a.*, b.*), so a comparison is a link.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard.figures import compare as compare_figs
from dashboard.figures import readouts
from dashboard.figures.animation import DEFAULT_SPEED, SPEEDS, animation_figure
from dashboard.safe import md
from dashboard.state import compare as CS
from dashboard.state import explore as S
from dashboard.state.compare_presets import ComparePreset, load_compare_presets
from dashboard.state.limits import size_problem
from dashboard.state.schema import DIRECTIONS, View, format_value
from dashboard.ui import compute
from dashboard.ui import present as present_ui
from dashboard.ui import series as series_ui
from dashboard.ui import weights as weights_ui
from dashboard.ui.charts import draw, guarded
from dashboard.ui.cursor import following
from dashboard.ui.widgets import (
    GROUP_TITLES,
    applies,
    param_widget,
    preset_buttons,
    sync_url,
    view_controls,
    view_picker,
)
from engine import Config, Trace

OWN_GROUPS = tuple(g for g in S.GROUPS if g != "input")

EXPLAIN = {
    "gradient": "|dL/dh_t| of A and B on the same fixed log scale (equal colours, equal "
                "magnitudes), their norms on one shared y range, and the ratio B / A per step: a "
                "line falling to the left means B's gradient dies faster than A's.",
    "hidden": "h_t (and c_t when both are LSTMs) of A and B on one shared colour range.",
    "gates": "Gates (LSTM/GRU) or phi'(a_t) (RNN) of A and B, each on its fixed range.",
    "animate": "Press Play: the cursor walks the forward pass (h_t appears, t = 0..T-1), then the "
               "backward pass (dL/dh_t arrives, T-1..0), in A and B at once. It runs in the "
               "browser: nothing is recomputed.",
}
# Per cell, what the gradient and gates views add to EXPLAIN for the cells of A and B
PER_CELL = {
    "gradient": {"rnn": "every step back multiplies dL/dh_t by W_hh^T and phi'(a_t)",
                 "lstm": "the cell path multiplies dL/dc_t by the forget gate f_t at every step "
                         "back (no W_hh), beside the hidden path through W_hh^T",
                 "gru": "the direct path multiplies dL/dh_t by the update gate z_t at every step "
                        "back, beside the paths through W_hh^T"},
    "gates": {"rnn": "phi'(a_t) is the factor every step back multiplies the gradient by",
              "lstm": "the forget gate f_t is the cell path's factor per step back",
              "gru": "the update gate z_t is the direct path's factor per step back"},
}
CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def explain(name: str, a: Config, b: Config) -> str:
    """The explanation of tab `name` for the cells of A and B."""
    per = PER_CELL.get(name)
    if per is None:
        return EXPLAIN[name]
    if a.cell == b.cell:
        return f"{EXPLAIN[name]} In both ({CELL_NAMES[a.cell]}), {per[a.cell]}."
    return (f"{EXPLAIN[name]} In A ({CELL_NAMES[a.cell]}), {per[a.cell]}; in B "
            f"({CELL_NAMES[b.cell]}), {per[b.cell]}.")


def a_key(name: str) -> str:
    """Session-state key of A's knob (the shared input knobs are A's)."""
    return f"cmp_a_{name}"


def b_key(name: str) -> str:
    """Session-state key of B's knob (model, initialization and loss only)."""
    return f"cmp_b_{name}"


def view_key(name: str) -> str:
    """Session-state key of a Compare view control."""
    return f"cmp_view_{name}"


SERIES = series_ui.Keys(series=a_key("series"), task=a_key("task"), upload="cmp_series_upload",
                        fill="cmp_series_fill", seen="_cmp_series_seen")


def _widget_keys() -> list[str]:
    return [a_key(p.name) for p in S.PARAMS] + [b_key(n) for n in CS.OWN]


def set_widgets(a: Config, b: Config, view: View) -> None:
    """Put A, B and the view into the widgets (before they are drawn, or from a callback)."""
    ss = st.session_state
    for name, value in S.config_values(a).items():
        ss[a_key(name)] = value
    for name in CS.OWN:
        ss[b_key(name)] = getattr(b, name)
    ss[view_key("tab")] = CS.COMPARE_VIEW_TITLES[view.view]
    for name in ("layer", "direction", "sample", "t"):
        ss[view_key(name)] = getattr(view, name)


def init_state() -> None:
    """First run: the URL fills the widgets (a link without a.* / b.* coming from Explore starts
    with A = B = Explore's configuration). After a visit to another page (which drops these
    widgets' state) the last A, B and view are put back."""
    ss = st.session_state
    if ss.get("_cmp_ready") and all(k in ss for k in _widget_keys()):
        return
    if ss.get("_cmp_last"):
        set_widgets(*ss["_cmp_last"])
        return
    query = st.query_params.to_dict()
    if not any(k.startswith(("a.", "b.")) for k in query) and ss.get("_explore_last"):
        query = CS.compare_to_query(ss["_explore_last"][0], ss["_explore_last"][0])
    a, b, view, warnings = CS.compare_from_query(query)
    set_widgets(a, b, view)
    ss["cmp_url_warnings"] = warnings
    ss["cmp_url_configs"] = (a, b)
    ss["_cmp_ready"] = True


def current_values() -> tuple[dict, dict]:
    """(A's, B's) field -> value as the widgets hold them; B's input knobs are A's."""
    ss = st.session_state
    va = {p.name: ss[a_key(p.name)] for p in S.PARAMS}
    vb = {**va, **{n: ss[b_key(n)] for n in CS.OWN}}
    return va, vb


# ---------------------------------------------------------------------------------------------
# Widgets
# ---------------------------------------------------------------------------------------------


# The settings section's open state (st.session_state[SETTINGS]). It opens on a visit where B is
# a copy of A (change one of B's knobs first), and closed where a link or a classic pair makes them
# differ, so the first screen shows the comparison, not 30 knobs; the user may open or close it.
SETTINGS = "cmp_settings"


def _apply(preset: ComparePreset) -> None:
    set_widgets(preset.a, preset.b, View(view=preset.view))
    st.session_state[SETTINGS] = False  # the pair's charts, not its knobs, on the first screen


def _copy_a_to_b() -> None:
    for name in CS.OWN:
        st.session_state[b_key(name)] = st.session_state[a_key(name)]


def presets_ui() -> None:
    """One button per classic pair, each with its two-line caption."""
    preset_buttons("Classic pairs", load_compare_presets(), "cmp_preset_", _apply)


def shared_ui(va: dict) -> None:
    """The input knobs, once, in the sidebar: A and B read the same data."""
    with st.sidebar.expander("Shared input (A and B)", expanded=True):
        st.caption("A and B read the same x_t and y_t: made from these knobs with A's seed "
                   "and precision. B's seed changes only B's weights.")
        for p in (p for p in S.PARAMS if p.group == "input"):
            draw_knob = (partial(series_ui.series_widget, keys=SERIES) if p.name == "series"
                         else param_widget)
            draw_knob(p, a_key(p.name), disabled=not applies(p, S.RELEVANT, va))


def knobs_ui(va: dict, vb: dict, expanded: bool) -> None:
    """A's and B's own knobs side by side, one row per knob; B's label says where it differs.
    expanded: whether the section opens, where it has no open state yet (SETTINGS): the state is
    set once, so the section never closes under the hand that makes B differ."""
    st.session_state.setdefault(SETTINGS, expanded)
    with st.expander("Settings of A and B (B's label says ≠ A where it differs)", key=SETTINGS,
                     on_change="rerun"):
        tabs = st.tabs([GROUP_TITLES[g] for g in OWN_GROUPS])
        for group, tab in zip(OWN_GROUPS, tabs, strict=True):
            with tab:
                head = st.columns(2)
                head[0].markdown("**A**")
                head[1].markdown("**B**")
                for p in (p for p in S.PARAMS if p.group == group):
                    left, right = st.columns(2)
                    with left:
                        param_widget(p, a_key(p.name), disabled=not applies(p, S.RELEVANT, va))
                    with right:
                        differs = va[p.name] != vb[p.name]
                        param_widget(p, b_key(p.name), label=f"{p.label} ≠ A" if differs else None,
                                     disabled=not applies(p, S.RELEVANT, vb))
        st.button("B = copy of A", key="cmp_copy", on_click=_copy_a_to_b,
                  help="Reset every knob of B to A's value, then change one thing.")


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------


HINT = "Try another setting or a classic pair; the link in the address bar reproduces it."


def page() -> None:
    """Build the whole Compare page; whatever goes wrong is a message, never a traceback."""
    guarded(_page, HINT)


def _page() -> None:
    init_state()
    presets_ui()
    weights_ui.compare_sidebar(a_key, b_key, CS.OWN)  # trained vs initial: pins A's, B's architecture
    va, vb = current_values()
    shared_ui(va)
    va, vb = current_values()  # the series selector moves to a newly uploaded file's column
    st.title("Unrolled · Compare")
    a, warn_a = S.build_config(va)
    b, warn_b = S.build_config({**vb, **{n: getattr(a, n) for n in CS.SHARED}})
    b = CS.shared_with(a, b)
    diff = CS.differences(a, b)
    knobs_ui(va, vb, expanded=not diff)
    warnings = [f"A: {w}" for w in warn_a] + [f"B: {w}" for w in warn_b]
    if (a, b) == st.session_state.get("cmp_url_configs"):
        warnings = st.session_state.get("cmp_url_warnings", []) + warnings
    for w in warnings:
        st.warning(md(w), icon=":material/warning:")
    if diff:
        st.markdown("**B differs from A in:** " + " · ".join(
            f"{S.PARAM[n].label} ({format_value(S.PARAM[n], getattr(a, n))} → "
            f"{format_value(S.PARAM[n], getattr(b, n))})" for n in diff))
    elif weights_ui.compare_model() is None:
        st.info("B is a copy of A: change one of B's knobs (or pick a classic pair).",
                icon=":material/info:")
    if weights_ui.compare_model() is not None:
        st.info("Trained vs initial: A is your model's weights; B is the same architecture "
                "initialised by B's knobs (A's initialization knobs do not apply).",
                icon=":material/info:")
    for side, config in (("A", a), ("B", b)):
        problem = size_problem(config)
        if problem:
            st.error(f"{side}: {problem}")
            return
    data = series_ui.shown_series_data(a, SERIES)
    if data is not None:
        main_view(a, b, data)


@st.fragment
def main_view(a: Config, b: Config, data: series_ui.SeriesData) -> None:
    """Everything below the settings; a fragment, so moving the cursor redraws only this."""
    guarded(lambda: _main_view(a, b, data), HINT)


def _given(fig):
    """draw()'s builder for a figure already built (the pairs are built together)."""
    return fig


def _pair(build, *args, keys: tuple[str, str], **kwargs) -> None:
    """Build A's and B's figures together (shared ranges) and draw them side by side."""
    try:
        figs = build(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the page must stay up whatever a builder hits
        st.error(f"Could not draw these plots ({build.__name__}): {type(e).__name__}: {md(str(e))}")
        return
    for col, fig, key in zip(present_ui.chart_columns(2), figs, keys, strict=True):
        with col:
            draw(_given, fig, key=key)


def _main_view(a: Config, b: Config, series: series_ui.SeriesData) -> None:
    ss = st.session_state
    data = CS.data_config(a)
    try:
        model = weights_ui.compare_model()  # trained vs initial: A is an uploaded model
        ta = (compute.side_trace(a, data, series.values) if model is None else
              compute.own_trace(a, model.sha256, model.weights, False, False, series.values))
        tb = compute.side_trace(b, data, series.values)
    except Exception as e:  # noqa: BLE001 - the page never shows a traceback
        st.error(f"The engine could not run this pair: {type(e).__name__}: {md(str(e))}")
        return
    T = ta.inputs.shape[0]
    view = view_controls([a, b], T, view_key, CS.COMPARE_VIEW_TITLES, "Time cursor t (both A and B)")
    sync_url(CS.compare_to_query(a, b, view))
    ss["_cmp_last"] = (a, b, view)
    if series.caption:
        st.caption(md(series.caption))
    for side, trace in (("A", ta), ("B", tb)):
        flags = readouts.flag_lines(trace)
        if flags:
            st.error(f"**{side}: numerical trouble** (non-finite cells are drawn in magenta): "
                     + "; ".join(flags), icon=":material/error:")
    where = dict(layer=view.layer, direction=DIRECTIONS.index(view.direction),
                 sample=view.sample)
    t = view.cursor(T)
    try:
        if model is None:  # an uploaded model's W_hh is not its config's: its own spectrum
            ta.spectrum = compute.spectra(a, ta)
        tb.spectrum = compute.spectra(b, tb)
        present_ui.table(compare_figs.summary_table(ta, tb, where), key="cmp_summary", width="stretch")
    except Exception as e:  # noqa: BLE001
        st.error(f"Could not build the summary table: {type(e).__name__}: {md(str(e))}")
    view_picker(CS.COMPARE_VIEW_TITLES, view_key("tab"), view.view)
    with following():  # both sides' cursor lines move in the browser (ui/cursor.py)
        st.caption(explain(view.view, a, b))
        _draw(view.view, ta, tb, where, t)


def _draw(name: str, ta: Trace, tb: Trace, where: dict, t: int) -> None:
    """The paired figures of one view."""
    if name == "gradient":
        _pair(compare_figs.paired_grad_heatmaps, ta, tb, where, cursor=t,
              keys=("cmp_grad_a", "cmp_grad_b"))
        _pair(compare_figs.paired_grad_norm_figures, ta, tb, where, cursor=t,
              keys=("cmp_norm_a", "cmp_norm_b"))
        draw(compare_figs.ratio_figure, ta, tb, where, cursor=t, key="cmp_ratio")
    elif name == "hidden":
        _pair(compare_figs.paired_state_figures, ta, tb, "hidden", where, cursor=t,
              keys=("cmp_hidden_a", "cmp_hidden_b"))
        if ta.cell is not None and tb.cell is not None:
            _pair(compare_figs.paired_state_figures, ta, tb, "cell", where, cursor=t,
                  keys=("cmp_cell_a", "cmp_cell_b"))
    elif name == "gates":
        _pair(compare_figs.paired_gates_figures, ta, tb, where, cursor=t,
              keys=("cmp_gates_a", "cmp_gates_b"))
    elif name == "animate":
        speed = st.select_slider("Speed (steps per second)", SPEEDS, value=DEFAULT_SPEED,
                                 key="cmp_speed")
        draw(animation_figure, [("A", ta), ("B", tb)], frame_ms=int(1000 / speed),
             key="cmp_anim", **where)
