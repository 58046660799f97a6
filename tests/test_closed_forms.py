"""Closed forms the engine must reproduce: identity ReLU, scaled orthogonal tanh, LSTM forget gate."""

import math

import numpy as np
import pytest
import torch
from oracle import np64, reference_loop

from engine import Config, init_weights, unroll


def _cfg(**kw):
    base = dict(cell="rnn", activation="tanh", input_size=2, hidden_size=6, seq_len=30, batch_size=2,
                dtype="float64", loss="last", seed=3, device="cpu")
    base.update(kw)
    return Config(**base)


def test_identity_init_is_identity():
    cfg = _cfg(activation="relu", init_hh="identity", gain=1.0)
    w = init_weights(cfg, 2, 1)
    np.testing.assert_array_equal(np64(w["weight_hh_l0"]), np.eye(cfg.hidden_size))
    w3 = init_weights(cfg.replace(gain=3.0), 2, 1)
    np.testing.assert_array_equal(np64(w3["weight_hh_l0"]), 3 * np.eye(cfg.hidden_size))


def test_relu_identity_keeps_gradient_norm_constant():
    """W_hh = I, relu, positive pre-activations: dL/dh_t = dL/dh_{t+1} exactly, for every t."""
    cfg = _cfg(activation="relu", init_hh="identity", seq_len=40)
    T, B, n_in, H = cfg.seq_len, cfg.batch_size, cfg.input_size, cfg.hidden_size
    w = init_weights(cfg, n_in, 1)
    g = torch.Generator().manual_seed(0)
    w["weight_ih_l0"] = torch.rand(H, n_in, generator=g, dtype=torch.float64) * 0.1 + 0.01  # > 0
    w["bias_ih_l0"] = torch.full((H,), 0.01, dtype=torch.float64)
    w["bias_hh_l0"] = torch.zeros(H, dtype=torch.float64)
    x = torch.rand(T, B, n_in, generator=g, dtype=torch.float64) + 0.1  # positive inputs
    y = torch.randn(T, B, 1, generator=g, dtype=torch.float64)
    tr = unroll(cfg, inputs=x, targets=y, weights=w)
    assert np.all(np64(tr.gates["a"]) > 0)  # every pre-activation positive: phi' = 1 everywhere
    np.testing.assert_array_equal(np64(tr.act_deriv), 1.0)
    norms = np.linalg.norm(np64(tr.grad_hidden)[0], axis=-1)  # (T, B)
    assert norms[-1].min() > 0
    np.testing.assert_allclose(norms, np.broadcast_to(norms[-1], norms.shape), rtol=1e-12)
    # the vectors themselves are equal, not just their norms
    gh = np64(tr.grad_hidden)[0]
    np.testing.assert_allclose(gh, np.broadcast_to(gh[-1], gh.shape), rtol=1e-12, atol=0)
    # Jacobian products are the identity: spectral norm 1 at every step
    np.testing.assert_allclose(np64(tr.jacobian_norm)[0], 1.0, rtol=1e-10)  # (T,) or (T, B)
    # and the decay fit sees no decay
    assert abs(tr.decay[0]["slope_log10"]) < 1e-10
    assert math.isclose(tr.decay[0]["rate"], 1.0, rel_tol=1e-9)
    # contrast: the same model with a loss at every step accumulates instead of staying flat
    tr_sum = unroll(cfg.replace(loss="sum"), inputs=x, targets=y, weights=w)
    ns = np.linalg.norm(np64(tr_sum.grad_hidden)[0, :, 0], axis=-1)
    assert not np.allclose(ns, ns[-1], rtol=1e-3)


