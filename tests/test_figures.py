"""dashboard/figures/ builders and equations on small Traces: shapes, scales, masks, pooling, labels."""

from __future__ import annotations

import copy
import importlib

import numpy as np
import plotly.graph_objects as go
import plotly.io
import pytest
from plotly_decode import spec, typed_arrays

from dashboard import theme
from dashboard.figures import base, equations, forward, gradient, readouts, spectrum, stack, views
from engine import Config, unroll


def small(**kw):
    base = dict(hidden_size=4, seq_len=12, input_size=3, batch_size=2, init_hh="normal", sigma=0.6,
                loss="last", seed=1)
    return unroll(Config(**{**base, **kw}))


@pytest.fixture(scope="module")
def rnn():
    return small()


@pytest.fixture(scope="module")
def lstm():
    return small(cell="lstm")


@pytest.fixture(scope="module")
def gru():
    return small(cell="gru", num_layers=2, bidirectional=True)


def heatmaps(s):
    return [tr for tr in s["data"] if tr["type"] == "heatmap"]


def vlines(s):
    return [sh["x0"] for sh in s["layout"].get("shapes", []) if sh.get("x0") == sh.get("x1")]


# ---- pooling -------------------------------------------------------------------------------


def test_pool_time_keeps_max_abs_with_sign_and_nonfinite():
    z = np.full((2, 3000), 0.1)
    z[0, 1234] = -50.0  # a spike
    z[1, 2999] = np.nan  # trouble at the very end
    zp, x, k = base.pool_time(z, 1000)
    assert k == 3 and zp.shape == (2, 1000) and x[1] == 3
    assert zp[0, 1234 // 3] == -50.0, "the spike survives with its sign"
    assert np.isnan(zp[1, -1]), "NaN wins its window so trouble stays visible"
    assert np.count_nonzero(zp[0] == 0.1) == 999
    same, x2, k2 = base.pool_time(z[:, :800], 1000)
    assert k2 == 1 and same.shape == (2, 800) and x2[-1] == 799


def test_wide_heatmaps_are_reduced_and_labelled():
    tr = unroll(Config(hidden_size=2, seq_len=2500, input_size=1), influence=False)
    s = spec(forward.state_figure(tr))
    z = heatmaps(s)[0]["z"]
    k = -(-2500 // theme.MAX_COLUMNS)  # the smallest whole window that fits the cap
    assert z.shape == (2, -(-2500 // k)) and z.shape[1] <= theme.MAX_COLUMNS
    assert "reduced" in s["layout"]["title"]["text"] and f"{k} steps" in s["layout"]["title"]["text"]
    g = spec(gradient.grad_heatmap_figure(tr))
    assert heatmaps(g)[0]["z"].shape[1] <= theme.MAX_COLUMNS and "reduced" in g["layout"]["title"]["text"]
    bars = spec(gradient.weight_terms_figure(tr))["data"][0]
    assert bars["y"].size <= gradient.MAX_BARS


def test_small_heatmaps_are_not_reduced(rnn):
    s = spec(forward.state_figure(rnn))
    assert "reduced" not in s["layout"]["title"]["text"]


# ---- states --------------------------------------------------------------------------------


def test_hidden_heatmap_shape_values_float32_and_cursor(rnn):
    fig = forward.state_figure(rnn, "hidden", sample=1, cursor=5)
    assert set(typed_arrays(fig)) <= {"f4", "i4"}, "arrays go out as float32 typed arrays, not lists"
    s = spec(fig)
    hm = heatmaps(s)[0]
    assert hm["z"].dtype == np.float32 and hm["z"].shape == (4, 12)
    np.testing.assert_allclose(hm["z"], rnn.hidden[0, :, 1, :].T, rtol=1e-6)
    assert (hm["zmin"], hm["zmax"]) == (-1.0, 1.0), "tanh states on the fixed -1..1 scale"
    assert vlines(s) == [5]


def test_cell_state_heatmap_for_lstm(lstm):
    s = spec(forward.state_figure(lstm, "cell"))
    hm = heatmaps(s)[0]
    np.testing.assert_allclose(hm["z"], lstm.cell[0, :, 0, :].T, rtol=1e-6)
    assert hm["zmax"] == -hm["zmin"] >= np.abs(lstm.cell[0, :, 0]).max() - 1e-6


def test_layer_and_direction_select_the_right_rows(gru):
    s = spec(forward.state_figure(gru, "hidden", layer=1, direction=1))
    np.testing.assert_allclose(heatmaps(s)[0]["z"], gru.hidden[3, :, 0, :].T, rtol=1e-6)
    assert "layer 1" in s["layout"]["title"]["text"] and "reverse" in s["layout"]["title"]["text"]


def test_nonfinite_cells_get_their_own_colour(rnn):
    bad = copy.copy(rnn)
    bad.hidden = rnn.hidden.copy()
    bad.hidden[0, 3, 0, 2] = np.nan
    bad.hidden[0, 7, 0, 1] = np.inf
    s = spec(forward.state_figure(bad))
    main, overlay = heatmaps(s)
    assert np.isnan(main["z"][2, 3]) and np.isnan(main["z"][1, 7])
    assert overlay["colorscale"][0][1] == theme.NONFINITE_COLOR
    marked = np.argwhere(~np.isnan(overlay["z"]))
    assert sorted(map(tuple, marked)) == [(1, 7), (2, 3)]
    healthy = spec(forward.state_figure(rnn))
    assert len(heatmaps(healthy)) == 1, "no overlay when all is finite"


def test_exact_zero_gradients_are_the_floor_colour_not_nonfinite():
    z = np.array([[0.0, 1e-3], [np.inf, 1.0]])
    main, overlay = base.heatmap_data(z, np.arange(2), colorscale="Inferno", zmin=-12, zmax=2,
                                      name="g", log=True)
    z = main["z"]
    assert z[0, 0] == -12 and z[0, 1] == np.float32(-3) and np.isnan(z[1, 0])
    assert np.argwhere(~np.isnan(overlay["z"])).tolist() == [[1, 0]], "only the Inf is magenta"


def test_huge_finite_values_stay_finite_in_float32():
    assert np.isfinite(base.f32(np.array([1e300, -1e300]))).all()
    assert np.isnan(base.f32(np.array([np.nan])))[0]


# ---- gates ---------------------------------------------------------------------------------


def test_lstm_gates_fixed_ranges_and_saturation(lstm):
    s = spec(forward.gates_figure(lstm, cursor=3))
    hms = heatmaps(s)
    assert [h["name"] for h in hms] == ["i", "f", "g", "o"]
    assert [(h["zmin"], h["zmax"]) for h in hms] == [(0, 1), (0, 1), (-1, 1), (0, 1)]
    np.testing.assert_allclose(hms[1]["z"], lstm.gates["f"][0, :, 0, :].T, rtol=1e-6)
    lines = [t for t in s["data"] if t["type"] == "scatter"]
    assert [t["name"] for t in lines] == ["i", "f", "g", "o"]
    np.testing.assert_allclose(lines[0]["y"], forward.saturation(lstm.gates["i"][0, :, 0], "i"),
                               rtol=1e-6)
    assert all(0 <= t["y"].min() and t["y"].max() <= 1 for t in lines)
    assert 3 in vlines(s)


def test_gru_gates(gru):
    assert [h["name"] for h in heatmaps(spec(forward.gates_figure(gru)))] == ["r", "z", "n"]


def test_rnn_shows_activation_derivative(rnn):
    s = spec(forward.gates_figure(rnn))
    (hm,) = heatmaps(s)
    np.testing.assert_allclose(hm["z"], rnn.act_deriv[0, :, 0, :].T, rtol=1e-6)
    assert (hm["zmin"], hm["zmax"]) == (0, 1)
    names = [t["name"] for t in s["data"] if t["type"] == "scatter"]
    assert names == ["blocked fraction", "mean phi'"]


def test_saturation_definition():
    v = np.array([[0.01, 0.5, 0.99, 0.96]])
    assert forward.saturation(v, "f")[0] == 0.75
    assert forward.saturation(np.array([[0.99, -0.97, 0.2, 0.0]]), "g")[0] == 0.5


# ---- gradient ------------------------------------------------------------------------------


def test_gradient_heatmap_fixed_log_range_across_configs(rnn):
    other = small(init_hh="normal", sigma=3.0, seq_len=20, hidden_size=6)
    ranges = []
    for tr in (rnn, other):
        hm = heatmaps(spec(gradient.grad_heatmap_figure(tr)))[0]
        ranges.append((hm["zmin"], hm["zmax"]))
        expected = np.log10(np.abs(tr.grad_hidden[0, :, 0, :].T))
        np.testing.assert_allclose(hm["z"], expected, rtol=1e-5)
    assert ranges[0] == ranges[1] == theme.LOG10_RANGE


def test_gradient_norm_uses_exact_log10_and_fit_line(rnn, lstm):
    s = spec(gradient.grad_norm_figure(rnn, cursor=4))
    by = {t.get("name"): t for t in s["data"]}
    np.testing.assert_allclose(by["hidden path ||dL/dh_t||"]["y"], rnn.grad_hidden_log10[0, :, 0], rtol=1e-6)
    fit = rnn.batch_decay[0]  # a batch of two: the fit of its median
    dist = np.arange(11, -1, -1)
    np.testing.assert_allclose(by["fitted decay (median)"]["y"],
                               fit["intercept_log10"] + fit["slope_log10"] * dist, rtol=1e-5)
    assert f"{fit['half_life']:.3g}" in s["layout"]["title"]["text"]
    assert 4 in vlines(s)
    cell = {t.get("name"): t for t in spec(gradient.grad_norm_figure(lstm))["data"]}["cell path ||dL/dc_t||"]
    np.testing.assert_allclose(cell["y"], np.log10(np.linalg.norm(lstm.grad_cell[0, :, 0], axis=-1)),
                               rtol=1e-5)


def test_norm_plot_survives_underflow():
    tr = unroll(Config(seq_len=400, hidden_size=4, init_hh="normal", sigma=0.3, loss="last",
                       dtype="float32"), influence=False)
    assert tr.grad_hidden_log10[0, 0, 0] < -45, "below float32's range, yet known exactly"
    y = {t["name"]: t for t in spec(gradient.grad_norm_figure(tr))["data"]}["hidden path ||dL/dh_t||"]["y"]
    assert np.isfinite(y).all() and y[0] < -45


def test_weight_terms_bars_log_axis(rnn):
    s = spec(gradient.weight_terms_figure(rnn, cursor=2))
    bars = s["data"][0]  # one filled step outline: a bar per step, centred on it
    assert bars["fill"] == "tozeroy" and bars["line"]["shape"] == "hvh"
    assert s["layout"]["yaxis"]["type"] == "log"
    terms = rnn.weight_grad_terms["weight_hh_l0"]
    assert terms[0] == 0 and np.isnan(bars["y"][0]), "h_{-1} = 0: no term, and log axes cannot draw 0"
    np.testing.assert_allclose(bars["y"][1:], terms[1:], rtol=1e-5)


def test_influence_rows_and_subsample_label(monkeypatch):
    full = small(seq_len=10, loss="sum")
    s = spec(gradient.influence_figure(full, cursor=1))
    (hm,) = heatmaps(s)
    assert hm["z"].shape == (10, 10) and list(hm["y"]) == list(range(10))
    assert (hm["zmin"], hm["zmax"]) == theme.LOG10_RANGE
    assert "subsampled" not in s["layout"]["title"]["text"]
    monkeypatch.setattr(importlib.import_module("engine.unroll"), "INFLUENCE_BUDGET", 1.0)
    sub = small(seq_len=10, loss="sum")
    s = spec(gradient.influence_figure(sub))
    assert heatmaps(s)[0]["z"].shape[0] == len(sub.influence_steps) < 10
    assert "subsampled: 2 of 10" in s["layout"]["title"]["text"]
    with pytest.raises(ValueError, match="influence=True"):
        gradient.influence_figure(unroll(Config(seq_len=5), influence=False))


# ---- spectrum, cursor, signals, flags ------------------------------------------------------


def test_spectrum_eigenvalues_and_circles():
    tr = small(activation="sigmoid")
    s = spec(spectrum.spectrum_figure(tr))
    by = {t["name"]: t for t in s["data"]}
    ev = tr.spectrum[0]["eigenvalues"]
    np.testing.assert_allclose(np.sort(by["eigenvalues"]["x"]), np.sort(ev.real), atol=1e-6)
    r_unit = np.hypot(by["unit circle"]["x"], by["unit circle"]["y"])
    np.testing.assert_allclose(r_unit, 1.0, atol=1e-6)
    r_bound = np.hypot(by["1/gamma = 4"]["x"], by["1/gamma = 4"]["y"])
    np.testing.assert_allclose(r_bound, 4.0, atol=1e-5)
    np.testing.assert_allclose(by["singular values"]["y"], tr.spectrum[0]["singular_values"], rtol=1e-6)


def test_tanh_bound_is_the_unit_circle(rnn):
    names = [t["name"] for t in spec(spectrum.spectrum_figure(rnn))["data"]]
    assert "unit circle (= 1/gamma)" in names and not any(n.startswith("1/gamma") for n in names)


def test_lstm_spectrum_shows_each_gate_block(lstm):
    names = [t["name"] for t in spec(spectrum.spectrum_figure(lstm))["data"]]
    assert {"block i", "block f", "block g", "block o"} <= set(names)


def test_vectors_at_cursor(lstm, rnn):
    s = spec(gradient.vectors_figure(lstm, sample=1, t=6))
    by = {t["name"]: t for t in s["data"]}
    np.testing.assert_allclose(by["h_t"]["y"], lstm.hidden[0, 6, 1], rtol=1e-6)
    np.testing.assert_allclose(by["c_t"]["y"], lstm.cell[0, 6, 1], rtol=1e-6)
    grad = by["dL/dh_t (right axis)"]
    np.testing.assert_allclose(grad["y"], lstm.grad_hidden[0, 6, 1], rtol=1e-6)
    assert grad["yaxis"] == "y2", "the gradient has its own scale"
    assert "t = 6" in s["layout"]["title"]["text"]
    names = [t["name"] for t in spec(gradient.vectors_figure(rnn, t=2))["data"]]
    assert "phi'(a_t)" in names


# ---- stacked views and the cheap cursor move ---------------------------------------------------


def test_stacked_plots_share_one_time_axis(lstm):
    parts = [gradient.grad_heatmap_figure(lstm, sample=1, cursor=3),
             gradient.grad_norm_figure(lstm, sample=1, cursor=3),
             gradient.weight_terms_figure(lstm, cursor=3)]
    stacked = stack.stack_figures(parts, [250, 190, 150], "Gradient through time")
    s = spec(go.Figure(stacked, _validate=False))
    lay = s["layout"]
    assert [tr["xaxis"] for tr in s["data"]][:1] == ["x"] and {"x2", "x3"} <= {tr["xaxis"] for tr in s["data"]}
    assert lay["xaxis2"]["matches"] == "x" and lay["xaxis3"]["matches"] == "x", "zoom one, zoom all"
    domains = [lay[a]["domain"] for a in ("yaxis", "yaxis2", "yaxis3")]
    assert all(lo < hi for lo, hi in domains) and domains[0][0] > domains[1][1] > domains[2][1] >= 0
    notes = [a["text"] for a in lay["annotations"]]
    assert [n.split("<br>")[0] for n in notes] == [spec(p)["layout"]["title"]["text"] for p in parts]
    # no Plotly legend: each plot names its lines and bars, in their colours, under its title
    assert lay["showlegend"] is False and notes[0] == spec(parts[0])["layout"]["title"]["text"]
    assert '<span style="color:#1f77b4">━ hidden path ||dL/dh_t||</span>' in notes[1]
    assert '<span style="color:#9467bd">┅ ||dh_T/dh_t|| (Jacobian)</span>' in notes[1], "dashed"
    assert "■ weight_hh_l0" in notes[2]
    assert sorted((sh["xref"], sh["x0"]) for sh in lay["shapes"]) == [("x", 3), ("x2", 3), ("x3", 3)]
    hm = heatmaps(s)[0]
    np.testing.assert_array_equal(hm["z"], heatmaps(spec(parts[0]))[0]["z"])
    assert domains[0][0] <= hm["colorbar"]["y"] <= domains[0][1], "the colour bar sits beside its plot"
    assert "title" not in lay["xaxis"] and lay["xaxis3"]["title"]["text"] == "step t"


def test_a_row_that_is_not_time_keeps_its_own_axes(lstm):
    parts = [gradient.grad_heatmap_figure(lstm, cursor=0), gradient.vectors_figure(lstm, t=0)]
    d = stack.stack_figures(parts, [250, 200], "G", time_rows=1)
    assert "matches" not in d["layout"]["xaxis2"], "units are not time"
    assert d["layout"]["yaxis4"]["overlaying"] == "y2", "dL/dh_t keeps its right-hand axis"


def test_split_cursor_keeps_the_figure_and_the_lines_style(lstm):
    d = forward.gates_figure(lstm, cursor=4).to_plotly_json()
    other = dict(type="line", x0=1, x1=1, y0=0, y1=1)
    d["layout"]["shapes"] = [*d["layout"]["shapes"], other]
    fig, lines = stack.split_cursor(d)
    assert fig["layout"]["shapes"] == [other], "only the cursor lines leave the figure"
    assert lines and all(ln["axis"] == "x" and ln["line"]["color"] == theme.CURSOR_LINE["color"]
                         for ln in lines)
    assert {(ln["from"], ln["to"]) for ln in lines} == {(0, 1)}
    assert len(d["layout"]["shapes"]) == len(lines) + 1, "the input is not modified"
    moved = stack.split_cursor(stack.move_cursor(d, 9))
    assert moved == (fig, lines), "what is sent does not depend on t"
    cross = stack.split_cursor(attention_figure_json(lstm))[1]
    assert {ln["axis"] for ln in cross} == {"x", "y"}, "the attention map's row and column"


def attention_figure_json(trace) -> dict:
    """A figure with a cursor cross like the attention map's: a column line and a row line."""
    line = dict(theme.CURSOR_LINE)
    return {"data": [], "layout": {"shapes": [
        dict(type="line", name=base.CURSOR, x0=5, x1=5, xref="x", y0=0, y1=1, yref="y domain", line=line),
        dict(type="line", name=base.CURSOR, x0=0, x1=1, xref="x domain", y0=5, y1=5, yref="y", line=line)]}}


def test_values_window_holds_the_readout_of_every_step_in_it(lstm):
    T, H = lstm.hidden.shape[1], lstm.hidden.shape[-1]
    for t in (0, T // 2, T - 1):
        w = gradient.values_window(lstm, t=t)
        assert w["start"] <= t < w["stop"] <= T
        for s in (w["start"], t, w["stop"] - 1):
            shown = spec(gradient.vectors_figure(lstm, t=s))
            for line, y in zip(shown["data"], w["y"], strict=True):
                np.testing.assert_array_equal(y[s - w["start"]], line["y"])
            first = spec(gradient.vectors_figure(lstm, t=w["start"]))["layout"]["title"]["text"]
            suffix = first.removeprefix(f"{w['title']}{w['start']}")
            assert shown["layout"]["title"]["text"] == f"{w['title']}{s}{suffix}"
    block = max(1, gradient.VALUES_BUDGET // (3 * H))
    assert gradient.values_window(lstm, t=0)["stop"] == min(T, 3 * block)
    a, b = (gradient.values_window(lstm, t=t) for t in (block, 2 * block - 1))
    assert a["start"] == b["start"], "a move within a block sends the same window"


def test_move_cursor_moves_only_the_cursor_lines(lstm):
    d = forward.gates_figure(lstm, cursor=0).to_plotly_json()
    d["layout"]["shapes"] = [*d["layout"]["shapes"], dict(type="line", x0=1, x1=1, y0=0, y1=1)]
    moved = stack.move_cursor(d, 7)
    cursors = [sh for sh in moved["layout"]["shapes"] if sh.get("name") == base.CURSOR]
    assert len(cursors) == len(lstm.gates) + 1 and all(sh["x0"] == sh["x1"] == 7 for sh in cursors)
    assert dict(type="line", x0=1, x1=1, y0=0, y1=1) in moved["layout"]["shapes"], "other shapes stay"
    assert all(sh["x0"] in (0, 1) for sh in d["layout"]["shapes"]), "the input is not modified"
    assert moved["data"] is d["data"], "the data is not rebuilt"
    removed = stack.move_cursor(d, None)["layout"]["shapes"]
    assert not [sh for sh in removed if sh.get("name") == base.CURSOR]


def test_signals(rnn):
    s = spec(forward.signals_figure(rnn, sample=1, cursor=2))
    by = {t["name"]: t for t in s["data"]}
    np.testing.assert_allclose(by["output ŷ"]["y"], rnn.outputs[:, 1, 0], rtol=1e-6)
    np.testing.assert_allclose(by["target y"]["y"], rnn.targets[:, 1, 0], rtol=1e-6)
    np.testing.assert_allclose(by["L_t"]["y"], rnn.step_loss, rtol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_equations_carry_live_numbers(cell):
    tr = small(cell=cell)
    lines = equations.cell_equations(tr, t=5)
    text = " ".join(lines)
    assert equations.num(np.linalg.norm(tr.hidden[0, 5, 0])) in text
    assert equations.pow10(float(tr.grad_hidden_log10[0, 5, 0])) in text
    assert lines != equations.cell_equations(tr, t=6), "numbers follow the cursor"


def test_number_formatting():
    assert equations.num(0.5) == "0.5"
    assert equations.num(3e-20) == r"3\times 10^{-20}"
    assert equations.pow10(-400.0) == r"1\times 10^{-400}", "exact below float range"


def test_flags_name_quantity_and_first_step():
    from dashboard.state.presets import load_presets

    exploding = next(p for p in load_presets() if p.id == "exploding")
    tr = unroll(exploding.config, influence=False)
    lines = readouts.flag_lines(tr)
    assert lines and any("grad_hidden" in ln and "from step" in ln for ln in lines)
    assert readouts.flag_lines(small()) == []


# ---- builders that skip Plotly's validation (base.plain_figure) -------------------------------


FAST = {"grad_heatmap_figure": lambda tr: gradient.grad_heatmap_figure(tr, sample=1, cursor=3),
        "grad_norm_figure": lambda tr: gradient.grad_norm_figure(tr, cursor=3),
        "weight_terms_figure": lambda tr: gradient.weight_terms_figure(tr, cursor=3),
        "vectors_figure": lambda tr: gradient.vectors_figure(tr, t=4),
        "state_figure": lambda tr: forward.state_figure(tr, "hidden", sample=1, cursor=3),
        "stacked gradient view": lambda tr: go.Figure(
            views.build_view("gradient", tr, tr.config.num_layers - 1, 0, 1)[0], _validate=False)}


@pytest.mark.parametrize("builder", sorted(FAST))
def test_fast_builders_write_what_plotly_validation_would(builder, rnn, lstm, gru):
    blown = copy.copy(rnn)  # non-finite values: the heatmap overlay and the bar markers
    blown.grad_hidden = rnn.grad_hidden.copy()
    blown.grad_hidden[0, 3, 1, 2] = np.inf
    blown.weight_grad_terms = {**rnn.weight_grad_terms}
    blown.weight_grad_terms["weight_hh_l0"] = rnn.weight_grad_terms["weight_hh_l0"].copy()
    blown.weight_grad_terms["weight_hh_l0"][5] = np.nan
    for tr in (rnn, lstm, gru, blown):
        fig = FAST[builder](tr)
        raw = fig.to_plotly_json()
        checked = plotly.graph_objects.Figure(raw).to_plotly_json()  # validated and normalised
        np.testing.assert_equal(checked, raw)  # same keys, same values: nothing was invalid
    assert len(heatmaps(spec(gradient.grad_heatmap_figure(blown, sample=1)))) == 2
    assert any(t["name"] == "NaN / Inf term" for t in spec(gradient.weight_terms_figure(blown))["data"])
