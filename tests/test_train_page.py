"""The Train page through Streamlit's AppTest: URL round trip and fallbacks, a tiny training run
whose charts carry the run's numbers, scrubbing the snapshots, the series task without a file;
and the pure pieces behind it (state/train.py, figures/train.py)."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_support import chart_specs, ok, run_page
from markdown_text import plain
from plotly_decode import spec
from streamlit.testing.v1 import AppTest

from dashboard.figures import train as train_figs
from dashboard.state import train as TS
from engine.tasks import train_config
from engine.train import train_many

TIMEOUT = 60
TINY = {"train_task": "recall", "delay": "5", "hidden_size": "4", "batch": "4", "steps": "6",
        "snapshot_every": "2", "models": "rnn_tanh,irnn,lstm"}


def _script():
    from dashboard.screens import train as train_page

    train_page.page()


def app(query: dict | None = None) -> AppTest:
    return run_page(AppTest.from_function(_script, default_timeout=TIMEOUT), query)


def charts(at: AppTest) -> dict[str, dict]:
    """Decoded figures by title."""
    return {s["layout"]["title"]["text"]: s for s in chart_specs(at)}


def widget(at: AppTest, name: str):
    return next(w for w in at.sidebar if getattr(w, "key", None) == f"tr_{name}")


def test_first_visit_defaults_in_the_url():
    at = ok(app())
    assert at.title[0].value == "Unrolled · Train"
    q = at.query_params
    assert q["train_task"] == "recall" and q["models"] == "rnn_tanh,irnn,lstm"
    assert q["delay"] == "50" and q["clip"] == "1.0" and q["window"] == "none"
    assert not chart_specs(at), "nothing is drawn before a run"
    assert any("press **Train**" in i.value for i in at.info)


def test_bad_url_values_fall_back_with_warnings():
    at = app({"models": "rnn_tanh,transformer", "lr": "fast", "train_task": "chess",
              "delay": "7", "window": "99", "explore_param": "x"})
    assert not at.exception
    text = plain(" ".join(w.value for w in at.warning))
    for name in ("models='rnn_tanh,transformer'", "lr='fast'", "train_task='chess'", "window=99",
                 "'explore_param'"):
        assert name in text, text
    assert at.query_params["models"] == "rnn_tanh,irnn,lstm" and at.query_params["lr"] == "0.01"
    assert at.query_params["delay"] == "7", "good values are kept"
    assert at.query_params["window"] == "none"


def test_url_round_trip_into_the_widgets():
    q = {**TINY, "optimizer": "sgd", "clip": "none", "window": "3", "forget_bias": "2.0",
         "models": "lstm,gru", "seed": "5"}
    at = ok(app(q))
    assert widget(at, "optimizer").value == "sgd" and widget(at, "clip").value is None
    assert widget(at, "window").value == 3 and widget(at, "forget_bias").value == 2.0
    assert widget(at, "models").value == ["lstm", "gru"]
    assert {k: at.query_params[k] for k in q} == {**q, "forget_bias": "2.0"}


def test_tiny_run_draws_the_run():
    at = ok(app(TINY))
    at.button(key="tr_run").click()
    ok(at.run())
    figs = charts(at)
    loss = figs["Training loss vs the trivial baseline"]
    names = [t["name"] for t in loss["data"] if t.get("showlegend") is not False]
    assert names == ["RNN tanh · default init", "IRNN · ReLU, identity init", "LSTM · forget bias 4"]
    assert all(len(t["y"]) == 6 for t in loss["data"])
    heat = figs["How far back the gradient reaches: ||dL/dh_t|| per training step"]
    maps = [t for t in heat["data"] if t["type"] == "heatmap"]
    assert len(maps) == 3 and list(maps[0]["y"]) == [0, 2, 4, 5] and maps[0]["z"].shape == (4, 6)
    assert np.isfinite(maps[2]["z"]).all(), "the LSTM's dL/dh_t reaches every step"
    norm = figs["Gradient norm (solid) and as clipped (dotted)"]
    applied = [t for t in norm["data"] if t["name"].endswith("applied")]
    assert applied and all(np.nanmax(t["y"]) <= 1.0 + 1e-5 for t in applied)
    assert "Spectral radius of W_hh over training" in figs
    assert at.get("progress")[0].proto.text.startswith("Done: 6 steps of 3 model(s)")
    table = at.dataframe[0].value
    assert list(table["model"]) == names and (table["steps"] == 6).all()
    assert table.iloc[0, 3] == pytest.approx(1 / 3)
    # scrub to the snapshot of step 2: the per-snapshot plots follow
    slider = at.select_slider(key="tr_scrub")
    assert slider.value == 5
    slider.set_value(2)
    ok(at.run())
    titles = set(charts(at))
    assert "||dL/dh_t|| along the sequence at step 2" in titles
    assert "Hidden states h_t of sample 0 at step 2" in titles


def test_changed_settings_keep_the_last_run_and_say_so():
    at = ok(app(TINY))
    at.button(key="tr_run").click()
    ok(at.run())
    widget(at, "lr").set_value(0.05)
    ok(at.run())
    assert at.query_params["lr"] == "0.05"
    assert any("settings have changed" in i.value for i in at.info)
    assert charts(at), "the last run is still drawn"


def test_series_task_waits_for_a_file():
    at = ok(app({**TINY, "train_task": "series"}))
    assert at.button(key="tr_run").disabled
    assert any("Upload a CSV" in i.value for i in at.info)


# ---------------------------------------------------------------------------------------------
# Pure pieces
# ---------------------------------------------------------------------------------------------


def test_settings_round_trip_and_configs():
    s = TS.TrainSettings(task="sine", seq_len=40, period=9.0, models=("lstm", "irnn"),
                         forget_bias=1.0, clip=None, window=8, seed=3)
    back, warnings = TS.from_query(TS.to_query(s))
    assert back == s and not warnings
    lstm, irnn = s.configs()
    assert lstm.cell == "lstm" and lstm.forget_bias == 1.0 and lstm.seq_len == 40
    assert irnn.activation == "relu" and irnn.init_hh == "identity" and irnn.forget_bias is None
    assert lstm.loss == "sum" and lstm.sine_period == 9.0 and lstm.dtype == "float32"
    assert s.labels() == ["LSTM · forget bias 1", "IRNN · ReLU, identity init"]
    assert TS.TrainSettings(task="recall", delay=20).T == 21


def test_too_many_snapshots_are_thinned():
    s, warnings = TS.checked(TS.TrainSettings(steps=5000, snapshot_every=1))
    assert s.snapshot_every == 13 and "snapshot_every=1" in warnings[0]


def _results():
    cs = [train_config("recall", delay=6, hidden_size=3, batch_size=2, cell=c) for c in ("rnn", "lstm")]
    return train_many(cs, 5, clip=0.5, window=3, snapshot_every=2)


def test_figures_carry_the_numbers():
    rs = _results()
    loss = spec(train_figs.loss_figure(rs, marker=2))
    per_step = [t for t in loss["data"] if t.get("showlegend") is False]
    np.testing.assert_allclose(per_step[1]["y"], rs[1].loss.astype(np.float32))
    heat = spec(train_figs.grad_time_figure(rs))
    z = heat["data"][0]["z"]
    assert z.shape == (3, 7)  # snapshots at 0, 2 and 4 (the last step); T = 7
    assert np.isnan(z[:, :4]).all(), "cut by the window of 3: blank, not a colour"
    norms = np.stack([s.grad_hidden_norm for s in rs[0].snapshots])[:, 4:]
    np.testing.assert_allclose(z[:, 4:], np.log10(norms).astype(np.float32), rtol=1e-5)
    radius = spec(train_figs.radius_figure(rs))
    np.testing.assert_allclose(radius["data"][1]["y"], rs[1].radius.max(axis=1).astype(np.float32))
    assert "largest gate block" in radius["data"][1]["name"]
    hidden = spec(train_figs.hidden_figure(rs, 1))
    assert hidden["data"][0]["z"].shape == (3, 7)


def test_smooth_is_a_trailing_mean():
    y = np.arange(200, dtype=np.float64)
    s = train_figs.smooth(y)  # window 4
    assert s[0] == 0 and s[3] == pytest.approx(1.5) and s[199] == pytest.approx(197.5)
    assert np.array_equal(train_figs.smooth(y[:10]), y[:10])


def test_presenting_shows_the_summary_in_the_pages_larger_text():
    """While presenting, the runs' summary is a plain table in the page's larger text (the
    dataframe's canvas keeps its small font): the same models and steps."""
    at = ok(app({**TINY, "present": "1"}))
    at.button(key="tr_run").click()
    ok(at.run())
    assert len(at.dataframe) == 0
    table = at.table[0].value
    assert len(table) == 3 and [int(s) for s in table["steps"]] == [6, 6, 6]