@pytest.mark.parametrize("rho", [0.9, 0.7])
def test_scaled_orthogonal_tanh_decays_as_rho_power(rho):
    """W_hh = rho Q, tanh near 0, zero biases: |dL/dh_t| = rho^(T-1-t) |dL/dh_{T-1}|."""
    cfg = _cfg(activation="tanh", init_hh="orthogonal", init_ih="normal", seq_len=40, hidden_size=8)
    T, B, n_in, H = cfg.seq_len, cfg.batch_size, cfg.input_size, cfg.hidden_size
    w = init_weights(cfg, n_in, 1)
    g = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(H, H, generator=g, dtype=torch.float64))
    w["weight_hh_l0"] = rho * q
    w["bias_ih_l0"] = torch.zeros(H, dtype=torch.float64)
    w["bias_hh_l0"] = torch.zeros(H, dtype=torch.float64)
    x = 1e-7 * torch.randn(T, B, n_in, generator=g, dtype=torch.float64)  # tanh' = 1 - O(1e-14)
    y = torch.ones(T, B, 1, dtype=torch.float64)
    tr = unroll(cfg, inputs=x, targets=y, weights=w)
    norms = np.linalg.norm(np64(tr.grad_hidden)[0], axis=-1)  # (T, B)
    dist = np.arange(T - 1, -1, -1)
    want = norms[-1][None, :] * rho ** dist[:, None]
    np.testing.assert_allclose(norms, want, rtol=1e-9)
    d = tr.decay[0]
    assert math.isclose(d["rate"], rho, rel_tol=1e-6)
    assert math.isclose(d["slope_log10"], math.log10(rho), rel_tol=1e-6)
    assert math.isclose(d["half_life"], math.log(0.5) / math.log(rho), rel_tol=1e-6)
    assert d["r2"] > 0.999999
    # Jacobian of a linear map rho Q over k steps: spectral norm rho^k exactly
    jn = np64(tr.jacobian_norm)[0]
    jn = jn if jn.ndim == 1 else jn[:, 0]  # sample 0
    np.testing.assert_allclose(jn, rho ** dist, rtol=1e-8)
    # spectrum: all singular values rho, radius rho, bound 1/gamma = 1 for tanh -> vanishing
    sp = tr.spectrum[0]
    np.testing.assert_allclose(sp["singular_values"], rho, rtol=1e-12)
    assert math.isclose(sp["spectral_radius"], rho, rel_tol=1e-12)
    assert math.isclose(sp["max_singular"], rho, rel_tol=1e-12)
    assert sp["gamma"] == 1.0 and sp["bound"] == 1.0
    assert "vanish" in sp["regime"]
    np.testing.assert_allclose(np.abs(sp["eigenvalues"]), rho, rtol=1e-10)


def test_config_orthogonal_spectral_radius_rescales():
    """init_hh="orthogonal" + spectral_radius rho gives W_hh^T W_hh = rho^2 I (via the config alone)."""
    cfg = _cfg(init_hh="orthogonal", spectral_radius=0.8, hidden_size=5)
    w = np64(init_weights(cfg, 2, 1)["weight_hh_l0"])
    np.testing.assert_allclose(w.T @ w, 0.64 * np.eye(5), atol=1e-12)
    tr = unroll(cfg)
    assert math.isclose(tr.spectrum[0]["spectral_radius"], 0.8, rel_tol=1e-10)


def test_sigmoid_bound_is_four():
    tr = unroll(_cfg(activation="sigmoid", init_hh="orthogonal", spectral_radius=2.0, seq_len=10))
    sp = tr.spectrum[0]
    assert sp["gamma"] == 0.25 and sp["bound"] == 4.0
    assert math.isclose(sp["max_singular"], 2.0, rel_tol=1e-10)
    assert "vanish" in sp["regime"]  # 2 < 1/gamma = 4
    tr5 = unroll(_cfg(activation="sigmoid", init_hh="orthogonal", spectral_radius=5.0, seq_len=10))
    assert "vanish" not in tr5.spectrum[0]["regime"]


def _lstm_cell_grad(forget_bias):
    cfg = Config(cell="lstm", input_size=2, hidden_size=6, seq_len=40, batch_size=1, loss="last",
                 forget_bias=forget_bias, seed=2, dtype="float64", device="cpu")
    tr = unroll(cfg)
    return cfg, tr


def test_lstm_forget_bias_sets_bias():
    cfg, tr = _lstm_cell_grad(8.0)
    H = cfg.hidden_size
    np.testing.assert_array_equal(np64(tr.weights["bias_ih_l0"])[H:2 * H], 8.0)
    np.testing.assert_array_equal(np64(tr.weights["bias_hh_l0"])[H:2 * H], 0.0)
    assert np.all(np64(tr.gates["f"]) > 0.99)


def test_lstm_forget_gate_keeps_cell_gradient_alive():
    _, keep = _lstm_cell_grad(8.0)
    _, kill = _lstm_cell_grad(-8.0)
    nk = np.linalg.norm(np64(keep.grad_cell)[0, :, 0], axis=-1)  # (T,)
    nx = np.linalg.norm(np64(kill.grad_cell)[0, :, 0], axis=-1)
    # f ~ 1: dc_T/dc_0 = prod f ~ 1, most of the last step's cell gradient survives 39 steps
    assert nk[0] > 0.3 * nk[-1] > 0
    # f ~ 3e-4: the cell path is cut; only the (decaying) h path is left
    assert nx[0] < 1e-8 * nx[-1]
    # independent check of the surviving value: autograd reference loop
    ref = reference_loop("lstm", "tanh", 1, False, keep.weights, keep.inputs, keep.targets, "last")
    np.testing.assert_allclose(np64(keep.grad_cell), ref["grad_cell"], rtol=1e-8, atol=1e-14)
    refk = reference_loop("lstm", "tanh", 1, False, kill.weights, kill.inputs, kill.targets, "last")
    np.testing.assert_allclose(np64(kill.grad_cell)[0, -3:], refk["grad_cell"][0, -3:], rtol=1e-8, atol=1e-300)
