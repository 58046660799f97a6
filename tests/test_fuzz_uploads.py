"""Malformed uploads, CSV series (Train page) and config JSON (Explore's Export section), through
the parsers the pages call. Each file either parses to something valid, or is refused with one
clear message (the module's own error type, a sentence naming the problem); nothing else escapes
and nothing is half-applied (a refused config returns nothing; a parsed series is all finite).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dashboard import uploads as U
from dashboard.export import config_file
from engine import Config

ROWS_1E6 = "\n".join(["t,price"] + [f"{i},{i * 0.5}" for i in range(1_000_000)]).encode()


def _csv(*lines: str) -> bytes:
    return "\n".join(lines).encode()


BAD_CSV: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b"   \n\n  \n",
    "binary_zeros": bytes(1000),
    "binary_random": np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
    "png_header": b"\x89PNG\r\n\x1a\n" + bytes(200),
    "zip_header": b"PK\x03\x04" + bytes(300),
    "pickle": b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94.",
    "utf16": "price\n1\n2\n3\n".encode("utf-16"),
    "header_only": _csv("a,b,c"),
    "one_row": _csv("price", "1.0"),
    "text_only": _csv("name,city", "alice,paris", "bob,rome", "carol,oslo"),
    "all_empty_cells": _csv("a,b", ",", ",", ","),
    "all_nan": _csv("price", "nan", "NaN", "nan", "nan"),
    "all_inf": _csv("price", "inf", "-inf", "inf", "inf"),
    "ragged": _csv("a,b", "1,2,3,4", "5", "6,7,8"),
    "quotes_unbalanced": _csv('price', '"1', '2"', '"3'),
    "html": _csv("<html><body><script>alert(1)</script></body></html>"),
    "json_instead": b'{"price": [1, 2, 3]}',
    "semicolons_text": _csv("a;b", "x;y", "z;w"),
    "too_large": b"price\n" + b"1.0\n" * 1_400_000,  # > 5 MB
    "too_many_rows": ROWS_1E6,  # 10^6 rows (also > 5 MB)
    "long_line": b"price\n" + b"9" * 6_000_000,
    "nul_in_text": b"price\n1\n\x00\n3\n",
    "formula_injection": _csv("=cmd|' /C calc'!A0", "=1+1", "@SUM(1)"),
}

# Files that are usable but messy: they must parse, and the series must be honest about it.
MESSY_CSV: dict[str, tuple[bytes, int]] = {  # name -> (file, expected dropped count with "drop")
    "some_nan": (_csv("price", "1", "nan", "3", "NaN", "5", "6"), 2),
    "some_inf": (_csv("price", "1", "inf", "3", "-inf", "5", "6"), 2),
    "text_cells": (_csv("price", "1", "n/a", "3", "error", "5", "6"), 2),
}


def _bad_json() -> dict[str, bytes]:
    good = json.loads(config_file.config_json(Config()))
    deep: object = 1
    for _ in range(200):
        deep = {"a": deep}
    cases = {
        "empty": b"",
        "whitespace": b"  \n ",
        "binary": bytes(range(256)) * 4,
        "not_utf8": b'{"config": {"cell": "\xff\xfe"}}',
        "truncated": json.dumps(good).encode()[:-7],
        "array": b"[1, 2, 3]",
        "string": b'"rnn"',
        "number": b"42",
        "null": b"null",
        "deeply_nested": json.dumps(deep).encode(),
        "nested_list_bomb": b"[" * 10_000 + b"]" * 10_000,
        "huge": json.dumps({**good, "pad": "x" * 200_000}).encode(),
        "nan_value": json.dumps(good).replace('"sigma": 1.0', '"sigma": NaN').encode(),
        "inf_value": json.dumps(good).replace('"sigma": 1.0', '"sigma": Infinity').encode(),
        "unknown_key": json.dumps({**good, "config": {**good["config"], "evil": 1}}).encode(),
        "wrong_type_int": json.dumps({**good, "config": {**good["config"], "hidden_size": "32"}}).encode(),
        "wrong_type_bool": json.dumps({**good, "config": {**good["config"], "bidirectional": "yes"}}).encode(),
        "out_of_range": json.dumps({**good, "config": {**good["config"], "seq_len": 10**9}}).encode(),
        "negative": json.dumps({**good, "config": {**good["config"], "hidden_size": -4}}).encode(),
        "bad_choice": json.dumps({**good, "config": {**good["config"], "cell": "transformer"}}).encode(),
        "wrong_format": json.dumps({**good, "format": "pickle"}).encode(),
        "future_version": json.dumps({**good, "version": 99}).encode(),
        "config_not_object": json.dumps({**good, "config": [1, 2]}).encode(),
        "duplicate_keys": b'{"format": "unrolled-config", "format": "x", "version": 1, "config": {}}',
        "too_big_for_page": json.dumps({**good, "config": {**good["config"], "seq_len": 5000,
                                                          "hidden_size": 512, "batch_size": 64}}).encode(),
        "python_literal": b"{'config': {'cell': 'rnn'}}",
        "pickle_bytes": b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94.",
        "html": b"<script>alert(1)</script>",
    }
    return cases


def test_there_are_at_least_50_malformed_files():
    assert len(BAD_CSV) + len(MESSY_CSV) + len(_bad_json()) >= 50


def _clear(message: str) -> None:
    assert 15 <= len(message) <= 600, message
    assert "Traceback" not in message and "File \"" not in message, message


@pytest.mark.parametrize("name", list(BAD_CSV))
def test_bad_csv_is_refused_with_a_clear_message(name):
    data = BAD_CSV[name]
    try:
        table = U.read_table(data, f"{name}.csv")
    except U.UploadError as e:
        _clear(str(e))
        return
    # parsed: then no column may yield a usable series of the length training needs
    assert table.columns, "a table with no numeric column must be refused at read time"
    for column in table.columns:
        with pytest.raises(U.UploadError) as e:
            U.column_series(table, column, min_length=3)
        _clear(str(e.value))


@pytest.mark.parametrize("name", list(MESSY_CSV))
@pytest.mark.parametrize("fill", U.FILL_MODES)
def test_messy_csv_says_what_was_dropped_or_filled(name, fill):
    data, dropped = MESSY_CSV[name]
    s = U.column_series(U.read_table(data, f"{name}.csv"), "price", fill=fill, min_length=3)
    assert np.isfinite(s.values).all()
    assert s.missing == dropped and str(dropped) in s.message
    assert ("dropped" if fill == "drop" else "interpolation") in s.message


def test_a_latin1_file_with_numbers_is_read():
    table = U.read_table("pr\xefce\n1\n2\n3\n".encode("latin-1"), "latin1.csv")
    (column,) = table.columns
    assert U.column_series(table, column, min_length=3).values.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("name", list(_bad_json()))
def test_bad_config_json_is_refused_whole(name):
    data = _bad_json()[name]
    with pytest.raises(config_file.ConfigFileError) as e:
        config_file.load_config_json(data)  # raises before returning anything: nothing half-applied
    _clear(str(e.value))


def test_good_config_json_still_loads():
    data = config_file.config_json(Config(cell="gru", seed=3))
    config, _, warnings = config_file.load_config_json(data)
    assert config.cell == "gru" and config.seed == 3 and not warnings
    assert math.isfinite(config.sigma)
