"""The Train page's settings: one dataclass <-> widgets <-> URL query parameters. Pure, no Streamlit.

URL parameters (all always written, so a link reproduces the run; the uploaded file is not part
of it): train_task, delay, seq_len, period, models (comma-separated keys of MODELS, at most 3),
hidden_size, batch, forget_bias, optimizer, lr, clip, window, steps, snapshot_every, seed.
Empty or "none" means off for clip, window and forget_bias. A bad or unknown value falls back to
its default with a warning naming it, like every page (state/schema.py's read_query).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dashboard.state import schema
from dashboard.state.schema import Param, read_query
from engine import Config
from engine.tasks import TRAIN_TASKS, train_config
from engine.train import OPTIMIZERS

# Models a user can put side by side: the lecture's contrasts, each one Config change away. Beside
# Config fields an entry may set MODEL_OPTIONS, which train_many takes per model: a clip of its own
# ("clip": None: never clipped, whatever the page's threshold), and "update_bias": True, a GRU
# whose update gate z starts at the page's gate bias (the GRU's counterpart of the forget bias).
MODEL_OPTIONS = ("clip", "update_bias")
MODELS: dict[str, tuple[str, dict]] = {
    "rnn_tanh": ("RNN tanh · default init", dict(cell="rnn", activation="tanh")),
    "irnn": ("IRNN · ReLU, identity init", dict(cell="rnn", activation="relu", init_hh="identity")),
    "lstm": ("LSTM", dict(cell="lstm")),
    "rnn_tanh_orth": ("RNN tanh · orthogonal init", dict(cell="rnn", activation="tanh",
                                                          init_hh="orthogonal")),
    "rnn_relu": ("RNN ReLU · default init", dict(cell="rnn", activation="relu")),
    "rnn_sigmoid": ("RNN sigmoid · default init", dict(cell="rnn", activation="sigmoid")),
    "gru": ("GRU", dict(cell="gru")),
    "rnn_tanh_attn": ("RNN tanh + attention", dict(cell="rnn", activation="tanh",
                                                   readout="attention")),
    "irnn_noclip": ("IRNN · never clipped", dict(cell="rnn", activation="relu",
                                                  init_hh="identity", clip=None)),
    "lstm_torch": ("LSTM · torch's init", dict(cell="lstm", forget_bias=None)),  # bias knob ignored
    "gru_bias": ("GRU · update-gate bias", dict(cell="gru", update_bias=True)),
}
MAX_MODELS = 3
TASK_TITLES = {"recall": "Delayed recall", "adding": "Adding problem", "sine": "Sine forecasting",
               "series": "Your series (CSV)"}

# Caps for a page that trains while you watch on a laptop CPU.
MAX_STEPS = 5000
MAX_T = 500
MAX_HIDDEN = 128
MAX_BATCH = 256
MAX_SNAPSHOTS = 400  # rows of the step x time heatmap


@dataclass(frozen=True)
class TrainSettings:
    """Everything the Train page asks for one run."""

    task: str = "recall"  # the long-range dependency the seeds are about
    delay: int = 50  # recall: remember x_0 for D steps (T = D + 1)
    seq_len: int = 50  # adding, sine, series: T
    period: float = 20.0  # sine: steps per period
    models: tuple[str, ...] = ("rnn_tanh", "irnn", "lstm")  # the default contrast
    hidden_size: int = 32
    batch: int = 32
    forget_bias: float | None = 4.0  # LSTM forget-gate bias ~ ln D: f starts near 1, so x_0 survives
    # D steps and the default run shows the contrast (torch's init, "none", stays at the baseline)
    optimizer: str = "adam"
    lr: float = 0.01
    clip: float | None = 1.0  # Pascanu et al.'s threshold; None: no clipping
    window: int | None = None  # truncated-BPTT window; None: full BPTT
    steps: int = 300  # a few hundred: under a minute for three small models
    snapshot_every: int = 10
    seed: int = 0

    def configs(self, device: str = "cpu") -> list[Config]:
        """One engine Config per chosen model (float32: training precision)."""
        out = []
        for key in self.models:
            fields = {k: v for k, v in MODELS[key][1].items() if k not in MODEL_OPTIONS}
            if fields["cell"] == "lstm" and "forget_bias" not in fields:
                fields["forget_bias"] = self.forget_bias
            out.append(train_config(self.task, delay=self.delay, seq_len=self.seq_len,
                                    sine_period=self.period, hidden_size=self.hidden_size,
                                    batch_size=self.batch, seed=self.seed, device=device,
                                    **fields))
        return out

    def update_biases(self) -> list[float | None]:
        """Each chosen model's GRU update-gate bias: the gate-bias knob where the model asks."""
        return [self.forget_bias if MODELS[key][1].get("update_bias") else None
                for key in self.models]

    def clips(self) -> list[float | None]:
        """Each chosen model's clipping threshold: the page's, unless the model sets its own."""
        return [MODELS[key][1].get("clip", self.clip) for key in self.models]

    def train_args(self) -> dict:
        """engine.train_many's keyword arguments for this run (beside configs, steps, callback)."""
        return dict(optimizer=self.optimizer, lr=self.lr, clip=self.clips(), window=self.window,
                    snapshot_every=self.snapshot_every, radius_every=self.snapshot_every,
                    labels=self.labels(), update_bias=self.update_biases())

    @property
    def T(self) -> int:
        """The sequence length a run uses."""
        return self.delay + 1 if self.task == "recall" else self.seq_len

    def labels(self) -> list[str]:
        out = []
        for key in self.models:
            label = MODELS[key][0]
            if key == "lstm" and self.forget_bias is not None:
                label += f" · forget bias {self.forget_bias:g}"
            if key == "gru_bias":
                label += " (empty: torch's init)" if self.forget_bias is None else f" {self.forget_bias:g}"
            out.append(label)
        return out


