"""Sidebar widgets: one per knob of state.PARAMS, and the lecture presets. Thin: no maths here."""

from __future__ import annotations

import streamlit as st

from engine import Config

from dashboard.state import explore as S
from dashboard.state.presets import Preset, load_presets

GROUP_TITLES = {"model": "Model", "initialization": "Initialization", "input": "Input",
                "loss": "Loss"}


def key(name: str) -> str:
    """Session-state key of a knob's widget (also its CSS class: st-key-cfg_<name>)."""
    return f"cfg_{name}"


def view_key(name: str) -> str:
    """Session-state key of a view control (layer, direction, sample, t, ...)."""
    return f"view_{name}"


def set_widgets(config: Config, view: S.View) -> None:
    """Put a config and a view into the widgets (before they are drawn, or from a callback)."""
    for name, value in S.config_values(config).items():
        st.session_state[key(name)] = value
    st.session_state[view_key("tab")] = S.VIEW_TITLES[view.view]
    for name in ("layer", "direction", "sample", "t", "influence", "jacobian"):
        st.session_state[view_key(name)] = getattr(view, name)


def current_values() -> dict:
    """Field -> value of every knob as the widgets hold it now."""
    return {p.name: st.session_state[key(p.name)] for p in S.PARAMS}


def _widget(p: S.Param, disabled: bool, on_change=None) -> None:
    k, common = key(p.name), dict(help=p.help, disabled=disabled, on_change=on_change)
    if p.kind == "choice":
        st.selectbox(p.label, p.choices, key=k, **common)
    elif p.kind == "bool":
        st.toggle(p.label, key=k, **common)
    elif p.kind == "int":
        st.number_input(p.label, min_value=int(p.lo), max_value=int(p.hi), step=int(p.step),
                        key=k, placeholder="empty" if p.optional else None, **common)
    elif p.kind == "float":
        st.number_input(p.label, min_value=float(p.lo), max_value=float(p.hi), step=float(p.step),
                        format="%g", key=k, placeholder="empty" if p.optional else None, **common)
    elif p.kind == "text":
        st.text_input(p.label, max_chars=int(p.hi), key=k, **common)
    else:
        raise AssertionError(p.kind)


def config_ui(on_change=None) -> dict:
    """Every knob, grouped, with tooltips; returns field -> value. Greys out knobs that do not
    apply to the current choice (they keep their value). on_change is called when a knob
    changes, except the knobs that grey out others (S.RESHAPES_KNOBS): those rerun the page."""
    values = current_values()
    for group in S.GROUPS:
        with st.sidebar.expander(GROUP_TITLES[group], expanded=group != "loss"):
            for p in (p for p in S.PARAMS if p.group == group):
                applies = S.RELEVANT.get(p.name, lambda v: True)(values)
                _widget(p, disabled=not applies,
                        on_change=None if p.name in S.RESHAPES_KNOBS else on_change)
            if group == "input":
                st.caption(f"Caps for the browser's sake: T ≤ {S.MAX_SEQ_LEN}, H ≤ "
                           f"{S.MAX_HIDDEN}, batch ≤ {S.MAX_BATCH}.")
    return current_values()


def _apply(preset: Preset) -> None:
    set_widgets(preset.config, S.View(view=preset.view))


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
