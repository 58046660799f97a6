"""The knob schema machinery every page shares: one Param per knob, one parser, one View.

A page declares its knobs as Params (widget kind, group, label, tooltip, bounds); everything else
is derived from them here: parsing a URL value (parse_value, a string) or a config file's value
(check_value, typed JSON), writing it back (format_value), reading a whole query string with a
warning for every bad or unknown parameter (read_query), and the widgets (dashboard/ui/widgets.py).
Pure: no Streamlit.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from engine import Config

DIRECTIONS = ("forward", "reverse")


@dataclass(frozen=True)
class Param:
    """One knob: how it is shown (group, label, help), checked (kind, choices, lo..hi) and typed."""

    name: str
    group: str
    label: str
    help: str
    kind: str  # "choice" | "choices" (a comma-separated subset, at most hi) | "int" | "float" | "bool" | "text"
    choices: tuple = ()
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    optional: bool = False  # None allowed: an empty widget, "none" in the URL
    titles: tuple = ()  # (choice, what the widget shows for it) pairs, where they differ

    def expected(self) -> str:
        """What a valid value looks like, for error messages."""
        bounds = f"[{self.lo:g}, {self.hi:g}]" if self.lo is not None else ""
        return {"choice": f"one of {list(self.choices)}",
                "choices": f"1 to {self.hi or 0:g} different of {list(self.choices)}, comma-separated",
                "bool": "true or false", "int": f"an integer in {bounds}",
                "float": f"a number in {bounds}",
                "text": f"text with at least one word, at most {self.hi or 0:g} characters",
                }[self.kind]


def check_value(p: Param, value) -> object:
    """A typed value (e.g. from JSON) checked against p; ValueError says what was expected."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None and p.optional:
        return None
    if p.kind == "choice" and isinstance(value, str) and value in p.choices:
        return value
    if p.kind == "choices" and isinstance(value, (list, tuple)) and 1 <= len(value) <= p.hi \
            and len(set(value)) == len(value) and all(v in p.choices for v in value):
        return tuple(value)
    if p.kind == "bool" and isinstance(value, bool):
        return value
    if p.kind == "int" and number and isinstance(value, int) and p.lo <= value <= p.hi:
        return value
    if p.kind == "float" and number and math.isfinite(value) and p.lo <= value <= p.hi:
        return float(value)  # JSON writes 2.0 as 2: the widget wants a float
    if p.kind == "text" and isinstance(value, str) and value.split() and len(value) <= p.hi:
        return value
    raise ValueError(f"expected {p.expected()}" + (" (or null)" if p.optional else ""))


def parse_value(p: Param, raw) -> object:
    """A URL string -> the typed value of p (check_value's rules); ValueError says what was expected."""
    s = str(raw).strip()
    if p.optional and s.lower() in ("", "none"):
        return None
    value: object = s
    if p.kind == "choices":
        value = tuple(k.strip() for k in s.split(",") if k.strip())
    elif p.kind == "bool":
        value = {"true": True, "1": True, "yes": True, "on": True,
                 "false": False, "0": False, "no": False, "off": False}.get(s.lower(), s)
    elif p.kind == "int" and re.fullmatch(r"[+-]?\d+", s):
        value = int(s)
    elif p.kind == "float":
        try:
            value = float(s)
        except ValueError:
            pass
    return check_value(p, value)


def format_value(p: Param, value) -> str:
    """The URL string of a typed value (exact: floats in their shortest round-trip form)."""
    if value is None:
        return "none"
    if p.kind == "bool":
        return "true" if value else "false"
    if p.kind == "float":
        return repr(float(value))
    if p.kind == "choices":
        return ",".join(value)
    return str(value)


def first(raw):
    """A query value may be a list (repeated key): the last one wins, like st.query_params."""
    return raw[-1] if isinstance(raw, (list, tuple)) and raw else raw


def shown(raw) -> str:
    """A user's value as quoted in a message: repr, cut at 60 characters."""
    s = str(raw)
    return repr(s if len(s) <= 60 else s[:57] + "...")


def read_query(query: Mapping, fields: Mapping[str, Param], defaults: Mapping[str, object], *,
               fallbacks: Mapping[str, str] | None = None, ignore=(), reads: str = ""
               ) -> tuple[dict, list[str]]:
    """The one URL parser: query parameters -> ({key: typed value} for the valid ones, warnings).

    fields maps each URL key to its Param; a bad value is left out with a warning that names the
    key, the value and what replaces it (`fallbacks[key]`, else the default); an unknown key is
    ignored with a warning (`reads` says what the page does read), except those in `ignore`."""
    values: dict = {}
    warnings: list[str] = []
    for key, raw in query.items():
        raw = first(raw)
        p = fields.get(key)
        if p is None:
            if key not in ignore:
                warnings.append(f"unknown URL parameter {key!r} (value {shown(raw)}) ignored"
                                + (f"; {reads}" if reads else ""))
            continue
        try:
            values[key] = parse_value(p, raw)
        except ValueError as e:
            fallback = (fallbacks or {}).get(key)
            if fallback is None:
                d = defaults[key]
                fallback = f"the default {format_value(p, d) if p.kind == 'choices' else d!r}"
            warnings.append(f"URL parameter {key}={shown(raw)}: {e}; using {fallback}")
    return values, warnings


def to_query(params, values: Mapping[str, object], defaults: Mapping[str, object] | None = None
             ) -> dict[str, str]:
    """params' values as URL query parameters: every one, or (with defaults) those that differ."""
    return {p.name: format_value(p, values[p.name]) for p in params
            if defaults is None or values[p.name] != defaults[p.name]}


@dataclass(frozen=True)
class View:
    """What is looked at (not computed), on every page: the tab, layer, direction, sample, step t."""

    view: str = "gradient"  # the tab shown first: the gradient through time is the point
    layer: int = 0
    direction: str = "forward"
    sample: int = 0
    t: int | None = None  # None: the last step, where the loss of mode 'last' sits
    influence: bool = False  # heavy views are off until asked for (Explore only)
    jacobian: bool = False
    present: bool = False  # presentation mode: how things are drawn, never what is computed

    def cursor(self, seq_len: int) -> int:
        """The step the cursor marks, inside 0..T-1."""
        return seq_len - 1 if self.t is None else min(max(self.t, 0), seq_len - 1)


def fit_view(view: View, *configs: Config) -> tuple[View, list[str]]:
    """Clamp a view to what every config has (layers, directions, samples, steps), with warnings
    (one config on Explore; A and B, which share their input, on Compare)."""
    fixes: dict = {}
    if view.layer >= min(c.num_layers for c in configs):
        fixes["layer"] = 0
    if view.direction == "reverse" and not all(c.bidirectional for c in configs):
        fixes["direction"] = "forward"
    if view.sample >= configs[0].batch_size:
        fixes["sample"] = 0
    if view.t is not None and view.t >= configs[0].seq_len:
        fixes["t"] = None

    def each(name: str) -> str:
        return " / ".join(str(getattr(c, name)) for c in configs)

    which = "this model" if len(configs) == 1 else "both models"
    warnings = [f"{k}={getattr(view, k)!r}: not in {which} (layers {each('num_layers')}, "
                f"bidirectional {each('bidirectional')}, batch {configs[0].batch_size}, "
                f"T {configs[0].seq_len}); using {v!r}" for k, v in fixes.items()]
    return dataclasses.replace(view, **fixes), warnings
