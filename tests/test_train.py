"""engine.train and engine.tasks: determinism, clipping, truncated BPTT, stopping, the dL/dh_t
snapshots against engine.unroll, and every task's targets and baselines on hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import Config, init_weights, unroll
from engine import inputs as engine_inputs
from engine.cells import LoopRNN
from engine.models import build_model, chunks, forward
from engine.tasks import (
    TASK_LOSS,
    TrainTask,
    baselines,
    normalised_series,
    series_baselines,
    train_config,
)
from engine.train import Progress, StopTraining, train, train_many

SMALL = dict(hidden_size=6, batch_size=4, seed=3, device="cpu")


def recall(**kw) -> Config:
    return train_config("recall", delay=kw.pop("delay", 12), **{**SMALL, **kw})


# ---------------------------------------------------------------------------------------------
# train(): determinism, snapshots, clipping, truncation, stopping
# ---------------------------------------------------------------------------------------------


def _curves(r):
    return [r.loss, r.grad_norm, r.grad_norm_clipped, r.radius, r.radius_steps] + \
        [s.grad_hidden_norm for s in r.snapshots] + [s.hidden for s in r.snapshots]


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("lstm", "tanh"), ("gru", "tanh"),
                                             ("rnn", "sigmoid")])
def test_same_seed_same_curves(cell, activation):
    c = recall(cell=cell, activation=activation)
    kw = dict(steps=12, lr=0.05, clip=1.0, window=5, snapshot_every=4, radius_every=3)
    a, b = train(c, **kw), train(c, **kw)
    for x, y in zip(_curves(a), _curves(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.steps_done == 12 and a.stopped is None
    assert [s.step for s in a.snapshots] == [0, 4, 8, 11]
    assert list(a.radius_steps) == [0, 3, 6, 9, 11]
    other = train(c.replace(seed=4), **kw)
    assert not np.array_equal(other.loss, a.loss), "another seed, other curves"


def test_snapshots_observe_without_steering():
    c = recall(cell="lstm")
    with_snaps = train(c, 15, lr=0.03, snapshot_every=2, window=6)
    without = train(c, 15, lr=0.03, snapshot_every=0, window=6)
    np.testing.assert_array_equal(with_snaps.loss, without.loss)
    np.testing.assert_array_equal(with_snaps.grad_norm, without.grad_norm)
    for s in with_snaps.snapshots:  # the probing pass recomputes the step's own loss
        assert s.loss == pytest.approx(with_snaps.loss[s.step], rel=1e-5)


@pytest.mark.parametrize("task,cell,activation,layers", [
    ("recall", "rnn", "tanh", 1), ("sine", "lstm", "tanh", 1), ("adding", "gru", "tanh", 1),
    ("sine", "rnn", "relu", 2), ("recall", "lstm", "tanh", 2), ("sine", "rnn", "sigmoid", 2)])
def test_snapshot_is_unrolls_dL_dh(task, cell, activation, layers):
    """Full BPTT: the snapshot's ||dL/dh_t|| (top layer) equals engine.unroll's on the same
    weights and batch (unroll's loss 'sum' is T times the trainer's mean over steps)."""
    c = train_config(task, delay=9, seq_len=11, cell=cell, activation=activation,
                     num_layers=layers, dtype="float64", **SMALL)
    r = train(c, 1, snapshot_every=1)
    x, y = TrainTask(c).batch(0)
    w = init_weights(c, x.shape[-1], 1)
    tr = unroll(c, x, y, w, jacobian=False, influence=False)
    ref = np.sqrt((tr.grad_hidden[-1] ** 2).sum(axis=(1, 2)))  # (T,)
    if TASK_LOSS[task] == "sum":
        ref = ref / c.seq_len
    np.testing.assert_allclose(r.snapshots[0].grad_hidden_norm, ref, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(r.snapshots[0].hidden, tr.hidden[-1, :, 0], rtol=1e-5)
    assert r.snapshots[0].loss == pytest.approx(tr.loss / (c.seq_len if task != "recall" and
                                                           task != "adding" else 1), rel=1e-9)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_truncation_cuts_dL_dh_beyond_the_window(cell):
    c = recall(cell=cell, delay=20, dtype="float64")  # T = 21, loss at the last step
    full = train(c, 1, snapshot_every=1).snapshots[0].grad_hidden_norm
    cut = train(c, 1, snapshot_every=1, window=5).snapshots[0].grad_hidden_norm
    assert np.all(cut[:16] == 0.0), "nothing reaches back beyond the window"
    assert np.all(cut[16:] > 0)
    np.testing.assert_allclose(cut[16:], full[16:], rtol=1e-10)  # inside it, the same paths
    assert np.all(full[:16] > 0)


def test_truncated_snapshot_of_a_summed_loss_stays_inside_each_chunk():
    """Loss at every step, window 4: dL/dh_t counts only the losses of t's own chunk. Checked
    against autograd on the same model run chunk by chunk with retain_grad on every h_t."""
    c = train_config("sine", seq_len=10, cell="lstm", dtype="float64", **SMALL)
    snap = train(c, 1, snapshot_every=1, window=4).snapshots[0].grad_hidden_norm
    x, y = TrainTask(c).batch(0)
    rnn, readout = build_model(c, 1)
    hs, state = [], None
    for a, b in chunks(10, 4):  # (0, 2), (2, 6), (6, 10)
        for t in range(a, b):
            _, state = rnn(x[t:t + 1], state)
            state[0].retain_grad()  # h_t, read by the readout and by step t + 1 alike
            hs.append(state[0])
        state = tuple(s.detach() for s in state)
    loss = ((readout(torch.cat(hs)) - y) ** 2).mean()
    loss.backward()
    ref = np.array([float(h.grad.norm()) for h in hs])
    np.testing.assert_allclose(snap, ref, rtol=1e-10)


def test_truncation_cuts_the_real_step():
    """The applied gradient of a window-k step equals that of a model run with no_grad up to
    T-k and with autograd only over the last k steps (loss at the end)."""
    c = recall(cell="lstm", delay=20, dtype="float64")
    r = train(c, 1, window=5, optimizer="sgd", lr=1.0)
    x, y = TrainTask(c).batch(0)
    rnn, readout = build_model(c, 1)
    with torch.no_grad():
        _, state = rnn(x[:16])
    out, _ = rnn(x[16:], state)
    loss = ((readout(out[-1]) - y[-1]) ** 2).mean()
    loss.backward()
    ref = torch.nn.utils.get_total_norm([p.grad for p in [*rnn.parameters(), *readout.parameters()]])
    assert r.grad_norm[0] == pytest.approx(float(ref), rel=1e-10)
    assert train(c, 1).grad_norm[0] != pytest.approx(r.grad_norm[0], rel=1e-6)


def test_chunks_end_at_the_last_step():
    assert chunks(25, 10) == [(0, 5), (5, 15), (15, 25)]
    assert chunks(20, 10) == [(0, 10), (10, 20)]
    assert chunks(7, None) == chunks(7, 7) == chunks(7, 50) == [(0, 7)]


def test_clipping_bounds_the_applied_norm():
    c = recall(cell="rnn", activation="relu", init_hh="identity")
    r = train(c, 10, optimizer="sgd", lr=1e-3, clip=0.05)
    assert np.all(r.grad_norm > 0.05), "the case must actually need clipping"
    np.testing.assert_allclose(r.grad_norm_clipped, 0.05, rtol=1e-4)
    one = train(c, 1, optimizer="sgd", lr=1e-3, clip=0.05)
    w0 = init_weights(c, 1, 1)
    step = math.sqrt(sum(float(((torch.from_numpy(one.weights[k]) - w0[k]) ** 2).sum()) for k in w0))
    assert step / 1e-3 == pytest.approx(0.05, rel=1e-3), "SGD moved by lr x the clipped norm"
    free = train(c, 10, optimizer="sgd", lr=1e-3)
    np.testing.assert_array_equal(free.grad_norm, free.grad_norm_clipped)


def test_stop_by_returning_false_or_raising():
    seen = []

    def stop_at_3(p: Progress):
        seen.append((p.step, p.steps, len(p.results[0].loss)))
        return p.step < 3

    r = train(recall(), 50, callback=stop_at_3)
    assert r.steps_done == 3 and "callback" in r.stopped
    assert seen == [(1, 50, 1), (2, 50, 2), (3, 50, 3)]

    def raise_at_2(p: Progress):
        if p.step == 2:
            raise StopTraining
        assert p.eta_s >= 0 and p.steps_per_s > 0

    rs = train_many([recall(), recall(cell="lstm")], 50, callback=raise_at_2)
    assert [r.steps_done for r in rs] == [2, 2] and all(r.stopped for r in rs)


def test_divergence_stops_the_run():
    c = recall(cell="rnn", activation="relu", init_hh="identity", gain=3.0, delay=40)
    r = train(c, 20, optimizer="sgd", lr=10.0, radius_every=1, snapshot_every=1)
    assert r.stopped and "diverged" in r.stopped and r.steps_done < 20
    assert np.isfinite(r.weights["weight_hh_l0"]).all(), "the bad update was not applied"


def test_side_by_side_models_see_the_same_batches():
    a = recall(cell="rnn")
    b = recall(cell="lstm", forget_bias=1.0)
    together = train_many([a, b], 5, lr=0.02)
    alone = [train(a, 5, lr=0.02), train(b, 5, lr=0.02)]
    for t, s in zip(together, alone, strict=True):
        np.testing.assert_array_equal(t.loss, s.loss)
    with pytest.raises(ValueError, match="seq_len differs"):
        train_many([a, recall(delay=5)], 2)


@pytest.mark.parametrize("bad,match", [
    (dict(steps=0), "steps"), (dict(optimizer="rmsprop"), "optimizer"), (dict(lr=-1.0), "lr"),
    (dict(clip=0.0), "clip"), (dict(window=0), "window"), (dict(snapshot_every=-1), "snapshot"),
])
def test_bad_arguments_name_themselves(bad, match):
    kw = dict(steps=2) | bad
    with pytest.raises(ValueError, match=match):
        train(recall(), **kw)


def test_bad_configs_name_the_field():
    with pytest.raises(ValueError, match="bidirectional"):
        train(recall(bidirectional=True), 1)
    with pytest.raises(ValueError, match="loss"):
        train(recall().replace(loss="sum"), 1)
    with pytest.raises(ValueError, match="task"):
        train(Config(task="noise"), 1)
    with pytest.raises(ValueError, match="needs data"):
        train(train_config("series", seq_len=5), 1)


def test_loop_rnn_with_state_matches_the_reference():
    c = recall(cell="rnn", activation="sigmoid", dtype="float64", num_layers=2)
    rnn, _ = build_model(c, 1)
    assert isinstance(rnn, LoopRNN)
    x = torch.randn(7, 3, 1, dtype=torch.float64)
    out, h_n = rnn(x)
    out2, state = rnn(x[:4])
    out3, h_n3 = rnn(x[4:], state)  # carrying the state continues the sequence exactly
    torch.testing.assert_close(torch.cat([out2, out3]), out)
    torch.testing.assert_close(h_n3, h_n)
    ref = x
    for layer in range(2):
        w = [getattr(rnn, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h, hs = torch.zeros(3, 6, dtype=torch.float64), []
        for t in range(7):
            h = torch.sigmoid(ref[t] @ w[0].T + w[2] + h @ w[1].T + w[3])
            hs.append(h)
        ref = torch.stack(hs)
    torch.testing.assert_close(out, ref)


def test_forward_without_window_is_one_fused_call(monkeypatch):
    """forward() with no window runs the whole sequence through torch's fused GRU kernel in one
    call (torch._VF.gru, what nn.GRU calls), never a step at a time; with window k, one call per
    chunk. Counted by wrapping the kernel."""
    c = recall(cell="gru", dtype="float64")
    rnn, readout = build_model(c, 1)
    x = torch.randn(13, 4, 1, dtype=torch.float64)
    expected = readout(rnn(x)[0])
    fused, cell = torch._VF.gru, torch.gru_cell
    calls, steps = [], []

    def counted(inputs, *args, **kwargs):
        calls.append(inputs.shape[0])  # the steps this call ran
        return fused(inputs, *args, **kwargs)

    def stepped(*args, **kwargs):
        steps.append(1)
        return cell(*args, **kwargs)

    monkeypatch.setattr(torch._VF, "gru", counted)
    monkeypatch.setattr(torch, "gru_cell", stepped)
    torch.testing.assert_close(forward(rnn, readout, x, None), expected)
    assert calls == [13] and not steps, "one fused call over all 13 steps"
    calls.clear()
    forward(rnn, readout, x, 5)
    assert calls == [3, 5, 5] and not steps, "window 5: one fused call per chunk"


# ---------------------------------------------------------------------------------------------
# Tasks: targets, batches, baselines
# ---------------------------------------------------------------------------------------------


def test_recall_targets_by_hand():
    c = train_config("recall", delay=3, batch_size=5, seed=1)
    assert c.seq_len == 4 and c.loss == "last"
    x, y = TrainTask(c).batch(7)
    assert x.shape == (4, 5, 1) and y.shape == (4, 5, 1)
    torch.testing.assert_close(y[3], x[0])  # the answer at the end is x_0
    assert torch.all(y[:3] == 0)
    assert torch.all(x.abs() <= 1)


def test_adding_targets_by_hand():
    c = train_config("adding", seq_len=6, batch_size=8, seed=2)
    x, y = TrainTask(c).batch(0)
    values, marks = x[..., 0], x[..., 1]  # (T, B)
    assert torch.all(marks.sum(0) == 2)
    assert torch.all(marks[:3].sum(0) == 1) and torch.all(marks[3:].sum(0) == 1), "one per half"
    torch.testing.assert_close(y[-1, :, 0], (values * marks).sum(0))
    b = 0
    marked = [float(values[t, b]) for t in range(6) if marks[t, b] == 1]
    assert float(y[-1, b, 0]) == pytest.approx(sum(marked), rel=1e-6)


def test_sine_targets_by_hand():
    c = train_config("sine", seq_len=10, sine_period=8.0, batch_size=3, dtype="float64")
    x, y = TrainTask(c).batch(1)
    torch.testing.assert_close(y[:-1], x[1:])  # the target is the next value
    phase = torch.asin(x[0, :, 0].clamp(-1, 1))
    for t in (1, 2, 5):  # sin(2 pi t / 8 + phase), up to which branch of asin the phase is on
        a = torch.sin(2 * math.pi * t / 8 + phase)
        b = torch.sin(2 * math.pi * t / 8 + math.pi - phase)
        assert torch.all(torch.minimum((x[t, :, 0] - a).abs(), (x[t, :, 0] - b).abs()) < 1e-9)


def test_series_windows_by_hand():
    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0])
    c = train_config("series", seq_len=3, batch_size=4, dtype="float64")
    task = TrainTask(c, series=values)
    z = (values - values.mean()) / values.std()
    np.testing.assert_allclose(task.series, z)
    x, y = task.batch(0)
    for b in range(4):  # every sample is a run of 4 consecutive values: inputs, then next ones
        start = int(np.argmin(np.abs(z - float(x[0, b, 0]))))
        np.testing.assert_allclose(x[:, b, 0].numpy(), z[start:start + 3])
        np.testing.assert_allclose(y[:, b, 0].numpy(), z[start + 1:start + 4])
    # the same z-score as Explore's series task
    ex, _ = engine_inputs.series_task(Config(task="series", seq_len=7, batch_size=1), values)
    np.testing.assert_allclose(ex[:, 0, 0].numpy(), normalised_series(values, c)[:7])


def test_batches_depend_on_seed_and_step_only():
    a = TrainTask(recall(cell="rnn"))
    b = TrainTask(recall(cell="lstm", hidden_size=9, init_hh="orthogonal"))
    for s in (0, 5):
        torch.testing.assert_close(a.batch(s), b.batch(s))
    assert not torch.equal(a.batch(0)[0], a.batch(1)[0])
    assert not torch.equal(a.batch(0)[0], TrainTask(recall(seed=4)).batch(0)[0])


def test_bad_series():
    c = train_config("series", seq_len=5)
    with pytest.raises(ValueError, match="at least"):
        normalised_series(np.arange(6.0), c)
    with pytest.raises(ValueError, match="finite"):
        normalised_series([1.0, np.nan] * 10, c)


def _monte_carlo(c: Config, predict, n: int = 300) -> float:
    task = TrainTask(c)
    losses = []
    for s in range(n):
        x, y = task.batch(s, dtype=torch.float64)
        y_hat = predict(x)
        err = (y_hat - y) ** 2  # (T, B, 1)
        losses.append(float(err[-1].mean() if task.loss_mode == "last" else err.mean()))
    return float(np.mean(losses))


def test_baselines_match_sampling():
    r = train_config("recall", delay=5, batch_size=64)
    assert baselines(r)[0].loss == pytest.approx(1 / 3)
    assert _monte_carlo(r, lambda x: torch.zeros_like(x)) == pytest.approx(1 / 3, rel=0.03)
    a = train_config("adding", seq_len=10, batch_size=64)
    assert _monte_carlo(a, lambda x: torch.ones_like(x[..., :1])) == pytest.approx(1 / 6, rel=0.04)
    s = train_config("sine", seq_len=30, sine_period=12.0, batch_size=64)
    mean, last = baselines(s)
    assert _monte_carlo(s, lambda x: torch.zeros_like(x)) == pytest.approx(mean.loss, rel=0.03)
    assert _monte_carlo(s, lambda x: x) == pytest.approx(last.loss, rel=0.03)
    assert last.loss == pytest.approx(2 * math.sin(math.pi / 12) ** 2)


def test_series_baselines_are_exact_averages_over_windows():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(40).cumsum()
    z = (s - s.mean()) / s.std()
    T = 6
    mean_ref, last_ref = [], []
    for b in range(len(z) - T):  # every start TrainTask.batch can draw
        w = z[b:b + T + 1]
        mean_ref.append(np.mean(w[1:] ** 2))
        last_ref.append(np.mean((w[1:] - w[:-1]) ** 2))
    mean, last = series_baselines(z, T)
    assert mean.loss == pytest.approx(np.mean(mean_ref), rel=1e-12)
    assert last.loss == pytest.approx(np.mean(last_ref), rel=1e-12)
