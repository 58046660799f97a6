"""Presentation mode: the pure restyling of figures, and the page with `present=1` in the URL."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
import pytest
from apptest_support import chart_specs
from markdown_text import plain
from oracle import small_config
from plotly_decode import spec
from streamlit.testing.v1 import AppTest

from dashboard import theme
from dashboard.export import report
from dashboard.figures import gradient, views
from dashboard.figures.present import style_for_presentation
from dashboard.state import explore as S
from engine import unroll

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def traces():
    """An LSTM (gates, cell path) and a plain RNN (phi')."""
    return {cell: unroll(small_config(cell=cell, seq_len=12)) for cell in ("lstm", "rnn")}


def _all(traces):
    """Every figure of every view, freshly built: name -> figure."""
    return {f"{cell}-{key}": fig for cell, trace in traces.items() for view in S.VIEWS
            for key, fig in report.view_figures(trace, S.View(view=view))}


def _scale(tr) -> list:
    return [c.replace(" ", "") for _, c in tr.colorscale]


def _same(a, b) -> bool:
    try:
        return np.array_equal(np.asarray(a, float), np.asarray(b, float), equal_nan=True)
    except (TypeError, ValueError):  # labels, not numbers
        return a == b


def test_every_figure_gets_larger_text_thicker_lines_and_keeps_its_data(traces):
    for name, fig in _all(traces).items():
        before = spec(fig)
        after = spec(style_for_presentation(fig))
        assert after["layout"]["font"]["size"] == theme.PRESENT_FONT > 12, name
        assert after["layout"]["title"]["font"]["size"] == theme.PRESENT_TITLE_FONT > 15, name
        assert after["layout"]["height"] > before["layout"]["height"], name
        for tb, ta in zip(before["data"], after["data"], strict=True):
            for axis in ("x", "y", "z"):  # the numbers drawn never change
                if axis in tb:
                    assert _same(tb[axis], ta[axis]), (name, axis)
            if ta.get("fill"):  # a filled area (the BPTT terms): no outline, the colour changes
                assert ta["line"]["width"] == 0 and ta["fillcolor"] != tb["fillcolor"], name
            elif ta["type"] == "scatter" and "lines" in ta.get("mode", "lines"):
                assert ta["line"]["width"] >= theme.PRESENT_MIN_LINE, name
        axes = [v for k, v in after["layout"].items() if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(a["tickfont"]["size"] == theme.PRESENT_FONT for a in axes), name


def test_colour_scales_are_replaced_by_colour_blind_safe_ones(traces):
    figures = _all(traces)
    cividis = [c.replace(" ", "") for _, c in theme.PRESENT_SEQUENTIAL]
    puor = [c.replace(" ", "") for _, c in theme.PRESENT_DIVERGING]
    grad = style_for_presentation(figures["rnn-grad"])
    assert _scale(grad.data[0]) == cividis, "log |dL/dh_t|: Inferno -> Cividis"
    hidden = style_for_presentation(figures["rnn-hidden"])
    assert _scale(hidden.data[0]) == puor, "signed h_t: red-blue -> purple-orange"
    deriv = style_for_presentation(figures["rnn-gates"])
    assert _scale(deriv.data[0]) == cividis, "phi'(a_t): Viridis -> Cividis"
    gates = style_for_presentation(figures["lstm-gates"])
    forget = next(tr for tr in gates.data if tr.type == "heatmap" and tr.name == "f")
    assert _scale(forget)[-1] == theme.PRESENT_COLORS[theme.GATE_COLORS["f"]], "Okabe-Ito gates"
    norm = style_for_presentation(figures["lstm-grad"])  # the norm rows sit in the stacked view
    colours = {tr.line.color for tr in norm.data if tr.type == "scatter"}
    assert theme.LINE_COLORS["hidden_path"] not in colours
    assert theme.PRESENT_COLORS[theme.LINE_COLORS["hidden_path"]] in colours


def _luminance(rgb: str) -> float:
    r, g, b = (c / 255 for c in pc.unlabel_rgb(rgb))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_presentation_scales_read_without_hue():
    """Ordered by lightness alone, so a viewer who cannot tell hues apart still reads them:
    the sequential scale brightens monotonically, the diverging one is lightest at 0."""
    seq = [_luminance(c) for _, c in theme.PRESENT_SEQUENTIAL]
    assert all(b > a for a, b in zip(seq, seq[1:], strict=False)) and seq[-1] - seq[0] > 0.6
    div = [_luminance(c) for _, c in theme.PRESENT_DIVERGING]
    mid = len(div) // 2
    assert all(b > a for a, b in zip(div[:mid + 1], div[1:mid + 1], strict=False))
    assert all(b < a for a, b in zip(div[mid:], div[mid + 1:], strict=False))


# ---------------------------------------------------------------- the page (AppTest)


def _app(monkeypatch, query: dict) -> tuple[AppTest, list]:
    """Run the app; also record st.set_page_config's sidebar state (AppTest does not keep it)."""
    import streamlit as st

    calls: list = []
    real = st.set_page_config

    def spy(*args, **kwargs):
        calls.append(kwargs.get("initial_sidebar_state"))
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", spy)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, calls


def _fonts(at: AppTest) -> list:
    return [s["layout"].get("font", {}).get("size") for s in chart_specs(at)]


def test_present_in_the_url_changes_the_layout_and_round_trips(monkeypatch):
    at, calls = _app(monkeypatch, {"present": "1", "seq_len": "20", "view": "hidden"})
    assert calls[-1] == "collapsed", "the sidebar starts collapsed"
    assert at.toggle(key="view_present").value is True
    assert at.query_params["present"] == "true", "the URL keeps it (and is a complete link)"
    assert set(_fonts(at)) == {theme.PRESENT_FONT}, "every chart is restyled"
    assert any("font-size: 20px" in el.proto.body for el in at.get("html")), "larger page text"

    at.toggle(key="view_present").set_value(False)
    at.run()
    assert not at.exception
    assert "present" not in at.query_params
    assert calls[-1] == "auto"
    assert theme.PRESENT_FONT not in _fonts(at)
    assert not any("font-size" in el.proto.body for el in at.get("html"))


def test_bad_present_value_warns_and_is_off(monkeypatch):
    at, calls = _app(monkeypatch, {"present": "maybe"})
    assert calls[-1] == "auto" and at.toggle(key="view_present").value is False
    assert any("present" in plain(w.value) and "'maybe'" in plain(w.value) for w in at.warning)
    assert "present" not in at.query_params


def test_presentation_survives_a_preset(monkeypatch):
    at, _ = _app(monkeypatch, {"present": "true"})
    at.button(key="preset_vanishing").click()
    at.run()
    assert not at.exception
    assert at.query_params["present"] == "true" and set(_fonts(at)) == {theme.PRESENT_FONT}



def test_names_in_titles_keep_the_colour_of_their_line(traces):
    """The names under a title (stack.legend_line) are recoloured with their lines."""
    trace = traces["lstm"]
    stacked, _ = views.build_view("gradient", trace, 0, 0, 0)
    for fig in (gradient.vectors_figure(trace), go.Figure(stacked, _validate=False)):
        styled = style_for_presentation(fig)
        texts = [styled.layout.title.text or ""] + [a.text or "" for a in styled.layout.annotations]
        named = {c.lower() for t in texts for c in re.findall(r"color:(#[0-9a-fA-F]{6})", t)}
        lines = {tr.line.color.lower() for tr in styled.data
                 if getattr(tr, "line", None) is not None and isinstance(tr.line.color, str)}
        assert named and named <= lines | set(theme.PRESENT_COLORS.values()), (named, lines)
        assert not named & {c for c in theme.PRESENT_COLORS if c.startswith("#")}, \
            "no name is left in its everyday colour"


def test_an_axis_on_the_right_gets_room_for_its_larger_ticks_and_title(traces):
    """The values readout's dL/dh_t axis (right side): its tick labels and title grow with the
    font, and so does the margin that holds them (they collided with 70 px at 18 px text)."""
    fig = gradient.vectors_figure(traces["lstm"], t=3)
    before = spec(fig)["layout"]
    assert before["yaxis2"]["side"] == "right"
    after = spec(style_for_presentation(fig))["layout"]
    assert after["margin"]["r"] >= before["margin"]["r"] * theme.PRESENT_FONT / theme.TICK_FONT
    other = gradient.grad_norm_figure(traces["rnn"])  # no axis on the right: its margin stays
    r0 = spec(other)["layout"]["margin"]["r"]
    assert spec(style_for_presentation(other))["layout"]["margin"]["r"] == r0
