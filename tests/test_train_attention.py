"""The training model with the attention readout (Config.readout = "attention") and the per-model
training options (clip, a GRU's update-gate bias): the model's forward and the probe pass's
dL/dh_t against engine.unroll on the same weights (float64), against autograd through every path
(recurrence and attention, truncated or not), and what a run returns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import init_weights, unroll
from engine.attention import AttentionReadout
from engine.models import build_model, chunks, forward
from engine.tasks import TrainTask, task_loss, train_config
from engine.train import probe_pass, train, train_many

SMALL = dict(hidden_size=5, batch_size=3, seed=2, device="cpu", dtype="float64")


def attention_config(task="recall", delay=11, **kw):
    return train_config(task, delay=delay, seq_len=12, readout="attention", **{**SMALL, **kw})


@pytest.mark.parametrize("cell,task,layers", [("rnn", "recall", 1), ("lstm", "sine", 2),
                                              ("gru", "adding", 1)])
def test_training_model_is_unrolls_model(cell, task, layers):
    """build_model's forward and the probe pass's ||dL/dh_t|| equal engine.unroll's outputs and
    grad_hidden on the same weights and batch (unroll's loss 'sum' is T times the trainer's)."""
    c = attention_config(task, cell=cell, num_layers=layers)
    x, y = TrainTask(c).batch(0)
    rnn, readout = build_model(c, x.shape[-1])
    assert isinstance(readout, AttentionReadout)
    tr = unroll(c, x, y, init_weights(c, x.shape[-1], 1), jacobian=False, influence=False)
    with torch.no_grad():
        np.testing.assert_allclose(forward(rnn, readout, x, None).numpy(), tr.outputs,
                                   rtol=1e-10, atol=1e-13)
    snap = probe_pass(c, rnn, readout, x, y, None, TrainTask(c).loss_mode)
    ref = np.sqrt((tr.grad_hidden[-1] ** 2).sum(axis=(1, 2)))  # (T,) top layer
    if task == "sine":
        ref = ref / c.seq_len
    assert np.all(ref > 1e-8)
    np.testing.assert_allclose(snap.grad_hidden_norm, ref, rtol=1e-9)


def test_attention_reads_no_future_and_every_past():
    _, m = build_model(attention_config(), 1)
    o = torch.randn(7, 3, 5, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(m(o)[3].sum(), [o])
    assert torch.all(g[4:] == 0), "y_hat_3 does not read o_4 ... o_6"
    assert torch.all(g[:4].abs().sum(-1) > 0), "y_hat_3 reads o_0 ... o_3 directly"


def _autograd_dL_dh(c, rnn, readout, x, y, window):
    """Total dL/dh_t of the top layer by autograd: the model one step at a time, each h_t kept
    with retain_grad (it feeds the next step and the readout alike), the state cut between
    chunks."""
    hs, state = [], None
    for a, b in chunks(x.shape[0], window):
        for t in range(a, b):
            _, state = rnn(x[t:t + 1], state)
            h = state[0] if isinstance(state, tuple) else state  # (1, B, H)
            h.retain_grad()
            hs.append(h)
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
    task_loss(readout(torch.cat(hs)), y, TrainTask(c).loss_mode).backward()
    return np.array([float(h.grad.norm()) for h in hs])


@pytest.mark.parametrize("cell,task,window", [("rnn", "recall", None), ("gru", "sine", None),
                                              ("rnn", "sine", 4), ("lstm", "recall", 5)])
def test_probe_pass_is_the_total_dL_dh_with_attention(cell, task, window):
    """The snapshot's ||dL/dh_t|| is autograd's total derivative: through the recurrence and
    through every later step's attention (truncation cuts only the recurrence)."""
    c = attention_config(task, cell=cell)
    x, y = TrainTask(c).batch(0)
    rnn, readout = build_model(c, 1)
    snap = probe_pass(c, rnn, readout, x, y, window, TrainTask(c).loss_mode)
    ref = _autograd_dL_dh(c, rnn, readout, x, y, window)
    assert np.all(ref > 1e-8)
    np.testing.assert_allclose(snap.grad_hidden_norm, ref, rtol=1e-10)
    loss = task_loss(forward(rnn, readout, x, window), y, TrainTask(c).loss_mode)
    assert snap.loss == pytest.approx(float(loss.detach()), rel=1e-12)


