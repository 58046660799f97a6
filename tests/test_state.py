"""dashboard/state/explore.py and state/schema.py: URL <-> Config <-> View, without Streamlit."""

from __future__ import annotations

import dataclasses

import pytest

from dashboard.state import explore as S
from dashboard.state import limits, schema
from engine import Config

ODD = Config(cell="lstm", activation="relu", hidden_size=17, num_layers=2, bidirectional=True,
             seq_len=123, batch_size=3, dtype="float32", init_hh="orthogonal", init_ih="normal",
             sigma=0.123456789, spectral_radius=1.1, gain=0.7, forget_bias=1.0, task="recall",
             delay=7, loss="last", seed=987654321, sine_period=13.5, input_size=5,
             text="one two three", device="cpu")


def test_every_config_field_has_a_param():
    fields = {f.name for f in dataclasses.fields(Config)}
    assert fields == set(S.PARAM), "every engine knob must be a widget and a URL parameter"
    assert all(p.group in S.GROUPS and p.help for p in S.PARAMS)


@pytest.mark.parametrize("config", [Config(), ODD], ids=["defaults", "everything-changed"])
def test_url_config_url_round_trip(config):
    q = S.config_to_query(config)
    assert all(isinstance(v, str) for v in q.values())
    assert q["seed"] == str(config.seed), "the seed is always in the link"
    back, warnings = S.config_from_query(q)
    assert warnings == []
    assert back == config
    assert S.config_to_query(back) == q


def test_view_round_trip_and_defaults_omitted():
    view = S.View(view="gates", layer=1, direction="reverse", sample=2, t=40, influence=True)
    q = S.state_to_query(ODD, view)
    assert q["view"] == "gates" and q["t"] == "40" and "jacobian" not in q
    config, back, warnings = S.state_from_query(q)
    assert (config, back, warnings) == (ODD, view, [])
    assert not set(S.view_to_query(S.View())), "the default view adds nothing to the URL"


@pytest.mark.parametrize("key,bad", [
    ("seq_len", "abc"), ("seq_len", "6000"), ("hidden_size", "1000"), ("batch_size", "65"),
    ("cell", "transformer"), ("sigma", "nan"), ("sigma", "-1"), ("bidirectional", "maybe"),
    ("seed", "1.5"), ("task", "stocks"), ("layer", "x"), ("view", "nope"),
])
def test_bad_value_falls_back_with_a_warning_naming_it(key, bad):
    config, view, warnings = S.state_from_query({key: bad, "gain": "0.5"})
    assert len(warnings) == 1
    assert key in warnings[0] and repr(bad) in warnings[0]
    assert config.gain == 0.5, "the good parameters are kept"
    default = getattr(S.DEFAULT_CONFIG, key) if key in S.PARAM else getattr(S.DEFAULT_VIEW, key)
    got = getattr(config, key) if key in S.PARAM else getattr(view, key)
    assert got == default


def test_unknown_keys_are_warned_and_ignored():
    config, warnings = S.config_from_query({"colour": "blue", "seq_len": "60"})
    assert config.seq_len == 60
    assert len(warnings) == 1 and "colour" in warnings[0] and "'blue'" in warnings[0]


def test_combination_the_engine_rejects_falls_back_field_by_field():
    config, warnings = S.config_from_query({"task": "recall", "seq_len": "10", "delay": "20"})
    assert (config.task, config.seq_len, config.delay) == ("recall", 10, None)
    assert len(warnings) == 1 and "delay" in warnings[0] and "'20'" in warnings[0]


def test_view_is_clamped_to_the_model():
    _, view, warnings = S.state_from_query({"layer": "2", "t": "70", "seq_len": "50"})
    assert view.layer == 0 and view.t is None
    assert any("layer" in w for w in warnings) and any("t=70" in w for w in warnings)
    assert S.View(t=None).cursor(50) == 49 and S.View(t=10).cursor(50) == 10


def test_repeated_key_takes_the_last_value_like_st_query_params():
    config, warnings = S.config_from_query({"seq_len": ["20", "30"]})
    assert config.seq_len == 30 and not warnings


def test_floats_round_trip_exactly():
    for x in (0.1, 1 / 3, 0.0123456789, 99.99999999999):
        p = S.PARAM["gain"]
        assert schema.parse_value(p, schema.format_value(p, x)) == x


def test_optional_fields_accept_none():
    config, warnings = S.config_from_query({"spectral_radius": "none", "forget_bias": ""})
    assert config.spectral_radius is None and config.forget_bias is None and not warnings


def test_size_cap_message():
    assert limits.size_problem(Config()) is None
    big = Config(seq_len=5000, hidden_size=512, batch_size=4)
    msg = limits.size_problem(big)
    assert msg and "10,240,000" in msg and f"{limits.MAX_VALUES:,}" in msg


def test_relevance_rules():
    v = S.config_values(Config(cell="lstm"))
    assert not S.RELEVANT["activation"](v) and S.RELEVANT["forget_bias"](v)
    assert S.RELEVANT["sigma"](S.config_values(Config(init_ih="normal")))


def test_memory_budget_cap_names_the_need_and_what_fits():
    big = Config(cell="lstm", seq_len=5000, hidden_size=512, batch_size=2)  # 5.1e6 < MAX_VALUES
    assert limits.values_per_quantity(big) <= limits.MAX_VALUES
    msg = limits.size_problem(big)
    assert msg and "MiB" in msg and f"{limits.RUN_BUDGET / 2**20:,.0f} MiB per run" in msg
    fits = int(msg.split("keep T at most about ")[1].split(" ")[0].replace(",", ""))
    assert limits.size_problem(big.replace(seq_len=fits)) is None
    assert limits.size_problem(big.replace(dtype="float32")) is None  # float32 halves the need
    assert limits.size_problem(big.replace(cell="rnn")) is None  # an RNN carries fewer arrays


def _sample_values(p: schema.Param) -> list:
    """A few values a knob can take, for checking what depends on it."""
    if p.kind == "choice":
        return list(p.choices)
    if p.kind == "bool":
        return [False, True]
    if p.kind == "text":
        return ["", "a sentence"]
    return [p.lo, p.hi] + ([None] if p.optional else [])


def test_only_the_reshaping_knobs_decide_which_knobs_apply():
    """A knob outside RESHAPES_KNOBS reruns only the views (explore._rerun_views), never the
    sidebar: so it must never change which knobs are greyed out."""
    base = S.config_values(S.DEFAULT_CONFIG)
    bases = [dict(base, **{name: v}) for name in S.RESHAPES_KNOBS
             for v in _sample_values(S.PARAM[name])]
    for p in S.PARAMS:
        if p.name in S.RESHAPES_KNOBS:
            continue
        for values in bases:
            seen = {tuple(fn(dict(values, **{p.name: v})) for fn in S.RELEVANT.values())
                    for v in _sample_values(p)}
            assert len(seen) == 1, f"{p.name} changes which knobs apply: add it to RESHAPES_KNOBS"
    for name in S.RESHAPES_KNOBS:  # and each of those really does
        seen = {tuple(fn(dict(base, **{name: v})) for fn in S.RELEVANT.values())
                for v in _sample_values(S.PARAM[name])}
        assert len(seen) > 1, name
