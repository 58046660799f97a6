"""assets/train_presets.json: one preset per remedy, each a valid Train page link that trains the
plain tanh RNN beside its remedy; a click on its button sets every knob as its link would."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from apptest_support import ok, run_page
from streamlit.testing.v1 import AppTest

from dashboard.state import train as TS
from dashboard.state.train_presets import PRESETS_FILE, TrainPreset, load_train_presets

PRESETS = {p.id: p for p in load_train_presets()}


def test_one_preset_per_remedy_each_against_the_plain_tanh_rnn():
    assert list(PRESETS) == ["irnn", "clipping", "lstm_forget_bias", "gru", "attention"]
    for p in PRESETS.values():
        assert len(p.caption) == 2 and all(0 < len(line) <= 120 for line in p.caption)
        assert p.settings.models[0] == "rnn_tanh" and len(p.settings.models) >= 2
    configs = {k: p.settings.configs() for k, p in PRESETS.items()}
    irnn = configs["irnn"][1]
    assert (irnn.activation, irnn.init_hh) == ("relu", "identity")
    assert PRESETS["clipping"].settings.clips() == [1.0, 1.0, None], "the same IRNN, unclipped"
    assert [c.forget_bias for c in configs["lstm_forget_bias"]] == [None, None, 4.0]
    assert PRESETS["gru"].settings.update_biases() == [None, None, 4.0]
    assert [c.readout for c in configs["attention"]] == ["linear", "attention"]
    for cs in configs.values():  # side by side: the same batches
        assert len({(c.task, c.seq_len, c.batch_size, c.seed) for c in cs}) == 1


@pytest.mark.parametrize("pid", list(PRESETS))
def test_each_link_parses_without_warnings_to_its_settings(pid):
    p = PRESETS[pid]
    settings, warnings = TS.from_query(p.query)
    assert not warnings and settings == p.settings
    parts = urlsplit(p.link)
    assert parts.path == "train"
    query = dict(parse_qsl(parts.query))
    assert query == TS.to_query(p.settings), "the link writes every knob"
    from_link, warnings = TS.from_query(query)
    assert not warnings and from_link == p.settings


def test_malformed_preset_is_named(tmp_path):
    items = json.loads(PRESETS_FILE.read_text())
    for change, match in ((dict(models="rnn_tanh,transformer"), "#1 .'clipping'.*models"),
                          (dict(lr="fast"), "#1 .'clipping'.*lr"),
                          (dict(models="irnn,rnn_tanh"), "#1 .'clipping'.*plain 'rnn_tanh'"),
                          (dict(steps=800), "#1 .'clipping'.*strings")):
        bad = tmp_path / "train_presets.json"
        broken = json.loads(json.dumps(items))
        broken[1]["query"].update(change)
        bad.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=match):
            load_train_presets(bad)


def _script():
    from dashboard.screens import train as train_page

    train_page.page()


@pytest.mark.parametrize("pid", ["attention", "gru"])
def test_a_preset_button_sets_every_knob_and_the_url(pid):
    at = ok(run_page(AppTest.from_function(_script, default_timeout=60),
                     {"hidden_size": "7", "steps": "20", "models": "lstm"}))
    p: TrainPreset = PRESETS[pid]
    at.button(key=f"tr_preset_{pid}").click()
    ok(at.run())
    for param in TS.PARAMS:
        want = getattr(p.settings, TS.field_name(param.name))
        got = at.session_state[f"tr_{param.name}"]
        assert (tuple(got) if param.name == "models" else got) == want, param.name
    assert dict(at.query_params) == {k: str(v) for k, v in TS.to_query(p.settings).items()}
    links = [c.value for c in at.sidebar.caption if "[Link](" in c.value]
    assert len(links) == len(PRESETS) and any(p.link in v for v in links)
