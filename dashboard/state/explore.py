"""One state object for the dashboard: engine Config + view <-> widgets <-> URL query parameters.

Pure functions, no Streamlit: the schema below (PARAMS, VIEW_PARAMS) says for every knob its
widget, its group, its tooltip, its dashboard cap and how it is written in a URL. Every field is
always written to the URL (seed included), so a shared link reproduces the exact run even if a
default changes later. Bad or unknown URL values fall back to defaults with a warning that names
the parameter and the value.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from engine import Config
from engine.config import ACTIVATIONS, CELLS, DEVICES, DTYPES, INITS, LOSSES

GROUPS = ("model", "initialization", "input", "loss")
TASKS = ("noise", "sine", "impulse", "recall", "adding", "sentence")  # "series" needs uploaded data
VIEWS = ("signals", "hidden", "gates", "gradient", "spectrum")
VIEW_TITLES = {"signals": "Signals", "hidden": "Hidden states", "gates": "Gates",
               "gradient": "Gradient through time", "spectrum": "Spectrum"}
VIEWS += ("animate",)  # the time animation (dashboard/animation.py)
VIEW_TITLES["animate"] = "Animate"
DIRECTIONS = ("forward", "reverse")

# Dashboard caps, tighter than the engine's: every value is drawn in a browser, and the page must
# answer in seconds. MAX_VALUES bounds T * B * H * layers * directions (values per quantity).
MAX_SEQ_LEN = 5000
MAX_HIDDEN = 512
MAX_BATCH = 64
MAX_VALUES = 6_000_000

# Memory budget (README "Limits"): one run's peak working set stays under RUN_BUDGET, so a few
# sessions at once fit a small server. Per value of T*B*H*layers*directions, in float64 (float32
# halves it), measured by benchmarks/bench_memory.py and rounded up: the peak while unrolling,
# and what a finished Trace keeps (what the page caches hold).
RUN_BUDGET = 1024 * 2**20
CACHE_TTL = 3600  # seconds: every result cache also forgets entries after an hour
PEAK_BYTES_PER_VALUE = {"rnn": 104, "lstm": 240, "gru": 300}
KEPT_BYTES_PER_VALUE = {"rnn": 32, "lstm": 64, "gru": 40}


@dataclass(frozen=True)
class Param:
    """One knob: how it is shown (group, label, help), checked (kind, choices, lo..hi) and typed."""

    name: str
    group: str
    label: str
    help: str
    kind: str  # "choice" | "int" | "float" | "bool" | "text"
    choices: tuple = ()
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    optional: bool = False  # None allowed: an empty widget, "none" in the URL


PARAMS: tuple[Param, ...] = (
    # ---- model ----
    Param("cell", "model", "Cell", "The recurrence unrolled in time: a plain RNN h_t = phi(W_ih x_t "
          "+ W_hh h_{t-1} + b), an LSTM (gates i f g o and a cell state c_t) or a GRU (gates r z n).",
          "choice", CELLS),
    Param("activation", "model", "Activation phi", "The plain RNN's nonlinearity. Its largest "
          "derivative gamma (1 for tanh and ReLU, 1/4 for sigmoid) bounds how much each step can "
          "pass the gradient on. LSTM and GRU ignore it.", "choice", ACTIVATIONS),
    Param("hidden_size", "model", "Hidden size H", f"Units per layer (at most {MAX_HIDDEN} here, so "
          "the heatmaps stay drawable).", "int", lo=1, hi=MAX_HIDDEN, step=1),
    Param("num_layers", "model", "Layers", "Stacked recurrent layers; pick which one to look at "
          "above the plots.", "int", lo=1, hi=4, step=1),
    Param("bidirectional", "model", "Bidirectional", "Adds a second direction per layer that reads "
          "the sequence backwards.", "bool"),
    Param("dtype", "model", "Precision", "float64 shows a vanishing gradient at its true size; "
          "float32 underflows near 1e-38 (and overflows near 1e38).", "choice", DTYPES),
    Param("device", "model", "Device", "Where the forward pass runs; 'auto' takes a GPU when "
          "there is one. The numbers do not depend on it.", "choice", DEVICES),
    # ---- initialization ----
    Param("init_hh", "initialization", "Init of W_hh", "How the recurrent weights start: torch's "
          "default uniform, normal (std = sigma / sqrt(H)), Xavier, Kaiming, orthogonal (all "
          "singular values 1) or identity (IRNN).", "choice", INITS),
    Param("init_ih", "initialization", "Init of W_ih", "How the input weights start (same schemes).",
          "choice", INITS),
    Param("sigma", "initialization", "sigma (normal init)", "Scale of the 'normal' scheme: std = "
          "sigma / sqrt(fan_in), so W_hh's spectral radius is about sigma.", "float",
          lo=0.01, hi=100.0, step=0.05),
    Param("spectral_radius", "initialization", "Spectral radius of W_hh", "If set, W_hh (each gate "
          "block) is rescaled to exactly this largest |eigenvalue|. Leave empty to keep the "
          "scheme's own.", "float", lo=0.01, hi=100.0, step=0.05, optional=True),
    Param("gain", "initialization", "Gain", "Multiplies every initialised weight matrix.",
          "float", lo=0.01, hi=100.0, step=0.05),
    Param("forget_bias", "initialization", "Forget-gate bias (LSTM)", "Sets the LSTM forget gate's "
          "bias: 1 or more keeps f near 1, so the cell path carries the gradient far back. Empty "
          "keeps the init's bias.", "float", lo=-100.0, hi=100.0, step=0.5, optional=True),
    Param("seed", "initialization", "Seed", "One seed fixes the weights and the data: the same seed "
          "(and link) gives the same numbers.", "int", lo=0, hi=2**31 - 1, step=1),
    # ---- input ----
    Param("task", "input", "Task", "The input sequence x_t and the targets y_t: white noise, a "
          "sine, one impulse at t=0, recall of an early value, the adding problem, or a sentence "
          "(one word per step).", "choice", TASKS),
    Param("seq_len", "input", "Sequence length T", f"Steps to unroll (at most {MAX_SEQ_LEN} here; "
          "plots wider than 800 steps are pooled, keeping spikes).", "int",
          lo=1, hi=MAX_SEQ_LEN, step=1),
    Param("input_size", "input", "Input size", "Width of x_t; tasks with a natural width (sine, "
          "recall 1, adding 2) override it.", "int", lo=1, hi=256, step=1),
    Param("batch_size", "input", "Batch", f"Sequences run together (at most {MAX_BATCH}); the "
          "plots show one sample, the weight gradients average them all.", "int",
          lo=1, hi=MAX_BATCH, step=1),
    Param("sine_period", "input", "Sine period", "Task 'sine': steps per period.", "float",
          lo=2.0, hi=1e6, step=1.0),
    Param("delay", "input", "Recall delay", "Task 'recall': y_t = x_{t-delay}. Empty: remember x_0 "
          "until the last step.", "int", lo=0, hi=MAX_SEQ_LEN - 1, step=1, optional=True),
    Param("text", "input", "Sentence", "Task 'sentence': one step per word (at most T words).",
          "text", hi=2000),
    # ---- loss ----
    Param("loss", "loss", "Loss", "'last': L = L_T, only the final output is scored (the dL_3/dW "
          "example); 'sum': L = sum_t L_t, every step is scored.", "choice", LOSSES),
)
PARAM = {p.name: p for p in PARAMS}

VIEW_PARAMS: tuple[Param, ...] = (
    Param("view", "view", "View", "Which plots are shown.", "choice", VIEWS),
    Param("layer", "view", "Layer", "Which layer's states and gradients are drawn.", "int",
          lo=0, hi=3, step=1),
    Param("direction", "view", "Direction", "Forward, or the reverse direction of a bidirectional "
          "layer.", "choice", DIRECTIONS),
    Param("sample", "view", "Sample", "Which sequence of the batch is drawn.", "int",
          lo=0, hi=MAX_BATCH - 1, step=1),
    Param("t", "view", "Time cursor t", "A step to inspect: every heatmap marks it, and the values "
          "and equations at t are printed below. Empty: the last step.", "int",
          lo=0, hi=MAX_SEQ_LEN - 1, step=1, optional=True),
    Param("influence", "view", "Influence matrix", "Compute |dL_s/dh_k| for every pair of steps "
          "(costly for large T and H: then a labelled subsample of rows).", "bool"),
    Param("jacobian", "view", "Jacobian norms", "Compute the spectral norm of dh_T/dh_t "
          "(costs T*H^3: skipped for large H).", "bool"),
    Param("present", "view", "Presentation mode", "For projectors: larger fonts and lines, the "
          "sidebar collapsed, one chart per row, colour scales that stay readable for "
          "colour-blind viewers.", "bool"),
)
VIEW_PARAM = {p.name: p for p in VIEW_PARAMS}

# When a knob matters: others keep their value (and URL) but their widget is greyed out.
RELEVANT = {
    "activation": lambda v: v["cell"] == "rnn",
    "forget_bias": lambda v: v["cell"] == "lstm",
    "sigma": lambda v: "normal" in (v["init_hh"], v["init_ih"]),
    "sine_period": lambda v: v["task"] == "sine",
    "delay": lambda v: v["task"] == "recall",
    "text": lambda v: v["task"] == "sentence",
    "input_size": lambda v: v["task"] in ("noise", "impulse", "sentence"),
}
# The knobs RELEVANT reads: changing one can grey out others, so it redraws the whole sidebar
# (a test checks that no other knob changes what RELEVANT says).
RESHAPES_KNOBS = frozenset({"cell", "init_hh", "init_ih", "task"})


@dataclass(frozen=True)
class View:
    """What is looked at (not computed): the plot group, layer, direction, sample and step t."""

    view: str = "gradient"  # the tab shown first: the gradient through time is the point
    layer: int = 0
    direction: str = "forward"
    sample: int = 0
    t: int | None = None  # None: the last step, where the loss of mode 'last' sits
    influence: bool = False  # heavy views are off until asked for
    jacobian: bool = False
    present: bool = False  # presentation mode: how things are drawn, never what is computed

    def cursor(self, seq_len: int) -> int:
        """The step the cursor marks, inside 0..T-1."""
        return seq_len - 1 if self.t is None else min(max(self.t, 0), seq_len - 1)


DEFAULT_CONFIG = Config()
DEFAULT_VIEW = View()


def parse_value(p: Param, raw) -> object:
    """A URL string -> the typed value of p; ValueError says what was expected."""
    s = str(raw).strip()
    if p.optional and s.lower() in ("", "none"):
        return None
    if p.kind == "choice":
        if s not in p.choices:
            raise ValueError(f"expected one of {list(p.choices)}")
        return s
    if p.kind == "bool":
        if s.lower() in ("true", "1", "yes", "on"):
            return True
        if s.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if p.kind == "int":
        if not re.fullmatch(r"[+-]?\d+", s):
            raise ValueError(f"expected an integer in [{p.lo:g}, {p.hi:g}]")
        v = int(s)
        if not p.lo <= v <= p.hi:
            raise ValueError(f"expected an integer in [{p.lo:g}, {p.hi:g}]")
        return v
    if p.kind == "float":
        try:
            v = float(s)
        except ValueError:
            raise ValueError(f"expected a number in [{p.lo:g}, {p.hi:g}]") from None
        if not math.isfinite(v) or not p.lo <= v <= p.hi:
            raise ValueError(f"expected a number in [{p.lo:g}, {p.hi:g}]")
        return v
    if p.kind == "text":
        if not s.split():
            raise ValueError("expected at least one word")
        if len(s) > p.hi:
            raise ValueError(f"expected at most {p.hi:g} characters")
        return s
    raise AssertionError(p.kind)


def format_value(p: Param, value) -> str:
    """The URL string of a typed value (exact: floats in their shortest round-trip form)."""
    if value is None:
        return "none"
    if p.kind == "bool":
        return "true" if value else "false"
    if p.kind == "float":
        return repr(float(value))
    return str(value)


def _single(raw):
    """A query value may be a list (repeated key): the last one wins, like st.query_params."""
    return raw[-1] if isinstance(raw, (list, tuple)) and raw else raw


def _shown(raw) -> str:
    s = str(raw)
    return repr(s if len(s) <= 60 else s[:57] + "...")


def build_config(values: dict) -> tuple[Config, list[str]]:
    """Config from field values; a value the engine rejects (e.g. delay >= T) falls back to its
    default with a warning naming it, and the rest is kept."""
    values = dict(values)
    warnings: list[str] = []
    if values.get("device") == "cuda" and not cuda_available():
        warnings.append("device='cuda': no CUDA GPU on this server; using the default 'auto' (CPU)")
        values["device"] = DEFAULT_CONFIG.device
    for _ in range(len(values) + 1):
        try:
            return Config(**values), warnings
        except ValueError as e:
            m = re.match(r"Config\.(\w+):", str(e))
            name = m.group(1) if m else None
            default = getattr(DEFAULT_CONFIG, name, None) if name else None
            if name not in values or values[name] == default:
                break
            warnings.append(f"{name}={_shown(values[name])}: {str(e).split(': ', 1)[-1]}; "
                            f"using the default {default!r}")
            values[name] = default
    warnings.append("these settings could not be combined; using the default configuration")
    return DEFAULT_CONFIG, warnings


def cuda_available() -> bool:
    """Whether this server has a CUDA GPU (torch is imported by the engine anyway)."""
    import torch

    return torch.cuda.is_available()


def config_values(config: Config) -> dict:
    """Field -> value for every knob in PARAMS (the widget values)."""
    return {p.name: getattr(config, p.name) for p in PARAMS}


def state_from_query(query: dict) -> tuple[Config, View, list[str]]:
    """URL query parameters -> (Config, View, warnings); anything bad falls back to its default."""
    warnings: list[str] = []
    values = config_values(DEFAULT_CONFIG)
    view = dataclasses.asdict(DEFAULT_VIEW)
    for key, raw in query.items():
        raw = _single(raw)
        p = PARAM.get(key) or VIEW_PARAM.get(key)
        if p is None:
            warnings.append(f"unknown URL parameter {key!r} (value {_shown(raw)}) ignored")
            continue
        target = values if key in PARAM else view
        try:
            target[key] = parse_value(p, raw)
        except ValueError as e:
            default = getattr(DEFAULT_CONFIG, key) if key in PARAM else getattr(DEFAULT_VIEW, key)
            warnings.append(f"URL parameter {key}={_shown(raw)}: {e}; using the default {default!r}")
    config, more = build_config(values)
    warnings += [f"URL parameter {w}" for w in more]
    view, more = fit_view(View(**view), config)
    warnings += [f"URL parameter {w}" for w in more]
    return config, view, warnings


def fit_view(view: View, config: Config) -> tuple[View, list[str]]:
    """Clamp a view to what the config has (layers, directions, samples, steps), with warnings."""
    warnings: list[str] = []
    fixes = {}
    if view.layer >= config.num_layers:
        fixes["layer"] = 0
    if view.direction == "reverse" and not config.bidirectional:
        fixes["direction"] = "forward"
    if view.sample >= config.batch_size:
        fixes["sample"] = 0
    if view.t is not None and view.t >= config.seq_len:
        fixes["t"] = None
    for k, v in fixes.items():
        warnings.append(f"{k}={getattr(view, k)!r}: not in this model (layers "
                        f"{config.num_layers}, bidirectional {config.bidirectional}, batch "
                        f"{config.batch_size}, T {config.seq_len}); using {v!r}")
    return dataclasses.replace(view, **fixes), warnings


def config_from_query(query: dict) -> tuple[Config, list[str]]:
    """URL query parameters -> (Config, warnings); view parameters are accepted and ignored."""
    config, _, warnings = state_from_query(query)
    return config, warnings


def config_to_query(config: Config) -> dict[str, str]:
    """Config -> URL query parameters: every knob, always, so the link is exact."""
    return {p.name: format_value(p, getattr(config, p.name)) for p in PARAMS}


def view_to_query(view: View) -> dict[str, str]:
    """View -> URL query parameters (only those that differ from the default view)."""
    return {p.name: format_value(p, getattr(view, p.name)) for p in VIEW_PARAMS
            if getattr(view, p.name) != getattr(DEFAULT_VIEW, p.name)}


def state_to_query(config: Config, view: View) -> dict[str, str]:
    """The whole page state as URL query parameters."""
    return {**config_to_query(config), **view_to_query(view)}


def values_per_quantity(config: Config) -> int:
    """T * B * H * layers * directions: the size of one per-step quantity."""
    return (config.seq_len * config.batch_size * config.hidden_size * config.num_layers
            * config.num_directions)


def peak_bytes(config: Config) -> int:
    """Estimated peak working set of unrolling this config (measured per-value costs)."""
    scale = 0.5 if config.dtype == "float32" else 1.0
    return int(values_per_quantity(config) * PEAK_BYTES_PER_VALUE[config.cell] * scale)


def size_problem(config: Config) -> str | None:
    """Why this run is too big for the dashboard, or None when it fits."""
    n = values_per_quantity(config)
    if n > MAX_VALUES:
        return (f"This run would hold T x batch x H x layers x directions = {n:,} values per "
                f"quantity; the dashboard stops at {MAX_VALUES:,} so the page stays responsive. "
                "Lower the batch, the layers, H or T (the Python API has no such cap).")
    need = peak_bytes(config)
    if need > RUN_BUDGET:
        fits = int(RUN_BUDGET / need * config.seq_len)
        return (f"This {config.cell.upper()} run would need about {need / 2**20:,.0f} MiB of memory "
                f"({n:,} values per quantity); the dashboard's budget is "
                f"{RUN_BUDGET / 2**20:,.0f} MiB per run so several people can use it at once. "
                f"Lower the batch, the layers or H, use float32, or keep T at most about {fits:,} "
                "(the Python API has no such cap).")
    return None
