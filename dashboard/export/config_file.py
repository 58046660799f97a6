"""The config file: a Config and View as a small versioned JSON document, written for download
and read back strictly (a file is applied whole or not at all), plus the download file names.
Pure, no Streamlit. Values are checked by the one schema machinery (state/schema.check_value).
"""

from __future__ import annotations

import dataclasses
import json

from dashboard.state import datasets, explore
from dashboard.state.limits import size_problem
from dashboard.state.schema import Param, View, check_value, fit_view
from engine import Config

FORMAT = "unrolled-config"  # the "format" field of a config file: what this JSON is
FORMAT_VERSION = 1  # bumped when a config file written today would be read differently
MAX_CONFIG_BYTES = 64_000  # a config file is a few hundred bytes; the sentence is at most 2000 chars
MAX_CONFIG_DEPTH = 3  # {"config": {"field": value}}: nothing in a config file nests deeper


class ConfigFileError(ValueError):
    """A config file that cannot be loaded; the message says why, and nothing was applied."""


def file_stem(config: Config) -> str:
    """A short, readable file name for downloads of this config."""
    what = config.cell if config.cell != "rnn" else f"rnn-{config.activation}"
    return f"unrolled_{what}_H{config.hidden_size}_T{config.seq_len}_seed{config.seed}"


def config_json(config: Config, view: View | None = None, data: dict | None = None) -> str:
    """The config (and view) as a versioned JSON document that load_config_json reads back.
    data: where an uploaded series came from ({"series", "file", "sha256", ...}: the file itself
    is not in the config), written for the record and not applied when loaded."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "config": config.to_dict(),
           "view": dataclasses.asdict(view if view is not None else explore.DEFAULT_VIEW)}
    if data:
        doc["data"] = dict(data)
    return json.dumps(doc, indent=2) + "\n"


def _uploaded_series(doc: dict) -> tuple[dict, list[str]]:
    """A config whose series was an uploaded file's column: the file is not in the config, so it
    reads the built-in series instead, with a warning naming the file (from "data")."""
    config = doc["config"]
    if not isinstance(config, dict) or not datasets.is_upload(config.get("series")):
        return config, []
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    file = f" of {_short(data['file'])}" if isinstance(data.get("file"), str) else ""
    sha = f" (SHA-256 {data['sha256'][:12]}…)" if isinstance(data.get("sha256"), str) else ""
    return ({**config, "series": datasets.DEFAULT_SERIES},
            [f"config file: series {_short(config['series'])} was a column{file}{sha}, an "
             "uploaded file a config does not hold; using the built-in "
             f"{datasets.DEFAULT_SERIES!r} (upload the file again to use it)"])


def _uploaded_weights(doc: dict) -> list[str]:
    """A config made with an uploaded model (Explore's "your model"): the file is not in the
    config, so its architecture opens with initialised weights; a warning names the file."""
    data = doc.get("data") if isinstance(doc.get("data"), dict) else {}
    if not isinstance(data.get("weights_file"), str):
        return []
    sha = (f" (SHA-256 {data['weights_sha256'][:12]}…)"
           if isinstance(data.get("weights_sha256"), str) else "")
    return [f"config file: made with your model {_short(data['weights_file'])}{sha}, a file a "
            "config does not hold; its architecture opens with initialised weights (upload the "
            "file again under Weights: your model)"]


def _reject_constant(name: str):
    raise ConfigFileError(f"config file: {name} is not a number a config can hold")


def _no_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ConfigFileError(f"config file: duplicate key(s) {dup}")
    return dict(pairs)


def _depth(obj, limit: int, level: int = 0) -> None:
    """Raise when containers nest deeper than `limit` (checked before any value is read)."""
    if isinstance(obj, (dict, list)):
        if level >= limit:
            raise ConfigFileError(f"config file: nested too deeply (more than {limit} levels); "
                                  "a config holds only plain values")
        for v in obj.values() if isinstance(obj, dict) else obj:
            _depth(v, limit, level + 1)


def _short(value) -> str:
    """A JSON value as quoted in a message (strings as repr), cut at 60 characters."""
    s = json.dumps(value) if not isinstance(value, str) else repr(value)
    return s if len(s) <= 60 else s[:57] + "..."


def _fields(where: str, given, schema: dict[str, Param], defaults: dict) -> dict:
    """The defaults updated with the object `given`, every value checked against its Param."""
    if not isinstance(given, dict):
        raise ConfigFileError(f"config file: {where!r} must be an object of field: value, "
                              f"got {type(given).__name__}")
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ConfigFileError(f"config file: unknown {where} field(s) {unknown}; known: "
                              f"{sorted(schema)}")
    values = dict(defaults)
    for name, value in given.items():
        try:
            values[name] = check_value(schema[name], value)
        except ValueError as e:  # "expected ...": what a valid value looks like
            raise ConfigFileError(f"config file: {where}.{name} = {_short(value)} is not valid: "
                                  f"{e}") from None
    return values


def load_config_json(data: bytes | str) -> tuple[Config, View, list[str]]:
    """A config file's bytes -> (Config, View, warnings). Anything wrong raises ConfigFileError
    with a message naming it, before anything is returned: a file is applied whole or not at all.
    Only json.loads reads it (never pickle or eval); fields missing from it take their defaults."""
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"config file: {len(data):,} bytes is too large for a config "
                              f"(at most {MAX_CONFIG_BYTES:,})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigFileError(f"config file: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ConfigFileError("config file: nested too deeply to be a config") from None
    except json.JSONDecodeError as e:
        raise ConfigFileError(f"config file: not valid JSON: {e.msg} (line {e.lineno}, "
                              f"column {e.colno})") from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise ConfigFileError(f"config file: {e}") from None
    _depth(doc, MAX_CONFIG_DEPTH)
    if not isinstance(doc, dict):
        raise ConfigFileError(f"config file: expected a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - {"format", "version", "config", "view", "data"})
    if unknown:
        raise ConfigFileError(f"config file: unknown key(s) {unknown}; expected format, version, "
                              "config, view and data")
    if not isinstance(doc.get("data", {}), dict):
        raise ConfigFileError("config file: \"data\" must be an object (where the series came "
                              "from)")
    if doc.get("format") != FORMAT:
        raise ConfigFileError(f"config file: \"format\" must be {FORMAT!r}, got "
                              f"{_short(doc.get('format'))}: is this an Unrolled config?")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ConfigFileError(f"config file: version {_short(version)} is not one this Unrolled "
                              f"reads (1 to {FORMAT_VERSION})")
    if "config" not in doc:
        raise ConfigFileError("config file: no \"config\" object")
    given, notes = _uploaded_series(doc)
    notes += _uploaded_weights(doc)
    values = _fields("config", given, explore.PARAM, explore.config_values(explore.DEFAULT_CONFIG))
    view = _fields("view", doc.get("view", {}), explore.VIEW_PARAM,
                   dataclasses.asdict(explore.DEFAULT_VIEW))
    try:
        config = Config(**values)
    except ValueError as e:  # fields fine alone, not together (e.g. delay >= seq_len)
        raise ConfigFileError(f"config file: {e}") from None
    problem = size_problem(config)
    if problem:
        raise ConfigFileError(f"config file: {problem}")
    view, warnings = fit_view(View(**view), config)
    return config, view, notes + [f"config file: {w}" for w in warnings]
