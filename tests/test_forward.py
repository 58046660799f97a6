"""Forward pass: hidden, cell, outputs and gates equal torch.nn / the explicit reference loop."""

import numpy as np
import pytest
import torch
from oracle import (
    CELL_ACT_IDS,
    CELL_ACTS,
    autograd_reference,
    build_torch_module,
    np64,
    reference_loop,
    single_layer_modules,
    small_config,
    suffix,
    t64,
    torch_layer_states,
)

from engine import init_weights, make_task, unroll

ATOL64 = 1e-10
ATOL32 = 1e-5  # float32 engine vs float64 reference, small sizes (T=5, H=4)


def _random_weights(cell, n_in, H, L, D, n_out, seed=0, scale=0.6):
    g = torch.Generator().manual_seed(seed)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    w = {}
    for k in range(L):
        for d in range(D):
            s = suffix(k, d)
            fan_in = n_in if k == 0 else D * H
            w["weight_ih" + s] = scale * torch.randn(G * H, fan_in, generator=g, dtype=torch.float64)
            w["weight_hh" + s] = scale * torch.randn(G * H, H, generator=g, dtype=torch.float64)
            w["bias_ih" + s] = 0.3 * torch.randn(G * H, generator=g, dtype=torch.float64)
            w["bias_hh" + s] = 0.3 * torch.randn(G * H, generator=g, dtype=torch.float64)
    w["readout.weight"] = torch.randn(n_out, D * H, generator=g, dtype=torch.float64)
    w["readout.bias"] = torch.randn(n_out, generator=g, dtype=torch.float64)
    return w


# ---- the reference loop itself is right -----------------------------------------------------


