"""Widgets from the schema: param_widget draws any page's knob (state/schema.py's Param); the
Explore sidebar, the view controls' keys and the preset buttons. Thin: no maths here."""

from __future__ import annotations

import streamlit as st

from dashboard.state import explore as S
from dashboard.state.limits import MAX_BATCH, MAX_HIDDEN, MAX_SEQ_LEN
from dashboard.state.presets import Preset, load_presets
from dashboard.state.schema import DIRECTIONS, Param, View
from dashboard.ui import present
from dashboard.ui.cursor import time_cursor
from engine import Config

GROUP_TITLES = {"model": "Model", "initialization": "Initialization", "input": "Input",
                "loss": "Loss"}


def key(name: str) -> str:
    """Session-state key of a knob's widget (also its CSS class: st-key-cfg_<name>)."""
    return f"cfg_{name}"


def view_key(name: str) -> str:
    """Session-state key of a view control (layer, direction, sample, t, ...)."""
    return f"view_{name}"


def set_widgets(config: Config, view: View) -> None:
    """Put a config and a view into the widgets (before they are drawn, or from a callback)."""
    for name, value in S.config_values(config).items():
        st.session_state[key(name)] = value
    st.session_state[view_key("tab")] = S.VIEW_TITLES[view.view]
    for name in ("layer", "direction", "sample", "t", "influence", "jacobian"):
        st.session_state[view_key(name)] = getattr(view, name)


def current_values() -> dict:
    """Field -> value of every knob as the widgets hold it now."""
    return {p.name: st.session_state[key(p.name)] for p in S.PARAMS}


def param_widget(p: Param, key: str, *, label: str | None = None, disabled: bool = False,
                 on_change=None) -> None:
    """The one widget of a knob, on every page: its kind, bounds, tooltip and choice titles come
    from p; the value lives in st.session_state[key]."""
    label = p.label if label is None else label
    common = dict(key=key, help=p.help, disabled=disabled, on_change=on_change)
    titles = dict(p.titles)
    if p.kind in ("choice", "choices"):
        fmt = (lambda v: titles.get(v, v)) if titles else str
        if p.kind == "choice":
            st.selectbox(label, p.choices, format_func=fmt,
                         placeholder="empty" if p.optional else None, **common)
        else:
            st.multiselect(label, p.choices, max_selections=int(p.hi), format_func=fmt, **common)
    elif p.kind == "bool":
        st.toggle(label, **common)
    elif p.kind == "int":
        st.number_input(label, min_value=int(p.lo), max_value=int(p.hi), step=int(p.step),
                        placeholder="empty" if p.optional else None, **common)
    elif p.kind == "float":
        st.number_input(label, min_value=float(p.lo), max_value=float(p.hi), step=float(p.step),
                        format="%g", placeholder="empty" if p.optional else None, **common)
    elif p.kind == "text":
        st.text_input(label, max_chars=int(p.hi), **common)
    else:
        raise AssertionError(p.kind)


def applies(p: Param, relevant: dict, values: dict) -> bool:
    """Whether knob p matters for these values (RELEVANT); the others are greyed out."""
    return relevant.get(p.name, lambda v: True)(values)


def config_ui(on_change=None, custom: dict | None = None, fixed: frozenset = frozenset()) -> dict:
    """Every knob, grouped, with tooltips; returns field -> value. Greys out knobs that do not
    apply to the current choice (they keep their value). on_change is called when a knob
    changes, except the knobs that grey out others (S.RESHAPES_KNOBS): those rerun the page.
    custom maps a knob's name to its own drawer, called as param_widget is (the series
    selector adds an uploaded file's columns and the uploader: ui/series.py). fixed: knobs
    greyed out whatever their value (an uploaded model fixes its architecture: ui/weights.py)."""
    values = current_values()
    for group in S.GROUPS:
        with st.sidebar.expander(GROUP_TITLES[group], expanded=group != "loss"):
            for p in (p for p in S.PARAMS if p.group == group):
                (custom or {}).get(p.name, param_widget)(
                    p, key(p.name), disabled=p.name in fixed or not applies(p, S.RELEVANT, values),
                    on_change=None if p.name in S.RESHAPES_KNOBS else on_change)
            if group == "input":
                st.caption(f"Caps for the browser's sake: T ≤ {MAX_SEQ_LEN}, H ≤ "
                           f"{MAX_HIDDEN}, batch ≤ {MAX_BATCH}.")
    return current_values()


