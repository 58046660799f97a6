"""The attention readout (Config.readout "attention", engine/attention.py): the engine and the
plain maths (engine/reference.py) against autograd through a plain-torch readout
(tests/oracle_attention.py), float64 to 1e-10, for every cell, 1-2 layers, one or two
directions, both loss modes, batch 3: outputs, alpha, the direct dL/do_t, the total dL/dh_t,
dL/dc_t, dL/dx_t, every weight's gradient and its per-step terms, the influence matrix. Every
compared value is first checked to be far from zero, so no comparison passes by both being 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import influence_reference, np64, reference_for_trace, small_config
from oracle_attention import direct_gradient
from test_reference import ATOL, RTOL, SHAPE_IDS, SHAPES  # 1-2 layers, one or two directions

from engine import Config, init_weights, unroll
from engine import reference as R
from engine.gradients import weight_grad_term_tensors

CELLS = ["rnn", "lstm", "gru"]  # the RNN with tanh


def _close(actual, expected, what):
    expected = np64(expected)
    assert np.abs(expected).max() > 1e-6, f"{what}: expected value is ~0, the check proves nothing"
    np.testing.assert_allclose(np64(actual), expected, atol=ATOL, rtol=RTOL, err_msg=what)


def _config(cell, layers, bidir, loss, readout="attention", **kw):
    return small_config(**{**dict(cell=cell, num_layers=layers, bidirectional=bidir, loss=loss,
                                  seq_len=6, batch_size=3, readout=readout), **kw})


def _top(hidden, cfg):
    """o_t (T, B, D*H): the top layer's directions side by side."""
    D = cfg.num_directions
    return np.concatenate(list(hidden[(cfg.num_layers - 1) * D:]), axis=-1)