PARAMS: tuple[Param, ...] = (
    Param("train_task", "task", "Task", "What the models learn. Delayed recall: say x_0 after D "
          "noisy steps (one long-range dependency). Adding problem: add the two marked values of "
          "a length-T sequence. Sine forecasting and your series: predict the next value.",
          "choice", TRAIN_TASKS, titles=tuple(TASK_TITLES.items())),
    Param("delay", "task", "Delay D", "Delayed recall: steps between x_0 and the moment it must "
          f"be recalled (T = D + 1). Up to {MAX_T - 1}.", "int", lo=1, hi=MAX_T - 1, step=1),
    Param("seq_len", "task", "Length T", f"Adding problem, sine and series: steps per sequence "
          f"(up to {MAX_T}).", "int", lo=2, hi=MAX_T, step=1),
    Param("period", "task", "Sine period", "Sine forecasting: steps per period.", "float",
          lo=2.0, hi=1000.0, step=1.0),
    Param("models", "model", "Models (up to 3)", "Trained side by side on the same batches, from "
          "the same seed.", "choices", tuple(MODELS), hi=MAX_MODELS,
          titles=tuple((k, label) for k, (label, _) in MODELS.items())),
    Param("hidden_size", "model", "Hidden size H", f"Units per model (up to {MAX_HIDDEN}).", "int",
          lo=1, hi=MAX_HIDDEN, step=1),
    Param("forget_bias", "model", "Gate bias: LSTM forget f, GRU update z", "Starts the LSTM's "
          "forget gate at sigmoid(bias), so the cell path scales the gradient by about "
          "sigmoid(bias)^D over D steps: about ln D (chrono initialization, Tallec & Ollivier "
          "2018) keeps it alive. The model 'GRU · update-gate bias' starts its update gate z "
          "there too (h_t = (1-z) n_t + z h_{t-1}: z near 1 keeps h). Empty: torch's default "
          "init (f and z near 0.5).", "float", lo=-10.0, hi=10.0, step=0.5, optional=True),
    Param("optimizer", "training", "Optimizer", "Adam rescales each parameter's step, so even a "
          "tiny gradient moves it; SGD steps along the raw gradient.", "choice", OPTIMIZERS),
    Param("lr", "training", "Learning rate", "Step size of the optimizer.", "float",
          lo=1e-6, hi=10.0, step=0.001),
    Param("batch", "training", "Batch size", f"Sequences per step (up to {MAX_BATCH}); every model "
          "sees the same batches.", "int", lo=1, hi=MAX_BATCH, step=1),
    Param("clip", "training", "Clip gradient norm at", "Pascanu et al. (2013): rescale the whole "
          "gradient to this norm when it is larger. Empty: no clipping.", "float",
          lo=1e-4, hi=1e4, step=0.1, optional=True),
    Param("window", "training", "Truncated BPTT window", "Backpropagate at most this many steps "
          "(chunks end at the last step; the state is carried forward, the gradient is cut). "
          "Empty: full BPTT.", "int", lo=1, hi=MAX_T, step=1, optional=True),
    Param("steps", "training", "Training steps", f"Up to {MAX_STEPS}.", "int", lo=1, hi=MAX_STEPS,
          step=10),
    Param("snapshot_every", "training", "Snapshot every", "Record ||dL/dh_t|| for every t (and "
          "the hidden states) every k steps: the rows of the heatmap.", "int", lo=1, hi=MAX_STEPS,
          step=1),
    Param("seed", "training", "Seed", "Fixes the weights and every batch: the same seed and "
          "settings give the same curves.", "int", lo=0, hi=2**31 - 1, step=1),
)
PARAM = {p.name: p for p in PARAMS}
FIELD = {"train_task": "task"}  # URL / widget name -> TrainSettings field, where they differ
DEFAULT = TrainSettings()


