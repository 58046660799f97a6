"""Compare page state: two configurations A and B plus a shared view <-> URL query parameters.

Pure functions, no Streamlit. Reuses the Explore schema (state/explore.py: PARAMS, build_config)
with the prefixes `a.` and `b.`, read by the one parser (state/schema.py). The input knobs (task,
T, sizes, task parameters: the "input" group) are SHARED: B reads exactly A's x_t and y_t, so they are written once, as
`a.*`; `b.*` holds B's model, initialization and loss knobs. A link may leave some (or all) `b.*`
out: B then starts as a copy of A. Bad or unknown values fall back with a warning that names the
prefixed parameter (`a.sigma`, `b.cell`).
"""

from __future__ import annotations

import dataclasses

from dashboard.state import explore as S
from dashboard.state.schema import Param, View, fit_view, format_value, read_query, shown, to_query
from engine import Config

SHARED = tuple(p.name for p in S.PARAMS if p.group == "input")  # B reads A's inputs and targets
OWN = tuple(p.name for p in S.PARAMS if p.group != "input")  # what B may change

COMPARE_VIEWS = ("gradient", "hidden", "gates", "animate")
COMPARE_VIEW_TITLES = {"gradient": "Gradient through time", "hidden": "Hidden states",
                       "gates": "Gates", "animate": "Animate"}

VIEW_PARAMS: tuple[Param, ...] = (
    Param("view", "view", "View", "Which paired plots are shown.", "choice", COMPARE_VIEWS),
    S.VIEW_PARAM["layer"], S.VIEW_PARAM["direction"], S.VIEW_PARAM["sample"], S.VIEW_PARAM["t"],
    S.VIEW_PARAM["present"],
)
VIEW_PARAM = {p.name: p for p in VIEW_PARAMS}


DEFAULT_VIEW = View()


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


def compare_from_query(query: dict) -> tuple[Config, Config, View, list[str]]:
    """URL query parameters -> (A, B, view, warnings); anything bad falls back with a warning
    naming it. Missing `b.*` knobs are copied from A."""
    shared = {f"b.{name}" for name in SHARED}
    fields = {**{f"a.{p.name}": p for p in S.PARAMS},
              **{f"b.{name}": S.PARAM[name] for name in OWN}, **VIEW_PARAM}
    defaults = {**{f"a.{k}": v for k, v in S.config_values(S.DEFAULT_CONFIG).items()},
                **dataclasses.asdict(DEFAULT_VIEW)}
    warnings = [f"URL parameter {key}={shown(raw)} ignored: the input is shared, B reads A's "
                f"data (set a.{key[2:]})" for key, raw in query.items() if key in shared]
    query, more = S.series_from_link(query, "a.series")
    warnings += more
    given, more = read_query({k: v for k, v in query.items() if k not in shared}, fields, defaults,
                             fallbacks={f"b.{name}": "A's value" for name in OWN},
                             reads="the Compare page reads a.<knob>, b.<knob> and "
                                   + ", ".join(VIEW_PARAM))
    warnings += more

    def side(prefix: str) -> dict:
        return {k[2:]: v for k, v in given.items() if k.startswith(prefix)}

    a, more = S.build_config({**S.config_values(S.DEFAULT_CONFIG), **S.named_series(side("a."))})
    warnings += [_named("a", w) for w in more]
    b, more = S.build_config({**S.config_values(a), **side("b.")})
    warnings += [_named("b", w) for w in more]
    b = shared_with(a, b)
    view = View(**{**dataclasses.asdict(DEFAULT_VIEW),
                   **{k: v for k, v in given.items() if k in VIEW_PARAM}})
    view, more = fit_view(view, a, b)
    warnings += [f"URL parameter {w}" for w in more]
    return a, b, view, warnings


def _named(side: str, warning: str) -> str:
    """build_config's warning ('sigma=...: ...') with the side's prefix on the parameter."""
    if warning.startswith("these settings"):
        return f"URL parameters {side}.*: {warning}"
    return f"URL parameter {side}.{warning}"


def compare_to_query(a: Config, b: Config, view: View = DEFAULT_VIEW) -> dict[str, str]:
    """(A, B, view) -> URL query parameters: every knob of A, B's own knobs, the non-default view."""
    q = {f"a.{k}": v for k, v in S.config_to_query(a).items()}
    q.update({f"b.{name}": format_value(S.PARAM[name], getattr(b, name)) for name in OWN})
    q.update(to_query(VIEW_PARAMS, dataclasses.asdict(view), dataclasses.asdict(DEFAULT_VIEW)))
    return q