def test_attention_carries_the_gradient_back_to_h0():
    """Recall, loss at the last step: ||dL/dh_0|| / ||dL/dh_T|| is far larger with the attention
    readout than with the linear one on the same recurrent weights."""
    c = attention_config(delay=40)
    x, y = TrainTask(c).batch(0)
    ratio = {}
    for readout in ("linear", "attention"):
        cc = c.replace(readout=readout)
        rnn, head = build_model(cc, 1)
        g = probe_pass(cc, rnn, head, x, y, None, "last").grad_hidden_norm
        ratio[readout] = g[0] / g[-1]
    assert ratio["attention"] > 1e3 * ratio["linear"], ratio


def test_a_run_names_its_attention_weights_as_the_engine():
    c = attention_config()
    r = train(c, 2, lr=0.01)
    assert r.readout == "attention" and r.label.endswith("+ attention")
    assert set(r.weights) == {"attention.weight", "readout.weight", "readout.bias",
                              "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    assert r.weights["readout.weight"].shape == (1, 10)
    assert not np.array_equal(r.weights["attention.weight"],
                              init_weights(c, 1, 1)["attention.weight"].numpy()), "it trained"


def test_clip_and_update_bias_per_model_side_by_side():
    c = train_config("recall", delay=9, **SMALL)
    g = c.replace(cell="gru")
    both = train_many([c, g], 4, lr=0.05, clip=[1e-3, None], update_bias=[None, 3.0])
    alone = [train(c, 4, lr=0.05, clip=1e-3), train(g, 4, lr=0.05, update_bias=3.0)]
    for t, s in zip(both, alone, strict=True):
        np.testing.assert_array_equal(t.loss, s.loss)
    assert both[0].clip == 1e-3 and both[1].clip is None
    np.testing.assert_allclose(both[0].grad_norm_clipped, 1e-3, rtol=1e-4)  # torch's eps
    np.testing.assert_array_equal(both[1].grad_norm, both[1].grad_norm_clipped)
    assert not np.array_equal(train(g, 4, lr=0.05).loss, both[1].loss), "the bias matters"
    with pytest.raises(ValueError, match="one per model"):
        train_many([c, c], 1, clip=[1.0])
    with pytest.raises(ValueError, match="update_bias"):
        train(c, 1, update_bias=2.0)  # not a GRU


def test_update_bias_sets_only_the_z_block():
    c = train_config("recall", delay=5, cell="gru", num_layers=2, **SMALL)
    plain, _ = build_model(c, 1)
    biased, _ = build_model(c, 1, update_bias=4.0)
    H = c.hidden_size
    for name, p in plain.state_dict().items():
        q = biased.state_dict()[name]
        if name.startswith("bias_"):
            want = 4.0 if name.startswith("bias_ih") else 0.0
            assert torch.all(q[H:2 * H] == want), name  # gates r z n: z is the second block
            torch.testing.assert_close(q[:H], p[:H], rtol=0, atol=0)
            torch.testing.assert_close(q[2 * H:], p[2 * H:], rtol=0, atol=0)
        else:
            torch.testing.assert_close(q, p, rtol=0, atol=0)
    with torch.no_grad():  # z starts near sigmoid(4) = 0.98: h_1 stays close to h_0
        x = torch.zeros(2, 1, 1, dtype=torch.float64)
        h0 = torch.ones(2, 1, H, dtype=torch.float64)
        out, _ = biased(x, h0)
    assert float((out[0, 0] - 1).abs().max()) < 0.1
