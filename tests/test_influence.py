"""The influence matrix |dL_s/dh_k| (engine/influence.py): every target row at once, each row alive
only from its target back. Against autograd (tests/oracle.influence_reference) and the plain
per-target loop (engine/reference.reference_influence), float64 to 1e-10, for every cell, 1-2
layers, one or two directions, the linear and the attention readout; every row where the old
budget subsampled; the per-row power-of-two rescaling against float32 underflow.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from oracle import (
    CELL_ACT_IDS,
    CELL_ACTS,
    influence_reference,
    np64,
    reference_for_trace,
    small_config,
)
from test_reference import ATOL, RTOL, SHAPE_IDS, SHAPES

from engine import Config, unroll
from engine import reference as R

U = importlib.import_module("engine.unroll")  # the module (engine.unroll is the function)


def _close(actual, expected, what):
    expected = np64(expected)
    assert np.abs(expected).max() > 1e-6, f"{what}: expected value is ~0, the check proves nothing"
    np.testing.assert_allclose(np64(actual), expected, atol=ATOL, rtol=RTOL, err_msg=what)


@pytest.mark.parametrize("readout", ["linear", "attention"])
@pytest.mark.parametrize("layers,bidir", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_every_row_equals_autograd_and_the_plain_loop(cell, act, layers, bidir, readout):
    cfg = small_config(cell=cell, activation=act, num_layers=layers, bidirectional=bidir,
                       readout=readout, seq_len=7, hidden_size=3, batch_size=2, seed=5)
    tr = unroll(cfg, jacobian=False, influence=True)
    T = cfg.seq_len
    assert not tr.influence_subsampled and list(tr.influence_steps) == list(range(T))
    assert tr.influence.shape == (T, T)
    want = influence_reference(reference_for_trace(tr), layers, bidir, tr.influence_steps, sample=0)
    _close(tr.influence, want, "influence vs autograd")
    plain = R.reference_influence(cfg, tr.inputs, tr.targets, tr.weights, tr.influence_steps)
    _close(plain, want, "reference_influence vs autograd")
    if not bidir and readout == "linear":  # causal: nothing reaches a state after the target
        assert np.all(np64(tr.influence)[np.triu_indices(T, 1)] == 0.0)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_no_row_is_subsampled_where_the_old_budget_cut(cell):
    """At T=1000, H=128 the old budget kept 91 (RNN), 30 (GRU), 22 (LSTM) rows: now every one.
    The dashboard's largest sizes still get a labelled subsample."""
    cfg = Config(cell=cell, seq_len=1000, hidden_size=128)
    old_rows = int(1.5e9 // (1000 * cfg.gate_count * 128**2))
    assert old_rows < 100 and len(U.influence_steps(cfg, 1000)) == 1000
    big = Config(cell=cell, seq_len=5000, hidden_size=512, bidirectional=True)
    assert 2 <= len(U.influence_steps(big, 5000)) < 5000
    long = Config(cell=cell, seq_len=5000, hidden_size=8)  # cheap, but 5000 x 5000 values
    assert len(U.influence_steps(long, 5000)) * 5000 <= U.INFLUENCE_CELLS


def test_every_row_of_a_long_sequence_matches_its_gradient():
    """T=1000, H=64 LSTM (91 rows under the old budget): all rows, no note, and the last row,
    dL_{T-1}/dh_k, is the trace's own dL/dh_k under loss 'last'."""
    cfg = Config(cell="lstm", seq_len=1000, hidden_size=64, loss="last", dtype="float64")
    tr = unroll(cfg, jacobian=False, influence=True)
    assert len(tr.influence_steps) == 1000 and not tr.influence_subsampled
    assert not any("influence" in n for n in tr.notes)
    grad = np.sqrt((np64(tr.grad_hidden[:, :, 0]) ** 2).sum(axis=(0, 2)))  # (T,) sample 0
    live = grad > 1e-100  # below, single components fall into float64's denormals and round
    assert live[-50:].all()
    np.testing.assert_allclose(np64(tr.influence[-1])[live], grad[live], rtol=1e-9, atol=0)


def test_float32_rows_rescale_below_underflow():
    """A fast-vanishing RNN: float32 influence values far below float32's smallest number match
    the float64 run, row by row, because each row keeps its own power-of-two scale."""
    cfg64 = Config(cell="rnn", seq_len=60, hidden_size=8, dtype="float64", seed=3)
    base = unroll(cfg64, jacobian=False, influence=False)
    w = {k: np.array(v) for k, v in base.weights.items()}
    w["weight_hh_l0"] *= 0.02
    runs = [unroll(c, inputs=base.inputs, targets=base.targets, weights=w, jacobian=False,
                   influence=True) for c in (cfg64, cfg64.replace(dtype="float32"))]
    a, b = np64(runs[0].influence), np64(runs[1].influence)
    tiny = (a > 0) & (a < 1e-60)  # far below float32's 1.4e-45: only the rescaling reaches them
    assert tiny.sum() > 100
    np.testing.assert_allclose(b[tiny], a[tiny], rtol=1e-3)
    assert np.all((a > 0) == (b > 0))


def test_deep_tail_is_not_flushed_to_zero():
    """Values far below 1e-154 (whose squares underflow float64) stay exact: the last row of a
    fast-vanishing RNN equals the trace's own log10 |dL/dh_k| (loss 'last') down to 1e-235."""
    cfg = Config(cell="rnn", seq_len=120, hidden_size=8, dtype="float64", seed=3, loss="last")
    base = unroll(cfg, jacobian=False, influence=False)
    w = {k: np.array(v) for k, v in base.weights.items()}
    w["weight_hh_l0"] *= 0.02
    tr = unroll(cfg, inputs=base.inputs, targets=base.targets, weights=w, jacobian=False,
                influence=True)
    row, log10 = np64(tr.influence[-1]), np64(tr.grad_hidden_log10[0, :, 0])
    assert row.min() < 1e-200 and np.all(row > 0)
    np.testing.assert_allclose(np.log10(row), log10, rtol=0, atol=1e-12)