def field_name(param: str) -> str:
    return FIELD.get(param, param)


def from_query(query: dict) -> tuple[TrainSettings, list[str]]:
    """URL query parameters -> (settings, warnings); bad values fall back to their defaults, and
    unknown parameters are ignored with a warning naming them (`present` is every page's)."""
    defaults = {p.name: getattr(DEFAULT, field_name(p.name)) for p in PARAMS}
    given, warnings = read_query(query, PARAM, defaults, ignore=("present",),
                                 reads="the Train page reads " + ", ".join(PARAM))
    settings = TrainSettings(**{**dataclasses.asdict(DEFAULT),
                                **{field_name(k): v for k, v in given.items()}})
    settings, more = checked(settings)
    return settings, warnings + [f"URL parameter {w}" for w in more]


def checked(s: TrainSettings) -> tuple[TrainSettings, list[str]]:
    """Fix combinations the page cannot run (with warnings): too many snapshots, a window
    longer than T."""
    warnings, fixes = [], {}
    if s.steps / s.snapshot_every > MAX_SNAPSHOTS:
        k = -(-s.steps // MAX_SNAPSHOTS)
        warnings.append(f"snapshot_every={s.snapshot_every}: {s.steps} steps would make more than "
                        f"{MAX_SNAPSHOTS} snapshots; using every {k}")
        fixes["snapshot_every"] = k
    if s.window is not None and s.window >= s.T:
        warnings.append(f"window={s.window}: not shorter than T = {s.T}, so nothing is truncated; "
                        "using full BPTT")
        fixes["window"] = None
    return dataclasses.replace(s, **fixes), warnings


def to_query(s: TrainSettings) -> dict[str, str]:
    """Settings -> URL query parameters (every one, so the link is exact)."""
    return schema.to_query(PARAMS, {p.name: getattr(s, field_name(p.name)) for p in PARAMS})


def page_query(s: TrainSettings, present: bool) -> dict[str, str]:
    """The Train page's whole URL: its settings, and presentation mode when it is on."""
    return {**to_query(s), **({"present": "true"} if present else {})}
