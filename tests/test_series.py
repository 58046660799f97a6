"""The series task's data: the six built-in stock prices (state/datasets.py), the `series` knob in
links and config files, and what the engine makes of the values. Pure: no page is run here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.export import config_file
from dashboard.state import compare as CS
from dashboard.state import datasets
from dashboard.state import explore as S
from engine import Config, unroll
from engine.inputs import make_task


def test_six_stocks_of_105_weeks_normalised_to_the_first():
    from plotly import data

    raw = data.stocks()  # the source, read independently of the module under test
    assert datasets.STOCKS == tuple(raw.columns[1:])
    assert datasets.BUILTIN == tuple(f"stocks:{t}" for t in datasets.STOCKS)
    dates = np.array(datasets.stock_dates(), dtype="datetime64[D]")
    assert dates.shape == (105,) and str(dates[0]) == "2018-01-01" and str(dates[-1]) == "2019-12-30"
    assert (np.diff(dates) == np.timedelta64(7, "D")).all(), "weekly, no gaps"
    for name in datasets.BUILTIN:
        v = datasets.builtin_values(name)
        assert v.shape == (105,) and v.dtype == np.float64 and np.isfinite(v).all()
        assert v[0] == 1.0 and (v > 0.5).all(), "divided by the first week's price"
        np.testing.assert_array_equal(v, raw[name[len("stocks:"):]].to_numpy())
        assert not v.flags.writeable, "shared by every caller: read-only"
    assert datasets.builtin_values("stocks:AAPL")[-1] == pytest.approx(1.678)
    assert not np.array_equal(datasets.stock("AAPL"), datasets.stock("MSFT"))


@pytest.mark.parametrize("name", ["stocks:TSLA", "stocks:aapl", "AAPL", "upload:Close", ""])
def test_an_unknown_name_is_refused_naming_what_is_built_in(name):
    with pytest.raises(ValueError, match="built in: stocks:GOOG"):
        datasets.builtin_values(name)


def test_the_task_z_scores_and_forecasts_the_next_week():
    """engine/inputs.series_task on AAPL: z-scored over all 105 weeks, x_t = s_t, target s_{t+1},
    sample b starting b weeks later."""
    s = datasets.builtin_values("stocks:AAPL")
    z = (s - s.mean()) / s.std()
    config = Config(task="series", series="stocks:AAPL", seq_len=60, batch_size=3)
    x, y = (a.numpy() for a in make_task(config, series=s))
    assert x.shape == y.shape == (60, 3, 1)
    for b in range(3):
        np.testing.assert_allclose(x[:, b, 0], z[b:b + 60], rtol=1e-12)
        np.testing.assert_allclose(y[:, b, 0], z[b + 1:b + 61], rtol=1e-12)
    trace = unroll(config, series=s, influence=False, jacobian=False)
    assert trace.config.series == "stocks:AAPL", "the trace records what it read"
    with pytest.raises(ValueError, match="needs data.*'stocks:AAPL'"):
        make_task(config)


def test_engine_config_names_the_series_or_leaves_it_unnamed():
    assert Config().series is None
    assert Config(series="upload:Close price").series == "upload:Close price"
    for bad in ("", "  ", 3, "x" * 301):
        with pytest.raises(ValueError, match="Config.series"):
            Config(series=bad)


def test_length_problem_says_what_fits():
    c = Config(task="series", seq_len=104, batch_size=1)
    assert datasets.length_problem("stocks:AAPL", 105, c) is None, "T + batch = 105 fits"
    msg = datasets.length_problem("stocks:AAPL", 105, c.replace(batch_size=2))
    assert "105 values" in msg and "T + batch = 106" in msg and "at most 103 (with batch 2)" in msg
    msg = datasets.length_problem("upload:y", 5, c.replace(seq_len=3, batch_size=8))
    assert "y (your file)" in msg and "batch to 1 and T to at most 4" in msg


def test_series_link_round_trip():
    config = Config(task="series", series="stocks:AAPL", seq_len=80, batch_size=2)
    q = S.config_to_query(config)
    assert q["series"] == "stocks:AAPL" and q["task"] == "series"
    assert S.config_from_query(q) == (config, [])
    a, b = config, config.replace(cell="lstm")
    assert CS.compare_from_query(CS.compare_to_query(a, b))[:2] == (a, b)
    assert "series" in CS.SHARED, "A and B read the same series"


def test_a_series_task_without_a_name_reads_aapl_quietly():
    config, warnings = S.config_from_query({"task": "series"})
    assert config.series == "stocks:AAPL" and warnings == []
    assert S.config_from_query({})[0].series is None, "other tasks leave it unnamed"


@pytest.mark.parametrize("raw,why", [
    ("stocks:TSLA", "expected one of ['stocks:GOOG'"),
    ("upload:Close", "an uploaded file is not part of a link"),
    ("none", "the task 'series' reads a named series"),
])
def test_bad_series_in_a_link_warns_and_reads_aapl(raw, why):
    config, warnings = S.config_from_query({"task": "series", "series": raw, "seed": "4"})
    assert (config.series, config.seed) == ("stocks:AAPL", 4)
    assert len(warnings) == 1 and "series=" in warnings[0] and why in warnings[0], warnings
    assert "'stocks:AAPL'" in warnings[0]
    a, _, _, warnings = CS.compare_from_query({"a.task": "series", "a.series": raw})
    assert a.series == "stocks:AAPL" and len(warnings) == 1 and why in warnings[0], warnings


def test_config_file_records_the_upload_and_reads_aapl_back():
    config = Config(task="series", series="upload:Close", seq_len=30)
    data = {"series": "upload:Close", "file": "prices.csv", "sha256": "ab" * 32, "values": 250}
    text = config_file.config_json(config, None, data)
    assert json.loads(text)["data"] == data and json.loads(text)["config"]["series"] == "upload:Close"
    back, _, warnings = config_file.load_config_json(text)
    assert back == config.replace(series="stocks:AAPL")
    assert len(warnings) == 1 and "'prices.csv'" in warnings[0] and "abababababab" in warnings[0]
    built_in = config.replace(series="stocks:NFLX")
    assert config_file.load_config_json(config_file.config_json(built_in)) == (built_in, S.View(), [])
    bad = json.loads(text)
    bad["data"] = "prices.csv"
    with pytest.raises(config_file.ConfigFileError, match='"data" must be an object'):
        config_file.load_config_json(json.dumps(bad))
