"""Trace views: tidy frames, shapes of every field."""

import numpy as np
import pytest
from oracle import np64, small_config

from engine import unroll

COLUMNS = ["layer", "direction", "t", "sample", "unit", "value"]


@pytest.fixture(scope="module")
def lstm_trace():
    cfg = small_config(cell="lstm", num_layers=2, bidirectional=True, seq_len=4, batch_size=2,
                       hidden_size=3, seed=6)
    return unroll(cfg)


@pytest.mark.parametrize("name", ["hidden", "cell", "grad_hidden", "grad_cell"])
def test_frame_per_step_quantity(lstm_trace, name):
    tr = lstm_trace
    c = tr.config
    L, D, T, B, H = c.num_layers, 2, c.seq_len, c.batch_size, c.hidden_size
    df = tr.frame(name)
    assert list(df.columns) == COLUMNS
    assert len(df) == L * D * T * B * H
    arr = np64(getattr(tr, name))
    got = df["value"].to_numpy(dtype=float)
    want = arr[(df["layer"].to_numpy(dtype=int) * D + df["direction"].to_numpy(dtype=int)),
               df["t"].to_numpy(dtype=int), df["sample"].to_numpy(dtype=int), df["unit"].to_numpy(dtype=int)]
    np.testing.assert_array_equal(got, want)
    # every (layer, direction, t, sample, unit) appears exactly once
    keys = df[COLUMNS[:-1]].astype(int).drop_duplicates()
    assert len(keys) == len(df)
    assert set(df["layer"].astype(int)) == set(range(L)) and set(df["direction"].astype(int)) == {0, 1}


@pytest.mark.parametrize("gate", ["i", "f", "g", "o"])
def test_frame_gate(lstm_trace, gate):
    tr = lstm_trace
    df = None
    for name in (gate, f"gates.{gate}"):
        df = tr.frame(name)
        assert list(df.columns) == COLUMNS
        assert len(df) == tr.gates[gate].size
        D = 2
        idx = (df["layer"].to_numpy(dtype=int) * D + df["direction"].to_numpy(dtype=int),
               df["t"].to_numpy(dtype=int), df["sample"].to_numpy(dtype=int), df["unit"].to_numpy(dtype=int))
        np.testing.assert_array_equal(df["value"].to_numpy(dtype=float), np64(tr.gates[gate])[idx])


def test_frame_specific_row(lstm_trace):
    tr = lstm_trace
    df = tr.frame("hidden")
    row = df[(df.layer == 1) & (df.direction == 1) & (df.t == 2) & (df["sample"] == 1) & (df.unit == 0)]
    assert len(row) == 1
    assert row["value"].iloc[0] == tr.hidden[3, 2, 1, 0]


def test_frame_unknown_or_missing_quantity():
    tr = unroll(small_config(cell="rnn"))
    with pytest.raises(ValueError, match="unknown quantity 'nonsense'; known: .*'hidden'"):
        tr.frame("nonsense")
    with pytest.raises(ValueError, match="'cell' does not exist for cell 'rnn'"):
        tr.frame("cell")  # an RNN has no cell state


def test_trace_shapes(lstm_trace):
    tr = lstm_trace
    c = tr.config
    LD, T, B, H = c.num_layers * 2, c.seq_len, c.batch_size, c.hidden_size
    for name in ("hidden", "cell", "grad_hidden", "grad_cell"):
        assert getattr(tr, name).shape == (LD, T, B, H), name
    assert tr.grad_hidden_log10.shape == (LD, T, B)
    assert tr.inputs.shape[:2] == (T, B) and tr.outputs.shape == tr.targets.shape
    assert len(tr.spectrum) == LD and len(tr.decay) == LD
    for sp in tr.spectrum:
        assert {"singular_values", "eigenvalues", "spectral_radius", "max_singular", "gamma", "bound",
                "regime"} <= set(sp)
        assert np.isclose(sp["max_singular"], sp["singular_values"][0])
    for d in tr.decay:
        assert {"slope_log10", "rate", "half_life", "r2"} <= set(d)
    for name, w in tr.weights.items():
        assert isinstance(w, np.ndarray) and w.dtype == np.float64, name
    assert isinstance(tr.loss, float)
    assert set(tr.flags) and all(set(v) == {"nan", "inf", "overflow", "underflow"} for v in tr.flags.values())


def test_spectrum_matches_numpy(lstm_trace):
    tr = lstm_trace
    H = tr.config.hidden_size
    for ld, sp in enumerate(tr.spectrum):
        k, d = divmod(ld, 2)
        w = np64(tr.weights[f"weight_hh_l{k}" + ("_reverse" if d else "")])
        np.testing.assert_allclose(sp["singular_values"], np.linalg.svd(w, compute_uv=False), rtol=1e-12)
        radius = max(np.abs(np.linalg.eigvals(w[g * H:(g + 1) * H])).max() for g in range(4))
        assert np.isclose(sp["spectral_radius"], radius, rtol=1e-12)
