"""The Explore page: sidebar knobs -> Config -> engine.unroll (cached) -> figures, in lazy tabs."""

from __future__ import annotations

import streamlit as st

from dashboard.figures import equations, gradient, readouts, spectrum
from dashboard.figures.animation import DEFAULT_SPEED, SPEEDS, animation_figure
from dashboard.safe import md
from dashboard.state import explore as S
from dashboard.state.limits import CACHE_TTL, size_problem
from dashboard.state.schema import DIRECTIONS, View
from dashboard.ui import export as export_ui
from dashboard.ui import present as present_ui
from dashboard.ui.charts import draw, guarded, view_figure
from dashboard.ui.startup import engine_threads
from dashboard.ui.widgets import config_ui, current_values, key, presets_ui, set_widgets, view_key
from engine import Config, Trace, unroll

EXPLAIN = {
    "signals": "What the model reads (x_t), what it is asked for (y_t) and what it says (ŷ_t). "
               "The weights are untrained, so ŷ_t is not supposed to match: this page is about "
               "how the gradient flows, not about fit. The loss per step shows which steps "
               "inject gradient (only the last one with loss 'last').",
    "hidden": "Each row is one unit, each column one step. Look for units stuck at ±1 "
              "(saturated: their derivative is ~0, so they block the gradient) and for "
              "patterns that fade or persist over time (memory).",
    "gates": "Each gate on a fixed scale (sigmoid gates 0..1, the tanh candidate -1..1), so "
             "colours compare across runs. A forget gate f (LSTM) or update gate z (GRU) near 1 "
             "keeps the gradient alive; saturated gates (near 0 or 1) pass almost no gradient "
             "through themselves. For a plain RNN, phi'(a_t) is the factor the gradient is "
             "multiplied by at every step back: dark means the step kills it.",
    "gradient": "dL/dh_t is the total derivative of the loss with respect to h_t, through all "
                "later steps. Going back in time it is multiplied by W_hh^T and phi' at every "
                "step: on the fixed log scale a fading colour to the left is vanishing, a "
                "brightening one exploding. The straight fitted line on the norm plot is the "
                "decay rate; the bars are each step's contribution to dL/dW_hh.",
    "spectrum": "W_hh's eigenvalues against the unit circle, and its singular values. With "
                "gamma = max |phi'|, all singular values below 1/gamma guarantee vanishing "
                "gradients (Pascanu et al. 2013); a singular value above 1/gamma is needed "
                "(not enough) for them to explode. For LSTM and GRU each gate block is shown.",
    "animate": "Press Play: the cursor walks the forward pass (h_t appears, t = 0..T-1), then the "
               "backward pass (dL/dh_t arrives step by step, T-1..0). It runs in the browser: "
               "nothing is recomputed per frame.",
}


def init_state() -> None:
    """On a session's first run, fill the widgets from the URL (warnings kept for display)."""
    if st.session_state.get("_ready") and widgets_present():
        return
    if st.session_state.get("_explore_last"):  # back from another page: it dropped our widgets
        set_widgets(*st.session_state["_explore_last"])
        return
    config, view, warnings = S.state_from_query(st.query_params.to_dict())
    set_widgets(config, view)
    st.session_state["url_warnings"] = warnings
    st.session_state["url_config"] = config
    st.session_state["_ready"] = True


def widgets_present() -> bool:
    """False after a visit to another page: Streamlit drops the state of widgets not drawn."""
    return all(key(p.name) in st.session_state for p in S.PARAMS)


@st.cache_resource(max_entries=6, ttl=CACHE_TTL, show_spinner="Unrolling the network…")
def compute(config: Config, influence: bool, jacobian: bool) -> Trace:
    """engine.unroll, cached per (config, heavy views); heavy views only when they are shown.
    cache_resource, not cache_data: every rerun gets the same Trace instead of an unpickled copy
    (pickling it cost 0.2 s per new run and 0.04 s per rerun at T=5000, H=256; figure builders
    never modify a Trace)."""
    # adjoints=False: the per-step BPTT tensors are never drawn here and would double the cache
    with engine_threads():  # one torch thread: see startup.ENGINE_THREADS
        return unroll(config, influence=influence, jacobian=jacobian, adjoints=False)


