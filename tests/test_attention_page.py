"""The attention readout on the dashboard: the readout knob and its URL, the attention map and the
direct-part line (pure figures), the size cap, the presets' story, and the Explore page through
AppTest (the map appears with readout=attention in the URL, and not without)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from apptest_support import charts_by_key, ok, run_page
from streamlit.testing.v1 import AppTest

from dashboard import theme
from dashboard.figures import attention, gradient
from dashboard.state import compare as CS
from dashboard.state import explore as S
from dashboard.state import limits
from dashboard.state.compare_presets import load_compare_presets
from dashboard.state.presets import load_presets
from engine import Config, make_task, unroll

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def att():
    return unroll(Config(readout="attention", seq_len=30, batch_size=2, loss="last"))


# ---- the knob and its URL ---------------------------------------------------------------------


def test_readout_knob_round_trips_and_old_links_mean_linear():
    p = S.PARAM["readout"]
    assert p.group == "model" and p.choices == ("linear", "attention") and "earlier" in p.help
    config, _, warnings = S.state_from_query({"readout": "attention", "seed": "3"})
    assert (config.readout, warnings) == ("attention", [])
    assert S.config_to_query(config)["readout"] == "attention"
    old = {k: v for k, v in S.config_to_query(Config()).items() if k != "readout"}
    assert S.state_from_query(old)[0] == Config(), "a link from before the knob: linear"
    config, _, warnings = S.state_from_query({"readout": "transformer"})
    assert config.readout == "linear" and "readout='transformer'" in warnings[0]
    a, b, _, warnings = CS.compare_from_query({"b.readout": "attention"})
    assert (a.readout, b.readout, warnings) == ("linear", "attention", [])


def test_attention_runs_are_capped_by_their_t_squared_weights():
    assert limits.size_problem(Config(readout="attention", seq_len=2000)) is None
    problem = limits.size_problem(Config(readout="attention", seq_len=1000, batch_size=5))
    assert "T x T x batch = 5,000,000" in problem
    assert limits.size_problem(Config(seq_len=1000, batch_size=5)) is None, "linear: no such cap"


# ---- the figures ------------------------------------------------------------------------------


def test_attention_map_is_the_causal_triangle_on_a_fixed_range(att):
    fig = attention.attention_figure(att, sample=1, cursor=7)
    z = np.asarray(fig.data[0].z, dtype=np.float64)  # (query t, key k)
    T = att.attention.shape[0]
    assert z.shape == (T, T) and fig.data[0].type == "heatmap"
    upper = np.triu_indices(T, 1)
    assert np.isnan(z[upper]).all(), "k > t is left blank"
    lower = np.tril_indices(T)
    np.testing.assert_allclose(z[lower], att.attention[:, 1, :][lower], rtol=1e-6)
    assert (fig.data[0].zmin, fig.data[0].zmax) == theme.ATTENTION_RANGE
    assert go.Heatmap(colorscale=theme.ATTENTION_SCALE).colorscale == fig.data[0].colorscale
    assert fig.layout.yaxis.range == (T - 0.5, -0.5), "step 0 on top, like the influence matrix"
    cursor = [(s.x0, s.y0) for s in fig.layout.shapes]
    assert cursor == [(7, 0), (0, 7)], "row t and column t"
    assert "sample 1" in fig.layout.title.text and "reduced" not in fig.layout.title.text
    with pytest.raises(ValueError, match="linear readout"):
        attention.attention_figure(unroll(Config(seq_len=5)))


def test_a_long_map_is_pooled_and_says_so():
    tr = unroll(Config(readout="attention", seq_len=1000, hidden_size=8), influence=False,
                jacobian=False)
    fig = attention.attention_figure(tr)
    z = np.asarray(fig.data[0].z, dtype=np.float64)
    assert max(z.shape) <= theme.ATTENTION_MAX_SIDE and z.shape == (334, 334)
    assert "largest alpha of every 3x3 steps (1000 steps)" in fig.layout.title.text
    assert np.nanmax(z[0]) == 1.0, "alpha_00 = 1 survives the pooling"
    assert np.isnan(z[0, 1:]).all() and not np.isnan(np.diag(z)).any()


def test_a_sentence_names_the_rows_and_columns_by_its_words():
    tr = unroll(Config(readout="attention", task="sentence", seq_len=9))
    fig = attention.attention_figure(tr)
    words = "the quick brown fox jumps over the lazy dog".split()
    assert list(fig.layout.xaxis.ticktext) == words == list(fig.layout.yaxis.ticktext)
    assert list(fig.layout.yaxis.tickvals) == list(range(9))


def test_figures_write_what_plotly_validation_would(att):
    for fig in (attention.attention_figure(att, cursor=3), gradient.grad_norm_figure(att, cursor=3)):
        raw = fig.to_plotly_json()
        np.testing.assert_equal(go.Figure(raw).to_plotly_json(), raw)


def test_norm_plot_has_the_direct_part_for_the_top_layer_of_an_attention_readout():
    tr = unroll(Config(readout="attention", seq_len=40, num_layers=2, bidirectional=True,
                       loss="last", hidden_size=6))
    H = 6
    for direction in (0, 1):
        fig = gradient.grad_norm_figure(tr, layer=1, direction=direction)
        line = next(d for d in fig.data if d.name == "direct part ||dL/do_t||")
        want = np.log10(np.linalg.norm(tr.grad_direct[:, 0, direction * H:(direction + 1) * H],
                                       axis=-1))
        np.testing.assert_allclose(np.asarray(line.y, dtype=np.float64), want, rtol=1e-5)
        assert line.line.color == theme.LINE_COLORS["direct"]
    names = [d.name for d in gradient.grad_norm_figure(tr, layer=0).data]
    assert not any("direct" in n for n in names), "below the top layer there is no direct part"
    linear = gradient.grad_norm_figure(unroll(Config(seq_len=40)))
    assert not any("direct" in d.name for d in linear.data)


def test_compare_norm_plots_leave_room_for_a_wrapped_legend():
    """Half a page wide, three legend lines wrap into rows: the pair's norm plots keep room for
    them under the title (they collided with it, seen in Chromium)."""
    from dashboard.figures import compare

    a = unroll(Config(seq_len=20))
    where = dict(layer=0, direction=0, sample=0)
    plain = gradient.grad_norm_figure(a, **where).layout
    for fig in compare.paired_grad_norm_figures(a, a, where):
        assert fig.layout.margin.t >= compare.PAIR_LEGEND_TOP > plain.margin.t + 50
        assert fig.layout.height - fig.layout.margin.t == plain.height - plain.margin.t


# ---- the presets ------------------------------------------------------------------------------


def test_the_presets_tell_the_attention_story():
    """The lecture preset and the Compare pair: with attention, |dL/dh_0| at T = 200 (tanh,
    loss last) is many decades above the plain RNN's, on the same weights and data."""
    lecture = next(p for p in load_presets() if p.id == "attention")
    assert lecture.config.readout == "attention" and limits.size_problem(lecture.config) is None
    pair = next(p for p in load_compare_presets() if p.id == "rnn_attention")
    assert (pair.a.readout, pair.b.readout, pair.a.seq_len, pair.a.loss) == (
        "linear", "attention", 200, "last")
    x, y = make_task(CS.data_config(pair.a))
    a, b = (unroll(c, inputs=x, targets=y, influence=False, jacobian=False) for c in (pair.a, pair.b))
    assert a.grad_hidden_log10[0, 0, 0] < -50 and b.grad_hidden_log10[0, 0, 0] > -4
    assert b.grad_hidden_log10[0, 0, 0] - a.grad_hidden_log10[0, 0, 0] > 45
    assert np.array_equal(a.weights["weight_hh_l0"], b.weights["weight_hh_l0"])


# ---- the page ---------------------------------------------------------------------------------


def test_the_attention_map_appears_with_readout_attention_and_not_without():
    at = ok(run_page(AppTest.from_file(APP, default_timeout=60),
                     {"readout": "attention", "seq_len": "40", "loss": "last"}))
    charts = charts_by_key(at)
    assert "fig_attention" in charts and "fig_grad" in charts
    z = np.asarray(charts["fig_attention"]["data"][0]["z"], dtype=np.float64)
    assert z.shape == (40, 40) and z[0, 0] == 1.0
    grad_lines = [d.get("name") for d in charts["fig_grad"]["data"]]
    assert "direct part ||dL/do_t||" in grad_lines
    assert at.query_params["readout"] == "attention", "the link keeps the readout"
    assert any("reads every earlier state" in c.value for c in at.caption)
    plain = ok(run_page(AppTest.from_file(APP, default_timeout=60), {"seq_len": "40"}))
    assert "fig_attention" not in charts_by_key(plain) and "fig_grad" in charts_by_key(plain)
    assert not any("reads every earlier state" in c.value for c in plain.caption)
