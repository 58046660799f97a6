"""dashboard.uploads: CSV bytes -> a numeric series, or a message a person can act on."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import uploads as U

PRICES = b"Date,Open,Close,Ticker\n2024-01-02,10.0,10.5,ABC\n2024-01-03,10.5,11.0,ABC\n" \
         b"2024-01-04,11.0,10.8,ABC\n2024-01-05,10.8,11.2,ABC\n"


def test_reads_a_price_file():
    t = U.read_table(PRICES, "prices.csv")
    assert list(t.columns) == ["Open", "Close"] and t.rows == 4
    assert t.skipped == ["Date", "Ticker"]
    s = U.column_series(t, "Close", min_length=3)
    np.testing.assert_array_equal(s.values, [10.5, 11.0, 10.8, 11.2])
    assert s.missing == 0 and "4 values from column 'Close'" in s.message


@pytest.mark.parametrize("sep", [b";", b"\t"])
def test_other_separators(sep):
    data = PRICES.replace(b",", sep)
    assert list(U.read_table(data).columns) == ["Open", "Close"]


def test_nans_dropped_or_filled_and_counted():
    data = b"x,y\n1,1\n2,\n3,oops\n4,4\n5,inf\n6,6\n"
    t = U.read_table(data)
    dropped = U.column_series(t, "y", fill="drop")
    np.testing.assert_array_equal(dropped.values, [1, 4, 6])
    assert dropped.dropped == 3 and "3 missing or non-numeric value(s): 3 dropped" in dropped.message
    filled = U.column_series(t, "y", fill="interpolate")
    np.testing.assert_array_equal(filled.values, [1, 2, 3, 4, 5, 6])
    assert filled.filled == 3 and "3 filled by linear interpolation" in filled.message


def test_interpolation_drops_what_lies_outside_the_data():
    t = U.read_table(b"a,y\n1,\n2,2\n3,\n4,4\n5,\n")
    s = U.column_series(t, "y", fill="interpolate")
    np.testing.assert_array_equal(s.values, [2, 3, 4])
    assert (s.dropped, s.filled) == (2, 1)


@pytest.mark.parametrize("data,words", [
    (b"", "empty"),
    (b"   \n\n ", "empty"),
    (b"a,b\n", "no rows"),
    (b"name,city\nann,paris\nbob,rome\n", "no numeric column"),
    (b"PK\x03\x04\x00\x00binary", "binary"),
])
def test_bad_files_get_a_message(data, words):
    with pytest.raises(U.UploadError, match=words):
        U.read_table(data, "f.csv")


def test_too_large_and_too_many_rows(monkeypatch):
    with pytest.raises(U.UploadError, match="the limit is 5.0 MB"):
        U.read_table(b"x\n" + b"1\n" * (U.MAX_BYTES // 2 + 1))
    monkeypatch.setattr(U, "MAX_ROWS", 10)
    with pytest.raises(U.UploadError, match="more than 10 rows"):
        U.read_table(b"x\n" + b"1\n" * 11)
    assert U.read_table(b"x\n" + b"1\n" * 10).rows == 10


def test_too_short():
    t = U.read_table(b"x\n1\n2\n\n3\nfoo\n")
    with pytest.raises(U.UploadError, match="3 usable value.*1 missing.*at least 52"):
        U.column_series(t, "x", min_length=52)


def test_unknown_column_and_fill():
    t = U.read_table(PRICES)
    with pytest.raises(U.UploadError, match="not a numeric column"):
        U.column_series(t, "Date")
    with pytest.raises(U.UploadError, match="choose one of"):
        U.column_series(t, "Close", fill="zero")


def test_a_mostly_text_column_is_not_numeric():
    t = U.read_table(b"a,b\n1,x\n2,y\n3,4\n")
    assert list(t.columns) == ["a"] and t.skipped == ["b"]