@st.cache_data(max_entries=16, ttl=CACHE_TTL, show_spinner=False)
def spectra(config: Config, _trace: Trace) -> list[dict]:
    """W_hh's spectrum per layer-direction (an eigendecomposition each): only when shown.
    Keyed by the config alone: toggling a heavy view does not redo it."""
    return _trace.spectrum


HINT = "Try another setting or a preset; the link in the address bar reproduces it."


def page() -> None:
    """Build the whole Explore page; whatever goes wrong is a message, never a traceback."""
    guarded(_page, HINT)


def _page() -> None:
    init_state()
    presets_ui()
    config_ui(on_change=_rerun_views)
    st.title("Unrolled · Explore")
    explorer()


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
        _sync_url(config, S.DEFAULT_VIEW)  # the link still says exactly what was asked for
        return
    main_view(config)


def _view_controls(config: Config, T: int) -> View:
    """Layer / direction / sample / time cursor above the plots; returns the current View.
    T is the trace's length (a sentence has one step per word, so it can be below seq_len)."""
    ss = st.session_state
    # Re-assign every value before its widget is drawn: a widget whose options or bounds change
    # (layers, batch, T) is a new widget to Streamlit and would otherwise restart at its minimum.
    layer, sample, t = ss.get(view_key("layer")), ss.get(view_key("sample")), ss.get(view_key("t"))
    ss[view_key("layer")] = layer if isinstance(layer, int) and layer < config.num_layers else 0
    ss[view_key("direction")] = (ss.get(view_key("direction")) if config.bidirectional
                                 and ss.get(view_key("direction")) in DIRECTIONS else "forward")
    ss[view_key("sample")] = sample if isinstance(sample, int) and sample < config.batch_size else 0
    at_end = t is None or t == ss.get("_cursor_T", T) - 1  # "the last step" follows T
    ss[view_key("t")] = T - 1 if at_end or t > T - 1 else t
    ss["_cursor_T"] = T
    cols = st.columns([1, 1, 1, 5])
    with cols[0]:
        st.selectbox("Layer", list(range(config.num_layers)), key=view_key("layer"),
                     help=S.VIEW_PARAM["layer"].help, disabled=config.num_layers == 1)
    with cols[1]:
        st.selectbox("Direction", DIRECTIONS, key=view_key("direction"),
                     help=S.VIEW_PARAM["direction"].help, disabled=not config.bidirectional)
    with cols[2]:
        st.number_input("Sample", 0, config.batch_size - 1, step=1, key=view_key("sample"),
                        help=S.VIEW_PARAM["sample"].help, disabled=config.batch_size == 1)
    with cols[3]:
        if T > 1:
            st.slider("Time cursor t", 0, T - 1, key=view_key("t"), help=S.VIEW_PARAM["t"].help)
        else:
            ss[view_key("t")] = 0
    tab = next((v for v, title in S.VIEW_TITLES.items() if title == ss.get(view_key("tab"))),
               S.DEFAULT_VIEW.view)
    t = ss[view_key("t")]
    return View(view=tab, layer=ss[view_key("layer")], direction=ss[view_key("direction")],
                  sample=ss[view_key("sample")], t=None if t == T - 1 else t,
                  influence=bool(ss.get(view_key("influence"))),
                  jacobian=bool(ss.get(view_key("jacobian"))), present=present_ui.presenting())


def _sync_url(config: Config, view: View) -> None:
    """Write the state to the URL (only when it changed, to keep reruns quiet)."""
    q = S.state_to_query(config, view)
    if st.query_params.to_dict() != q:
        st.query_params.from_dict(q)


