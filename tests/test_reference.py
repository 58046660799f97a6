"""engine/reference.py, the plain maths: it equals torch.nn and autograd, and the engine equals it.

Every cell (RNN with tanh / relu / sigmoid / linear, LSTM, GRU), 1 and 2 layers, one or two
directions, both loss modes, batch 3, float64. Every compared gradient is first checked to be
far from zero, so no comparison passes by both sides being 0.
"""

import numpy as np
import pytest
import torch
from oracle import CELL_ACT_IDS, CELL_ACTS, np64, reference_loop, small_config, suffix, t64

from engine import init_weights, make_task, unroll
from engine import reference as R
from engine.cells import LoopRNN, gate_values, lstm_compiled
from engine.gradients import weight_grad_term_tensors
from engine.init import param_names

ATOL, RTOL = 1e-10, 1e-8
SHAPES = [(1, False), (1, True), (2, False), (2, True)]  # (num_layers, bidirectional)
SHAPE_IDS = ["1layer", "1layer-bidir", "2layers", "2layers-bidir"]


def _close(actual, expected, what):
    """actual == expected to ~1e-10, and expected is not trivially zero (the check could fail)."""
    expected = np64(expected)
    assert np.abs(expected).max() > 1e-6, f"{what}: expected value is ~0, the check proves nothing"
    np.testing.assert_allclose(np64(actual), expected, atol=ATOL, rtol=RTOL, err_msg=what)


def _close_each(actual, expected, what):
    """_close for every name of `expected`; only their union must be far from zero (a single one
    can vanish by the maths: the reverse direction's W_hh with loss 'last' meets h_{-1} = 0 only)."""
    assert max(np.abs(np64(v)).max() for v in expected.values()) > 1e-6, f"{what}: all ~0"
    assert set(actual) == set(expected), what
    for name, v in expected.items():
        np.testing.assert_allclose(np64(actual[name]), np64(v), atol=ATOL, rtol=RTOL,
                                   err_msg=f"{what} {name}")


def _case(cell, act, layers, bidir, loss="sum", seed=5):
    """A small config, its task's inputs (T, B, I) and targets (T, B, O), its initial weights."""
    cfg = small_config(cell=cell, activation=act, num_layers=layers, bidirectional=bidir,
                       loss=loss, seq_len=6, batch_size=3, seed=seed)
    x, y = make_task(cfg)
    return cfg, t64(x), t64(y), init_weights(cfg, x.shape[-1], y.shape[-1])


def _torch_rnn(cfg, input_size, num_layers, weights):
    """torch.nn.RNN / LSTM / GRU in float64 holding `weights` (cells.LoopRNN, torch.nn.RNN's
    twin, for the sigmoid and linear RNN that torch lacks)."""
    kw = dict(input_size=input_size, hidden_size=cfg.hidden_size, num_layers=num_layers,
              bidirectional=cfg.bidirectional)
    if cfg.cell == "lstm":
        m = torch.nn.LSTM(**kw)
    elif cfg.cell == "gru":
        m = torch.nn.GRU(**kw)
    elif cfg.activation in ("tanh", "relu"):
        m = torch.nn.RNN(nonlinearity=cfg.activation, **kw)
    else:
        m = LoopRNN(nonlinearity=cfg.activation, **kw)
    m = m.double()
    m.load_state_dict({k: t64(v) for k, v in weights.items() if not k.startswith("readout.")})
    return m


def _loss(y_hat, y, mode):
    """unroll.py's loss: L_t = sum over batch and outputs of err^2 / B; L = L_T or sum_t L_t."""
    step = ((y_hat - y) ** 2).sum(dim=(1, 2)) / y.shape[1]
    return step[-1] if mode == "last" else step.sum()


# ---- the reference against torch.nn -----------------------------------------------------------


