"""Property-based fuzzing of the engine over the whole config space (hypothesis, derandomized).

Every generated config either raises a ValueError that names the bad field (at construction), or
unrolls to a Trace; nothing else may escape. In every Trace, each non-finite value is flagged:
a NaN or Inf anywhere in a quantity means its flags say so, from a step at or before the first
step where it appears.
"""

from __future__ import annotations

import math
import re

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import Config, unroll
from engine.config import ACTIVATIONS, CELLS, DEVICES, DTYPES, INITS, LOSSES, TASKS

EXAMPLES = 1000

# Values that no field accepts (or that only some accept): wrong types, non-finite, huge, odd text.
JUNK = st.sampled_from([None, "", " ", "nan", "NaN", "inf", "-1", "1e999", "<script>alert(1)</script>",
                        "é", "\u202e", "\x00", [], {}, (), True, False, object, -1, 0, 2**63,
                        -2**63, 1e308, -1e308, math.nan, math.inf, -math.inf, 1.5, -0.0, b"rnn"])


def _real(lo: float, hi: float) -> st.SearchStrategy:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _scale() -> st.SearchStrategy:
    """A weight scale: as often past the point where gradients explode as below it."""
    return st.one_of(_real(0.01, 2.0), _real(2.0, 100.0))


VALID = {
    "cell": st.sampled_from(CELLS),
    "activation": st.sampled_from(ACTIVATIONS),
    "input_size": st.integers(1, 4),
    "hidden_size": st.integers(1, 10),
    "num_layers": st.integers(1, 2),
    "bidirectional": st.booleans(),
    "seq_len": st.integers(1, 24),
    "batch_size": st.integers(1, 3),
    "dtype": st.sampled_from(DTYPES),
    "init_hh": st.sampled_from(INITS),
    "init_ih": st.sampled_from(INITS),
    "sigma": _scale(),
    "spectral_radius": st.one_of(st.none(), _scale()),
    "gain": _scale(),
    "forget_bias": st.one_of(st.none(), _real(-100.0, 100.0)),
    "task": st.sampled_from([t for t in TASKS if t != "series"]),
    "sine_period": _real(2.0, 1e6),
    "delay": st.one_of(st.none(), st.integers(0, 30)),
    "text": st.text(min_size=1, max_size=60),
    "loss": st.sampled_from(LOSSES),
    "seed": st.integers(0, 2**31 - 1),
    "device": st.sampled_from([d for d in DEVICES if d != "cuda"]),
}


@st.composite
def configs(draw) -> dict:
    """Config fields: any subset of valid values, and in about a third of the examples one field
    replaced by junk (which that field may happen to accept)."""
    fields = draw(st.fixed_dictionaries({}, optional=VALID))
    if draw(st.integers(0, 2)) == 0:
        fields[draw(st.sampled_from(sorted(VALID)))] = draw(JUNK)
    return fields


# quantity in trace.flags -> how to read its array and where its time axis is
PER_STEP = {"hidden": 1, "cell": 1, "grad_hidden": 1, "grad_cell": 1}
MODEL_LEVEL = {"outputs": 0, "grad_input": 0}


def _first_bad(x: np.ndarray, time_axis: int, test) -> int | None:
    axes = tuple(a for a in range(x.ndim) if a != time_axis)
    hits = np.flatnonzero(test(x).any(axis=axes))
    return int(hits[0]) if hits.size else None


def _check_flagged(name: str, x: np.ndarray | None, time_axis: int, flags: dict) -> bool:
    """Every NaN / Inf in x is reported by flags[name], no later than where it first appears."""
    if x is None:
        return False
    found = False
    for kind, test in (("nan", np.isnan), ("inf", np.isinf)):
        first = _first_bad(x, time_axis, test)
        if first is None:
            continue
        found = True
        got = flags[name][kind]
        if got is None and kind == "inf":  # an Inf may have been reported as overflow first
            got = flags[name]["overflow"]
        assert got is not None, f"{name} has {kind} from step {first} but flags say {flags[name]}"
        assert got <= first, f"{name}: {kind} first at step {first}, flagged from {got}"
    return found