def _summary(trace: Trace, layer: int, direction: int) -> str:
    return (f"**loss** L = {trace.loss:.4g} · **|dL/dh_t|** going back in time: "
            f"{readouts.decay_readout(trace, layer, direction)}")


@st.fragment
def main_view(config: Config) -> None:
    """The views; a fragment inside explorer(), so view controls (the time cursor) do not redraw
    the knobs either."""
    guarded(lambda: _main_view(config), HINT)


def _main_view(config: Config) -> None:
    ss = st.session_state
    export_ui.rerun_if_restored()
    try:
        trace = compute(config, bool(ss.get(view_key("influence"))), bool(ss.get(view_key("jacobian"))))
    except Exception as e:  # noqa: BLE001 - the page never shows a traceback
        st.error(f"The engine could not run this configuration: {type(e).__name__}: {md(str(e))}")
        _sync_url(config, S.DEFAULT_VIEW)
        return
    T = trace.inputs.shape[0]
    view = _view_controls(config, T)
    _sync_url(config, view)
    st.session_state["_explore_last"] = (config, view)  # restored after a visit to another page
    flags = readouts.flag_lines(trace)
    if flags:
        st.error("**Numerical trouble** (non-finite cells are drawn in magenta): "
                 + "; ".join(flags), icon=":material/error:")
    for note in trace.notes:
        st.info(note, icon=":material/info:")
    st.markdown(_summary(trace, view.layer, DIRECTIONS.index(view.direction)))
    d = DIRECTIONS.index(view.direction)
    where = dict(layer=view.layer, direction=d, sample=view.sample)
    t = view.cursor(T)
    tabs = st.tabs([S.VIEW_TITLES[v] for v in S.VIEWS], key=view_key("tab"), on_change="rerun",
                   default=S.VIEW_TITLES[S.DEFAULT_VIEW.view])
    for name, tab in zip(S.VIEWS, tabs, strict=True):
        if not tab.open:
            continue
        with tab:
            st.caption(EXPLAIN[name])
            _draw(name, trace, where, t, view)
    if view.view != "gradient":  # the gradient view draws the values at t as its last row
        draw(gradient.vectors_figure, trace, t=t, key="fig_vectors", **where)
    _equations(trace, t, where)
    export_ui.export_section(trace, view, EXPLAIN)


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


def _draw(name: str, trace: Trace, where: dict, t: int, view: View) -> None:
    """The figures of one view."""
    if name in ("signals", "hidden", "gates"):  # one cached figure each; the cursor is moved
        draw(view_figure, name, trace, where, t, view, key=f"fig_{name}")
    elif name == "gradient":  # heatmap, norm and BPTT terms on one time axis
        draw(view_figure, name, trace, where, t, view, key="fig_grad")
        c1, c2 = st.columns(2)
        c1.toggle("Influence matrix", key=view_key("influence"),
                  help=S.VIEW_PARAM["influence"].help)
        c2.toggle("Jacobian norms ||dh_T/dh_t||", key=view_key("jacobian"),
                  help=S.VIEW_PARAM["jacobian"].help)
        if trace.influence is not None:
            draw(gradient.influence_figure, trace, cursor=t, key="fig_influence")
    elif name == "spectrum":
        ld = trace.layer_index(where["layer"], where["direction"])
        trace.spectrum = spectra(trace.config, trace)  # cached per config, not redone
        st.info(trace.spectrum[ld]["verdict"])
        draw(spectrum.spectrum_figure, trace, where["layer"], where["direction"],
             key="fig_spectrum")
    elif name == "animate":
        speed = st.select_slider("Speed (steps per second)", SPEEDS, value=DEFAULT_SPEED,
                                 key=view_key("speed"))
        draw(animation_figure, [("", trace)], frame_ms=int(1000 / speed), key="fig_anim",
               **where)
