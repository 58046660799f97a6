"""Training tasks: a fresh, seeded batch for every step, the loss each task scores, and the trivial
baselines a trained model has to beat.

Four tasks, each built on engine.inputs so the Explore page and the trainer mean the same thing:

- recall: x_t ~ U(-1, 1); the answer at the last step is x_0, D steps earlier (T = D + 1). Only
  the last step is scored: the one long-range dependency the seeds talk about.
- adding: the adding problem (Hochreiter & Schmidhuber 1997) of length T; the last step is scored.
- sine: next-step forecasting of a sine of a given period with a random phase; every step scored.
- series: next-step forecasting of a user's numeric series (z-scored, as inputs.series_task does),
  on random windows of length T; every step scored.

Batch `step` depends only on (seed, step) and the task, never on the model, so models trained
side by side see the same batches, and the same seed gives the same batches again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import inputs
from .config import Config

# The steps each task scores: "last" (L = L_{T-1}) or "sum" (L = mean over t of L_t).
TASK_LOSS = {"recall": "last", "adding": "last", "sine": "sum", "series": "sum"}
TRAIN_TASKS = tuple(TASK_LOSS)
_BATCH_STREAM = 0xBA7C4  # keeps training batches apart from make_task's single sequence


@dataclass(frozen=True)
class Baseline:
    """A trivial predictor and the training loss it gets, to draw beside the loss curve."""

    name: str  # e.g. "predict the mean (0)"
    loss: float  # its expected value of the training loss


def train_config(task: str, *, delay: int = 50, seq_len: int = 50, sine_period: float = 20.0,
                 **fields) -> Config:
    """A Config for training on `task`: recall gets T = delay + 1, every task its scored loss,
    float32 unless asked otherwise; other fields (cell, hidden_size, batch_size, seed...) pass on."""
    if task not in TASK_LOSS:
        raise ValueError(f"train: task must be one of {list(TASK_LOSS)}, got {task!r}")
    fields.setdefault("dtype", "float32")
    if task == "recall":
        fields.update(seq_len=delay + 1, delay=delay)
    else:
        fields.update(seq_len=seq_len)
    if task == "sine":
        fields["sine_period"] = sine_period
    return Config(task=task, loss=TASK_LOSS[task], **fields)


def check_config(config: Config) -> None:
    """ValueError unless the config is one train() can run (naming the field and what is allowed)."""
    if config.task not in TASK_LOSS:
        raise ValueError(f"train: Config.task must be one of {list(TASK_LOSS)}, got {config.task!r}")
    if config.loss != TASK_LOSS[config.task]:
        raise ValueError(f"train: task {config.task!r} scores loss {TASK_LOSS[config.task]!r}, "
                         f"got Config.loss={config.loss!r} (engine.tasks.train_config sets it)")
    if config.bidirectional:
        raise ValueError("train: a bidirectional model reads the future it is asked to predict; "
                         "use bidirectional=False")


def normalised_series(values, config: Config) -> np.ndarray:
    """The whole series z-scored as inputs.series_task z-scores it (a test holds them equal), so
    a window of it is exactly what Explore's 'series' task shows."""
    s = np.asarray(values, dtype=np.float64).reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError("series: expected a non-empty series of finite numbers")
    if s.size < config.seq_len + 2:
        raise ValueError(f"series: need at least seq_len + 2 = {config.seq_len + 2} values (two "
                         f"windows of T + 1), got {s.size}")
    std = s.std()
    return (s - s.mean()) / (std if std > 0 else 1.0)


def step_generator(config: Config, step: int) -> torch.Generator:
    """The generator of batch `step`: a function of (seed, step) only."""
    return torch.Generator().manual_seed((config.seed * 1_000_003 + step) * 31 + _BATCH_STREAM)


class TrainTask:
    """Batches and baselines of one training task (series: the user's values, z-scored once)."""

    def __init__(self, config: Config, series=None):
        check_config(config)
        self.config = config
        self.series = None
        if config.task == "series":
            if series is None:
                raise ValueError("train: task 'series' needs data: train(config, ..., series=...)")
            self.series = normalised_series(series, config)
        self.loss_mode = TASK_LOSS[config.task]
        self.baselines = baselines(config, self.series)

    def batch(self, step: int, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs (T, B, I), targets (T, B, 1)) of training step `step`, in `dtype` (default:
        the config's)."""
        c, g = self.config, step_generator(self.config, step)
        if c.task == "series":
            T, B = c.seq_len, c.batch_size
            starts = torch.randint(0, self.series.size - T, (B,), generator=g).numpy()  # (B,)
            idx = starts[None, :] + np.arange(T + 1)[:, None]  # (T+1, B)
            w = torch.from_numpy(self.series[idx])  # (T+1, B)
            x, y = w[:-1].unsqueeze(-1), w[1:].unsqueeze(-1)
        else:
            x, y = inputs.TASKS[c.task](c, g)
        dtype = dtype or getattr(torch, c.dtype)
        return x.to(dtype), y.to(dtype)


def task_loss(y_hat: torch.Tensor, y: torch.Tensor, mode: str) -> torch.Tensor:
    """The scored loss: 'last' -> L_{T-1}; 'sum' -> mean over t of L_t (so it reads the same for
    any T; its gradient is engine.unroll's loss='sum' gradient divided by T)."""
    if mode == "last":
        return ((y_hat[-1] - y[-1]) ** 2).sum(dim=-1).mean()
    return ((y_hat - y) ** 2).sum(dim=-1).mean()


def baselines(config: Config, series: np.ndarray | None = None) -> list[Baseline]:
    """The trivial predictors' expected training loss, exactly (no sampling)."""
    if config.task == "recall":  # the answer is U(-1, 1): its mean 0 scores its variance 1/3
        return [Baseline("predict the mean (0)", 1.0 / 3.0)]
    if config.task == "adding":  # the answer is a sum of two U(0, 1): mean 1, variance 2/12
        return [Baseline("predict the mean (1)", 1.0 / 6.0)]
    if config.task == "sine":  # mean of sin^2 is 1/2; sin(a+w) - sin(a) = 2 cos(a + w/2) sin(w/2)
        w = 2 * math.pi / config.sine_period
        return [Baseline("predict the mean (0)", 0.5),
                Baseline("repeat the last value", 2 * math.sin(w / 2) ** 2)]
    if config.task == "series":
        return series_baselines(series, config.seq_len)
    raise ValueError(f"train: no baseline for task {config.task!r}")


def series_baselines(s: np.ndarray, T: int) -> list[Baseline]:
    """Exact expected losses over uniformly drawn windows: predicting the series' mean (0 after
    z-scoring) and repeating the last value (a strong baseline for prices: a random walk)."""
    n_windows = s.size - T  # starts 0 .. n-T-1, as TrainTask.batch draws them
    # weight[j]: in how many windows target position j + 1 appears (one per start b with
    # b <= j <= b + T - 1): every target is averaged over windows and steps alike.
    weight = np.convolve(np.ones(n_windows), np.ones(T))  # (n_windows + T - 1,) = (n - 1,)
    total = weight.sum()
    mean = float((weight * s[1:] ** 2).sum() / total)
    last = float((weight * (s[1:] - s[:-1]) ** 2).sum() / total)
    return [Baseline("predict the mean", mean), Baseline("repeat the last value", last)]
