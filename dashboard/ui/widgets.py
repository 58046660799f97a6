"""Widgets from the schema: param_widget draws any page's knob (state/schema.py's Param); the
Explore sidebar, the view controls' keys and the preset buttons. Thin: no maths here."""

from __future__ import annotations

import streamlit as st

from dashboard.state import explore as S
from dashboard.state.limits import MAX_BATCH, MAX_HIDDEN, MAX_SEQ_LEN
from dashboard.state.presets import Preset, load_presets
from dashboard.state.schema import Param, View
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
            st.selectbox(label, p.choices, format_func=fmt, **common)
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


def config_ui(on_change=None) -> dict:
    """Every knob, grouped, with tooltips; returns field -> value. Greys out knobs that do not
    apply to the current choice (they keep their value). on_change is called when a knob
    changes, except the knobs that grey out others (S.RESHAPES_KNOBS): those rerun the page."""
    values = current_values()
    for group in S.GROUPS:
        with st.sidebar.expander(GROUP_TITLES[group], expanded=group != "loss"):
            for p in (p for p in S.PARAMS if p.group == group):
                param_widget(p, key(p.name), disabled=not applies(p, S.RELEVANT, values),
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
