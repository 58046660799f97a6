"""Uploaded CSV files -> a numeric series, or a clear message saying why not. Pure: no Streamlit.

Only pandas.read_csv touches the bytes (nothing is unpickled or evaluated). Caps keep a page
responsive: at most MAX_BYTES and MAX_ROWS. A column counts as numeric when most of its
non-empty cells read as numbers; the rest of its cells (empty, text, inf) are missing values,
dropped or filled by linear interpolation, and the message says how many.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MAX_BYTES = 5_000_000  # 5 MB: years of daily prices are a few hundred KB
MAX_ROWS = 100_000
NUMERIC_SHARE = 0.5  # a column is numeric when more than half of its non-empty cells are numbers
FILL_MODES = ("drop", "interpolate")


class UploadError(ValueError):
    """The file cannot be used; the message is meant for the page as it is."""


@dataclass
class Table:
    """A parsed upload: its numeric columns as floats (missing values NaN)."""

    name: str
    rows: int
    columns: dict[str, np.ndarray]  # numeric column -> (rows,) float64, NaN where missing
    skipped: list[str] = field(default_factory=list)  # columns that are not numeric


@dataclass
class Series:
    """One column, cleaned: the values, and what was done to them."""

    column: str
    values: np.ndarray  # (n,) float64, all finite
    dropped: int  # missing cells (empty, non-numeric, infinite) left out
    filled: int  # missing cells filled by linear interpolation between their neighbours

    @property
    def missing(self) -> int:
        return self.dropped + self.filled

    @property
    def message(self) -> str:
        """One line for the page: how many values, and what happened to the missing ones."""
        s = f"{self.values.size:,} values from column '{self.column}'"
        if not self.missing:
            return s + "; no missing values."
        done = []
        if self.dropped:
            done.append(f"{self.dropped:,} dropped")
        if self.filled:
            done.append(f"{self.filled:,} filled by linear interpolation")
        return f"{s}; {self.missing:,} missing or non-numeric value(s): {', '.join(done)}."


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def read_table(data: bytes, name: str = "upload.csv") -> Table:
    """Parse CSV bytes (comma, semicolon or tab separated; a header row) -> Table, or UploadError."""
    if len(data) > MAX_BYTES:
        raise UploadError(f"'{name}' is {_mb(len(data))}; the limit is {_mb(MAX_BYTES)}. "
                          "Upload a shorter extract (a few columns, fewer rows).")
    if not data.strip():
        raise UploadError(f"'{name}' is empty: there is nothing to read.")
    if b"\x00" in data[:4096]:
        raise UploadError(f"'{name}' looks like a binary file (a spreadsheet?), not CSV text. "
                          "Export it as CSV first.")
    text = data.decode("utf-8-sig", errors="replace")
    try:
        sep = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    import pandas as pd  # on upload only: its import (0.5 s) stays off the cold start

    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, nrows=MAX_ROWS + 1, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise UploadError(f"'{name}' has no columns: is it empty?") from None
    except (pd.errors.ParserError, ValueError, UnicodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UploadError(f"Could not read '{name}' as CSV: {first}") from None
    if len(df) > MAX_ROWS:
        raise UploadError(f"'{name}' has more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}. "
                          "Upload a shorter extract.")
    if len(df) == 0:
        raise UploadError(f"'{name}' has a header but no rows of data.")
    columns, skipped = {}, []
    for col in df.columns:
        values = _numbers(df[col])
        cells = df[col]
        non_empty = int((cells.notna() & (cells.astype(str).str.strip() != "")).sum())
        if non_empty and np.isfinite(values).sum() > NUMERIC_SHARE * non_empty:
            columns[str(col)] = values
        else:
            skipped.append(str(col))
    if not columns:
        raise UploadError(f"'{name}' has no numeric column (columns: {', '.join(skipped[:8])}"
                          f"{'…' if len(skipped) > 8 else ''}). Values such as '1,234.5' or "
                          "'$12' are not read as numbers: export plain numbers.")
    return Table(name=name, rows=len(df), columns=columns, skipped=skipped)


def _numbers(col: pd.Series) -> np.ndarray:
    """A column as float64; anything that is not a finite number becomes NaN."""
    import pandas as pd

    v = np.array(pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    v[~np.isfinite(v)] = np.nan
    return v


def column_series(table: Table, column: str, fill: str = "drop", min_length: int = 2) -> Series:
    """One numeric column, cleaned (missing values dropped or interpolated), at least min_length
    values long; UploadError otherwise."""
    if column not in table.columns:
        raise UploadError(f"'{column}' is not a numeric column of '{table.name}'; numeric columns: "
                          f"{', '.join(table.columns)}.")
    if fill not in FILL_MODES:
        raise UploadError(f"missing values: choose one of {list(FILL_MODES)}, not {fill!r}")
    v = table.columns[column]
    bad = ~np.isfinite(v)
    missing = int(bad.sum())
    idx = np.flatnonzero(~bad)
    if fill == "drop" or missing == 0 or idx.size == 0:
        values, filled = v[~bad], 0
    else:  # fill between known values; missing cells before the first / after the last are dropped
        inside = np.arange(idx[0], idx[-1] + 1)
        values = np.interp(inside, idx, v[idx])
        filled = int(bad[inside].sum())
    if values.size < min_length:
        raise UploadError(f"Column '{column}' has {values.size:,} usable value(s) "
                          f"({missing:,} missing or non-numeric); training on windows of this "
                          f"length needs at least {min_length:,}. Use a longer series or a "
                          "shorter window T.")
    return Series(column=column, values=values, dropped=missing - filled, filled=filled)
