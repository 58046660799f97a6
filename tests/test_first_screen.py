"""The story on the pages: a visit naming no knob lands on a fading gradient with its rate and
half-life in one sentence; explanations match the cell shown; a sentence's words on the axes; a
batch described by its median; the sentence presets tell their story."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from apptest_support import chart_specs, cursor_data, ok, run_page
from streamlit.testing.v1 import AppTest

from dashboard.screens import compare as compare_page
from dashboard.screens import explore as explore_page
from dashboard.state import compare as CS
from dashboard.state import explore as S
from dashboard.state.compare_presets import load_compare_presets
from dashboard.state.presets import load_presets
from engine import Config, unroll
from engine.inputs import make_task

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PRESETS = {p.id: p for p in load_presets()}
LANDING = PRESETS[S.LANDING_PRESET]


def app(query: dict | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if page:
        at.switch_page(page)
    return run_page(at, query)


def summary(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "per step back" in m.value or "trend" in m.value)


def test_a_visit_naming_no_knob_lands_on_the_fading_preset():
    assert S.landing_query({}) == {**S.config_to_query(LANDING.config), "view": LANDING.view}
    assert S.landing_query({"present": "1"})["present"] == "1"
    assert S.landing_query({"present": "1"})["sigma"] == "0.9"
    named = {"seed": "4"}
    assert S.landing_query(named) is named, "a link that names a knob keeps its meaning"
    assert S.state_from_query({})[0] == Config(), "Config's defaults are unchanged"


def test_the_landing_page_tells_the_story():
    at = ok(app())
    assert {k: at.query_params[k] for k in S.PARAM} == S.config_to_query(LANDING.config), \
        "the address bar shows the preset's knobs"
    fit = unroll(LANDING.config, jacobian=False, influence=False).decay[0]
    line = summary(at)
    assert line.startswith(f"**|dL/dh_t| shrinks by ×{fit['rate']:.3g} per step back: half-life "
                           f"{fit['half_life']:.3g} steps (fit r² {fit['r2']:.2f})**")
    assert 0.7 < fit["rate"] < 0.85 and 2 < fit["half_life"] < 4 and fit["r2"] > 0.95
    assert at.session_state["view_tab"] == S.VIEW_TITLES["gradient"]
    presenting = ok(app({"present": "1"}))
    assert presenting.query_params["sigma"] == "0.9" and presenting.query_params["present"] == "true"


def test_a_link_with_knobs_is_read_as_it_is():
    at = ok(app({"seed": "0"}))
    assert at.query_params["init_hh"] == "default" and at.query_params["seq_len"] == "50"
    assert "no clear exponential trend" in summary(at)


def gradient_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "total derivative" in c.value or "A and B" in c.value)


@pytest.mark.parametrize("cell, says, never", [
    ("rnn", ["W_hh^T and by phi'(a_t)"], ["f_t", "z_t"]),
    ("lstm", ["forget gate f_t", "cell path"], ["phi'", "z_t"]),
    ("gru", ["update gate z_t", "direct path"], ["phi'", "f_t"]),
])
def test_each_cell_is_explained_in_its_own_terms(cell, says, never):
    at = ok(app({"cell": cell, "seq_len": "12", "hidden_size": "4"}))
    text = gradient_caption(at)
    assert all(s in text for s in says) and not any(n in text for n in never), text
    assert explore_page.explain("gradient", cell) == text
    gates = explore_page.explain("gates", cell)
    assert ("phi'(a_t)" in gates) == (cell == "rnn") and ("f_t" in gates) == (cell == "lstm")


def test_compare_explains_both_cells():
    a, b = Config(), Config(cell="lstm")
    text = compare_page.explain("gradient", a, b)
    assert "In A (RNN)" in text and "W_hh^T and phi'" in text and "in B (LSTM)" in text
    assert "forget gate f_t" in text
    assert "In both (GRU)" in compare_page.explain("gates", Config(cell="gru"), Config(cell="gru"))
    at = ok(app({"a.cell": "rnn", "b.cell": "gru", "a.seq_len": "12", "a.hidden_size": "4"},
                page="screens/compare.py"))
    assert "update gate z_t" in gradient_caption(at)


def test_sentence_words_reach_the_chart_spec():
    text = "what time is it when the last train leaves"
    at = ok(app({"task": "sentence", "text": text, "hidden_size": "4", "loss": "last"}))
    grad, values = chart_specs(at)
    axes = [v for k, v in grad["layout"].items() if k.startswith("xaxis")]
    assert axes and all(a["ticktext"][0] == "what" and a["ticktext"][-1] == "leaves"
                        for a in axes), "every time row names its words"
    assert "ticktext" not in values["layout"].get("xaxis", {}), "units, not words"
    rows = [n["text"] for n in grad["layout"]["annotations"]]
    assert any(r.startswith("How much each word reaches the loss") for r in rows)
    assert values["layout"]["title"]["text"].startswith('Values at step t = 8 ("leaves")')
    assert cursor_data(at)["labels"][0] == "what", "the cursor names the word at t"


def test_a_batch_is_described_by_its_median():
    at = ok(app({"batch_size": "8", "seq_len": "30", "init_hh": "normal", "sigma": "0.9",
                 "loss": "last", "hidden_size": "6"}))
    line = summary(at)
    assert "|dL/dh_t| (median over 8 samples) shrinks by" in line and "10-90 %" in line
    grad, _ = chart_specs(at)
    names = {tr.get("name") for tr in grad["data"]}
    assert {"10-90 % of 8 samples", "median of 8 samples", "fitted decay (median)"} <= names
    cmp = ok(app({"a.batch_size": "8", "a.seq_len": "30", "a.hidden_size": "6"},
                 page="screens/compare.py"))
    table = cmp.dataframe[0].value
    assert "half-life (steps, median of 8 samples)" in table.index
    assert "half-life, 10-90 % of the samples" in table.index


def test_the_sentence_presets_tell_their_story():
    tr = unroll(PRESETS["sentence"].config, jacobian=False, influence=False)
    g = np.linalg.norm(tr.grad_input[:, 0], axis=-1)
    assert tr.step_labels[:2] == ["what", "time"] and 20 <= len(tr.step_labels) <= 30
    assert g[0] < 1e-5 * g[-1], "'what' barely reaches the loss at the last word"
    pair = next(p for p in load_compare_presets() if p.id == "sentence_rnn_lstm")
    x, y = make_task(CS.data_config(pair.a))
    first = [np.linalg.norm(unroll(c, inputs=x, targets=y, jacobian=False,
                                   influence=False).grad_input[0, 0]) for c in (pair.a, pair.b)]
    assert pair.b.cell == "lstm" and pair.b.forget_bias >= 1 and pair.a.loss == "last"
    assert first[1] > 1e4 * first[0], "the LSTM keeps the first word: four decades more"
