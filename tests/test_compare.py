"""The Compare page through Streamlit's AppTest, its presets, and its paired figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from apptest_support import charts_by_key, move_cursor, ok, run_page
from markdown_text import plain
from plotly_decode import data_digest
from streamlit.testing.v1 import AppTest

from dashboard.figures import compare as compare_figs
from dashboard.state import compare as CS
from dashboard.state import explore as S
from dashboard.state import schema
from dashboard.state.compare_presets import PRESETS_FILE, load_compare_presets
from engine import Config, unroll
from engine.inputs import make_task

TIMEOUT = 60
PRESETS = load_compare_presets()


def _script():
    import streamlit as st

    from dashboard.screens import compare

    st.set_page_config(layout="wide")
    compare.page()


def app(query: dict | None = None) -> AppTest:
    return run_page(AppTest.from_function(_script, default_timeout=TIMEOUT), query)


def charts(at: AppTest) -> dict[str, dict]:
    """Decoded Plotly spec of every chart, by its key."""
    return charts_by_key(at)


def tab(at: AppTest, view: str) -> AppTest:
    at.session_state["cmp_view_tab"] = CS.COMPARE_VIEW_TITLES[view]
    return ok(at.run())


def heatmap(s: dict, name: str) -> dict:
    return next(tr for tr in s["data"] if tr["type"] == "heatmap" and tr["name"] == name)


def test_default_page_is_a_and_its_copy():
    at = ok(app())
    assert at.title[0].value == "Unrolled · Compare"
    assert "B is a copy of A" in at.info[0].value
    figs = charts(at)
    assert set(figs) == {"cmp_grad_a", "cmp_grad_b", "cmp_norm_a", "cmp_norm_b", "cmp_ratio"}
    assert data_digest(figs["cmp_grad_a"]) == data_digest(figs["cmp_grad_b"]), "B = A: same numbers"
    ratio = next(tr for tr in figs["cmp_ratio"]["data"] if tr["type"] == "scatter")
    np.testing.assert_allclose(ratio["y"], 0.0, atol=1e-6)  # log10(B / A) = 0 everywhere
    table = at.dataframe[0].value
    assert list(table.columns) == ["A", "B", "differs"] and (table["A"] == table["B"]).all()
    for row in ("spectral radius of W_hh", "largest singular value s vs 1/gamma",
                "fitted decay rate per step", "half-life (steps)", "||dL/dh_0|| / ||dL/dh_T||",
                "saturated fraction", "flags"):
        assert row in table.index
    assert at.query_params["a.seed"] == "0" and at.query_params["b.seed"] == "0"


def test_url_round_trip_of_both_configs():
    a = Config(cell="gru", hidden_size=9, seq_len=25, batch_size=2, task="sine", sine_period=7.5,
               init_hh="orthogonal", loss="last", seed=11)
    b = a.replace(cell="lstm", forget_bias=1.0, hidden_size=12, dtype="float32", seed=3)
    view = schema.View(view="hidden", sample=1, t=7)
    query = CS.compare_to_query(a, b, view)
    at = ok(app(query))
    for name, value in S.config_values(a).items():
        assert at.session_state[f"cmp_a_{name}"] == value, name
    for name in CS.OWN:
        assert at.session_state[f"cmp_b_{name}"] == getattr(b, name), name
    assert at.session_state["cmp_view_t"] == 7 and at.session_state["cmp_view_tab"] == "Hidden states"
    assert dict(at.query_params) == query, "the page writes back exactly the link it was given"
    figs = charts(at)
    assert heatmap(figs["cmp_hidden_a"], "h_t")["z"].shape == (9, 25)
    assert heatmap(figs["cmp_hidden_b"], "h_t")["z"].shape == (12, 25)
    assert "cmp_cell_a" not in figs, "c_t is drawn only when both sides are LSTMs"
    line = "".join(m.value for m in at.markdown)
    assert "B differs from A in:" in line and "Cell (gru → lstm)" in line


def test_bad_url_values_warn_with_prefixed_names():
    at = app({"a.sigma": "-3", "b.cell": "transformer", "b.seq_len": "9", "zoom": "2"})
    assert not at.exception
    text = plain(" | ".join(w.value for w in at.warning))
    for piece in ("a.sigma", "'-3'", "b.cell", "'transformer'", "b.seq_len", "'zoom'"):
        assert piece in text, piece
    assert at.query_params["a.sigma"] == "1.0" and at.query_params["b.cell"] == "rnn"
    assert "b.seq_len" not in at.query_params and "zoom" not in at.query_params


def test_paired_charts_share_one_scale():
    preset = next(p for p in PRESETS if p.id == "sigma_bound")  # A tiny gradients, B large ones
    a = preset.a.replace(activation="relu", seq_len=30)  # ReLU: unbounded h_t, so ranges differ
    at = ok(app(CS.compare_to_query(a, a.replace(sigma=1.5))))
    figs = charts(at)
    ga, gb = heatmap(figs["cmp_grad_a"], "log10|dL/dh|"), heatmap(figs["cmp_grad_b"], "log10|dL/dh|")
    assert (ga["zmin"], ga["zmax"]) == (gb["zmin"], gb["zmax"])
    ya, yb = figs["cmp_norm_a"]["layout"]["yaxis"], figs["cmp_norm_b"]["layout"]["yaxis"]
    assert ya["range"] == yb["range"] and ya["tickvals"] == yb["tickvals"]
    norm_b = figs["cmp_norm_b"]["data"][0]["y"]
    assert ya["range"][0] <= np.nanmin(figs["cmp_norm_a"]["data"][0]["y"]) and \
        ya["range"][1] >= np.nanmax(norm_b), "the shared range holds both curves"
    figs = charts(tab(at, "hidden"))
    ha, hb = heatmap(figs["cmp_hidden_a"], "h_t"), heatmap(figs["cmp_hidden_b"], "h_t")
    assert (ha["zmin"], ha["zmax"]) == (hb["zmin"], hb["zmax"])
    assert hb["zmax"] >= np.nanmax(np.abs(hb["z"])) and hb["zmax"] > np.nanmax(np.abs(ha["z"])) * 1.5, \
        "one range from both sides: A's colours are on B's larger scale"
    figs = charts(tab(at, "gates"))
    pa, pb = heatmap(figs["cmp_gates_a"], "phi'"), heatmap(figs["cmp_gates_b"], "phi'")
    assert (pa["zmin"], pa["zmax"]) == (pb["zmin"], pb["zmax"]) == (0, 1)


def test_changing_a_b_knob_changes_only_b():
    at = ok(app({"a.seq_len": "30"}))
    before = {k: data_digest(s) for k, s in charts(at).items()}
    at.selectbox(key="cmp_b_activation").set_value("relu")
    ok(at.run())
    after = {k: data_digest(s) for k, s in charts(at).items()}
    assert after["cmp_grad_a"] == before["cmp_grad_a"] and after["cmp_norm_a"] == before["cmp_norm_a"]
    assert after["cmp_grad_b"] != before["cmp_grad_b"] and after["cmp_norm_b"] != before["cmp_norm_b"]
    assert after["cmp_ratio"] != before["cmp_ratio"]
    assert at.query_params["b.activation"] == "relu" and at.query_params["a.activation"] == "tanh"
    assert at.selectbox(key="cmp_b_activation").label.endswith("≠ A")
    assert not at.selectbox(key="cmp_a_activation").label.endswith("≠ A")
    table = at.dataframe[0].value
    assert table.loc["cell", "A"] == "rnn (tanh)" and table.loc["cell", "B"] == "rnn (relu)"
    at.button(key="cmp_copy").click()
    ok(at.run())
    assert at.query_params["b.activation"] == "tanh" and "B is a copy of A" in at.info[0].value


def test_shared_input_moves_both_sides():
    at = ok(app({"b.activation": "relu"}))
    at.sidebar.number_input(key="cmp_a_seq_len").set_value(20)
    ok(at.run())
    figs = charts(at)
    assert heatmap(figs["cmp_grad_a"], "log10|dL/dh|")["z"].shape[1] == 20
    assert heatmap(figs["cmp_grad_b"], "log10|dL/dh|")["z"].shape[1] == 20
    assert at.session_state["cmp_view_t"] == 19, "the one cursor follows T"
    ok(move_cursor(at, 5, "cmp_view_t"))
    for key in ("cmp_grad_a", "cmp_grad_b", "cmp_norm_a", "cmp_norm_b", "cmp_ratio"):
        shapes = charts(at)[key]["layout"]["shapes"]
        assert [s["x0"] for s in shapes if s.get("xref") != "x domain"] == [5], key
    assert at.query_params["t"] == "5"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_every_preset_button(preset):
    at = ok(app({"a.seq_len": "20"}))
    at.button(key=f"cmp_preset_{preset.id}").click()
    ok(at.run())
    q = CS.compare_to_query(preset.a, preset.b)
    assert {k: at.query_params[k] for k in q} == q
    assert len(charts(at)) == 5
    assert CS.differences(preset.a, preset.b), "a preset differs in something"


def test_animate_tab_plays_both_sides():
    at = tab(ok(app({"a.seq_len": "12", "b.activation": "relu"})), "animate")
    fig = charts(at)["cmp_anim"]
    assert len(fig["frames"]) == 24 and all("data" not in fr for fr in fig["frames"])
    play = fig["layout"]["updatemenus"][0]["buttons"][0]
    assert play["args"][1]["frame"]["duration"] == 100
    at.select_slider(key="cmp_speed").set_value(40)
    ok(at.run())
    fig = charts(at)["cmp_anim"]
    assert fig["layout"]["updatemenus"][0]["buttons"][0]["args"][1]["frame"]["duration"] == 25
    cursor = [[s["x0"] for s in fr["layout"]["shapes"] if s["type"] == "line"][0]
              for fr in fig["frames"]]
    assert cursor == list(range(12)) + list(range(11, -1, -1)), "the cursor advances, then returns"


def test_engine_failure_is_a_message(monkeypatch):
    from apptest_support import FAILURE, break_engine

    break_engine(monkeypatch)
    at = app({"a.seed": "918273"})  # a pair no other test has cached
    assert not at.exception
    assert any(FAILURE in e.value for e in at.error)


# ---------------------------------------------------------------------------------------------
# Presets and paired figures, without the page
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def preset_traces():
    out = {}
    for p in PRESETS:
        x, y = make_task(CS.data_config(p.a))
        out[p.id] = tuple(unroll(c, inputs=x, targets=y, influence=False, jacobian=False)
                          for c in (p.a, p.b))
    return out


def test_presets_are_valid_links(preset_traces):
    assert [p.id for p in PRESETS] == ["tanh_relu", "rnn_lstm", "normal_orthogonal",
                                       "sigma_bound", "forget_bias", "rnn_attention",
                                       "sentence_rnn_lstm"]
    for p in PRESETS:
        assert len(p.caption) == 2 and all(0 < len(line) <= 60 for line in p.caption)
        a, b, _, warnings = CS.compare_from_query(CS.compare_to_query(p.a, p.b))
        assert (a, b, warnings) == (p.a, p.b, [])
        ta, tb = preset_traces[p.id]
        np.testing.assert_array_equal(ta.inputs, tb.inputs)
        np.testing.assert_array_equal(ta.targets, tb.targets)


def test_presets_tell_their_story(preset_traces):
    rate = {k: (a.decay[0]["rate"], b.decay[0]["rate"]) for k, (a, b) in preset_traces.items()}
    assert rate["tanh_relu"][1] > rate["tanh_relu"][0], "ReLU on W_hh = I keeps more"
    assert rate["rnn_lstm"][1] > rate["rnn_lstm"][0] + 0.2
    assert rate["forget_bias"][1] > rate["forget_bias"][0] + 0.1
    a, b = preset_traces["sigma_bound"]
    assert "must vanish" in a.spectrum[0]["verdict"] and "can explode" in b.spectrum[0]["verdict"]
    a, b = preset_traces["normal_orthogonal"]
    assert a.spectrum[0]["max_singular"] > 1.5
    np.testing.assert_allclose(b.spectrum[0]["singular_values"], 1.0, atol=1e-9)
    assert b.decay[0]["r2"] > 0.9 > a.decay[0]["r2"], "orthogonal: a steady, smooth norm"


def test_malformed_compare_preset_is_named(tmp_path):
    import json

    items = json.loads(PRESETS_FILE.read_text())
    items[1]["b"]["seq_len"] = 10
    bad = tmp_path / "compare_presets.json"
    bad.write_text(json.dumps(items))
    with pytest.raises(ValueError, match="preset #1 .'rnn_lstm'.*shared input"):
        load_compare_presets(bad)


def test_ratio_is_exact_where_floats_underflow(preset_traces):
    a, b = preset_traces["sigma_bound"]  # A falls below 1e-40: beyond float32, exact in log10
    where = dict(layer=0, direction=0, sample=0)
    r = compare_figs.log10_ratio(a, b, where)
    np.testing.assert_allclose(r, b.grad_hidden_log10[0, :, 0] - a.grad_hidden_log10[0, :, 0])
    assert r[0] - r[-1] > 30, "B keeps its gradient, A's is 1e-40 of its size by t = 0"


# ---------------------------------------------------------------------------------------------
# The Explore page's Animate tab
# ---------------------------------------------------------------------------------------------

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


def test_explore_has_the_animate_tab():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"view": "animate", "seq_len": "12", "cell": "lstm"})
    ok(at.run())
    fig = charts(at)["fig_anim"]
    assert [fr["name"] for fr in fig["frames"]][:2] == ["f0", "f1"] and len(fig["frames"]) == 24
    assert heatmap(fig, "h_t")["z"].shape == (32, 12)
    assert at.query_params["view"] == "animate"



def settings_open(at: AppTest) -> bool:
    """Whether the section of A's and B's knobs is open."""
    return next(e for e in at.expander if e.label.startswith("Settings of A and B")).proto.expanded


def test_the_settings_fold_away_once_a_and_b_differ():
    """A visit where B is a copy of A opens the knobs (change one of B's first) and keeps them
    open while B is changed; a link or a classic pair where B differs opens with them closed, so
    the first screen shows the comparison."""
    at = ok(app({"a.seq_len": "30"}))
    assert settings_open(at)
    at.selectbox(key="cmp_b_activation").set_value("relu")
    assert settings_open(ok(at.run())), "closed under the user's hand"
    assert not settings_open(ok(app({"a.seq_len": "30", "b.activation": "relu"})))
    at = ok(app({"a.seq_len": "30"}))
    at.button(key=f"cmp_preset_{PRESETS[0].id}").click()
    at = ok(at.run())
    assert CS.differences(*CS.compare_from_query(dict(at.query_params))[:2])
    assert not settings_open(at)


def test_presenting_shows_the_summary_in_the_pages_larger_text():
    """While presenting, the summary is a plain table (the dataframe's canvas keeps its small
    font whatever the page's size): the same rows and values."""
    query = {"a.seq_len": "30", "b.activation": "relu"}
    normal = ok(app(query)).dataframe[0].value
    at = ok(app({**query, "present": "1"}))
    assert len(at.dataframe) == 0
    shown = at.table[0].value
    assert list(shown.index) == list(normal.index) and list(shown.columns) == list(normal.columns)
    assert shown.astype(str).values.tolist() == normal.astype(str).values.tolist()
