"""The data of a 'series' task on the page: the CSV uploader every page shares (Train, Explore,
Compare), the series selector (six built-in stocks plus an uploaded file's columns) and the values
handed to the engine. Thin: parsing is dashboard/uploads.py, the names are state/datasets.py.

An upload lives in the session, never in the link: the link names its column (`upload:<column>`),
and a page opened from it reads the built-in series instead, with a warning saying why.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from dashboard import uploads as U
from dashboard.safe import md
from dashboard.state import datasets
from dashboard.state.limits import CACHE_TTL
from dashboard.state.schema import Param
from dashboard.ui.widgets import param_widget
from engine import Config

NOT_IN_LINK = ("A file is not part of the link in the address bar: the link names its column, and "
               "opened elsewhere it reads the built-in AAPL instead (with a note).")
FILL_TITLES = {"drop": "drop them", "interpolate": "fill (interpolate)"}


@dataclass(frozen=True)
class Upload:
    """A parsed upload: its file name, the SHA-256 of its bytes, its numeric columns."""

    name: str
    sha256: str
    table: U.Table


@dataclass(frozen=True)
class Keys:
    """Session-state keys of one page's series widgets."""

    series: str  # the series selector (a knob: Config.series)
    task: str  # the task knob (the uploader shows for task 'series' only)
    upload: str  # the file uploader
    fill: str  # what to do with missing cells
    seen: str  # the SHA-256 of the last file seen: a new file selects its last column

    @property
    def gone(self) -> str:
        """Session-state key of the note that a selected file's column fell back (shown once)."""
        return f"{self.seen}_gone"


@dataclass(frozen=True)
class SeriesData:
    """What a page needs to run a 'series' task: the values, or the problem; a line saying what
    the data is; and, for the config export, where it came from."""

    values: np.ndarray | None = None  # (n,) float64, all finite
    problem: str | None = None  # why it cannot run (shown instead of the plots)
    caption: str | None = None  # what the series is and how the task reads it
    warning: str | None = None  # the selected file's column is gone: the built-in series is read
    source: dict | None = None  # {"series", "file", "sha256", "column", ...} for the export


@st.cache_data(max_entries=4, ttl=CACHE_TTL, show_spinner=False)
def read(data: bytes, name: str) -> tuple[U.Table, str]:
    """A CSV upload parsed (dashboard/uploads.read_table) and the SHA-256 of its bytes."""
    return U.read_table(data, name), hashlib.sha256(data).hexdigest()


def held(upload_key: str) -> Upload | None:
    """The file the uploader at upload_key holds, parsed; None when none (or unreadable: file_ui
    shows why)."""
    up = st.session_state.get(upload_key)
    if up is None:
        return None
    try:
        table, sha = read(up.getvalue(), up.name)
    except U.UploadError:
        return None
    return Upload(up.name, sha, table)


def file_ui(key: str, label: str, note: str) -> tuple[Upload | None, str | None]:
    """The CSV uploader: (upload, None); (None, None) without a file; (None, message) for a file
    that cannot be read (the message is also shown)."""
    up = st.file_uploader(label, type=["csv", "txt"], key=key,
                          max_upload_size=U.MAX_BYTES // 1_000_000,
                          help=f"At most {U.MAX_BYTES // 1_000_000} MB and {U.MAX_ROWS:,} rows; a "
                               f"header row names the columns. {note}".strip())
    if up is None:
        return None, None
    try:
        table, sha = read(up.getvalue(), up.name)
    except U.UploadError as e:
        st.error(md(str(e)), icon=":material/error:")
        return None, str(e)
    return Upload(up.name, sha, table), None


def fill_ui(key: str, container=st) -> str:
    """What to do with empty or non-numeric cells: drop them, or interpolate."""
    return container.radio("Missing or non-numeric cells", U.FILL_MODES, key=key, horizontal=True,
                           format_func=FILL_TITLES.get)


def column_note(s: U.Series, table: U.Table) -> str:
    """How many values a column gave and what was done to the missing ones; the columns left out."""
    note = s.message
    if table.skipped:
        note += f" Columns that are not numbers were left out: {', '.join(table.skipped[:6])}."
    return note


def series_widget(p: Param, key: str, *, keys: Keys, disabled: bool = False,
                  on_change=None) -> None:
    """The series selector (built-in stocks and an uploaded file's columns) and, for a 'series'
    task, the uploader under it. A new file selects its last column (e.g. Close after Open); a
    selection whose file is gone falls back to the built-in series."""
    ss = st.session_state
    upload = held(keys.upload)
    names = datasets.BUILTIN + tuple(datasets.upload_name(c) for c in (upload.table.columns
                                                                       if upload else ()))
    if upload is None:
        ss.pop(keys.seen, None)
    elif ss.get(keys.seen) != upload.sha256:
        ss[keys.seen] = upload.sha256
        ss[key] = names[-1]
    if ss.get(key) is not None and ss[key] not in names:  # its file was removed, or is gone
        ss[keys.gone] = (f"series {ss[key]!r}: its file is no longer uploaded (a file lives only "
                         f"in this page's session); using the built-in {datasets.DEFAULT_SERIES!r}")
        ss[key] = datasets.DEFAULT_SERIES
    if ss.get(keys.task) == "series" and ss.get(key) is None:
        ss[key] = datasets.DEFAULT_SERIES
    choices = dataclasses.replace(p, choices=names,
                                  titles=tuple((n, datasets.title(n)) for n in names))
    param_widget(choices, key, disabled=disabled, on_change=on_change)
    if ss.get(keys.task) != "series":
        return
    file_ui(keys.upload, "Or upload a CSV (e.g. daily closing prices)", "")
    st.caption(NOT_IN_LINK)
    if upload is not None:
        fill_ui(keys.fill)


def series_data(config: Config, keys: Keys) -> SeriesData:
    """The values a 'series' task reads (built in, or the uploaded column), or the problem that
    stops it (a column that is not numeric enough, a series shorter than T + batch); empty for
    other tasks."""
    warning = st.session_state.pop(keys.gone, None)
    if config.task != "series":
        return SeriesData(warning=warning)
    name = config.series or datasets.DEFAULT_SERIES
    if datasets.is_upload(name):
        upload = held(keys.upload)
        column = name[len(datasets.UPLOAD):]
        if upload is None:
            return SeriesData(problem=f"The series {datasets.title(name)} came from an uploaded "
                              "file that is no longer here: upload it again, or pick a built-in "
                              "series.", warning=warning)
        fill = st.session_state.get(keys.fill) or U.FILL_MODES[0]
        try:
            s = U.column_series(upload.table, column, fill=fill)
        except U.UploadError as e:
            return SeriesData(problem=str(e), warning=warning)
        values, file = s.values, upload.name
        note = " " + column_note(s, upload.table)
        source = {"series": name, "file": upload.name, "sha256": upload.sha256,
                  "values": int(values.size), "missing": fill, "dropped": s.dropped,
                  "filled": s.filled}
    else:
        values, note, file = datasets.builtin_values(name), "", None
        source = None  # Config.series says it all
    problem = datasets.length_problem(name, values.size, config)
    return SeriesData(values=None if problem else values, problem=problem,
                      caption=datasets.describe(name, values.size, file) + note, source=source,
                      warning=warning)


def shown_series_data(config: Config, keys: Keys) -> SeriesData | None:
    """series_data with its warning and problem shown on the page; None when the run cannot go
    on (the problem says why)."""
    data = series_data(config, keys)
    if data.warning:
        st.warning(md(data.warning), icon=":material/warning:")
    if data.problem:
        st.error(md(data.problem), icon=":material/error:")
        return None
    return data