@pytest.mark.parametrize("layers,bidir", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_forward_equals_torch_nn(cell, act, layers, bidir):
    """h_t of every layer and direction, c_T (LSTM), y_hat_t and L equal torch.nn's."""
    cfg, x, y, w = _case(cell, act, layers, bidir)
    ref = R.reference_unroll(cfg, x, y, w)
    D, H = cfg.num_directions, cfg.hidden_size
    inp = x
    with torch.no_grad():
        for k in range(layers):  # one single-layer module per layer, weights renamed l{k} -> l0
            sub = {part + suffix(0, d): w[part + suffix(k, d)] for part in R.PARTS for d in range(D)}
            out = _torch_rnn(cfg, inp.shape[-1], 1, sub)(inp)
            for d in range(D):
                np.testing.assert_allclose(ref["hidden"][k * D + d], out[0][..., d * H:(d + 1) * H],
                                           atol=ATOL, rtol=0, err_msg=f"h, layer {k} dir {d}")
                if cell == "lstm":  # torch's c_n: the cell state at each direction's last step
                    last = -1 if d == 0 else 0
                    np.testing.assert_allclose(ref["cell"][k * D + d, last], out[1][1][d],
                                               atol=ATOL, rtol=0, err_msg=f"c, layer {k} dir {d}")
            inp = out[0]
        y_hat = inp @ w["readout.weight"].T + w["readout.bias"]
    np.testing.assert_allclose(ref["outputs"], y_hat, atol=ATOL, rtol=0)
    assert abs(ref["loss"] - float(_loss(y_hat, y, cfg.loss))) < ATOL


@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("layers,bidir", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_weight_and_input_grads_equal_autograd(cell, act, layers, bidir, loss):
    """dL/dW of every weight (readout included) and dL/dx_t equal autograd through torch.nn."""
    cfg, x, y, w = _case(cell, act, layers, bidir, loss)
    ref = R.reference_unroll(cfg, x, y, w)
    rnn = _torch_rnn(cfg, x.shape[-1], layers, w)
    readout = torch.nn.Linear(*w["readout.weight"].shape[::-1]).double()
    readout.load_state_dict({"weight": t64(w["readout.weight"]), "bias": t64(w["readout.bias"])})
    x = x.clone().requires_grad_(True)
    _loss(readout(rnn(x)[0]), y, loss).backward()
    grads = {name: p.grad for name, p in rnn.named_parameters()}
    grads.update({"readout." + name: p.grad for name, p in readout.named_parameters()})
    assert set(grads) == set(w)
    _close_each(ref["weight_grad"], grads, "dL/dW")
    _close(ref["grad_input"], x.grad, "dL/dx_t")


@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("layers,bidir", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_total_derivatives_and_bptt_terms_equal_zero_probes(cell, act, layers, bidir, loss):
    """delta_t = dL/dh_t and dL/dc_t (zero probes on h_t, c_t), every step-t term of dL/dW (a zero
    probe on the weight at step t only) and the gate adjoints equal autograd's."""
    cfg, x, y, w = _case(cell, act, layers, bidir, loss, seed=9)
    ref = R.reference_unroll(cfg, x, y, w)
    probe = reference_loop(cell, act, layers, bidir, w, x, y, loss, weight_probes=True)
    _close(ref["grad_hidden"], probe["grad_hidden"], "dL/dh_t")
    if cell == "lstm":
        _close(ref["grad_cell"], probe["grad_cell"], "dL/dc_t")
    else:
        assert ref["grad_cell"] is None
    _close_each(ref["weight_grad_term_tensors"], probe["weight_terms"], "step terms of")
    # dL/db_ih's step-t term is the gates' adjoints (dL/d pre-activation) summed over the batch
    D = cfg.num_directions
    adjoint = np.concatenate([ref["grad_gates"][g] for g in R.GATES[cell]], axis=-1)
    for ld in range(layers * D):
        _close(adjoint[ld].sum(axis=1), probe["weight_terms"][param_names(ld // D, ld % D)[2]],
               f"gate adjoints, layer-direction {ld}")


# ---- the engine against the reference ---------------------------------------------------------


@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("layers,bidir", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cell,act", CELL_ACTS, ids=CELL_ACT_IDS)
def test_engine_trace_equals_reference(cell, act, layers, bidir, loss):
    """Every quantity of engine.unroll's Trace equals the plain maths, step by step."""
    cfg = small_config(cell=cell, activation=act, num_layers=layers, bidirectional=bidir,
                       loss=loss, seq_len=6, batch_size=3, seed=13)
    tr = unroll(cfg, jacobian=False, influence=False)
    ref = R.reference_unroll(cfg, tr.inputs, tr.targets, tr.weights)
    for key in ("hidden", "outputs", "step_loss", "grad_hidden", "grad_input"):
        _close(getattr(tr, key), ref[key], key)
    assert abs(tr.loss - ref["loss"]) < ATOL
    for key in ("cell", "grad_cell", "act_deriv"):
        assert (getattr(tr, key) is None) == (ref[key] is None), key
        if ref[key] is not None:
            _close(getattr(tr, key), ref[key], key)
    assert set(tr.gates) == set(ref["gates"]) == set(R.GATES[cell])
    for g in R.GATES[cell]:
        _close(tr.gates[g], ref["gates"][g], f"gate {g}")
    T, terms = cfg.seq_len, ref["weight_grad_term_tensors"]
    _close_each(tr.weight_grad, ref["weight_grad"], "dL/dW")
    _close_each({name: weight_grad_term_tensors(tr, name) for name in tr.weights}, terms,
                "step terms of")
    _close_each(tr.weight_grad_terms,
                {name: np.linalg.norm(t.reshape(T, -1), axis=1) for name, t in terms.items()},
                "term norms of")
    # the engine's per-sample adjoints on the input side are the gates' adjoints
    adjoint = np.concatenate([ref["grad_gates"][g] for g in R.GATES[cell]], axis=-1)
    for ld in range(layers * cfg.num_directions):
        _close(tr.adjoints["dA_ih"][ld], adjoint[ld], f"dA_ih, layer-direction {ld}")


def test_lstm_gate_block_holds_i_f_g_o_on_both_forward_paths():
    """The engine's (T, B, 4H) `ifgo` block holds i f g o (g = tanh(a_g)) whether the gates come
    from cells.gate_values (torch's kernel, then one matmul) or cells.lstm_compiled (loops)."""
    cfg, x, y, w = _case("lstm", "tanh", 1, False)
    p = [t64(w[name]) for name in param_names(0, 0)]
    ref = R.reference_unroll(cfg, x, y, w)
    want = np.concatenate([ref["gates"][g][0] for g in R.GATES["lstm"]], axis=-1)  # (T, B, 4H)
    h = t64(ref["hidden"][0])
    for path, vals in (("gate_values", gate_values("lstm", "tanh", x, h, *p)),
                       ("lstm_compiled", lstm_compiled(x, *p))):
        np.testing.assert_allclose(np64(vals["ifgo"]), want, atol=ATOL, rtol=0, err_msg=path)


# ---- the checks can fail ----------------------------------------------------------------------


def test_a_wrong_derivative_is_caught(monkeypatch):
    """With tanh' written wrongly (1 - h instead of 1 - h^2) the autograd checks fail."""
    cfg, x, y, w = _case("rnn", "tanh", 1, False)
    good = R.reference_unroll(cfg, x, y, w)
    probe = reference_loop("rnn", "tanh", 1, False, w, x, y, cfg.loss)
    _close(good["grad_hidden"], probe["grad_hidden"], "dL/dh_t")
    monkeypatch.setitem(R.PHI, "tanh", (np.tanh, lambda a: 1.0 - np.tanh(a)))
    bad = R.reference_unroll(cfg, x, y, w)
    np.testing.assert_allclose(bad["hidden"], good["hidden"], atol=0)  # the forward is untouched
    with pytest.raises(AssertionError):
        _close(bad["grad_hidden"], probe["grad_hidden"], "dL/dh_t")
    with pytest.raises(AssertionError):
        _close(bad["weight_grad"]["weight_hh_l0"], probe["weight_grad"]["weight_hh_l0"], "W_hh")


def test_the_loss_modes_differ():
    """'last' and 'sum' give different gradients, so a loss-mode mix-up cannot pass unseen."""
    cfg, x, y, w = _case("lstm", "tanh", 1, True)
    last = R.reference_unroll(cfg.replace(loss="last"), x, y, w)
    total = R.reference_unroll(cfg.replace(loss="sum"), x, y, w)
    assert last["loss"] == pytest.approx(total["step_loss"][-1], abs=ATOL)
    with pytest.raises(AssertionError):
        _close(last["grad_hidden"], total["grad_hidden"], "dL/dh_t")
