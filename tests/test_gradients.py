"""Backward pass: every BPTT quantity on the Trace equals autograd on an independent reference."""

import math

import numpy as np
import pytest
import torch
from oracle import (
    CELL_ACT_IDS,
    CELL_ACTS,
    autograd_reference,
    influence_reference,
    layer_inputs,
    np64,
    reference_for_trace,
    small_config,
    step_jacobians,
)

from engine import init_weights, make_task, unroll
from engine.gradients import weight_grad_term_tensors

ATOL = 1e-10
RTOL = 1e-8


def _close(actual, expected, atol=ATOL, rtol=RTOL, msg=""):
    np.testing.assert_allclose(np64(actual), np64(expected), atol=atol, rtol=rtol, err_msg=msg)


GRAD_CASES = [
    pytest.param(cell, act, layers, bidir, loss, id=f"{cid}-L{layers}-{'bi' if bidir else 'uni'}-{loss}")
    for (cell, act), cid in zip(CELL_ACTS, CELL_ACT_IDS, strict=True)
    for layers in (1, 2)
    for bidir in (False, True)
    for loss in ("last", "sum")
]


@pytest.fixture(scope="module")
def traces():
    """Cache: (cell, act, layers, bidir, loss) -> (trace, autograd reference)."""
    return {}


def _get(traces, cell, act, layers, bidir, loss):
    key = (cell, act, layers, bidir, loss)
    if key not in traces:
        cfg = small_config(cell=cell, activation=act, num_layers=layers, bidirectional=bidir,
                           loss=loss, seed=21 + layers)
        tr = unroll(cfg, jacobian=False, influence=False)
        traces[key] = (tr, autograd_reference(tr, route="names"))
    return traces[key]


@pytest.mark.parametrize("cell,act,layers,bidir,loss", GRAD_CASES)
def test_grad_hidden_equals_autograd_probe(traces, cell, act, layers, bidir, loss):
    tr, ref = _get(traces, cell, act, layers, bidir, loss)
    assert tr.grad_hidden.shape == tr.hidden.shape
    # the probe gradient is not trivially zero (the test could fail)
    assert np.abs(ref["grad_hidden"]).max() > 1e-6
    _close(tr.grad_hidden, ref["grad_hidden"])


@pytest.mark.parametrize("cell,act,layers,bidir,loss", GRAD_CASES)
def test_grad_input_and_loss_equal_autograd(traces, cell, act, layers, bidir, loss):
    tr, ref = _get(traces, cell, act, layers, bidir, loss)
    assert tr.grad_input.shape == tr.inputs.shape
    _close(tr.grad_input, ref["grad_input"])
    assert math.isclose(float(tr.loss), ref["loss"], rel_tol=1e-10, abs_tol=1e-12)
    # per-step L_t for every t, whatever the loss mode; L is their sum, or the last one
    assert tr.step_loss.shape == (tr.config.seq_len,)
    _close(tr.step_loss, ref["per_step_loss"])
    counted = np64(tr.step_loss).sum() if loss == "sum" else np64(tr.step_loss)[-1]
    assert math.isclose(float(counted), ref["loss"], rel_tol=1e-10, abs_tol=1e-12)


@pytest.mark.parametrize("cell,act,layers,bidir,loss", GRAD_CASES)
def test_weight_grad_equals_autograd(traces, cell, act, layers, bidir, loss):
    tr, ref = _get(traces, cell, act, layers, bidir, loss)
    assert set(tr.weight_grad) == set(tr.weights) == set(ref["weight_grad"])
    assert "readout.weight" in tr.weight_grad and "readout.bias" in tr.weight_grad
    for name, g in ref["weight_grad"].items():
        assert tr.weight_grad[name].shape == tr.weights[name].shape, name
        _close(tr.weight_grad[name], g, msg=name)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("loss", ["last", "sum"])