# Blow-ups that always run, whatever the generated examples happen to be (which examples a
# derandomized run draws can change with what else the test session imported).
BLOW_UPS = [
    dict(cell="rnn", activation="relu", init_hh="orthogonal", spectral_radius=60.0, seq_len=24,
         dtype="float32", hidden_size=8),
    dict(cell="rnn", activation="linear", init_hh="orthogonal", spectral_radius=100.0, seq_len=24,
         dtype="float32", hidden_size=6),
    dict(cell="rnn", activation="relu", init_hh="identity", gain=100.0, seq_len=24,
         dtype="float32", hidden_size=4, num_layers=2),
    dict(cell="rnn", activation="relu", init_hh="orthogonal", spectral_radius=90.0, seq_len=24,
         dtype="float32", hidden_size=5, batch_size=3, loss="last"),
    dict(cell="rnn", activation="linear", init_hh="orthogonal", spectral_radius=100.0, seq_len=200,
         dtype="float64", hidden_size=6, bidirectional=True),
]


def _with_blow_ups(test):
    for fields in BLOW_UPS:
        test = example(fields, True)(test)
    return test


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@_with_blow_ups
@given(configs(), st.booleans())
def _check_config(counts: dict, fields: dict, heavy: bool) -> None:
    """One generated config: a clear ValueError, or a Trace whose every NaN / Inf is flagged.
    Tallies the outcome in counts (hypothesis fills fields and heavy; the caller passes counts)."""
    try:
        config = Config(**fields)
    except ValueError as e:
        # the message names the field: "Config.<field>: expected ..., got <value>"
        m = re.match(r"Config\.(\w+): expected .+, got .+", str(e), flags=re.S)
        assert m and m.group(1) in fields, f"unclear message for {fields}: {e}"
        counts["rejected"] += 1
        return
    try:  # whatever the numbers, a valid config unrolls; only data it cannot make is refused
        trace = unroll(config, jacobian=heavy, influence=heavy)
    except ValueError as e:
        assert len(str(e)) > 20, f"unclear message: {e!r}"
        counts["rejected"] += 1
        return
    counts["trace"] += 1
    T = trace.inputs.shape[0]
    assert trace.hidden.shape[1] == T and trace.grad_hidden.shape[1] == T
    flagged = False
    for name, axis in PER_STEP.items():
        flagged |= _check_flagged(name, getattr(trace, name), axis, trace.flags)
    for name, axis in MODEL_LEVEL.items():
        flagged |= _check_flagged(name, getattr(trace, name), axis, trace.flags)
    flagged |= _check_flagged("loss", trace.step_loss[:, None], 0, trace.flags)
    for g, a in trace.gates.items():
        flagged |= _check_flagged(f"gates.{g}", a, 1, trace.flags)
    terms = np.stack(list(trace.weight_grad_terms.values()), axis=1)
    flagged |= _check_flagged("weight_grad", terms, 0, trace.flags)
    if not np.isfinite(trace.loss):
        assert trace.any_flag, "a non-finite loss must come with a flag"
    counts["flagged"] += flagged


def test_config_space_gives_a_trace_or_a_clear_value_error():
    """Every generated config passes _check_config, and the run really covered the space: all its
    examples ran, both outcomes came up often, and blow-ups were flagged (checked here, in the same
    test, so it holds run alone or in any order)."""
    counts = {"trace": 0, "rejected": 0, "flagged": 0}
    _check_config(counts)
    assert counts["trace"] + counts["rejected"] >= EXAMPLES, counts
    assert counts["trace"] >= EXAMPLES // 4 and counts["rejected"] >= EXAMPLES // 10, counts
    assert counts["flagged"] >= len(BLOW_UPS), counts
    print(f"engine fuzz: {counts}")
