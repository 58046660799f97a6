"""The Explore page through Streamlit's AppTest: every widget, every preset, URL round trips."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from apptest_support import (
    chart_elements,
    chart_payloads,
    chart_specs,
    charts_by_key,
    cursor_data,
    move_cursor,
    ok,
    run_page,
)
from plotly_decode import data_digest
from streamlit.testing.v1 import AppTest

from dashboard.state import explore as S
from dashboard.state import schema
from dashboard.state.presets import load_presets
from engine import Config

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 60


def app(query: dict | None = None) -> AppTest:
    return run_page(AppTest.from_file(APP, default_timeout=TIMEOUT), query)


def digest(at: AppTest) -> list:
    return [data_digest(s) for s in chart_specs(at)]


def chart_titles(s: dict) -> list[str]:
    """A chart's title and its subplot titles (a view's plots are stacked into one figure)."""
    notes = [a.get("text", "") for a in s["layout"].get("annotations", [])]
    return [s["layout"]["title"]["text"], *notes]


def titles(at: AppTest) -> list[str]:
    return [t for s in chart_specs(at) for t in chart_titles(s)]


def test_default_page():
    at = ok(app())
    assert at.title[0].value.startswith("Unrolled")
    names = titles(at)
    assert any("|dL/dh_t| per unit" in t for t in names) and any("Values at step t" in t for t in names)
    assert at.query_params["seed"] == "0" and set(S.PARAM) <= set(at.query_params)
    assert not at.latex, "the equations section is closed (and not built) by default"
    at.session_state["equations_open"] = True  # what opening the section does
    (eq,) = ok(at.run()).latex
    assert r"\|h_t\|" in eq.value and r"\delta" in eq.value, "the cell's equations at the cursor"
    pointer = " ".join(c.value for c in at.caption)
    assert "engine/reference.py" in pointer and "`rnn_step_back`" in pointer, "where to read it"
    from engine import reference

    assert callable(reference.rnn_step) and callable(reference.rnn_step_back)
    assert ok(move_cursor(at, 3)).latex[0].value != eq.value, "the numbers follow the time cursor"


# Per knob: the settings that make it matter, and a new value.
CONTEXT = {"activation": {}, "forget_bias": {"cell": "lstm"}, "sigma": {"init_hh": "normal"},
           "sine_period": {"task": "sine"}, "delay": {"task": "recall"},
           "text": {"task": "sentence"}, "series": {"task": "series", "series": "stocks:AAPL"}}
NEW = {"cell": "gru", "activation": "relu", "hidden_size": 7, "num_layers": 2,
       "bidirectional": True, "dtype": "float32", "device": "cpu", "init_hh": "orthogonal",
       "init_ih": "xavier", "sigma": 2.0, "spectral_radius": 1.3, "gain": 0.5,
       "forget_bias": 2.0, "seed": 3, "task": "adding", "seq_len": 31, "input_size": 3,
       "batch_size": 2, "sine_period": 7.0, "delay": 5, "text": "to be or not to be", "loss": "last",
       "series": "stocks:MSFT", "readout": "attention"}


def test_every_knob_is_covered():
    assert set(NEW) == set(S.PARAM)


@pytest.mark.parametrize("name", [p.name for p in S.PARAMS])
def test_every_widget_changes_the_figures(name):
    query = S.config_to_query(Config(**CONTEXT.get(name, {})))
    at = ok(app(query))
    before = digest(at)
    el = next(w for w in at.sidebar if getattr(w, "key", None) == f"cfg_{name}")
    assert not el.disabled, f"{name} should apply in context {CONTEXT.get(name)}"
    el.set_value(NEW[name])
    ok(at.run())
    assert at.query_params[name] == schema.format_value(S.PARAM[name], NEW[name]), "the URL follows"
    if name == "device":  # where it runs does not change a single number
        assert digest(at) == before
    else:
        assert digest(at) != before, f"changing {name} must change the plotted data"


def test_greyed_out_knobs_do_not_apply():
    at = ok(app({"cell": "lstm"}))
    keys = {w.key: w for w in at.sidebar if getattr(w, "key", None)}
    assert keys["cfg_activation"].disabled and not keys["cfg_forget_bias"].disabled


@pytest.mark.parametrize("preset", load_presets(), ids=lambda p: p.id)
def test_every_preset(preset):
    at = ok(app({"seed": "0"}))  # Config's defaults (a link naming a knob), not the landing preset
    before = digest(at)
    at.button(key=f"preset_{preset.id}").click()
    at.run()
    assert not at.exception
    assert digest(at) != before
    config = preset.config
    for name, value in S.config_values(config).items():
        assert at.session_state[f"cfg_{name}"] == value
    assert {k: at.query_params[k] for k in S.PARAM} == S.config_to_query(config)
    banner = [e.value for e in at.error]
    if preset.id == "exploding":
        assert banner and "grad_hidden" in banner[0] and "from step" in banner[0]
    else:
        assert not banner


def test_url_to_widgets_to_url_round_trip():
    config = Config(cell="lstm", hidden_size=9, num_layers=2, bidirectional=True, seq_len=40,
                    batch_size=2, dtype="float32", init_hh="orthogonal", spectral_radius=0.9,
                    forget_bias=1.5, task="sine", sine_period=9.5, loss="last", seed=42)
    view = S.View(view="gates", layer=1, direction="reverse", sample=1, t=17)
    query = S.state_to_query(config, view)
    at = ok(app(query))
    for name, value in S.config_values(config).items():
        assert at.session_state[f"cfg_{name}"] == value, name
    assert at.session_state["view_tab"] == "Gates" and at.session_state["view_t"] == 17
    assert dict(at.query_params) == query
    assert any("Gates" in t and "layer 1" in t and "reverse" in t for t in titles(at))


def test_bad_url_values_warn_and_fall_back():
    at = app({"seq_len": "lots", "cell": "transformer", "colour": "blue", "seed": "7"})
    assert not at.exception
    # warnings are Markdown with user text escaped (dashboard/safe.py): read them as shown
    text = re.sub(r"\\(.)", r"\1", " | ".join(w.value for w in at.warning))
    for piece in ("seq_len", "'lots'", "cell", "'transformer'", "colour", "'blue'"):
        assert piece in text
    assert at.session_state["cfg_seq_len"] == 50 and at.session_state["cfg_seed"] == 7
    assert at.query_params["seq_len"] == "50" and "colour" not in at.query_params


def _view_digest(at: AppTest, tab: str) -> list:
    at.session_state["view_tab"] = S.VIEW_TITLES[tab]
    return digest(ok(at.run()))


@pytest.mark.parametrize("control,value", [("layer", 1), ("direction", "reverse"), ("sample", 1),
                                            ("t", 3)])
def test_view_controls_change_the_figures(control, value):
    at = ok(app(S.config_to_query(Config(num_layers=2, bidirectional=True, batch_size=2,
                                         seq_len=20))))
    before = digest(at)
    if control == "t":  # the cursor is a component: its move lands in session state
        ok(move_cursor(at, value))
    else:
        el = next(w for w in at.main if getattr(w, "key", None) == f"view_{control}")
        el.set_value(value)
        ok(at.run())
    assert digest(at) != before
    assert at.query_params[control] == str(value)


def test_a_knob_reruns_only_the_views_unless_it_greys_out_others():
    at = ok(app({"cell": "rnn"}))
    before = digest(at)
    at.sidebar.number_input(key="cfg_seed").set_value(7)
    ok(at.run())
    assert digest(at) != before and at.query_params["seed"] == "7"
    assert not [w for w in at.sidebar.number_input if w.key == "cfg_seed"], \
        "a seed change reruns the views alone: the sidebar is not sent again"
    ok(at.run())
    at.sidebar.selectbox(key="cfg_cell").set_value("lstm")
    ok(at.run())
    assert at.sidebar.selectbox(key="cfg_activation").disabled, \
        "a cell change reruns the page: the sidebar greys out what no longer applies"
    assert at.sidebar.number_input(key="cfg_seed").value == 7


def test_cursor_survives_a_change_of_T():
    at = ok(app({"seed": "0"}))  # Config's defaults: T = 50
    assert at.session_state["view_t"] == 49 and "t" not in at.query_params
    at.sidebar.number_input(key="cfg_seq_len").set_value(80)
    ok(at.run())
    assert at.session_state["view_t"] == 79, "a cursor on the last step stays on the last step"
    ok(move_cursor(at, 10))
    at.sidebar.number_input(key="cfg_seq_len").set_value(60)
    ok(at.run())
    assert at.session_state["view_t"] == 10 and at.query_params["t"] == "10"
    ok(at.run())  # a knob change reruns only the views; AppTest then holds no sidebar to set
    at.sidebar.number_input(key="cfg_seq_len").set_value(5)
    ok(at.run())
    assert at.session_state["view_t"] == 4, "clamped into the shorter sequence"


def test_every_tab_draws_its_own_figures():
    at = ok(app({"cell": "lstm"}))
    seen = {}
    for tab in S.VIEWS:
        at.session_state["view_tab"] = S.VIEW_TITLES[tab]
        ok(at.run())
        seen[tab] = titles(at)
        assert at.query_params.get("view", S.DEFAULT_VIEW.view) == tab
    assert any("What goes in" in t for t in seen["signals"])
    assert any("cell state c_t" in t for t in seen["hidden"])
    assert any(t.startswith("Gates") for t in seen["gates"])
    assert any("Spectrum" in t for t in seen["spectrum"])
    assert not any("Spectrum" in t for t in seen["gates"]), "hidden tabs draw nothing"


def test_heavy_views_only_when_asked():
    at = ok(app({"seq_len": "20"}))
    assert not any("Influence" in t for t in titles(at))
    before = digest(at)
    at.toggle(key="view_influence").set_value(True)
    ok(at.run())
    assert any("Influence matrix" in t for t in titles(at)) and at.query_params["influence"] == "true"
    at.toggle(key="view_jacobian").set_value(True)
    ok(at.run())
    norm = next(s for s in chart_specs(at) if any("Gradient norm" in t for t in chart_titles(s)))
    assert any("Jacobian" in tr["name"] for tr in norm["data"])
    assert digest(at) != before


def test_size_cap_is_explained_not_run():
    at = app({"seq_len": "5000", "hidden_size": "512", "batch_size": "4"})
    assert not at.exception and not chart_elements(at)
    assert "dashboard stops at" in at.error[0].value


def test_engine_failure_is_a_message_not_a_traceback(monkeypatch):
    from apptest_support import FAILURE, break_engine

    break_engine(monkeypatch)
    at = app({"seed": "918273"})  # a config no other test has cached
    assert not at.exception
    assert "could not run" in at.error[0].value and FAILURE in at.error[0].value


def test_a_failing_figure_is_a_message_and_the_rest_still_draws(monkeypatch):
    from dashboard.figures import gradient

    def broken(*args, **kwargs):
        raise RuntimeError("simulated builder failure")

    monkeypatch.setattr(gradient.weight_terms_figure, "json", broken)
    at = app({"seed": "918274"})  # a config no other test has cached (figures are cached)
    assert not at.exception
    assert any("simulated builder failure" in e.value for e in at.error)
    assert any("|dL/dh_t| per unit" in t for t in titles(at)), "the other plots are still there"


def test_gradient_view_is_one_figure_on_one_time_axis():
    at = ok(app({"seed": "0"}))  # Config's defaults: T = 50
    (grad,) = [s for s in chart_specs(at) if any("|dL/dh_t| per unit" in t for t in chart_titles(s))]
    names = chart_titles(grad)
    assert any("Gradient norm" in t for t in names) and any("Per-step terms" in t for t in names)
    assert grad["layout"]["xaxis2"]["matches"] == "x" and grad["layout"]["xaxis3"]["matches"] == "x"
    assert not any("Values at step t" in t for t in names), "the values at t: a chart of its own"
    assert [p["key"] for p in chart_payloads(at)] == ["fig_grad", "fig_vectors"], \
        "one Plotly root for the time plots, one for the values the browser redraws at t"
    values = chart_specs(at)[1]
    assert values["layout"]["title"]["text"].startswith("Values at step t = 49")


def test_cursor_move_reuses_the_cached_figure(monkeypatch):
    from dashboard.figures import gradient

    at = ok(app({"seed": "918275", "seq_len": "30"}))  # a config no other test has cached
    before = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("Gradient"))

    def broken(*args, **kwargs):
        raise RuntimeError("rebuilt")

    monkeypatch.setattr(gradient.grad_heatmap_figure, "json", broken)
    sent = {p["key"]: p for p in chart_payloads(at)}
    ok(move_cursor(at, 11))  # no "rebuilt" error: the heatmap came from the cache
    after = next(s for s in chart_specs(at) if s["layout"]["title"]["text"].startswith("Gradient"))
    assert {sh["x0"] for sh in after["layout"]["shapes"]} == {11}, "the cursor moved on every row"
    values = charts_by_key(at)["fig_vectors"]
    assert values["layout"]["title"]["text"].startswith("Values at step t = 11"), \
        "the values at t follow the cursor"
    # What makes a move cheap: the charts are sent exactly as before (Streamlit's message cache
    # then sends a reference), the cursor's step travels only in the cursor's own data.
    assert {p["key"]: p for p in chart_payloads(at)} == sent
    assert cursor_data(at)["t"] == 11
    h = next(tr["y"] for tr in values["data"] if tr.get("name") == "h_t")
    np.testing.assert_allclose(h, explore_trace(at).hidden[0, 11, 0], rtol=1e-6)
    np.testing.assert_array_equal(heatmaps_z(after), heatmaps_z(before))
    at.sidebar.number_input(key="cfg_seed").set_value(918276)
    at.run()
    assert any("rebuilt" in e.value for e in at.error), "a new config does rebuild the figure"


def explore_trace(at: AppTest):
    """The Trace the page drew (from the engine, as the page computed it)."""
    from engine import unroll

    return unroll(Config(**{k: at.session_state[f"cfg_{k}"] for k in S.PARAM}))


def heatmaps_z(s: dict) -> np.ndarray:
    return next(tr["z"] for tr in s["data"] if tr["type"] == "heatmap")


def test_float32_arrays_reach_the_browser():
    at = ok(app({"seed": "0"}))  # Config's defaults: T = 50
    raw = chart_elements(at)[0].proto.bytes.decode()
    assert '"dtype":"f4"' in raw and '"bdata"' in raw
    z = next(tr["z"] for tr in chart_specs(at)[0]["data"] if tr["type"] == "heatmap")
    assert isinstance(z, np.ndarray) and z.dtype == np.float32 and z.shape == (32, 50)