@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("layers,bidir", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cell", CELLS)
def test_engine_equals_autograd(cell, layers, bidir, loss):
    """Every Trace quantity of the attention readout equals autograd through zero probes."""
    cfg = _config(cell, layers, bidir, loss, seed=3)
    tr = unroll(cfg, jacobian=False, influence=False)
    ref = reference_for_trace(tr, weight_probes=True)
    for key in ("hidden", "outputs", "attention", "grad_hidden", "grad_input"):
        _close(getattr(tr, key), ref[key], key)
    if cell == "lstm":
        _close(tr.grad_cell, ref["grad_cell"], "grad_cell")
    assert tr.loss == pytest.approx(ref["loss"], rel=1e-12)
    direct = direct_gradient(_top(ref["hidden"], cfg), tr.weights, tr.targets, loss, "attention")
    _close(tr.grad_direct, direct, "grad_direct")
    assert set(tr.weight_grad) == set(ref["weight_grad"]) == set(tr.weights)
    assert tr.weights["readout.weight"].shape[1] == 2 * tr.weights["attention.weight"].shape[0]
    for name, g in ref["weight_grad"].items():
        if np.abs(g).max() > 1e-6:  # (the reverse W_hh with loss 'last' meets h_{-1} = 0 only)
            _close(tr.weight_grad[name], g, f"dL/d{name}")
        terms = ref["weight_terms"][name]  # (T, *shape) the step-t terms, from probes at step t
        np.testing.assert_allclose(weight_grad_term_tensors(tr, name), terms, atol=ATOL, rtol=RTOL)
        np.testing.assert_allclose(tr.weight_grad_terms[name],
                                   np.linalg.norm(terms.reshape(len(terms), -1), axis=1),
                                   atol=ATOL, rtol=RTOL, err_msg=f"term norms of {name}")
    _close(tr.weight_grad["attention.weight"], ref["weight_grad"]["attention.weight"], "dL/dW_a")


@pytest.mark.parametrize("loss", ["last", "sum"])
@pytest.mark.parametrize("layers,bidir", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cell", CELLS)
def test_reference_equals_autograd_and_the_engine(cell, layers, bidir, loss):
    """engine/reference.py's attention_step / attention_step_back, through reference_unroll,
    equal autograd, and the engine equals them."""
    cfg = _config(cell, layers, bidir, loss, seed=11)
    tr = unroll(cfg, jacobian=False, influence=False)
    ref = R.reference_unroll(cfg, tr.inputs, tr.targets, tr.weights)
    auto = reference_for_trace(tr, weight_probes=True)
    for key in ("outputs", "attention", "grad_hidden", "grad_input"):
        _close(ref[key], auto[key], f"reference {key}")
        _close(getattr(tr, key), ref[key], f"engine {key}")
    direct = direct_gradient(_top(ref["hidden"], cfg), tr.weights, tr.targets, loss, "attention")
    _close(ref["grad_direct"], direct, "reference grad_direct")
    _close(tr.grad_direct, ref["grad_direct"], "engine grad_direct")
    for name in ("attention.weight", "readout.weight", "readout.bias"):
        _close(ref["weight_grad_term_tensors"][name], auto["weight_terms"][name], f"terms of {name}")
        _close(tr.weight_grad[name], ref["weight_grad"][name], f"engine dL/d{name}")


@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
@pytest.mark.parametrize("cell", CELLS)
def test_linear_readout_direct_gradient_is_the_old_injection(cell, layers, bidir):
    """Linear readout: grad_direct is V^T dL/dy_hat_t (autograd with o as the leaf), zero before
    the last step with loss 'last'; no attention, no attention.weight."""
    cfg = _config(cell, layers, bidir, "last", readout="linear")
    tr = unroll(cfg, jacobian=False, influence=False)
    assert tr.attention is None and "attention.weight" not in tr.weights
    ref = R.reference_unroll(cfg, tr.inputs, tr.targets, tr.weights)
    direct = direct_gradient(_top(tr.hidden, cfg), tr.weights, tr.targets, "last", "linear")
    _close(tr.grad_direct, direct, "grad_direct")
    _close(ref["grad_direct"], direct, "reference grad_direct")
    assert not tr.grad_direct[:-1].any() and ref["attention"] is None


def test_readout_is_validated():
    with pytest.raises(ValueError, match=r"Config.readout: expected one of \['linear', 'attention'\]"):
        Config(readout="softmax")
    assert Config().readout == "linear"


def test_attention_rows_are_causal_softmax_weights():
    tr = unroll(_config("gru", 1, True, "sum"))
    alpha = tr.attention  # (T, B, T)
    T = alpha.shape[0]
    assert alpha.shape == (T, 3, T)
    np.testing.assert_allclose(alpha.sum(axis=-1), 1.0, rtol=1e-12)
    assert not alpha[np.triu_indices(T, 1)[0], :, np.triu_indices(T, 1)[1]].any(), "k > t is 0"
    assert (alpha[np.tril_indices(T)[0], :, np.tril_indices(T)[1]] > 0).all()
    assert alpha[0, :, 0] == pytest.approx(1.0), "step 0 can only read itself"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidir", [False, True])
def test_influence_equals_autograd(cell, bidir):
    """|dL_s/dh_k| with attention: the loss at s reaches every k <= s directly (not only k = s)."""
    cfg = _config(cell, 2, bidir, "sum", seed=17)
    tr = unroll(cfg, jacobian=False, influence=True)
    want = influence_reference(reference_for_trace(tr), 2, bidir, tr.influence_steps, sample=0)
    _close(tr.influence, want, "influence")


def test_influence_subsampled_rows_with_attention(monkeypatch):
    import importlib

    mod = importlib.import_module("engine.unroll")  # the module (engine.unroll is the function)
    cfg = _config("rnn", 1, False, "sum", seq_len=20, hidden_size=4)
    monkeypatch.setattr(mod, "INFLUENCE_BUDGET", 5 * cfg.seq_len * cfg.hidden_size ** 2)
    tr = unroll(cfg, jacobian=False, influence=True)
    assert tr.influence_subsampled and 2 <= len(tr.influence_steps) < cfg.seq_len
    want = influence_reference(reference_for_trace(tr), 1, False, tr.influence_steps, sample=0)
    _close(tr.influence, want, "subsampled influence")


def test_seeds_keep_the_linear_weights_and_w_a_is_drawn_like_torch_linear():
    """The recurrent weights of a seed are the same with either readout; the linear readout has
    exactly the names it always had; W_a ~ U(-1/sqrt(N), 1/sqrt(N)) as torch.nn.Linear(N, N)."""
    lin, att = Config(seed=7, hidden_size=16), Config(seed=7, hidden_size=16, readout="attention")
    w_lin, w_att = init_weights(lin, 8, 1), init_weights(att, 8, 1)
    assert set(w_lin) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                          "readout.weight", "readout.bias"}
    assert set(w_att) == set(w_lin) | {"attention.weight"}
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert torch.equal(w_lin[name], w_att[name]), name
    w_a, v = w_att["attention.weight"], w_att["readout.weight"]
    assert w_a.shape == (16, 16) and v.shape == (1, 32)
    assert w_a.abs().max() <= 0.25 and w_a.abs().max() > 0.24 and abs(float(w_a.mean())) < 0.02
    assert v.abs().max() <= 1 / 32**0.5
    assert not torch.equal(init_weights(att.replace(seed=8), 8, 1)["attention.weight"], w_a)


def test_to_torch_builds_the_attention_readout():
    """trace.to_torch()'s readout is an AttentionReadout holding the trace's weights by their
    names; readout(rnn(x)) is y_hat, and autograd through it gives the engine's dL/dW."""
    cfg = _config("lstm", 2, True, "last")
    tr = unroll(cfg)
    tt = tr.to_torch()
    rnn, readout = tt["rnn"], tt["readout"]
    assert {f"{k}" for k in readout.state_dict()} == {"attention.weight", "readout.weight",
                                                      "readout.bias"}
    out = rnn(tt["inputs"])[0]
    y_hat = readout(out)
    _close(y_hat.detach(), tr.outputs, "to_torch outputs")
    _close(readout.weights(out).detach().transpose(0, 1), tr.attention, "to_torch alpha")
    step = ((y_hat - tt["targets"]) ** 2).sum(dim=(1, 2)) / y_hat.shape[1]
    step[-1].backward()
    for name, p in [*readout.named_parameters(), *rnn.named_parameters()]:
        if np.abs(tr.weight_grad[name]).max() > 1e-6:
            _close(p.grad, tr.weight_grad[name], f"to_torch dL/d{name}")


def test_loss_last_reaches_the_first_state_directly():
    """With loss 'last', the linear readout puts gradient into o_T only; attention puts it into
    every o_k. Same recurrent weights, so dL/dh_0 is many decades larger with attention."""
    base = Config(seq_len=100, loss="last", seed=0)
    lin, att = unroll(base, jacobian=False), unroll(base.replace(readout="attention"), jacobian=False)
    assert not lin.grad_direct[:-1].any() and (np.abs(att.grad_direct).sum(axis=-1) > 0).all()
    assert att.grad_hidden_log10[0, 0, 0] - lin.grad_hidden_log10[0, 0, 0] > 5


def test_flags_cover_attention_and_the_direct_gradient():
    cfg = _config("rnn", 1, False, "sum")
    tr = unroll(cfg)
    assert not tr.any_flag and set(tr.flags) >= {"attention", "grad_direct"}
    w = dict(tr.weights)
    w["attention.weight"] = w["attention.weight"].copy()
    w["attention.weight"][0, 0] = np.nan
    bad = unroll(cfg, tr.inputs, tr.targets, weights=w)
    assert bad.flags["attention"]["nan"] == 0 and bad.flags["grad_direct"]["nan"] == 0
    assert unroll(cfg.replace(readout="linear")).flags.get("attention") is None


def test_float32_close_to_float64():
    cfg = _config("gru", 2, True, "sum")
    a, b = unroll(cfg), unroll(cfg.replace(dtype="float32"))
    for key in ("attention", "grad_direct", "grad_hidden"):
        np.testing.assert_allclose(getattr(b, key), getattr(a, key), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(b.weight_grad["attention.weight"], a.weight_grad["attention.weight"],
                               rtol=1e-3, atol=1e-5)


def test_given_weights_are_checked_by_name_and_shape():
    cfg = _config("rnn", 1, False, "sum")
    tr = unroll(cfg)
    w = {k: v for k, v in tr.weights.items() if k != "attention.weight"}
    with pytest.raises(ValueError, match="attention.weight"):
        unroll(cfg, tr.inputs, tr.targets, weights=w)
    with pytest.raises(ValueError, match="readout.weight"):  # a linear readout's V is too narrow
        unroll(cfg, tr.inputs, tr.targets, weights={**tr.weights, "readout.weight":
                                                    tr.weights["readout.weight"][:, :4]})
