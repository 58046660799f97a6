"""Compare page state: two configurations A and B plus a shared view <-> URL query parameters.

Pure functions, no Streamlit. Reuses state.py's schema (PARAMS, parse_value, format_value,
build_config) with the prefixes `a.` and `b.`. The input knobs (task, T, sizes, task parameters:
state.py's "input" group) are SHARED: B reads exactly A's x_t and y_t, so they are written once, as
`a.*`; `b.*` holds B's model, initialization and loss knobs. A link may leave some (or all) `b.*`
out: B then starts as a copy of A. Bad or unknown values fall back with a warning that names the
prefixed parameter (`a.sigma`, `b.cell`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine import Config

from dashboard.state import explore as S

SIDES = ("a", "b")
SHARED = tuple(p.name for p in S.PARAMS if p.group == "input")  # B reads A's inputs and targets
OWN = tuple(p.name for p in S.PARAMS if p.group != "input")  # what B may change

COMPARE_VIEWS = ("gradient", "hidden", "gates", "animate")
COMPARE_VIEW_TITLES = {"gradient": "Gradient through time", "hidden": "Hidden states",
                       "gates": "Gates", "animate": "Animate"}

VIEW_PARAMS: tuple[S.Param, ...] = (
    S.Param("view", "view", "View", "Which paired plots are shown.", "choice", COMPARE_VIEWS),
    S.VIEW_PARAM["layer"], S.VIEW_PARAM["direction"], S.VIEW_PARAM["sample"], S.VIEW_PARAM["t"],
    S.VIEW_PARAM["present"],
)
VIEW_PARAM = {p.name: p for p in VIEW_PARAMS}


@dataclass(frozen=True)
class CompareView:
    """What is looked at on both sides: the tab, layer, direction, sample and the ONE cursor t."""

    view: str = "gradient"
    layer: int = 0
    direction: str = "forward"
    sample: int = 0
    t: int | None = None  # None: the last step
    present: bool = False  # presentation mode (shared with every page): how, never what

    def cursor(self, seq_len: int) -> int:
        """The step the cursor marks, inside 0..T-1."""
        return seq_len - 1 if self.t is None else min(max(self.t, 0), seq_len - 1)


DEFAULT_VIEW = CompareView()


def shared_with(a: Config, b: Config) -> Config:
    """B with A's input knobs (task, T, sizes, task parameters): both read the same data."""
    return b.replace(**{name: getattr(a, name) for name in SHARED})


def data_config(a: Config) -> Config:
    """The config the shared inputs and targets are made from: A's input knobs, A's seed and A's
    precision; everything else at its default (a cache key that ignores A's model knobs)."""
    keep = SHARED + ("seed", "dtype")
    return Config(**{name: getattr(a, name) for name in keep})


def differences(a: Config, b: Config) -> list[str]:
    """B's knobs that differ from A's, in schema order."""
    return [name for name in OWN if getattr(a, name) != getattr(b, name)]


def fit_view(view: CompareView, a: Config, b: Config) -> tuple[CompareView, list[str]]:
    """Clamp the view to what BOTH models have (layers, directions, samples, steps)."""
    fixes = {}
    if view.layer >= min(a.num_layers, b.num_layers):
        fixes["layer"] = 0
    if view.direction == "reverse" and not (a.bidirectional and b.bidirectional):
        fixes["direction"] = "forward"
    if view.sample >= a.batch_size:
        fixes["sample"] = 0
    if view.t is not None and view.t >= a.seq_len:
        fixes["t"] = None
    warnings = [f"{k}={getattr(view, k)!r}: not in both models (layers {a.num_layers} / "
                f"{b.num_layers}, bidirectional {a.bidirectional} / {b.bidirectional}, batch "
                f"{a.batch_size}, T {a.seq_len}); using {v!r}" for k, v in fixes.items()]
    return dataclasses.replace(view, **fixes), warnings


def compare_from_query(query: dict) -> tuple[Config, Config, CompareView, list[str]]:
    """URL query parameters -> (A, B, view, warnings); anything bad falls back with a warning
    naming it. Missing `b.*` knobs are copied from A."""
    warnings: list[str] = []
    raw_sides: dict[str, dict] = {"a": {}, "b": {}}
    view = dataclasses.asdict(DEFAULT_VIEW)
    for key, raw in query.items():
        raw = S._single(raw)
        side, _, name = key.partition(".")
        if side in raw_sides and name in S.PARAM:
            if side == "b" and name in SHARED:
                warnings.append(f"URL parameter {key}={S._shown(raw)} ignored: the input is shared, "
                                f"B reads A's data (set a.{name})")
                continue
            try:
                raw_sides[side][name] = S.parse_value(S.PARAM[name], raw)
            except ValueError as e:
                fallback = (f"the default {getattr(S.DEFAULT_CONFIG, name)!r}" if side == "a"
                            else "A's value")
                warnings.append(f"URL parameter {key}={S._shown(raw)}: {e}; using {fallback}")
        elif key in VIEW_PARAM:
            try:
                view[key] = S.parse_value(VIEW_PARAM[key], raw)
            except ValueError as e:
                warnings.append(f"URL parameter {key}={S._shown(raw)}: {e}; using the default "
                                f"{getattr(DEFAULT_VIEW, key)!r}")
        else:
            warnings.append(f"unknown URL parameter {key!r} (value {S._shown(raw)}) ignored; the "
                            "Compare page reads a.<knob>, b.<knob> and " + ", ".join(VIEW_PARAM))
    a, more = S.build_config({**S.config_values(S.DEFAULT_CONFIG), **raw_sides["a"]})
    warnings += [_named("a", w) for w in more]
    b, more = S.build_config({**S.config_values(a), **raw_sides["b"]})
    warnings += [_named("b", w) for w in more]
    b = shared_with(a, b)
    view, more = fit_view(CompareView(**view), a, b)
    warnings += [f"URL parameter {w}" for w in more]
    return a, b, view, warnings


def _named(side: str, warning: str) -> str:
    """build_config's warning ('sigma=...: ...') with the side's prefix on the parameter."""
    if warning.startswith("these settings"):
        return f"URL parameters {side}.*: {warning}"
    return f"URL parameter {side}.{warning}"


def compare_to_query(a: Config, b: Config, view: CompareView = DEFAULT_VIEW) -> dict[str, str]:
    """(A, B, view) -> URL query parameters: every knob of A, B's own knobs, the non-default view."""
    q = {f"a.{p.name}": S.format_value(p, getattr(a, p.name)) for p in S.PARAMS}
    q.update({f"b.{name}": S.format_value(S.PARAM[name], getattr(b, name)) for name in OWN})
    q.update({p.name: S.format_value(p, getattr(view, p.name)) for p in VIEW_PARAMS
              if getattr(view, p.name) != getattr(DEFAULT_VIEW, p.name)})
    return q