def test_grad_cell_equals_autograd_probe(traces, layers, bidir, loss):
    tr, ref = _get(traces, "lstm", "tanh", layers, bidir, loss)
    assert tr.grad_cell is not None and tr.grad_cell.shape == tr.hidden.shape
    assert np.abs(ref["grad_cell"]).max() > 1e-6
    _close(tr.grad_cell, ref["grad_cell"])


def test_grad_cell_none_for_rnn_and_gru(traces):
    for cell in ("rnn", "gru"):
        tr, _ = _get(traces, cell, "tanh", 1, False, "sum")
        assert tr.grad_cell is None


def test_weight_grad_to_torch_route():
    """autograd via the module trace.to_torch() returns (not the names route)."""
    for cell, act in [("rnn", "relu"), ("gru", "tanh"), ("rnn", "sigmoid")]:
        cfg = small_config(cell=cell, activation=act, num_layers=2, bidirectional=True, loss="last", seed=4)
        tr = unroll(cfg, jacobian=False, influence=False)
        ref = autograd_reference(tr, route="to_torch")
        for name, g in ref["weight_grad"].items():
            _close(tr.weight_grad[name], g, msg=f"{cell}-{act} {name}")
        _close(tr.outputs, ref["outputs"])


@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
@pytest.mark.parametrize("bidir", [False, True])
def test_weight_grad_terms_sum_and_norms(cell, act, bidir):
    """Per-step terms: they sum to weight_grad, their norms are weight_grad_terms, and each one
    equals autograd's gradient w.r.t. a zero probe added to the weight at that step only."""
    cfg = small_config(cell=cell, activation=act, num_layers=2, bidirectional=bidir, loss="sum", seed=31)
    tr = unroll(cfg, jacobian=False, influence=False)
    ref = reference_for_trace(tr, probes=False, weight_probes=True)
    T = cfg.seq_len
    assert set(tr.weight_grad_terms) == set(tr.weights)
    for name in tr.weights:
        terms = np64(weight_grad_term_tensors(tr, name))
        assert terms.shape == (T, *tr.weights[name].shape), name
        _close(terms.sum(axis=0), tr.weight_grad[name], msg=name)
        norms = np.sqrt((terms.reshape(T, -1) ** 2).sum(axis=1))
        assert np64(tr.weight_grad_terms[name]).shape == (T,)
        _close(tr.weight_grad_terms[name], norms, msg=name)
        _close(terms, ref["weight_terms"][name], msg=f"step terms of {name}")


