"""The Explore page's schema: its knobs (engine Config fields) and view controls, and its URL.

Every field is always written to the URL (seed included), so a shared link reproduces the exact
run even if a default changes later. Bad or unknown URL values fall back to defaults with a
warning that names the parameter and the value (state/schema.py's read_query). Pure: no Streamlit.
"""

from __future__ import annotations

import dataclasses
import re

from dashboard.state import datasets
from dashboard.state.limits import MAX_BATCH, MAX_HIDDEN, MAX_SEQ_LEN
from dashboard.state.presets import load_presets
from dashboard.state.schema import (
    DIRECTIONS,
    Param,
    View,
    first,
    fit_view,
    parse_value,
    read_query,
    shown,
    to_query,
)
from engine import Config
from engine.config import ACTIVATIONS, CELLS, DEVICES, DTYPES, INITS, LOSSES, READOUTS

GROUPS = ("model", "initialization", "input", "loss")
TASKS = ("noise", "sine", "impulse", "recall", "adding", "sentence", "series")
VIEW_TITLES = {"signals": "Signals", "hidden": "Hidden states", "gates": "Gates",
               "gradient": "Gradient through time", "spectrum": "Spectrum",
               "animate": "Animate"}  # animate: the time animation (figures/animation.py)
VIEWS = tuple(VIEW_TITLES)

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
    Param("readout", "model", "Readout", "How the output y_hat_t is read from the top layer. "
          "'linear': from the state at step t only, so the loss reaches an early state only back "
          "through every step in between. 'attention': the output at t also looks back at every "
          "earlier state (weights alpha_tk, drawn as the attention map), so the loss reaches "
          "early states directly, past the vanishing chain.", "choice", READOUTS),
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
          "sine, one impulse at t=0, recall of an early value, the adding problem, a sentence "
          "(one word per step), or a real series (stock prices, or your CSV): forecast next week.",
          "choice", TASKS),
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
    Param("series", "input", "Series", "Task 'series': a weekly stock price of 2018-2019 built "
          "in (plotly.data.stocks, divided by the first week), or a column of a CSV file you "
          "upload below (a file is not part of the link). z-scored; x_t = s_t, target s_(t+1); "
          "needs T + batch values.", "choice", datasets.BUILTIN, optional=True,
          titles=tuple((n, datasets.title(n)) for n in datasets.BUILTIN)),
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
    "series": lambda v: v["task"] == "series",
    "input_size": lambda v: v["task"] in ("noise", "impulse", "sentence"),
}
# The knobs RELEVANT reads: changing one can grey out others, so it redraws the whole sidebar
# (a test checks that no other knob changes what RELEVANT says).
RESHAPES_KNOBS = frozenset({"cell", "init_hh", "init_ih", "task"})


DEFAULT_CONFIG = Config()
DEFAULT_VIEW = View()


def build_config(values: dict) -> tuple[Config, list[str]]:
    """Config from field values; a value the engine rejects (e.g. delay >= T) falls back to its
    default with a warning naming it, and the rest is kept."""
    values = dict(values)
    warnings: list[str] = []
    if values.get("device") == "cuda" and not cuda_available():
        warnings.append("device='cuda': no CUDA GPU on this server; using the default 'auto' (CPU)")
        values["device"] = DEFAULT_CONFIG.device
    if values.get("task") == "series" and values.get("series") is None:
        warnings.append(f"series={shown(None)}: the task 'series' reads a named series; using the "
                        f"built-in {datasets.DEFAULT_SERIES!r}")
        values["series"] = datasets.DEFAULT_SERIES
    for _ in range(len(values) + 1):
        try:
            return Config(**values), warnings
        except ValueError as e:
            m = re.match(r"Config\.(\w+):", str(e))
            name = m.group(1) if m else None
            default = getattr(DEFAULT_CONFIG, name, None) if name else None
            if name not in values or values[name] == default:
                break
            warnings.append(f"{name}={shown(values[name])}: {str(e).split(': ', 1)[-1]}; "
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
    defaults = {**config_values(DEFAULT_CONFIG), **dataclasses.asdict(DEFAULT_VIEW)}
    query, warnings = series_from_link(query, "series")
    given, more = read_query(query, {**PARAM, **VIEW_PARAM}, defaults)
    warnings += more
    config, more = build_config({**config_values(DEFAULT_CONFIG),
                                 **named_series({k: v for k, v in given.items() if k in PARAM})})
    warnings += [f"URL parameter {w}" for w in more]
    view = View(**{**dataclasses.asdict(DEFAULT_VIEW),
                   **{k: v for k, v in given.items() if k in VIEW_PARAM}})
    view, more = fit_view(view, config)
    warnings += [f"URL parameter {w}" for w in more]
    return config, view, warnings


def named_series(given: dict) -> dict:
    """A link's knobs with the series named: a 'series' task whose link names no series reads the
    built-in default (quietly; an explicit series=none is warned about by build_config)."""
    if given.get("task") == "series" and "series" not in given:
        return {**given, "series": datasets.DEFAULT_SERIES}
    return given


def series_from_link(query: dict, key: str) -> tuple[dict, list[str]]:
    """The query with its series (at `key`) readable: an uploaded file's column (`upload:...`)
    cannot come from a link, and a name that is not built in is not one; either becomes the
    built-in default, with a warning naming the key and saying why."""
    raw = first(query.get(key))
    if raw is None:
        return query, []
    try:
        parse_value(PARAM["series"], raw)
        return query, []
    except ValueError as e:
        why = ("an uploaded file is not part of a link (upload it again on the page to use it)"
               if datasets.is_upload(raw) else str(e))
        return ({**query, key: datasets.DEFAULT_SERIES},
                [f"URL parameter {key}={shown(raw)}: {why}; using the built-in "
                 f"{datasets.DEFAULT_SERIES!r}"])


LANDING_PRESET = "fading"  # where a visit naming no knob lands: a gradient visibly fading back


def landing_query(query: dict) -> dict:
    """The query a first visit is read from: as it is when it names a knob (a shared link names
    them all, so it keeps its meaning); otherwise the landing preset's knobs and view, under
    the view parameters it gives (e.g. present=1). Config's defaults stay as they are."""
    if any(name in query for name in PARAM):
        return query
    preset = next(p for p in load_presets() if p.id == LANDING_PRESET)
    return {**config_to_query(preset.config), "view": preset.view, **query}


def config_from_query(query: dict) -> tuple[Config, list[str]]:
    """URL query parameters -> (Config, warnings); view parameters are accepted and ignored."""
    config, _, warnings = state_from_query(query)
    return config, warnings


def config_to_query(config: Config) -> dict[str, str]:
    """Config -> URL query parameters: every knob, always, so the link is exact."""
    return to_query(PARAMS, config_values(config))


def view_to_query(view: View) -> dict[str, str]:
    """View -> URL query parameters (only those that differ from the default view)."""
    return to_query(VIEW_PARAMS, dataclasses.asdict(view), dataclasses.asdict(DEFAULT_VIEW))


def state_to_query(config: Config, view: View) -> dict[str, str]:
    """The whole page state as URL query parameters."""
    return {**config_to_query(config), **view_to_query(view)}