def _apply(preset: Preset) -> None:
    set_widgets(preset.config, View(view=preset.view))


def preset_buttons(title: str, presets: list, key_prefix: str, apply) -> None:
    """One sidebar button per preset, each with its two-line caption; a click calls apply(p)."""
    with st.sidebar.expander(title, expanded=True):
        for p in presets:
            st.button(p.title, key=f"{key_prefix}{p.id}", on_click=apply, args=(p,),
                      width="stretch")
            st.caption("  \n".join(p.caption))


def presets_ui() -> None:
    """One button per lecture preset, each with its two-line caption."""
    preset_buttons("Lecture presets", load_presets(), "preset_", _apply)


def view_controls(configs: list[Config], T: int, view_key, titles: dict[str, str],
                  cursor_label: str = "Time cursor t", labels: list[str] | None = None) -> View:
    """Layer / direction / sample / time cursor above the plots, for one config (Explore) or A
    and B (Compare: up to the smaller depth, reverse only when both are bidirectional); returns
    the current View. T is the trace's length (a sentence has one step per word, so it can be
    below seq_len; labels: its words, shown beside t). view_key(name) names each control's
    session-state key. The time cursor moves the charts in the browser (ui/cursor.py)."""
    ss = st.session_state
    layers = min(c.num_layers for c in configs)
    bidirectional = all(c.bidirectional for c in configs)
    batch = configs[0].batch_size  # Compare: B reads A's data, so the batch is shared
    # Re-assign every value before its widget is drawn: a widget whose options or bounds change
    # (layers, batch, T) is a new widget to Streamlit and would otherwise restart at its minimum.
    layer, sample, t = ss.get(view_key("layer")), ss.get(view_key("sample")), ss.get(view_key("t"))
    ss[view_key("layer")] = layer if isinstance(layer, int) and layer < layers else 0
    ss[view_key("direction")] = (ss.get(view_key("direction")) if bidirectional
                                 and ss.get(view_key("direction")) in DIRECTIONS else "forward")
    ss[view_key("sample")] = sample if isinstance(sample, int) and sample < batch else 0
    last_T = view_key("_cursor_T")
    at_end = t is None or t == ss.get(last_T, T) - 1  # "the last step" follows T
    ss[view_key("t")] = T - 1 if at_end or t > T - 1 else t
    ss[last_T] = T
    both = len(configs) > 1
    cols = st.columns([1, 1, 1, 5])
    cols[0].selectbox("Layer", list(range(layers)), key=view_key("layer"), disabled=layers == 1,
                      help="Which layer of both models is drawn (up to the smaller depth)."
                      if both else S.VIEW_PARAM["layer"].help)
    cols[1].selectbox("Direction", DIRECTIONS, key=view_key("direction"),
                      disabled=not bidirectional,
                      help="The reverse direction, when both models are bidirectional."
                      if both else S.VIEW_PARAM["direction"].help)
    cols[2].number_input("Sample", 0, batch - 1, step=1, key=view_key("sample"),
                         help=S.VIEW_PARAM["sample"].help, disabled=batch == 1)
    with cols[3]:
        time_cursor(cursor_label, T, view_key("t"), help=S.VIEW_PARAM["t"].help, labels=labels)
    tab = next((v for v, title in titles.items() if title == ss.get(view_key("tab"))), View.view)
    t = ss[view_key("t")]
    return View(view=tab, layer=ss[view_key("layer")], direction=ss[view_key("direction")],
                sample=ss[view_key("sample")], t=None if t == T - 1 else t,
                influence=bool(ss.get(view_key("influence"))),
                jacobian=bool(ss.get(view_key("jacobian"))), present=present.presenting())


def view_picker(titles: dict[str, str], key: str, view: str) -> None:
    """The views (titles: view -> title, in order) as one row of buttons (a segmented control,
    one choice always made), showing `view`, the one the page draws. Not st.tabs: the page
    draws only the chosen view anyway, and a tab bar costs the browser more at every update
    than the rest of the view's controls (Chromium's profiler, Explore at T = 50: 40-60 ms of
    Streamlit's scripts per seed change, a fifth of them; benchmarks/bench_browser.py --cpu)."""
    if st.session_state.get(key) != titles[view]:  # first draw, or state another page dropped
        st.session_state[key] = titles[view]
    st.segmented_control("View", list(titles.values()), key=key, required=True,
                         label_visibility="collapsed")


def sync_url(query: dict[str, str]) -> None:
    """Write a page's whole state to the URL (only when it changed, to keep reruns quiet)."""
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