def test_weight_grad_terms_last_loss_readout_only_last_step():
    """With loss 'last', the readout is used for the loss only at the last step: its other terms are 0."""
    cfg = small_config(loss="last", seq_len=6, seed=2)
    tr = unroll(cfg, jacobian=False, influence=False)
    t = np64(tr.weight_grad_terms["readout.weight"])
    assert np.all(t[:-1] == 0) and t[-1] > 0
    # the recurrent weight is used at every step: terms are positive for t >= 1
    assert np.all(np64(tr.weight_grad_terms["weight_hh_l0"])[1:] > 0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_finite_difference_weight_hh(cell):
    """Central differences of the engine's own loss vs its weight_grad on a tiny float64 model."""
    cfg = small_config(cell=cell, hidden_size=3, seq_len=4, batch_size=2, loss="sum", seed=5)
    x, y = make_task(cfg)
    w = init_weights(cfg, x.shape[-1], y.shape[-1])
    tr = unroll(cfg, inputs=x, targets=y, weights=w, jacobian=False, influence=False)
    eps = 1e-6
    W = w["weight_hh_l0"]
    checked = 0
    for r in range(W.shape[0]):
        for c in range(W.shape[1]):
            wp = {k: v.clone() for k, v in w.items()}
            wm = {k: v.clone() for k, v in w.items()}
            wp["weight_hh_l0"][r, c] += eps
            wm["weight_hh_l0"][r, c] -= eps
            lp = unroll(cfg, inputs=x, targets=y, weights=wp, jacobian=False, influence=False).loss
            lm = unroll(cfg, inputs=x, targets=y, weights=wm, jacobian=False, influence=False).loss
            fd = (float(lp) - float(lm)) / (2 * eps)
            an = float(np64(tr.weight_grad["weight_hh_l0"])[r, c])
            assert abs(fd - an) <= 1e-6 * max(1.0, abs(an)), (r, c, fd, an)
            checked += 1
    assert checked == W.numel()
    assert np.abs(np64(tr.weight_grad["weight_hh_l0"])).max() > 1e-4


@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_grad_hidden_log10(cell, act):
    cfg = small_config(cell=cell, activation=act, bidirectional=True, loss="last", seq_len=8, seed=3)
    tr = unroll(cfg, jacobian=False, influence=False)
    norms = np.linalg.norm(np64(tr.grad_hidden), axis=-1)  # (LD, T, B)
    lg = np64(tr.grad_hidden_log10)
    assert lg.shape == norms.shape
    pos = norms > 0
    assert pos.any()
    _close(lg[pos], np.log10(norms[pos]), atol=1e-9, rtol=0)
    assert np.all(np.isneginf(lg[~pos]))


def test_grad_hidden_log10_exact_below_underflow():
    """A gradient that underflows float64 still has a finite, linearly decaying log10."""
    from engine import Config

    T = 1200
    cfg = Config(cell="rnn", activation="tanh", input_size=1, hidden_size=4, seq_len=T, batch_size=1,
                 init_hh="orthogonal", init_ih="normal", spectral_radius=0.5, loss="last",
                 dtype="float64", seed=0, device="cpu")
    x = torch.full((T, 1, 1), 1e-8, dtype=torch.float64)
    y = torch.zeros(T, 1, 1, dtype=torch.float64)
    w = init_weights(cfg, 1, 1)
    tr = unroll(cfg, inputs=x, targets=y, weights=w, jacobian=False, influence=False)
    lg = np64(tr.grad_hidden_log10)[0, :, 0]
    # 0.5^1199 ~ 1e-361 is below the smallest float64 subnormal: the plain norm is 0 there
    assert np.isfinite(lg).all()
    assert lg[0] < -330
    slope = np.polyfit(np.arange(T), lg, 1)[0]
    assert abs(slope - (-math.log10(0.5))) < 1e-3
    # the plain values did flush to zero there, and the flags say so
    assert np.linalg.norm(np64(tr.grad_hidden)[0, 0, 0]) == 0
    assert tr.flags["grad_hidden"]["underflow"] is not None


@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_float32_gradients_close_to_float64_reference(cell, act):
    cfg = small_config(cell=cell, activation=act, num_layers=2, bidirectional=True, dtype="float32", seed=12)
    tr = unroll(cfg, jacobian=False, influence=False)
    assert tr.grad_hidden.dtype == np.float32
    ref = autograd_reference(tr, route="names")
    scale = np.abs(ref["grad_hidden"]).max()
    np.testing.assert_allclose(tr.grad_hidden, ref["grad_hidden"], atol=1e-5 * scale, rtol=0)
    for name, g in ref["weight_grad"].items():
        np.testing.assert_allclose(tr.weight_grad[name], g, atol=1e-5 * max(1.0, np.abs(g).max()), rtol=0,
                                   err_msg=name)


# ---- Jacobian norms ---------------------------------------------------------------------------


def _jac_norms(tr):
    """jacobian_norm as (L*D, T, B'): the contract says (L*D, T, B); the engine documents
    sample 0 only, (L*D, T). Both are accepted; the values are what is checked."""
    j = np64(tr.jacobian_norm)
    return j[..., None] if j.ndim == 2 else j


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidir", [False, True])
def test_jacobian_norm_matches_explicit_product(cell, bidir):
    """Spectral norm of dh_end/dh_t from explicit per-step Jacobians (torch.autograd.functional).

    LSTM: the engine documents dh_end/dh_t with c_t held fixed, i.e. the (h, h) block of the
    product of full (h, c) state Jacobians; that block is what is compared.
    """
    cfg = small_config(cell=cell, num_layers=2, bidirectional=bidir, hidden_size=5, seq_len=6,
                       batch_size=2, gain=1.5, seed=13)
    tr = unroll(cfg, jacobian=True, influence=False)
    assert tr.jacobian_norm is not None
    D = 2 if bidir else 1
    T, H = cfg.seq_len, cfg.hidden_size
    got_all = _jac_norms(tr)
    assert got_all.shape[:2] == (cfg.num_layers * D, T)
    W = {k: np64(v) for k, v in tr.weights.items()}
    hidden = np64(tr.hidden)
    cellst = np64(tr.cell) if cell == "lstm" else None
    for k in range(cfg.num_layers):
        xs = layer_inputs(hidden, tr.inputs, k, D)
        for d in range(D):
            ld = k * D + d
            for b in range(got_all.shape[2]):
                jac, order = step_jacobians(cell, cfg.activation, W, k, d, xs, hidden[ld],
                                            None if cellst is None else cellst[ld], b)
                n = jac[order[0]].shape[0]
                prod = torch.eye(n, dtype=torch.float64)
                want = {}
                for t in reversed(order):  # from the end of this direction back
                    want[t] = prod
                    prod = prod @ jac[t]
                for t in range(T):
                    M = want[t][:H, :H]
                    expected = torch.linalg.matrix_norm(M, ord=2).item()
                    got = float(got_all[ld, t, b])
                    assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-14), (ld, t, b, got, expected)
    # at the end of each direction the product is empty: the identity, norm 1
    np.testing.assert_allclose(got_all[0, -1], 1.0, rtol=1e-12)
    if bidir:
        np.testing.assert_allclose(got_all[1, 0], 1.0, rtol=1e-12)


