"""assets/presets.json: every lecture preset loads, and the engine really tells its story."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.state import datasets, limits
from dashboard.state import explore as S
from dashboard.state.presets import PRESETS_FILE, load_presets
from engine import unroll

PRESETS = {p.id: p for p in load_presets()}


@pytest.fixture(scope="module")
def traces():
    return {k: unroll(p.config, influence=False, jacobian=False, series=_series(p.config))
            for k, p in PRESETS.items()}


def _series(config):
    """A 'series' task's values, loaded as the page loads them (the engine never imports plotly)."""
    return datasets.builtin_values(config.series) if config.task == "series" else None


def test_the_six_lecture_presets_are_there():
    assert list(PRESETS) == ["vanishing", "sigmoid", "irnn", "exploding", "lstm", "orthogonal",
                             "attention", "stock", "fading", "sentence"]
    for p in PRESETS.values():
        assert len(p.caption) == 2 and all(0 < len(line) <= 60 for line in p.caption)
        assert p.view in S.VIEWS
        config, warnings = S.config_from_query(S.config_to_query(p.config))
        assert config == p.config and not warnings, "a preset is a valid, shareable link"
        assert limits.size_problem(p.config) is None


def test_malformed_preset_is_named(tmp_path):
    bad = tmp_path / "presets.json"
    items = json.loads(PRESETS_FILE.read_text())
    items[2]["config"]["cell"] = "transformer"
    bad.write_text(json.dumps(items))
    with pytest.raises(ValueError, match="preset #2 .'irnn'.*cell"):
        load_presets(bad)


def test_vanishing(traces):
    fit = traces["vanishing"].decay[0]
    assert fit["rate"] < 0.6 and fit["r2"] > 0.95
    assert traces["vanishing"].grad_hidden_log10[0, 0, 0] < -12, "below the heatmap's floor by t=0"
    assert "must vanish" in traces["vanishing"].spectrum[0]["verdict"]


def test_sigmoid_quarter_bound(traces):
    tr = traces["sigmoid"]
    sp = tr.spectrum[0]
    assert sp["bound"] == 4.0 and 1.0 < sp["max_singular"] < 4.0, "s > 1 yet below 1/gamma"
    assert "must vanish" in sp["verdict"] and tr.decay[0]["rate"] < 0.5
    assert np.nanmax(tr.act_deriv) <= 0.25


def test_irnn_gradient_survives(traces):
    fit = traces["irnn"].decay[0]
    assert 0.97 < fit["rate"] <= 1.02
    assert traces["irnn"].grad_hidden_log10[0, 0, 0] > -2, "still about as large 100 steps back"


def test_exploding_fires_flags(traces):
    tr = traces["exploding"]
    assert tr.decay[0]["rate"] > 1.1 and tr.spectrum[0]["spectral_radius"] > 1
    assert tr.any_flag and tr.flags["grad_hidden"]["overflow"] is not None


def test_lstm_cell_path_carries_the_gradient(traces):
    tr = traces["lstm"]
    cell = np.log10(np.linalg.norm(tr.grad_cell[0, :-1, 0], axis=-1))
    hidden = tr.grad_hidden_log10[0, :-1, 0]
    assert (cell > hidden).all(), "the cell path lies above the hidden path"
    assert 0.7 < tr.gates["f"].mean() < 0.76, "forget bias 1: f_t near sigmoid(1) = 0.73"
    default = unroll(PRESETS["lstm"].config.replace(forget_bias=None), influence=False,
                     jacobian=False)
    assert tr.decay[0]["rate"] > default.decay[0]["rate"] + 0.1, "lives longer than bias 0"


def test_orthogonal_keeps_norm_only_tanh_decays(traces):
    tr = traces["orthogonal"]
    np.testing.assert_allclose(tr.spectrum[0]["singular_values"], 1.0, atol=1e-9)
    assert tr.decay[0]["half_life"] > 5 * traces["vanishing"].decay[0]["half_life"]
    assert tr.decay[0]["rate"] < 1.0


def test_stock_forecast_fades_back_in_time(traces):
    """AAPL's weekly closes, the loss on the last week's forecast: the gradient fades about x0.63
    per week, so week 0 gets about 1e-20 of what the last week gets (the caption's numbers)."""
    tr = traces["stock"]
    assert tr.config.series == "stocks:AAPL" and tr.inputs.shape == (100, 1, 1)
    fit = tr.decay[0]
    assert 0.6 < fit["rate"] < 0.66 and fit["r2"] > 0.99
    drop = tr.grad_hidden_log10[0, -1, 0] - tr.grad_hidden_log10[0, 0, 0]
    assert 19 < drop < 21, drop
    assert datasets.length_problem("stocks:AAPL", 105, tr.config) is None, "it fits 105 weeks"
