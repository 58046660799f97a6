"""The data the 'series' task reads, by name: six real stock prices built in, or a column of an
uploaded CSV. Pure: no Streamlit.

Built in (no upload, no network): the weekly closing prices of six technology stocks that ship
inside the plotly package (`plotly.data.stocks()`: 105 weeks from 2018-01-01 to 2019-12-30, each
column divided by its first week, so every series starts at 1.0). A name is `stocks:<TICKER>`.
An uploaded file's column is `upload:<column>`: a link cannot carry the file, so such a name never
parses from a URL (read_query falls back to the built-in series with a note saying why).

The engine never imports plotly: the page loads the values here and hands them to
`engine.unroll(config, series=values)`, and `Config.series` records the name.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine import Config

STOCKS = ("GOOG", "AAPL", "AMZN", "FB", "NFLX", "MSFT")  # plotly.data.stocks()'s columns
COMPANIES = {"GOOG": "Alphabet", "AAPL": "Apple", "AMZN": "Amazon", "FB": "Facebook",
             "NFLX": "Netflix", "MSFT": "Microsoft"}
PREFIX = "stocks:"
UPLOAD = "upload:"  # an uploaded file's column: never part of a link
BUILTIN = tuple(PREFIX + s for s in STOCKS)
DEFAULT_SERIES = "stocks:AAPL"  # what a 'series' task reads when no series is named


@lru_cache(maxsize=1)
def _stocks() -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    from plotly import data  # the dashboard's dependency, not the engine's

    df = data.stocks()  # date, then one column per ticker: (105, 7)
    columns = {}
    for name in STOCKS:
        v = df[name].to_numpy(dtype=np.float64).copy()  # (105,)
        v.flags.writeable = False  # shared by every caller: nobody may change it
        columns[name] = v
    return tuple(df["date"].astype(str)), columns


def stock_dates() -> tuple[str, ...]:
    """The 105 weeks' dates, 'YYYY-MM-DD' (Mondays of 2018 and 2019)."""
    return _stocks()[0]


def stock(ticker: str) -> np.ndarray:
    """One built-in stock's weekly closes, (105,) float64, normalised to 1.0 in the first week."""
    columns = _stocks()[1]
    if ticker not in columns:
        raise ValueError(f"no built-in stock {ticker!r}; built in: {', '.join(STOCKS)}")
    return columns[ticker]


def is_builtin(name) -> bool:
    return name in BUILTIN


def is_upload(name) -> bool:
    return isinstance(name, str) and name.startswith(UPLOAD)


def upload_name(column: str) -> str:
    """The series name of an uploaded file's column."""
    return UPLOAD + column


def builtin_values(name: str) -> np.ndarray:
    """The values of a built-in series name ('stocks:AAPL'); ValueError naming what is built in."""
    if not is_builtin(name):
        raise ValueError(f"series {name!r} is not built in; built in: {', '.join(BUILTIN)}")
    return stock(name[len(PREFIX):])


def title(name: str) -> str:
    """What a series selector shows for a name: 'AAPL · Apple (built in)', 'Close (your file)'."""
    if is_builtin(name):
        ticker = name[len(PREFIX):]
        return f"{ticker} · {COMPANIES[ticker]} (built in)"
    if is_upload(name):
        return f"{name[len(UPLOAD):]} (your file)"
    return str(name)


def describe(name: str, n: int, file: str | None = None) -> str:
    """One line for the page: what the series is and how the task reads it."""
    if is_builtin(name):
        dates = stock_dates()
        what = (f"{title(name).split(' (')[0]}: weekly closing price {dates[0]} to {dates[-1]} "
                f"({n} weeks, divided by the first week; plotly.data.stocks)")
    else:
        what = f"from your file {file!r}" if file else f"column '{name[len(UPLOAD):]}' ({n:,} values)"
    return (f"Series {what}. The task z-scores it and reads x_t = s_t with target s_(t+1); "
            "sample b starts b steps later.")


def length_problem(name: str, n: int, config: Config) -> str | None:
    """Why this series is too short for T and the batch (the task needs T + batch values: sample
    b reads s_b .. s_(b+T)), with what would fit; None when it fits."""
    T, B = config.seq_len, config.batch_size
    if n >= T + B:
        return None
    most_T = n - B
    fit = (f"lower T to at most {most_T} (with batch {B})" if most_T >= 1
           else f"set the batch to 1 and T to at most {n - 1}" if n >= 2
           else "it needs at least 2 values")
    return (f"The series {title(name)} has {n:,} values, but T = {T} with batch {B} needs "
            f"T + batch = {T + B} (sample b reads steps b to b + T). To use it, {fit}, or pick "
            "a longer series.")