@pytest.mark.parametrize("cell,act", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidir", [False, True])
def test_reference_loop_matches_torch_nn(cell, act, layers, bidir):
    """The explicit per-step loop used throughout the tests equals torch.nn (states and grads)."""
    T, B, n_in, H, n_out = 6, 3, 3, 4, 2
    D = 2 if bidir else 1
    w = _random_weights(cell, n_in, H, layers, D, n_out, seed=layers + 2 * bidir)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(T, B, n_in, generator=g, dtype=torch.float64)
    y = torch.randn(T, B, n_out, generator=g, dtype=torch.float64)
    ref = reference_loop(cell, act, layers, bidir, w, x, y, "sum")

    mods = single_layer_modules(cell, act, n_in, H, layers, bidir, w)
    hs = torch_layer_states(mods, x, H, bidir)
    np.testing.assert_allclose(ref["hidden"], hs, atol=1e-12, rtol=0)

    full = build_torch_module(cell, act, n_in, H, layers, bidir, w)
    out = full(x)
    out = out[0]
    yhat = out @ w["readout.weight"].T + w["readout.bias"]
    loss = (((yhat - y) ** 2).sum(dim=(1, 2)) / B).sum()
    loss.backward()
    np.testing.assert_allclose(ref["outputs"], yhat.detach().numpy(), atol=1e-12, rtol=0)
    assert abs(ref["loss"] - float(loss.detach())) < 1e-10
    for name, p in full.named_parameters():
        np.testing.assert_allclose(ref["weight_grad"][name], p.grad.numpy(), atol=1e-10, rtol=1e-9)

    if cell == "lstm":
        # torch's final cell state per layer equals the loop's c at the last processed step
        for k, m in enumerate(mods):
            inp = t64(x) if k == 0 else torch.cat(
                [torch.as_tensor(ref["hidden"][(k - 1) * D + d]) for d in range(D)], dim=-1)
            _, (hn, cn) = m(inp)
            np.testing.assert_allclose(ref["cell"][k * D + 0, -1], cn[0].detach().numpy(), atol=1e-12)
            if bidir:
                np.testing.assert_allclose(ref["cell"][k * D + 1, 0], cn[1].detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("act", ["sigmoid", "linear"])
def test_reference_loop_activation_equations(act):
    """sigmoid / linear RNN reference: h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), checked by hand."""
    T, B, n_in, H, n_out = 4, 2, 3, 4, 1
    w = _random_weights("rnn", n_in, H, 1, 1, n_out, seed=3)
    x = torch.randn(T, B, n_in, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.zeros(T, B, n_out, dtype=torch.float64)
    ref = reference_loop("rnn", act, 1, False, w, x, y, "sum")
    phi = torch.sigmoid if act == "sigmoid" else (lambda a: a)
    h = torch.zeros(B, H, dtype=torch.float64)
    for t in range(T):
        h = phi(x[t] @ w["weight_ih_l0"].T + w["bias_ih_l0"] + h @ w["weight_hh_l0"].T + w["bias_hh_l0"])
        np.testing.assert_allclose(ref["hidden"][0, t], h.numpy(), atol=1e-13)


# ---- engine forward equals torch.nn / reference ---------------------------------------------


@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidir", [False, True])
def test_forward_float64_matches_reference(cell, act, layers, bidir):
    cfg = small_config(cell=cell, activation=act, num_layers=layers, bidirectional=bidir, seed=11)
    tr = unroll(cfg, jacobian=False, influence=False)
    ref = autograd_reference(tr, route="names")
    L, D, T, B, H = layers, 2 if bidir else 1, cfg.seq_len, cfg.batch_size, cfg.hidden_size
    assert tr.hidden.shape == (L * D, T, B, H)
    np.testing.assert_allclose(np64(tr.hidden), ref["hidden"], atol=ATOL64, rtol=0)
    np.testing.assert_allclose(np64(tr.outputs), ref["outputs"], atol=ATOL64, rtol=0)
    assert abs(float(tr.loss) - ref["loss"]) <= ATOL64 * max(1.0, abs(ref["loss"]))
    # the loop and torch.nn agree too (for native cells both are present)
    np.testing.assert_allclose(ref["loop"]["hidden"], ref["hidden"], atol=1e-12)
    if cell == "lstm":
        assert tr.cell is not None and tr.cell.shape == (L * D, T, B, H)
        np.testing.assert_allclose(np64(tr.cell), ref["cell"], atol=ATOL64, rtol=0)
    else:
        assert tr.cell is None
    for name, v in ref["gates"].items():
        np.testing.assert_allclose(np64(tr.gates[name]), v, atol=ATOL64, rtol=0, err_msg=name)
    assert set(tr.gates) == set(ref["gates"])


@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_forward_float32_close_to_float64_reference(cell, act):
    cfg = small_config(cell=cell, activation=act, num_layers=2, bidirectional=True, dtype="float32", seed=5)
    tr = unroll(cfg, jacobian=False, influence=False)
    assert tr.hidden.dtype == np.float32
    assert tr.weights["weight_hh_l0"].dtype == np.float32
    ref = autograd_reference(tr, route="names")
    np.testing.assert_allclose(tr.hidden, ref["hidden"], atol=ATOL32, rtol=0)
    np.testing.assert_allclose(tr.outputs, ref["outputs"], atol=ATOL32 * 10, rtol=0)
    assert abs(float(tr.loss) - ref["loss"]) <= 1e-4 * max(1.0, abs(ref["loss"]))
    if cell == "lstm":
        np.testing.assert_allclose(tr.cell, ref["cell"], atol=ATOL32, rtol=0)


@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
@pytest.mark.parametrize("bidir", [False, True])
def test_to_torch_round_trip(cell, act, bidir):
    """The module trace.to_torch() returns reproduces the trace's outputs and top-layer states."""
    cfg = small_config(cell=cell, activation=act, num_layers=2, bidirectional=bidir, seed=3)
    tr = unroll(cfg, jacobian=False, influence=False)
    tt = tr.to_torch()
    assert set(tt) >= {"rnn", "readout", "inputs", "targets"}
    np.testing.assert_allclose(np64(tt["inputs"]), np64(tr.inputs), atol=0)
    np.testing.assert_allclose(np64(tt["targets"]), np64(tr.targets), atol=0)
    rnn, readout = tt["rnn"], tt["readout"]
    if cell != "rnn" or act in ("tanh", "relu"):
        assert isinstance(rnn, {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell])
        if cell == "rnn":
            assert rnn.nonlinearity == act
    assert isinstance(readout, torch.nn.Linear)
    with torch.no_grad():
        out = rnn(tt["inputs"])
        out = out[0] if isinstance(out, tuple) else out
        yhat = readout(out)
    np.testing.assert_allclose(np64(yhat), np64(tr.outputs), atol=ATOL64, rtol=0)
    D = 2 if bidir else 1
    top = np.concatenate([np64(tr.hidden)[(cfg.num_layers - 1) * D + d] for d in range(D)], axis=-1)
    np.testing.assert_allclose(np64(out), top, atol=ATOL64, rtol=0)
    # parameters carry the trace's weights under the same names
    params = dict(rnn.named_parameters())
    params.update({"readout." + k: v for k, v in readout.named_parameters()})
    for name, v in tr.weights.items():
        np.testing.assert_array_equal(np64(params[name]), np64(v), err_msg=name)


def test_to_torch_and_names_routes_agree():
    """Both autograd routes (to_torch module, modules built by name) give the same grads."""
    cfg = small_config(cell="lstm", num_layers=2, bidirectional=True, seed=9)
    tr = unroll(cfg, jacobian=False, influence=False)
    a = autograd_reference(tr, route="to_torch")
    b = autograd_reference(tr, route="names")
    np.testing.assert_allclose(a["hidden"], b["hidden"], atol=1e-12)
    assert set(a["weight_grad"]) == set(b["weight_grad"]) == set(tr.weights)
    for k in a["weight_grad"]:
        np.testing.assert_allclose(a["weight_grad"][k], b["weight_grad"][k], atol=1e-12)


def test_explicit_weights_and_inputs_are_used():
    """unroll(config, inputs, targets, weights) uses exactly what it is given."""
    cfg = small_config(cell="gru", seed=2)
    x, y = make_task(cfg)
    w = init_weights(cfg, x.shape[-1], y.shape[-1])
    w = {k: v * 0.5 for k, v in w.items()}
    x2 = x * 2.0 + 0.1
    tr = unroll(cfg, inputs=x2, targets=y, weights=w, jacobian=False, influence=False)
    np.testing.assert_allclose(np64(tr.inputs), np64(x2), atol=0)
    for k, v in w.items():
        np.testing.assert_allclose(np64(tr.weights[k]), np64(v), atol=0)
    ref = reference_loop("gru", "tanh", 1, False, w, x2, y, cfg.loss, probes=False)
    np.testing.assert_allclose(np64(tr.hidden), ref["hidden"], atol=ATOL64)


# ---- gates ------------------------------------------------------------------------------------


def test_lstm_gate_ranges():
    cfg = small_config(cell="lstm", num_layers=2, bidirectional=True, seq_len=12, gain=3.0, seed=4)
    tr = unroll(cfg, jacobian=False, influence=False)
    assert set(tr.gates) == {"i", "f", "g", "o"}
    for name in "ifo":
        v = np64(tr.gates[name])
        assert v.shape == tr.hidden.shape
        assert v.min() >= 0.0 and v.max() <= 1.0, name
    g = np64(tr.gates["g"])
    assert g.min() >= -1.0 and g.max() <= 1.0
    # not trivially constant: g takes both signs
    assert g.min() < 0 < g.max()
    # c_t = f*c_{t-1} + i*g holds on the trace itself (forward direction)
    c = np64(tr.cell)
    f, i = np64(tr.gates["f"]), np64(tr.gates["i"])
    np.testing.assert_allclose(c[0, 1:], f[0, 1:] * c[0, :-1] + i[0, 1:] * g[0, 1:], atol=1e-12)
    np.testing.assert_allclose(np64(tr.hidden), np64(tr.gates["o"]) * np.tanh(c), atol=1e-12)


def test_gru_gate_ranges_and_update():
    cfg = small_config(cell="gru", seq_len=8, seed=4)
    tr = unroll(cfg, jacobian=False, influence=False)
    assert set(tr.gates) == {"r", "z", "n"}
    r, z, n = (np64(tr.gates[k]) for k in "rzn")
    assert 0 <= r.min() and r.max() <= 1 and 0 <= z.min() and z.max() <= 1
    assert -1 <= n.min() and n.max() <= 1
    h = np64(tr.hidden)
    np.testing.assert_allclose(h[0, 1:], (1 - z[0, 1:]) * n[0, 1:] + z[0, 1:] * h[0, :-1], atol=1e-12)
    np.testing.assert_allclose(h[0, 0], (1 - z[0, 0]) * n[0, 0], atol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("bidir", [False, True])
def test_rnn_gate_is_preactivation(act, bidir):
    cfg = small_config(activation=act, bidirectional=bidir, num_layers=2, seq_len=6, seed=8)
    tr = unroll(cfg, jacobian=False, influence=False)
    assert set(tr.gates) == {"a"}
    D = 2 if bidir else 1
    H = cfg.hidden_size
    W = {k: np64(v) for k, v in tr.weights.items()}
    h = np64(tr.hidden)
    a = np64(tr.gates["a"])
    x = np64(tr.inputs)
    T = cfg.seq_len
    for k in range(cfg.num_layers):
        xin = x if k == 0 else np.concatenate([h[(k - 1) * D + d] for d in range(D)], axis=-1)
        for d in range(D):
            s = suffix(k, d)
            for t in range(T):
                tp = t - 1 if d == 0 else t + 1
                hp = h[k * D + d, tp] if 0 <= tp < T else np.zeros((cfg.batch_size, H))
                want = xin[t] @ W["weight_ih" + s].T + W["bias_ih" + s] + hp @ W["weight_hh" + s].T + W["bias_hh" + s]
                np.testing.assert_allclose(a[k * D + d, t], want, atol=1e-12)
    phi = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
           "linear": lambda v: v}[act]
    np.testing.assert_allclose(h, phi(a), atol=1e-12)
    # act_deriv = phi'(a)
    dphi = {"tanh": lambda v: 1 - np.tanh(v) ** 2, "relu": lambda v: (v > 0).astype(float),
            "sigmoid": lambda v: phi(v) * (1 - phi(v)), "linear": lambda v: np.ones_like(v)}[act]
    np.testing.assert_allclose(np64(tr.act_deriv), dphi(a), atol=1e-12)


def test_act_deriv_none_for_gated_cells():
    for cell in ("lstm", "gru"):
        tr = unroll(small_config(cell=cell), jacobian=False, influence=False)
        assert tr.act_deriv is None
