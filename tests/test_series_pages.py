"""The 'series' task on Explore and Compare through AppTest: the built-in stock prices from a link,
a too-short series and a bad name as messages (never a traceback), an uploaded CSV."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from apptest_support import chart_specs, charts_by_key, ok, run_page
from streamlit.testing.v1 import AppTest

from dashboard.state import datasets
from engine import Config, unroll

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 60


def explore(query: dict) -> AppTest:
    return run_page(AppTest.from_file(APP, default_timeout=TIMEOUT), query)


def _compare_script():
    import streamlit as st

    from dashboard.screens import compare

    st.set_page_config(layout="wide")
    compare.page()


def compare(query: dict) -> AppTest:
    return run_page(AppTest.from_function(_compare_script, default_timeout=TIMEOUT), query)


def plain(elements) -> str:
    """Messages as shown (user text is Markdown-escaped: dashboard/safe.py)."""
    return re.sub(r"\\(.)", r"\1", " | ".join(e.value for e in elements))


def last_h(at: AppTest) -> np.ndarray:
    """h_t at the last step, as the 'values at t' chart draws it."""
    values = next(s for s in chart_specs(at)
                  if s["layout"]["title"]["text"].startswith("Values at step t"))
    return np.asarray(next(tr["y"] for tr in values["data"] if tr.get("name") == "h_t"))


def h_of(config: Config, values) -> np.ndarray:
    return unroll(config, series=values, influence=False, jacobian=False).hidden[0, -1, 0]


def test_explore_draws_a_built_in_stock_from_the_link():
    at = ok(explore({"task": "series", "series": "stocks:MSFT", "seq_len": "60"}))
    assert at.session_state["cfg_series"] == "stocks:MSFT" and at.query_params["series"] == "stocks:MSFT"
    config = Config(task="series", series="stocks:MSFT", seq_len=60)
    np.testing.assert_allclose(last_h(at), h_of(config, datasets.builtin_values("stocks:MSFT")),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(last_h(at), h_of(config, datasets.builtin_values("stocks:AAPL")),
                           atol=1e-4), "MSFT's prices, not AAPL's"
    caption = plain(at.caption)
    assert "MSFT · Microsoft: weekly closing price 2018-01-01 to 2019-12-30 (105 weeks" in caption
    box = at.sidebar.selectbox(key="cfg_series")
    assert not box.disabled and len(box.options) == 6
    box.set_value("stocks:AAPL")
    ok(at.run())
    assert at.query_params["series"] == "stocks:AAPL"
    np.testing.assert_allclose(last_h(at), h_of(config.replace(series="stocks:AAPL"),
                                                 datasets.builtin_values("stocks:AAPL")),
                               rtol=1e-5, atol=1e-6)


def test_too_long_for_105_weeks_is_a_message_that_says_what_fits():
    at = explore({"task": "series", "series": "stocks:AAPL", "seq_len": "200", "batch_size": "3"})
    assert not at.exception and not chart_specs(at)
    msg = plain(at.error)
    assert "AAPL · Apple (built in) has 105 values" in msg and "T + batch = 203" in msg
    assert "lower T to at most 102 (with batch 3)" in msg
    assert at.query_params["seq_len"] == "200", "the link keeps what was asked for"


def test_bad_series_in_the_link_warns_and_draws_aapl():
    at = explore({"task": "series", "series": "stocks:TSLA", "seq_len": "40"})
    ok(at)
    text = plain(at.warning)
    assert "series='stocks:TSLA'" in text and "using the built-in 'stocks:AAPL'" in text
    assert at.query_params["series"] == "stocks:AAPL" and chart_specs(at)
    at = ok(explore({"task": "series", "series": "upload:Close", "seq_len": "40"}))
    assert "an uploaded file is not part of a link" in plain(at.warning)


PRICES = "Date,Open,Close,Note\n" + "\n".join(
    f"2024-{1 + d // 28:02d}-{1 + d % 28:02d},{100 + d},{'n/a' if d == 7 else 101 + d + (d % 5) ** 2},x"
    for d in range(80)) + "\n"


def test_an_uploaded_csv_drives_the_page_and_leaves_the_link():
    at = ok(explore({"task": "series", "seq_len": "50"}))
    at.file_uploader(key="series_upload").set_value(("prices.csv", PRICES.encode(), "text/csv"))
    ok(at.run())
    assert at.session_state["cfg_series"] == "upload:Close", "a new file reads its last column"
    assert at.query_params["series"] == "upload:Close"
    caption = plain(at.caption)
    assert "Series from your file 'prices.csv'" in caption
    assert "79 values from column 'Close'" in caption and "1 dropped" in caption
    assert "left out: Date, Note" in caption
    close = np.array([101 + d + (d % 5) ** 2 for d in range(80) if d != 7], dtype=float)
    config = Config(task="series", series="upload:Close", seq_len=50)
    np.testing.assert_allclose(last_h(at), h_of(config, close), rtol=1e-5, atol=1e-6)
    assert "not part of the link" in plain(at.sidebar.caption)
    at.sidebar.selectbox(key="cfg_series").set_value("upload:Open")
    ok(at.run())
    np.testing.assert_allclose(last_h(at), h_of(config.replace(series="upload:Open"),
                                                 np.arange(100.0, 180.0)), rtol=1e-5, atol=1e-6)
    at.run()  # the selector reran the views alone: a full run brings the sidebar back
    at.file_uploader(key="series_upload").set_value(None)
    ok(at.run())
    assert at.session_state["cfg_series"] == "stocks:AAPL"
    assert "'upload:Open': its file is no longer uploaded" in plain(at.warning)


def test_bad_uploads_are_messages():
    at = ok(explore({"task": "series", "seq_len": "50"}))
    short = "t,y\n" + "\n".join(f"{i},{i * 2}" for i in range(20)) + "\n"
    at.file_uploader(key="series_upload").set_value(("short.csv", short.encode(), "text/csv"))
    at.run()
    assert not at.exception and not chart_specs(at)
    assert "y (your file) has 20 values" in plain(at.error) and "at most 19" in plain(at.error)
    at.file_uploader(key="series_upload").set_value(("words.csv", b"a,b\nx,y\nz,w\n", "text/csv"))
    at.run()
    assert not at.exception and "has no numeric column" in plain(at.error)
    assert at.session_state["cfg_series"] == "stocks:AAPL" and chart_specs(at)


def test_compare_reads_one_series_for_a_and_b():
    at = ok(compare({"a.task": "series", "a.series": "stocks:NFLX", "a.seq_len": "50",
                     "b.cell": "lstm"}))
    figs = charts_by_key(at)
    assert {"cmp_grad_a", "cmp_grad_b", "cmp_norm_a", "cmp_norm_b", "cmp_ratio"} <= set(figs)
    assert at.query_params["a.series"] == "stocks:NFLX" and "b.series" not in at.query_params
    box = at.sidebar.selectbox(key="cmp_a_series")
    assert not box.disabled and box.value == "stocks:NFLX"
    assert "NFLX · Netflix: weekly closing price" in plain(at.caption)
    at.file_uploader(key="cmp_series_upload").set_value(("prices.csv", PRICES.encode(), "text/csv"))
    ok(at.run())
    assert at.query_params["a.series"] == "upload:Close" and "from your file" in plain(at.caption)
    at = compare({"a.task": "series", "a.seq_len": "120"})
    assert not at.exception and "has 105 values" in plain(at.error) and not charts_by_key(at)
