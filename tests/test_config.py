"""Config validation, blow-up handling, seeding, and the input tasks."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from oracle import np64

from engine import Config, make_task, unroll

BAD = [
    ("cell", "xyz"),
    ("cell", "LSTM"),
    ("activation", "softplus"),
    ("hidden_size", 0),
    ("hidden_size", 10**9),
    ("hidden_size", 3.5),
    ("hidden_size", True),
    ("hidden_size", "32"),
    ("input_size", 0),
    ("input_size", 5000),
    ("num_layers", 0),
    ("num_layers", 9),
    ("seq_len", 0),
    ("seq_len", -5),
    ("seq_len", 100_001),
    ("batch_size", 0),
    ("batch_size", 2048),
    ("dtype", "float16"),
    ("dtype", "bfloat16"),
    ("init_hh", "foo"),
    ("init_ih", "zeros"),
    ("sigma", 0),
    ("sigma", -1.0),
    ("sigma", float("nan")),
    ("sigma", float("inf")),
    ("spectral_radius", -1),
    ("spectral_radius", 0.0),
    ("spectral_radius", float("nan")),
    ("gain", 0),
    ("gain", -2.0),
    ("gain", float("inf")),
    ("forget_bias", float("nan")),
    ("forget_bias", "big"),
    ("task", "translate"),
    ("sine_period", 1),
    ("sine_period", float("nan")),
    ("loss", "mean"),
    ("seed", -1),
    ("seed", 2**31),
    ("seed", 1.5),
    ("text", ""),
    ("text", "   "),
    ("device", "tpu"),
    ("bidirectional", "yes"),
]


def _names_value(msg, value):
    return any(s in msg for s in {repr(value), str(value)})


@pytest.mark.parametrize("field,value", BAD, ids=[f"{f}={v!r}" for f, v in BAD])
def test_bad_value_raises_naming_field_and_value(field, value):
    with pytest.raises(ValueError) as err:
        Config(**{field: value})
    msg = str(err.value)
    assert field in msg, msg
    if field != "text":  # an empty text is named by what is missing (no words)
        assert _names_value(msg, value), msg


@pytest.mark.parametrize("delay", [20, 21, 100, -1])
def test_delay_must_be_below_seq_len(delay):
    with pytest.raises(ValueError) as err:
        Config(task="recall", seq_len=20, delay=delay)
    assert "delay" in str(err.value) and str(delay) in str(err.value)


def test_replace_validates():
    cfg = Config()
    with pytest.raises(ValueError, match="hidden_size"):
        cfg.replace(hidden_size=0)
    assert cfg.replace(hidden_size=7).hidden_size == 7


def test_good_values_accepted():
    Config(cell="lstm", hidden_size=1, num_layers=8, seq_len=1, batch_size=1024, dtype="float32",
           init_hh="identity", init_ih="kaiming", sigma=0.5, spectral_radius=1.2, gain=2.0,
           forget_bias=-3.0, task="recall", delay=0, loss="last", seed=2**31 - 1, device="cpu")


def test_config_is_frozen():
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.hidden_size = 3  # type: ignore[misc]


# ---- blow-up: flags, not exceptions -----------------------------------------------------------


@pytest.mark.parametrize("kw", [
    dict(activation="relu", init_hh="identity", gain=3.0),
    dict(activation="relu", init_hh="orthogonal", spectral_radius=5.0),
    dict(activation="linear", init_hh="normal", sigma=4.0),
])
def test_exploding_config_sets_flags(kw):
    cfg = Config(cell="rnn", input_size=2, hidden_size=6, seq_len=800, batch_size=1, seed=0,
                 device="cpu", task="noise", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning leaks out either
        tr = unroll(cfg)  # must not raise
    assert tr.any_flag
    hit = {q: k for q, kinds in tr.flags.items() for k, s in kinds.items() if s is not None}
    assert hit, tr.flags
    # the flagged step is a real step index
    for q, kinds in tr.flags.items():
        for k, s in kinds.items():
            assert s is None or 0 <= s < cfg.seq_len, (q, k, s)
    # something really did blow up
    h = np64(tr.hidden)
    assert (~np.isfinite(h)).any() or np.abs(h).max() > 1e100
    # flags report Inf or overflow in the hidden states
    assert tr.flags["hidden"]["inf"] is not None or tr.flags["hidden"]["overflow"] is not None


def test_healthy_config_has_no_flags():
    tr = unroll(Config(hidden_size=8, seq_len=20, batch_size=2, device="cpu"))
    assert not tr.any_flag, tr.flags


def test_seed_reproducible():
    cfg = Config(cell="gru", hidden_size=5, seq_len=10, batch_size=2, device="cpu", seed=42)
    a, b = unroll(cfg), unroll(cfg)
    np.testing.assert_array_equal(a.hidden, b.hidden)
    np.testing.assert_array_equal(a.grad_hidden, b.grad_hidden)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    c = unroll(cfg.replace(seed=43))
    assert not np.array_equal(a.hidden, c.hidden)
    assert not np.array_equal(a.weights["weight_hh_l0"], c.weights["weight_hh_l0"])
    assert not np.array_equal(a.inputs, c.inputs)


# ---- tasks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("task,n_in,n_out", [
    ("noise", 3, None), ("sine", 1, 1), ("impulse", 3, None), ("recall", 1, 1), ("adding", 2, 1),
    ("sentence", 3, 3),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_task_shapes(task, n_in, n_out, dtype):
    cfg = Config(task=task, input_size=3, seq_len=12, batch_size=4, dtype=dtype, device="cpu")
    x, y = make_task(cfg)
    T = min(12, len(cfg.text.split())) if task == "sentence" else 12
    assert x.shape[:2] == (T, 4) and y.shape[:2] == (T, 4)
    assert x.shape[2] == n_in
    if n_out is not None:
        assert y.shape[2] == n_out
    assert x.dtype == getattr(torch, dtype) and y.dtype == getattr(torch, dtype)
    # unroll runs the task end to end with these widths
    tr = unroll(cfg, jacobian=False, influence=False)
    assert tr.inputs.shape == tuple(x.shape) and tr.targets.shape == tuple(y.shape)
    assert tr.outputs.shape == tuple(y.shape)


@pytest.mark.parametrize("delay", [None, 0, 3, 9])
def test_recall_target_is_delayed_input(delay):
    cfg = Config(task="recall", seq_len=10, batch_size=3, delay=delay, device="cpu", seed=5)
    x, y = (np64(a) for a in make_task(cfg))
    d = cfg.seq_len - 1 if delay is None else delay
    np.testing.assert_array_equal(y[d:], x[: cfg.seq_len - d])
    np.testing.assert_array_equal(y[:d], 0)
    if delay is None:
        np.testing.assert_array_equal(y[-1], x[0])


def test_adding_problem_last_target_is_sum_of_marked():
    cfg = Config(task="adding", seq_len=30, batch_size=8, device="cpu", seed=7)
    x, y = (np64(a) for a in make_task(cfg))
    values, marks = x[..., 0], x[..., 1]
    assert set(np.unique(marks)) <= {0.0, 1.0}
    np.testing.assert_array_equal(marks.sum(axis=0), 2)  # exactly two marks per sample
    half = cfg.seq_len // 2
    assert np.all(marks[:half].sum(axis=0) == 1) and np.all(marks[half:].sum(axis=0) == 1)
    assert values.min() >= 0 and values.max() <= 1
    want = (values * marks).sum(axis=0)
    np.testing.assert_allclose(y[-1, :, 0], want, rtol=1e-12)


def test_sentence_deterministic_and_one_step_per_word():
    cfg = Config(task="sentence", text="to be or not to be", seq_len=50, input_size=4, batch_size=2,
                 device="cpu", seed=3)
    x1, y1 = (np64(a) for a in make_task(cfg))
    x2, y2 = (np64(a) for a in make_task(cfg))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape[0] == 6
    np.testing.assert_array_equal(x1[0], x1[4])  # same word, same vector ("to")
    np.testing.assert_array_equal(x1[1], x1[5])  # "be"
    assert not np.array_equal(x1[0], x1[1])
    x3, _ = (np64(a) for a in make_task(cfg.replace(text="to be or not")))
    np.testing.assert_array_equal(x3, x1[:4])
    # capped at seq_len
    xc, _ = make_task(cfg.replace(seq_len=3))
    assert xc.shape[0] == 3


def test_series_task_normalised():
    rng = np.random.default_rng(0)
    raw = pd.Series(100 + 5 * np.cumsum(rng.standard_normal(300)))
    cfg = Config(task="series", seq_len=50, batch_size=2, device="cpu")
    x, y = (np64(a) for a in make_task(cfg, series=raw))
    assert x.shape == (50, 2, 1) and y.shape == (50, 2, 1)
    s = (raw.to_numpy() - raw.mean()) / raw.std(ddof=0)
    assert abs(s.mean()) < 1e-12 and abs(s.std() - 1) < 1e-12
    np.testing.assert_allclose(x[:, 0, 0], s[:50], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y[:-1, 0, 0], x[1:, 0, 0])  # y_t = s_{t+1}
    np.testing.assert_allclose(y[-1, 0, 0], s[50], rtol=1e-10)
    # the whole normalised series has mean ~0, std ~1 -> an all-series window is too
    cfg_all = Config(task="series", seq_len=298, batch_size=1, device="cpu")
    xa, ya = (np64(a) for a in make_task(cfg_all, series=raw))
    full = np.concatenate([xa[:, 0, 0], ya[-1:, 0, 0]])
    assert abs(full.mean()) < 0.02 and abs(full.std() - 1) < 0.02
    tr = unroll(cfg, inputs=torch.as_tensor(x), targets=torch.as_tensor(y))
    assert np.isfinite(tr.loss)


def test_series_task_needs_data():
    with pytest.raises(ValueError, match="'series' needs data"):
        make_task(Config(task="series", seq_len=10, device="cpu"))


def test_device_auto_and_cuda_without_cuda(monkeypatch):
    """'auto' falls back to the CPU; asking for CUDA where there is none is a clear ValueError.
    The machine without CUDA is simulated, so this is checked on a GPU machine too."""
    from engine.unroll import resolve_device

    cfg = Config(hidden_size=4, seq_len=5, device="auto")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert unroll(cfg, jacobian=False, influence=False).hidden.shape == (1, 5, 1, 4)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    assert unroll(cfg, jacobian=False, influence=False).hidden.shape == (1, 5, 1, 4)
    with pytest.raises(ValueError, match="device.*cuda"):
        unroll(cfg.replace(device="cuda"))
