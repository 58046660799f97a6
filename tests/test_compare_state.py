"""dashboard/state/compare.py: two configurations and a shared view <-> URL, without Streamlit."""

from __future__ import annotations

import pytest

from dashboard.state import compare as CS
from dashboard.state import explore as S
from dashboard.state import schema
from engine import Config

A = Config(cell="rnn", activation="tanh", hidden_size=17, init_hh="normal", sigma=0.4,
           task="recall", delay=3, seq_len=40, batch_size=2, loss="last", seed=5)
B = A.replace(activation="relu", sigma=1.5, hidden_size=9, dtype="float32", seed=6)


def test_shared_and_own_knobs_partition_the_schema():
    assert set(CS.SHARED) | set(CS.OWN) == set(S.PARAM) and not set(CS.SHARED) & set(CS.OWN)
    assert {"task", "seq_len", "input_size", "batch_size"} <= set(CS.SHARED)
    assert {"cell", "activation", "init_hh", "sigma", "seed", "loss"} <= set(CS.OWN)


def test_round_trip_of_both_configs_and_the_view():
    view = schema.View(view="hidden", sample=1, t=12)
    q = CS.compare_to_query(A, B, view)
    assert all(isinstance(v, str) for v in q.values())
    assert q["a.seed"] == "5" and q["b.seed"] == "6", "both seeds are in the link"
    assert "b.seq_len" not in q and q["a.seq_len"] == "40", "the input is written once"
    a, b, back, warnings = CS.compare_from_query(q)
    assert (a, b, back, warnings) == (A, B, view, [])
    assert CS.compare_to_query(a, b, back) == q


def test_missing_b_knobs_copy_a():
    q = {k: v for k, v in CS.compare_to_query(A, B).items() if not k.startswith("b.")}
    q["b.activation"] = "relu"
    a, b, _, warnings = CS.compare_from_query(q)
    assert a == A and b == A.replace(activation="relu") and not warnings
    assert CS.differences(a, b) == ["activation"]


@pytest.mark.parametrize("key,bad,field,fallback", [
    ("a.sigma", "-1", "sigma", 1.0),  # A falls back to the default
    ("b.sigma", "lots", "sigma", 0.4),  # B falls back to A's value
    ("a.cell", "transformer", "cell", "rnn"),
    ("b.hidden_size", "100000", "hidden_size", 17),
])
def test_bad_values_fall_back_with_a_warning_naming_the_prefixed_parameter(key, bad, field, fallback):
    q = CS.compare_to_query(A, A)
    q[key] = bad
    a, b, _, warnings = CS.compare_from_query(q)
    assert len(warnings) == 1 and key in warnings[0] and repr(bad) in warnings[0]
    side = a if key.startswith("a.") else b
    assert getattr(side, field) == fallback


def test_engine_rejection_names_the_side():
    q = CS.compare_to_query(A, A)
    q.update({"a.seq_len": "10", "a.delay": "20"})  # recall delay must be < T
    a, b, _, warnings = CS.compare_from_query(q)
    assert a.delay is None and b.delay is None
    assert len(warnings) == 1 and warnings[0].startswith("URL parameter a.delay=")


def test_shared_knob_under_b_is_ignored_with_a_warning():
    q = {**CS.compare_to_query(A, A), "b.seq_len": "99"}
    a, b, _, warnings = CS.compare_from_query(q)
    assert a.seq_len == b.seq_len == 40
    assert len(warnings) == 1 and "b.seq_len" in warnings[0] and "shared" in warnings[0]


def test_unknown_and_unprefixed_keys_are_warned():
    _, _, _, warnings = CS.compare_from_query({"sigma": "2", "c.cell": "gru", "a.colour": "x"})
    assert len(warnings) == 3
    for key in ("'sigma'", "'c.cell'", "'a.colour'"):
        assert any(key in w for w in warnings)


def test_view_is_clamped_to_both_models():
    q = {**CS.compare_to_query(A.replace(num_layers=2), A), "layer": "1", "t": "80",
         "view": "spectrum"}
    _, _, view, warnings = CS.compare_from_query(q)
    assert view == schema.View()
    assert any("layer=1" in w for w in warnings) and any("t=80" in w for w in warnings)
    assert any("view='spectrum'" in w for w in warnings)


def test_data_config_keeps_only_what_makes_the_data():
    d = CS.data_config(A)
    assert d == CS.data_config(B.replace(seed=A.seed, dtype=A.dtype)), "model knobs are ignored"
    assert d != CS.data_config(A.replace(seed=7)), "A's seed draws the data"
    assert (d.task, d.seq_len, d.delay, d.batch_size) == ("recall", 40, 3, 2)


def test_presentation_mode_round_trips_on_compare_links():
    a = Config(cell="rnn")
    view = schema.View(present=True)
    q = CS.compare_to_query(a, a, view)
    assert q["present"] == "true"
    _, _, back, warnings = CS.compare_from_query(q)
    assert back.present is True and not warnings
