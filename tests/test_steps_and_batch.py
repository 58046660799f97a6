"""The engine's names for steps (the words of a sentence) and its fits over a whole batch: the
median's decay fit and the samples' spread, against plain numpy (np.median, np.polyfit)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import Config, unroll
from engine.gradients import BAND, batch_band, batch_decay_fit, decay_fit
from engine.inputs import make_task, sentence_words, step_labels

TEXT = "what time is it when the last train leaves"


def test_sentence_steps_are_named_by_their_words():
    c = Config(task="sentence", text=TEXT, seq_len=50, input_size=4)
    assert step_labels(c) == TEXT.split()
    x, _ = make_task(c)
    assert x.shape[0] == len(step_labels(c)), "one label per step the task makes"
    short = c.replace(seq_len=4)
    assert step_labels(short) == ["what", "time", "is", "it"] == sentence_words(short)
    assert step_labels(c.replace(task="noise")) is None
    # the same word at two steps is the same input vector: labels and inputs agree
    same = Config(task="sentence", text="the cat saw the dog", input_size=4)
    xs, _ = make_task(same)
    assert step_labels(same)[0] == step_labels(same)[3] == "the"
    torch.testing.assert_close(xs[0], xs[3])


def test_trace_step_labels():
    tr = unroll(Config(task="sentence", text=TEXT, hidden_size=3, input_size=4), jacobian=False,
                influence=False)
    assert tr.step_labels == TEXT.split() and tr.inputs.shape[0] == len(TEXT.split())
    assert unroll(Config(seq_len=5, hidden_size=3), jacobian=False,
                  influence=False).step_labels is None
    given = np.zeros((3, 1, 4))  # inputs of another length than the sentence: no labels
    assert unroll(Config(task="sentence", text=TEXT, hidden_size=3, input_size=4),
                  inputs=given, jacobian=False, influence=False).step_labels is None


def numpy_fit(y: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, r2) of y against the distance from the end, by np.polyfit."""
    dist = np.arange(len(y) - 1, -1, -1, dtype=np.float64)
    slope, icpt = np.polyfit(dist, y, 1)
    resid = y - (slope * dist + icpt)
    return slope, icpt, 1 - (resid**2).sum() / ((y - y.mean()) ** 2).sum()


def test_batch_band_is_the_quantiles_of_the_norms():
    rng = np.random.default_rng(0)
    norms = 10.0 ** rng.normal(-3, 2, size=(20, 9))  # (T, B)
    band = batch_band(np.log10(norms))
    np.testing.assert_allclose(band[:, 1], np.log10(np.median(norms, axis=1)), rtol=1e-12)
    for col, q in ((0, BAND[0]), (2, BAND[1])):  # between the norms' neighbouring order statistics
        lower = np.log10(np.quantile(norms, q, axis=1, method="lower"))
        higher = np.log10(np.quantile(norms, q, axis=1, method="higher"))
        assert (lower <= band[:, col] + 1e-12).all() and (band[:, col] <= higher + 1e-12).all()
        assert (lower < higher).all()
    assert (band[:, 0] <= band[:, 1]).all() and (band[:, 1] <= band[:, 2]).all()
    odd = np.log10(norms[:, :9])
    np.testing.assert_array_equal(batch_band(odd)[:, 1], np.median(odd, axis=1))
    with np.errstate(divide="ignore"):  # exact zero gradients: log10 -inf
        zeros = np.log10(np.array([[0.0, 1e-3, 1e-2], [0.0, 0.0, 0.0]]))
    b = batch_band(zeros)
    assert b[0, 0] == -np.inf and b[1].tolist() == [-np.inf] * 3 and np.isfinite(b[0, 2])


def test_median_fit_against_numpy():
    rng = np.random.default_rng(1)
    T, B = 40, 8
    slopes = rng.uniform(-0.3, -0.05, size=B)
    dist = np.arange(T - 1, -1, -1)
    logs = slopes[None, :] * dist[:, None] + rng.normal(0, 0.2, size=(T, B))  # (T, B)
    fit = batch_decay_fit(logs)
    slope, icpt, r2 = numpy_fit(np.median(logs, axis=1))
    assert fit["slope_log10"] == pytest.approx(slope, rel=1e-10)
    assert fit["intercept_log10"] == pytest.approx(icpt, rel=1e-10, abs=1e-12)
    assert fit["r2"] == pytest.approx(r2, rel=1e-10)
    assert fit["rate"] == pytest.approx(10**slope) and fit["samples"] == B
    assert fit["half_life"] == pytest.approx(math.log10(0.5) / slope)
    own = np.array([numpy_fit(logs[:, b])[0] for b in range(B)])
    lo, hi = np.quantile(own, BAND)
    assert fit["rate_q10"] == pytest.approx(10**lo) and fit["rate_q90"] == pytest.approx(10**hi)
    assert fit["half_life_q10"] == pytest.approx(math.log10(0.5) / lo)
    assert fit["half_life_q10"] < fit["half_life"] < fit["half_life_q90"], "the median inside"
    assert fit["slope_log10"] != pytest.approx(decay_fit(logs[:, 0])["slope_log10"]), \
        "the median, not sample 0"


def test_spread_with_a_growing_sample_and_without_fits():
    T = 10
    dist = np.arange(T - 1, -1, -1, dtype=np.float64)
    logs = np.stack([-0.2 * dist, -0.1 * dist, 0.05 * dist], axis=1)  # the last one grows
    fit = batch_decay_fit(logs)
    assert fit["half_life_q90"] == math.inf and math.isfinite(fit["half_life_q10"])
    none = batch_decay_fit(np.full((2, 3), -1.0))  # two steps: nothing to fit
    assert math.isnan(none["rate"]) and math.isnan(none["half_life_q10"])


def test_trace_batch_decay():
    c = Config(hidden_size=6, seq_len=30, init_hh="normal", sigma=0.8, loss="last", seed=2,
               batch_size=5, bidirectional=True)
    tr = unroll(c, jacobian=False, influence=False)
    for i, fit in enumerate(tr.batch_decay):
        lg = tr.grad_hidden_log10[i] if i % 2 == 0 else tr.grad_hidden_log10[i][::-1]
        slope, _, _ = numpy_fit(np.median(lg, axis=1)) if np.isfinite(lg).all() else (None,) * 3
        if slope is not None:
            assert fit["slope_log10"] == pytest.approx(slope, rel=1e-10)
        assert fit["samples"] == 5
    one = unroll(c.replace(batch_size=1, bidirectional=False), jacobian=False, influence=False)
    assert {k: one.batch_decay[0][k] for k in one.decay[0]} == one.decay[0], \
        "one sample: the median is that sample, its fit the usual one"
