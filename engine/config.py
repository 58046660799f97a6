"""Config: every knob of an unrolled model in one validated, hashable dataclass."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

CELLS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
INITS = ("default", "normal", "xavier", "kaiming", "orthogonal", "identity")
TASKS = ("noise", "sine", "impulse", "recall", "adding", "sentence", "series")
LOSSES = ("last", "sum")
READOUTS = ("linear", "attention")
DTYPES = ("float32", "float64")
DEVICES = ("auto", "cpu", "cuda")
MAX_SERIES_NAME = 300  # a data name such as "stocks:AAPL" or "upload:<a CSV column>"

# Hard limits: far beyond anything interactive, they only stop nonsense (the dashboard sets
# tighter, memory-derived caps of its own).
LIMITS = {
    "input_size": (1, 1024),
    "hidden_size": (1, 4096),
    "num_layers": (1, 8),
    "seq_len": (1, 100_000),
    "batch_size": (1, 1024),
    "seed": (0, 2**31 - 1),
}


@dataclass(frozen=True)
class Config:
    """Every knob of one unrolled model; names and defaults follow torch.nn where it has them."""

    cell: str = "rnn"  # "rnn", "lstm" or "gru": the recurrence being unrolled
    activation: str = "tanh"  # phi of the plain RNN; LSTM and GRU ignore it (their gates are fixed)
    input_size: int = 8  # width of x_t; tasks with a natural width (sine 1, adding 2) override it
    hidden_size: int = 32  # H: small enough to read a heatmap unit by unit
    num_layers: int = 1  # stacked recurrent layers, torch.nn's num_layers
    bidirectional: bool = False  # a second, time-reversed direction per layer
    seq_len: int = 50  # T: long enough to watch a gradient vanish, short enough to be instant
    batch_size: int = 1  # B: sample 0 is shown; more samples average the weight gradients
    dtype: str = "float64"  # float64 so a vanishing gradient shows its true size, not 0
    init_hh: str = "default"  # initialization of W_hh (torch's uniform by default)
    init_ih: str = "default"  # initialization of W_ih
    sigma: float = 1.0  # "normal" init: std = sigma / sqrt(fan_in), so sigma ~ spectral radius
    spectral_radius: float | None = None  # if set, rescale (each gate block of) W_hh to this radius
    gain: float = 1.0  # multiplies every initialised weight matrix after its scheme
    forget_bias: float | None = None  # LSTM: set the forget-gate bias (None keeps the init's)
    task: str = "noise"  # the input sequence and the targets the readout is asked for
    sine_period: float = 20.0  # "sine": period in steps
    delay: int | None = None  # "recall": y_t = x_{t-delay}; None = remember x_0 until the end
    text: str = "the quick brown fox jumps over the lazy dog"  # "sentence": one step per word
    # "series": the name of the data (e.g. "stocks:AAPL"), recorded so a trace says what it read;
    # the values themselves come with unroll(config, series=...). None: unnamed
    series: str | None = None
    loss: str = "sum"  # "last": L = L_T (the dL_3/dW example); "sum": L = sum_t L_t
    # "linear": y_hat_t = V o_t + b, as torch.nn users write it; "attention": causal attention
    # over o_0..o_t first (engine/attention.py), so the loss reaches every earlier state directly
    readout: str = "linear"
    seed: int = 0  # one seed fixes weights and data, so a shared link reproduces the run
    device: str = "auto"  # "auto" takes CUDA when present; the CPU path is the tested one

    def __post_init__(self) -> None:
        _choice("cell", self.cell, CELLS)
        _choice("activation", self.activation, ACTIVATIONS)
        for name, (lo, hi) in LIMITS.items():
            _integer(name, getattr(self, name), lo, hi)
        if not isinstance(self.bidirectional, bool):
            raise ValueError(f"Config.bidirectional: expected True or False, got {self.bidirectional!r}")
        _choice("dtype", self.dtype, DTYPES)
        _choice("init_hh", self.init_hh, INITS)
        _choice("init_ih", self.init_ih, INITS)
        _real("sigma", self.sigma, 0.0, 100.0)
        if self.spectral_radius is not None:
            _real("spectral_radius", self.spectral_radius, 0.0, 100.0)
        _real("gain", self.gain, 0.0, 100.0)
        if self.forget_bias is not None:
            _real("forget_bias", self.forget_bias, -100.0, 100.0, open_low=False)
        _choice("task", self.task, TASKS)
        _real("sine_period", self.sine_period, 2.0, 1e6, open_low=False)
        if self.delay is not None:
            _integer("delay", self.delay, 0, self.seq_len - 1)
        if not isinstance(self.text, str) or not self.text.split():
            raise ValueError(f"Config.text: expected at least one word, got {self.text!r}")
        if len(self.text) > 100_000:
            raise ValueError(f"Config.text: at most 100000 characters, got {len(self.text)}")
        if self.series is not None and (not isinstance(self.series, str) or not self.series.strip()
                                        or len(self.series) > MAX_SERIES_NAME):
            raise ValueError(f"Config.series: expected None or a name of 1 to {MAX_SERIES_NAME} "
                             f"characters, got {self.series!r:.80}")
        _choice("loss", self.loss, LOSSES)
        _choice("readout", self.readout, READOUTS)
        _choice("device", self.device, DEVICES)

    @property
    def num_directions(self) -> int:
        """D: 2 for a bidirectional model, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def gate_count(self) -> int:
        """G: how many H-row blocks are stacked in weight_ih and weight_hh."""
        return {"rnn": 1, "lstm": 4, "gru": 3}[self.cell]

    def replace(self, **changes) -> Config:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain field -> value dict (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Config from a dict; unknown keys raise a ValueError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Config: unknown field(s) {unknown}; known fields are {sorted(known)}")
        return cls(**values)


def _choice(name: str, value, allowed: tuple) -> None:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"Config.{name}: expected one of {list(allowed)}, got {value!r}")


def _integer(name: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Config.{name}: expected an integer in [{lo}, {hi}], got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"Config.{name}: expected an integer in [{lo}, {hi}], got {value!r}")


def _real(name: str, value, lo: float, hi: float, open_low: bool = True) -> None:
    low = f"({lo}" if open_low else f"[{lo}"
    msg = f"Config.{name}: expected a number in {low}, {hi}], got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(msg)
    if not math.isfinite(value) or value > hi or value < lo or (open_low and value == lo):
        raise ValueError(msg)
