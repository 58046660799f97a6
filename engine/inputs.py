"""Input sequences and their targets, by task name; every task is seeded by the config."""

from __future__ import annotations

import math
import zlib

import numpy as np
import torch

from .config import Config

# Data is drawn from its own stream so changing the initialization never changes the inputs.
_DATA_STREAM = 0x5EED


def _generator(config: Config) -> torch.Generator:
    return torch.Generator().manual_seed(config.seed * 7919 + _DATA_STREAM)


def noise(config: Config, g: torch.Generator):
    """White noise x_t ~ N(0, 1) on every channel; target: channel 0 of the previous step."""
    T, B, I = config.seq_len, config.batch_size, config.input_size
    x = torch.randn(T, B, I, generator=g, dtype=torch.float64)  # (T, B, I)
    y = torch.zeros(T, B, 1, dtype=torch.float64)  # (T, B, 1)
    y[1:, :, 0] = x[:-1, :, 0]
    return x, y


def sine(config: Config, g: torch.Generator):
    """x_t = sin(2 pi t / period + phase), a random phase per sample; target: x_{t+1}."""
    T, B = config.seq_len, config.batch_size
    phase = torch.rand(B, generator=g, dtype=torch.float64) * (2 * math.pi)  # (B,)
    t = torch.arange(T + 1, dtype=torch.float64).unsqueeze(1)  # (T+1, 1)
    s = torch.sin(2 * math.pi * t / config.sine_period + phase)  # (T+1, B)
    return s[:-1].unsqueeze(-1), s[1:].unsqueeze(-1)


def impulse(config: Config, g: torch.Generator):
    """A single +-1 impulse on channel 0 at t=0, then silence; target: that sign at every step."""
    T, B, I = config.seq_len, config.batch_size, config.input_size
    sign = torch.randint(0, 2, (B,), generator=g).to(torch.float64) * 2 - 1  # (B,)
    x = torch.zeros(T, B, I, dtype=torch.float64)  # (T, B, I)
    x[0, :, 0] = sign
    y = sign.expand(T, B).unsqueeze(-1).clone()  # (T, B, 1): how long does the echo last?
    return x, y


def recall(config: Config, g: torch.Generator):
    """x_t ~ U(-1, 1); target y_t = x_{t-delay} (0 before); default delay T-1 recalls x_0 at the end."""
    T, B = config.seq_len, config.batch_size
    delay = T - 1 if config.delay is None else config.delay
    x = torch.rand(T, B, 1, generator=g, dtype=torch.float64) * 2 - 1  # (T, B, 1)
    y = torch.zeros(T, B, 1, dtype=torch.float64)
    y[delay:] = x[: T - delay]
    return x, y


def adding(config: Config, g: torch.Generator):
    """Adding problem (Hochreiter & Schmidhuber 1997): channel 0 values U(0,1), channel 1 marks two
    steps (one in each half); target y_t = running sum of marked values, so y_T is their sum."""
    T, B = config.seq_len, config.batch_size
    values = torch.rand(T, B, generator=g, dtype=torch.float64)  # (T, B)
    marks = torch.zeros(T, B, dtype=torch.float64)
    half = max(T // 2, 1)
    first = torch.randint(0, half, (B,), generator=g)  # (B,)
    second = torch.randint(half, T, (B,), generator=g) if T > 1 else first
    marks[first, torch.arange(B)] = 1.0
    marks[second, torch.arange(B)] = 1.0
    x = torch.stack([values, marks], dim=-1)  # (T, B, 2)
    y = torch.cumsum(values * marks, dim=0).unsqueeze(-1)  # (T, B, 1)
    return x, y


def sentence_words(config: Config) -> list[str]:
    """The words task 'sentence' reads, one per step: the text split on white space, at most
    seq_len of them."""
    return config.text.split()[: config.seq_len]


def step_labels(config: Config) -> list[str] | None:
    """A label per step of the config's task where its steps have names (the words of task
    'sentence'), else None: steps are then just t = 0, 1, ..."""
    return sentence_words(config) if config.task == "sentence" else None


def sentence(config: Config, g: torch.Generator):
    """One step per word (at most seq_len words); each word has a fixed embedding seeded by the word
    and the seed (same word, same vector); target: the next word's embedding (0 after the last)."""
    words = sentence_words(config)
    I, B = config.input_size, config.batch_size
    vectors = []
    for word in words:  # crc32, not hash(): Python salts str hashes per process
        wg = torch.Generator().manual_seed((zlib.crc32(word.lower().encode()) + config.seed) % 2**63)
        vectors.append(torch.randn(I, generator=wg, dtype=torch.float64) / math.sqrt(I))
    x = torch.stack(vectors).unsqueeze(1).expand(len(words), B, I).clone()  # (T, B, I)
    y = torch.zeros_like(x)
    y[:-1] = x[1:]
    return x, y


def series_task(config: Config, values) -> tuple[torch.Tensor, torch.Tensor]:
    """A user's numeric series, z-scored: x_t = s_t, target s_{t+1}; sample b starts b steps later."""
    s = np.asarray(values, dtype=np.float64).reshape(-1)
    if s.size == 0 or not np.all(np.isfinite(s)):
        raise ValueError("series: expected a non-empty series of finite numbers")
    T, B = config.seq_len, config.batch_size
    if s.size < T + B:
        raise ValueError(f"series: need at least seq_len + batch_size = {T + B} values, got {s.size}")
    std = s.std()
    s = (s - s.mean()) / (std if std > 0 else 1.0)
    windows = np.stack([s[b: b + T + 1] for b in range(B)], axis=1)  # (T+1, B)
    w = torch.from_numpy(windows)
    return w[:-1].unsqueeze(-1), w[1:].unsqueeze(-1)


TASKS = {"noise": noise, "sine": sine, "impulse": impulse, "recall": recall, "adding": adding,
         "sentence": sentence}


def make_task(config: Config, series=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs (T, B, I), targets (T, B, O)) for the config's task, in the config's dtype."""
    if config.task == "series":
        if series is None:
            named = f" (config.series names it {config.series!r})" if config.series else ""
            raise ValueError(f"task 'series' needs data: make_task(config, series=...){named}")
        x, y = series_task(config, series)
    else:
        x, y = TASKS[config.task](config, _generator(config))
    dtype = getattr(torch, config.dtype)
    return x.to(dtype), y.to(dtype)