def test_jacobian_and_influence_can_be_skipped():
    tr = unroll(small_config(), jacobian=False, influence=False)
    assert tr.jacobian_norm is None and tr.influence is None


# ---- influence --------------------------------------------------------------------------------


@pytest.mark.parametrize("cell,act", [("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("bidir", [False, True])
def test_influence_equals_autograd(cell, act, bidir):
    cfg = small_config(cell=cell, activation=act, num_layers=2, bidirectional=bidir, seq_len=6, seed=17)
    tr = unroll(cfg, jacobian=False, influence=True)
    assert tr.influence is not None
    steps = np.asarray(tr.influence_steps)
    T = cfg.seq_len
    assert not tr.influence_subsampled
    assert list(steps) == list(range(T))
    assert tr.influence.shape == (len(steps), T)
    ref = reference_for_trace(tr)
    want = influence_reference(ref, cfg.num_layers, bidir, steps, sample=0)
    got = np64(tr.influence)
    lower = np.tril(np.ones((T, T), dtype=bool))  # k <= t
    if not bidir:
        # causal: L_t does not depend on a later h_k of a forward layer
        assert np.all(want[~lower] == 0)
    assert np.all(want[lower] > 0)
    _close(got, want, atol=1e-12, rtol=1e-8)


def test_influence_subsampled_rows_are_exact(monkeypatch):
    """Over the compute budget the rows are an evenly spaced subsample, still exact.

    The budget is lowered (instead of running a huge model) to keep the suite fast.
    """
    import importlib

    mod = importlib.import_module("engine.unroll")
    assert hasattr(mod, "INFLUENCE_BUDGET")
    cfg = small_config(cell="gru", seq_len=30, hidden_size=4, batch_size=2, bidirectional=True, seed=1)
    per_row = cfg.seq_len * 3 * cfg.hidden_size ** 2 * 2
    monkeypatch.setattr(mod, "INFLUENCE_BUDGET", 6 * per_row)
    tr = unroll(cfg, jacobian=False, influence=True)
    steps = np.asarray(tr.influence_steps)
    assert tr.influence_subsampled
    assert 2 <= len(steps) < cfg.seq_len
    assert tr.influence.shape == (len(steps), cfg.seq_len)
    assert np.all(np.diff(steps) > 0) and steps[0] == 0 and steps[-1] == cfg.seq_len - 1
    assert any("influence" in n for n in tr.notes)  # labelled, not silent
    ref = reference_for_trace(tr)
    want = influence_reference(ref, cfg.num_layers, True, steps, sample=0)
    _close(tr.influence, want, atol=1e-12, rtol=1e-8)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rescaled_adjoint_meets_a_new_loss_term(cell):
    """Loss at two far-apart steps only: the adjoint from the late one vanishes below the rescale
    threshold (the engine rescales it by powers of two), then the early loss term is added at true
    scale. Every dL/dh_t and every weight gradient must still equal autograd."""
    from engine import Config

    T = 1100 if cell == "gru" else 300  # the GRU's direct path z_t h_{t-1} decays only ~0.5/step
    cfg = Config(cell=cell, input_size=2, hidden_size=4, seq_len=T, batch_size=2, init_hh="normal",
                 sigma=0.05, forget_bias=-4.0 if cell == "lstm" else None, loss="sum",
                 dtype="float64", seed=3, device="cpu")
    x, _ = make_task(cfg)
    w = init_weights(cfg, 2, 1)
    plain = unroll(cfg, inputs=x, targets=torch.zeros(T, 2, 1, dtype=torch.float64), weights=w,
                   jacobian=False, influence=False)
    y = torch.from_numpy(plain.outputs.copy())  # zero error everywhere ...
    y[5] += 1.0  # ... except at two steps far apart
    y[T - 2] -= 1.0
    tr = unroll(cfg, inputs=x, targets=y, weights=w, jacobian=False, influence=False)
    ref = reference_for_trace(tr)
    lg = np64(tr.grad_hidden_log10)[0, :, 0]
    assert lg[T // 2] < -160  # far below the float64 rescale threshold 2^-512 ~ 1e-154 ...
    assert lg[5] > -5  # ... and back to normal size where the early loss term enters
    _close(tr.grad_hidden, ref["grad_hidden"], atol=1e-12, rtol=1e-9)
    for name, g in ref["weight_grad"].items():
        _close(tr.weight_grad[name], g, atol=1e-12, rtol=1e-9, msg=name)


@pytest.mark.parametrize("init,act", [("default", "tanh"), ("orthogonal", "tanh"), ("normal", "relu")])
def test_jacobian_norm_exact_beyond_the_block_size(init, act):
    """H = 24 > the 8-vector block: the warm-started subspace iteration must still give the
    spectral norm of prod_j diag(phi'(a_j)) W_hh to 1e-8 at every step (orthogonal init has
    nearly equal top singular values: the hard case for power iteration)."""
    from engine import Config

    cfg = Config(cell="rnn", activation=act, hidden_size=24, seq_len=60, init_hh=init,
                 init_ih="normal", dtype="float64", seed=5, device="cpu")
    tr = unroll(cfg, jacobian=True, influence=False)
    W = np64(tr.weights["weight_hh_l0"])
    d = np64(tr.act_deriv)[0, :, 0]  # (T, H)
    T = cfg.seq_len
    M = np.eye(24)
    for t in range(T - 1, -1, -1):  # M_t = dh_{T-1}/dh_t
        want = np.linalg.norm(M, 2)
        assert math.isclose(tr.jacobian_norm[0, t], want, rel_tol=1e-8), (t, tr.jacobian_norm[0, t], want)
        M = M @ (d[t][:, None] * W)  # dh_t/dh_{t-1} = diag(phi'(a_t)) W_hh


def test_adjoints_can_be_dropped():
    """adjoints=False keeps every drawn quantity but not the per-step dA tensors."""
    from engine import Config

    cfg = Config(hidden_size=4, seq_len=6)
    full, lean = unroll(cfg), unroll(cfg, adjoints=False)
    np.testing.assert_array_equal(lean.grad_hidden, full.grad_hidden)
    np.testing.assert_array_equal(lean.weight_grad_terms["weight_hh_l0"], full.weight_grad_terms["weight_hh_l0"])
    assert full.adjoints and not lean.adjoints
    with pytest.raises(ValueError, match="adjoints=False"):
        weight_grad_term_tensors(lean, "weight_hh_l0")
