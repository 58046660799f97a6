"""Short training runs that record how the gradient through time changes as a model learns.

train(config, steps, ...) trains one model; train_many(configs, ...) trains several side by side
on the same batches. Both use torch.nn's fused modules (nn.RNN / LSTM / GRU; a loop for the
sigmoid and linear RNN, as cells.LoopRNN), so a step costs what a plain torch loop costs. Each
step records the loss, the gradient norm before and after clipping (Pascanu et al. 2013), and
every `radius_every` steps W_hh's spectral radius. Every `snapshot_every` steps a snapshot records
||dL/dh_t|| for every t of the top layer, and sample 0's hidden states.

Snapshots observe, they never steer: they are taken in a second pass on the same weights and
batch, before the update, so a run with snapshots follows exactly the same trajectory as one
without. That pass adds a zero probe q_t to the top layer's h_t, so dL/dq_t is the total
derivative dL/dh_t of the very loss the step uses, truncation included (RNN and LSTM through
torch's fused kernels, the probe fed in as an extra input: _probed_fused; GRU and the loop RNNs
one step at a time: _probed_loop).

Truncated BPTT with window k: the sequence runs in chunks of k steps, aligned to end at the last
step (so a loss at the end always sees k steps back), and the state is detached between chunks
(engine/models.py: the torch.nn models and that forward pass).

Progress leaves through `callback(progress)` after every `report_every` steps: return False, or
raise StopTraining, to stop; the results so far are returned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .cells import ACTIVATIONS, FUSED
from .config import Config
from .models import build_model, chunks, detach, forward
from .tasks import Baseline, TrainTask, check_config, task_loss
from .unroll import resolve_device

OPTIMIZERS = ("sgd", "adam")
MAX_STEPS = 100_000
# Fields that decide the batches: models trained side by side must agree on all of them.
DATA_FIELDS = ("task", "seq_len", "batch_size", "delay", "sine_period", "seed", "device")


class StopTraining(Exception):
    """Raise from a train() callback to stop after the current step (returning False also does)."""


@dataclass
class Snapshot:
    """What the gradient through time looked like at one training step (before its update)."""

    step: int  # training step (0-based) whose batch and weights these are
    loss: float  # that step's loss, recomputed by the probing pass
    grad_hidden_norm: np.ndarray  # (T,) ||dL/dh_t|| over batch and units, top layer
    hidden: np.ndarray  # (T, H) h_t of sample 0, top layer


@dataclass
class TrainResult:
    """One model's run: per-step curves, snapshots, the baselines and the final weights."""

    config: Config
    label: str  # how the page names the model
    optimizer: str
    lr: float
    clip: float | None  # gradient norm clipping threshold (None: no clipping)
    window: int | None  # truncated-BPTT window (None: full BPTT)
    steps: int  # steps asked for
    loss: np.ndarray  # (n,) training loss of every step done
    grad_norm: np.ndarray  # (n,) ||dL/dW|| over every parameter, before clipping
    grad_norm_clipped: np.ndarray  # (n,) the norm actually applied, after clipping
    radius_steps: np.ndarray  # (K,) steps at which W_hh's spectral radius was taken
    radius: np.ndarray  # (K, G) spectral radius of each gate block of the top layer's W_hh
    snapshots: list[Snapshot]
    baselines: list[Baseline]
    elapsed_s: float = 0.0
    stopped: str | None = None  # why the run ended early (callback, divergence); None: finished
    weights: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # torch.nn names

    @property
    def readout(self) -> str:
        """"linear" or "attention": the config's readout."""
        return self.config.readout

    @property
    def steps_done(self) -> int:
        """How many steps ran."""
        return len(self.loss)

    @property
    def final_loss(self) -> float:
        """Mean loss over the last tenth of the run (at least one step): less noisy than one step."""
        n = self.steps_done
        return float(np.mean(self.loss[n - max(1, n // 10):])) if n else math.nan


@dataclass
class Progress:
    """What a callback sees after a step of every model."""

    step: int  # steps done (1-based)
    steps: int  # steps asked for
    elapsed_s: float
    results: list[TrainResult]  # the results so far (arrays are views: read, do not keep)

    @property
    def steps_per_s(self) -> float:
        return self.step / self.elapsed_s if self.elapsed_s > 0 else math.nan

    @property
    def eta_s(self) -> float:
        """Seconds left at the current pace."""
        return (self.steps - self.step) / self.steps_per_s if self.step else math.nan

    @property
    def loss(self) -> float:
        """The first model's latest loss."""
        return float(self.results[0].loss[-1])


def _cell_step(config: Config, rnn: nn.Module, layer: int):
    """One step of one GRU or sigmoid / linear RNN layer: (input, h) -> h, on the module's weights."""
    w = _params(rnn, layer)
    if config.cell == "gru":
        return lambda x, h: torch.gru_cell(x, h, *w)
    phi = ACTIVATIONS[config.activation][0]
    return lambda x, h: phi(torch.addmm(torch.addmm(w[2] + w[3], x, w[0].T), h, w[1].T))


def probe_pass(config: Config, rnn: nn.Module, readout: nn.Module, x: torch.Tensor,
               y: torch.Tensor, window: int | None, mode: str) -> Snapshot:
    """The step's loss again, with a zero probe q_t added to the top layer's h_t: dL/dq_t is the
    total dL/dh_t (readout at t and every later step within the truncation window; with the
    attention readout also through every later step's attention to h_t). Returns
    ||dL/dh_t|| and sample 0's h_t, both (T, ...)."""
    T, B, _ = x.shape
    q = x.new_zeros(T, B, config.hidden_size, requires_grad=True)  # (T, B, H) zero probes
    fused = config.cell == "lstm" or (config.cell == "rnn" and config.activation in FUSED)
    top = (_probed_fused if fused else _probed_loop)(config, rnn, x, q, window)  # (T, B, H)
    loss = task_loss(readout(top), y, mode)
    (dq,) = torch.autograd.grad(loss, [q])
    with torch.no_grad():
        norms = dq.double().pow(2).sum(dim=(1, 2)).sqrt()  # (T,)
    return Snapshot(step=-1, loss=float(loss.detach()), grad_hidden_norm=norms.cpu().numpy(),
                    hidden=top[:, 0].detach().to("cpu", torch.float32).numpy())


def _params(rnn: nn.Module, layer: int) -> list[torch.Tensor]:
    return [getattr(rnn, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _probed_fused(config: Config, rnn: nn.Module, x: torch.Tensor, q: torch.Tensor,
                  window: int | None) -> torch.Tensor:
    """RNN (tanh, relu) and LSTM through torch's fused kernels, chunk by chunk. The top layer
    reads [x_t, q_{t-1}] with weights [W_ih | W_hh] (the probe as an extra input), so q_{t-1}
    enters step t exactly as h_{t-1} does; q_t is added to its output for the readout. Within
    a chunk q_{-1} = 0: the previous chunk's probe must not reach across the cut."""
    T, B, _ = x.shape
    L, H = config.num_layers, config.hidden_size
    lstm = config.cell == "lstm"
    kernel = torch.lstm if lstm else FUSED[config.activation]
    state: list = [None] * L
    tops = []
    for a, b in chunks(T, window):
        inp = x[a:b]  # (b-a, B, I)
        for layer in range(L):
            w_ih, w_hh, b_ih, b_hh = _params(rnn, layer)
            if layer == L - 1:
                shifted = torch.cat([q.new_zeros(1, B, H), q[a:b - 1]])  # (b-a, B, H): q_{t-1}
                inp = torch.cat([inp, shifted], dim=-1)
                w_ih = torch.cat([w_ih, w_hh], dim=1)  # (G*H, I+H)
            s = state[layer]
            if s is None:
                z = x.new_zeros(1, B, H)
                s = (z, z) if lstm else z
            args = ([w_ih, w_hh, b_ih, b_hh], True, 1, 0.0, True, False, False)
            if lstm:
                inp, h_n, c_n = kernel(inp, s, *args)
                state[layer] = (h_n.detach(), c_n.detach())
            else:
                inp, h_n = kernel(inp, s, *args)
                state[layer] = h_n.detach()
        tops.append(inp + q[a:b])  # what the readout sees: h_t + q_t
    return torch.cat(tops) if len(tops) > 1 else tops[0]


def _probed_loop(config: Config, rnn: nn.Module, x: torch.Tensor, q: torch.Tensor,
                 window: int | None) -> torch.Tensor:
    """GRU and the sigmoid / linear RNN, one cell step at a time (the GRU's h_{t-1} enters
    through the reset gate and its own z-path, so no input-side probe can stand in for it);
    q_t is added to the top layer's h_t before anything uses it."""
    T, B, _ = x.shape
    L, H = config.num_layers, config.hidden_size
    steps = [_cell_step(config, rnn, layer) for layer in range(L)]
    state: list = [None] * L
    tops = []
    for a, b in chunks(T, window):
        for t in range(a, b):
            inp = x[t]  # (B, I)
            for layer in range(L):
                s = state[layer] if state[layer] is not None else x.new_zeros(B, H)
                h = steps[layer](inp, s)  # (B, H)
                if layer == L - 1:
                    h = h + q[t]  # what every later use of h_t sees
                state[layer] = inp = h
            tops.append(inp)
        state = [detach(s) for s in state]
    return torch.stack(tops)  # (T, B, H)


def spectral_radius(config: Config, rnn: nn.Module) -> np.ndarray:
    """(G,) largest |eigenvalue| of each gate block of the top layer's W_hh."""
    w = getattr(rnn, f"weight_hh_l{config.num_layers - 1}").detach()  # (G*H, H)
    H = w.shape[1]
    blocks = w.to("cpu", torch.float64).reshape(-1, H, H)  # (G, H, H)
    if not torch.isfinite(blocks).all():  # a blown-up run: no spectrum to speak of
        return np.full(blocks.shape[0], np.nan)
    return torch.linalg.eigvals(blocks).abs().amax(dim=-1).numpy()


class Trainer:
    """One model's optimizer, buffers and step; train_many drives several on the same batches."""

    def __init__(self, config: Config, task: TrainTask, input_size: int, *, optimizer: str,
                 lr: float, clip: float | None, window: int | None, steps: int,
                 snapshot_every: int, radius_every: int, label: str, device,
                 update_bias: float | None = None):
        self.config, self.task, self.device = config, task, device
        self.window, self.clip, self.steps = window, clip, steps
        self.snapshot_every, self.radius_every = snapshot_every, radius_every
        self.rnn, self.readout = build_model(config, input_size, update_bias=update_bias)
        self.rnn.to(device)
        self.readout.to(device)
        self.params = list(self.rnn.parameters()) + list(self.readout.parameters())
        self.opt = (torch.optim.Adam(self.params, lr=lr) if optimizer == "adam"
                    else torch.optim.SGD(self.params, lr=lr))
        self.dtype = getattr(torch, config.dtype)
        nan = np.full(steps, np.nan)
        self.loss, self.norm, self.norm_clipped = nan.copy(), nan.copy(), nan.copy()
        self.radius_steps: list[int] = []
        self.radius: list[np.ndarray] = []
        self.snapshots: list[Snapshot] = []
        self.done = 0
        self.stopped: str | None = None
        self.elapsed = 0.0
        self.meta = dict(config=config, label=label, optimizer=optimizer, lr=lr, clip=clip,
                         window=window, steps=steps, baselines=task.baselines)

    def step(self, s: int, x: torch.Tensor, y: torch.Tensor) -> None:
        """Training step s on batch (x, y): snapshot and radius first (weights before the update)."""
        t0 = time.perf_counter()
        x, y = x.to(self.device, self.dtype), y.to(self.device, self.dtype)
        last = s == self.steps - 1
        if self.snapshot_every and (s % self.snapshot_every == 0 or last):
            snap = probe_pass(self.config, self.rnn, self.readout, x, y, self.window, self.task.loss_mode)
            snap.step = s
            self.snapshots.append(snap)
        if s % self.radius_every == 0 or last:
            self.radius_steps.append(s)
            self.radius.append(spectral_radius(self.config, self.rnn))
        self.opt.zero_grad(set_to_none=True)
        loss = task_loss(forward(self.rnn, self.readout, x, self.window), y, self.task.loss_mode)
        loss.backward()
        grads = [p.grad for p in self.params]
        if self.clip is None:
            norm = after = float(nn.utils.get_total_norm(grads))
        else:  # returns the norm before clipping; what is applied is measured, not assumed
            norm = float(nn.utils.clip_grad_norm_(self.params, self.clip))
            after = float(nn.utils.get_total_norm(grads))
        value = float(loss.detach())
        self.loss[s], self.norm[s], self.norm_clipped[s] = value, norm, after
        self.done = s + 1
        if not (math.isfinite(value) and math.isfinite(after)):
            self.stopped = (f"diverged at step {s}: the loss or its gradient is not finite (try "
                            "clipping the gradient norm or a lower learning rate)")
        else:
            self.opt.step()
        self.elapsed += time.perf_counter() - t0

    def result(self, final: bool = False) -> TrainResult:
        """The run so far (views of the buffers; copies and the weights when final)."""
        n = self.done
        take = (lambda a: a[:n].copy()) if final else (lambda a: a[:n])
        G = self.config.gate_count
        weights = {}
        if final:
            weights = {f"{k}": v.detach().cpu().numpy().copy() for k, v in self.rnn.state_dict().items()}
            prefix = "readout." if isinstance(self.readout, nn.Linear) else ""  # attention: its
            weights.update({f"{prefix}{k}": v.detach().cpu().numpy().copy()  # own full names
                            for k, v in self.readout.state_dict().items()})
        return TrainResult(
            **self.meta, loss=take(self.loss), grad_norm=take(self.norm),
            grad_norm_clipped=take(self.norm_clipped),
            radius_steps=np.asarray(self.radius_steps, dtype=np.int64),
            radius=np.asarray(self.radius, dtype=np.float64).reshape(-1, G),
            snapshots=list(self.snapshots), elapsed_s=self.elapsed, stopped=self.stopped,
            weights=weights)


def _per_model(name: str, value, n: int) -> list:
    """A setting for each of n models: one value for all, or a list of n."""
    if not isinstance(value, (list, tuple)):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"train: {name} must be one value or one per model ({n}), got {len(value)}")
    return list(value)


def _check(configs: list[Config], steps: int, optimizer: str, lr: float, clips: list, window,
           snapshot_every: int, radius_every: int, report_every: int, update_biases: list) -> None:
    if not configs:
        raise ValueError("train: no model to train")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"train: steps must be an integer in [1, {MAX_STEPS}], got {steps!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"train: optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"train: lr must be a positive number, got {lr!r}")
    for clip in clips:
        if clip is not None and not (isinstance(clip, (int, float)) and math.isfinite(clip) and clip > 0):
            raise ValueError(f"train: clip must be None or a positive number, got {clip!r}")
    for c, b in zip(configs, update_biases, strict=True):
        if b is not None and (c.cell != "gru" or not isinstance(b, (int, float)) or not math.isfinite(b)):
            raise ValueError(f"train: update_bias must be None or a number, for a GRU only; got {b!r} "
                             f"for cell {c.cell!r}")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ValueError(f"train: window must be None or an integer >= 1, got {window!r}")
    for name, v in (("snapshot_every", snapshot_every), ("radius_every", radius_every),
                    ("report_every", report_every)):
        lo = 0 if name == "snapshot_every" else 1
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f"train: {name} must be an integer >= {lo}, got {v!r}")
    for c in configs[1:]:
        for f in DATA_FIELDS:
            if getattr(c, f) != getattr(configs[0], f):
                raise ValueError(f"train: models trained side by side must share the data; "
                                 f"Config.{f} differs ({getattr(configs[0], f)!r} vs {getattr(c, f)!r})")


def train_many(configs: list[Config], steps: int, *, optimizer: str = "adam", lr: float = 1e-2,
               clip: float | None | list[float | None] = None, window: int | None = None,
               snapshot_every: int = 0, radius_every: int = 10, report_every: int = 1,
               callback: Callable[[Progress], bool | None] | None = None, series=None,
               labels: list[str] | None = None, threads: int | None = 1,
               update_bias: float | None | list[float | None] = None) -> list[TrainResult]:
    """Train several models side by side, each step on the same batch (see train()). clip and
    update_bias: one value for every model, or a list with one per model (e.g. a clipped and an
    unclipped copy of a model, side by side)."""
    configs = list(configs)
    clips = _per_model("clip", clip, len(configs))
    biases = _per_model("update_bias", update_bias, len(configs))
    _check(configs, steps, optimizer, lr, clips, window, snapshot_every, radius_every,
           report_every, biases)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_many(configs, steps, optimizer, lr, clips, window, snapshot_every,
                           radius_every, report_every, callback, series, labels, biases)
    finally:
        torch.set_num_threads(before)


def _train_many(configs, steps, optimizer, lr, clips, window, snapshot_every, radius_every,
                report_every, callback, series, labels, biases) -> list[TrainResult]:
    task = TrainTask(configs[0], series=series)  # validates task, loss mode, direction, data
    for c in configs[1:]:
        check_config(c)
    device = resolve_device(configs[0].device)
    x0, _ = task.batch(0)  # only its width: the input size
    labels = labels or [default_label(c) for c in configs]
    trainers = [Trainer(c, task, x0.shape[-1], optimizer=optimizer, lr=lr, clip=clip,
                        window=window, steps=steps, snapshot_every=snapshot_every,
                        radius_every=radius_every, label=lab, device=device, update_bias=b)
                for c, lab, clip, b in zip(configs, labels, clips, biases, strict=True)]
    start = time.perf_counter()
    for s in range(steps):
        x, y = task.batch(s, dtype=torch.float64)  # each model casts to its own dtype
        active = [t for t in trainers if t.stopped is None]
        for t in active:
            t.step(s, x, y)
        if all(t.stopped is not None for t in trainers):
            break
        if callback is not None and ((s + 1) % report_every == 0 or s == steps - 1):
            progress = Progress(step=s + 1, steps=steps, elapsed_s=time.perf_counter() - start,
                                results=[t.result() for t in trainers])
            try:
                go_on = callback(progress)
            except StopTraining:
                go_on = False
            if go_on is False:
                for t in trainers:
                    if t.stopped is None:
                        t.stopped = f"stopped by the callback after step {s}"
                break
    return [t.result(final=True) for t in trainers]


def train(config: Config, steps: int, *, optimizer: str = "adam", lr: float = 1e-2,
          clip: float | None = None, window: int | None = None, snapshot_every: int = 0,
          radius_every: int = 10, report_every: int = 1,
          callback: Callable[[Progress], bool | None] | None = None, series=None,
          label: str | None = None, threads: int | None = 1,
          update_bias: float | None = None) -> TrainResult:
    """Train one model on its task (engine.tasks: recall, adding, sine, series) for `steps` steps.

    optimizer 'sgd' or 'adam' with learning rate lr; clip: gradient-norm clipping threshold;
    window: truncated-BPTT window (None: full BPTT); update_bias: a GRU's update-gate bias at the
    start (engine.models.build_model; None: the init's); snapshot_every: take a Snapshot every k
    steps and at the last (0: none); radius_every: W_hh's spectral radius every k steps; seed:
    config.seed fixes the weights and every batch, so the same call gives the same curves.
    callback(Progress) after every report_every steps: return False or raise StopTraining to stop.
    threads: torch's intra-op threads while training (restored after): one by default, because a
    step's matmuls are small, and on a busy machine more threads stall each other (measured 40x
    slower with 2 threads on a loaded 2-core box); None leaves torch's setting alone.
    """
    return train_many([config], steps, optimizer=optimizer, lr=lr, clip=clip, window=window,
                      snapshot_every=snapshot_every, radius_every=radius_every,
                      report_every=report_every, callback=callback, series=series,
                      labels=[label] if label else None, threads=threads,
                      update_bias=update_bias)[0]


def default_label(config: Config) -> str:
    """A short model name: 'RNN tanh (default init)', 'LSTM (forget bias 1)', 'RNN tanh
    (default init) + attention'..."""
    if config.cell == "rnn":
        name = f"RNN {config.activation}"
    else:
        name = config.cell.upper()
    init = f"{config.init_hh} init"
    if config.cell == "lstm" and config.forget_bias is not None:
        init += f", forget bias {config.forget_bias:g}"
    return f"{name} ({init})" + (" + attention" if config.readout == "attention" else "")
