"""Figures that name a sentence's steps by its words (thinned so none collide, the word in every
hover), the reach of each word, and the batch's median and 10-90 % band behind one sample."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from plotly_decode import spec

from dashboard import theme
from dashboard.figures import animation, base, compare, forward, gradient, readouts, views
from dashboard.figures.present import style_for_presentation
from engine import Config, unroll

TEXT = ("what time does the last train leave the station tonight asked the tired old man as he "
        "counted the coins in his cold hand")
WORDS = TEXT.split()
WHERE = dict(layer=0, direction=0, sample=0)


@pytest.fixture(scope="module")
def sentence():
    return unroll(Config(task="sentence", text=TEXT, loss="last", hidden_size=6, input_size=4))


@pytest.fixture(scope="module")
def batch():
    return unroll(Config(hidden_size=5, seq_len=30, init_hh="normal", sigma=0.9, loss="last",
                         batch_size=8, seed=3), influence=False)


@pytest.fixture(scope="module")
def single():
    return unroll(Config(hidden_size=5, seq_len=30, init_hh="normal", sigma=0.9, loss="last",
                         seed=3), influence=False)


def assert_no_collision(axis: dict, width: float, font: float, T: int) -> None:
    """The labels' extents (base.label_width) on an axis `width` px wide over T steps never meet."""
    px = width / T
    ends = [(v * px - base.label_width(w, font) / 2, v * px + base.label_width(w, font) / 2)
            for v, w in zip(axis["tickvals"], axis["ticktext"], strict=True)]
    assert all(a[1] <= b[0] + 1e-9 for a, b in itertools.pairwise(ends)), ends


def test_thinning_keeps_the_ends_and_never_collides():
    for width, font in ((theme.TIME_AXIS_PX, 12), (theme.PAIR_AXIS_PX, 12), (theme.TIME_AXIS_PX, 18)):
        ax = base.word_ticks(WORDS, width, font)
        assert ax["ticktext"][0] == "what" and ax["ticktext"][-1] == "hand", "the sentence's ends"
        assert 1 < len(ax["tickvals"]) < len(WORDS), "thinned, not emptied"
        assert [WORDS[v] for v in ax["tickvals"]] == ax["ticktext"]
        assert_no_collision(ax, width, font, len(WORDS))
    assert base.word_ticks(WORDS, 5000)["ticktext"] == WORDS, "room for all: every word"
    wide, narrow = base.word_ticks(WORDS, 740), base.word_ticks(WORDS, 300)
    assert len(narrow["tickvals"]) < len(wide["tickvals"])
    assert base.word_ticks(["<b>x</b>"])["ticktext"] == ["&lt;b&gt;x&lt;/b&gt;"], "text, not markup"


def test_every_time_axis_is_named_by_the_words(sentence):
    T = len(WORDS)
    figs = {"heatmap": gradient.grad_heatmap_figure(sentence),
            "norm": gradient.grad_norm_figure(sentence),
            "terms": gradient.weight_terms_figure(sentence),
            "reach": gradient.word_reach_figure(sentence),
            "influence": gradient.influence_figure(sentence),
            "state": forward.state_figure(sentence),
            "signals": forward.signals_figure(sentence),
            "gates": forward.gates_figure(sentence),
            "animation": animation.animation_figure([("", sentence)]),
            "ratio": compare.ratio_figure(sentence, sentence, WHERE)}
    for name, fig in figs.items():
        s = spec(fig)
        axes = [v for k, v in s["layout"].items() if k.startswith("xaxis")]
        assert axes and all(a.get("ticktext", [None])[0] == "what" for a in axes), name
        assert all(a["ticktext"][-1] == "hand" for a in axes), name
        for tr in s["data"]:
            if tr.get("hoverinfo") == "skip":
                continue
            assert "word=%{customdata" in tr["hovertemplate"], (name, tr.get("name"))
            words = tr["customdata"][0] if tr["type"] == "heatmap" else tr["customdata"]
            x = np.asarray(tr["x"]).astype(int)
            got = [w[-1] if isinstance(w, list) else w for w in words]
            assert got == [WORDS[t] for t in x], name
    rows = spec(figs["influence"])["layout"]["yaxis"]  # the loss steps s, down the side
    assert rows["ticktext"][0] == "what" and 1 < len(rows["ticktext"]) < T
    assert [WORDS[v] for v in rows["tickvals"]] == rows["ticktext"]
    ratio = spec(figs["ratio"])["data"][0]
    assert "%{customdata[0]:.3g}" in ratio["hovertemplate"], "the ratio still shows B / A"
    title = spec(gradient.vectors_figure(sentence, t=1))["layout"]["title"]["text"]
    assert title.startswith('Values at step t = 1 ("time")')
    numbered = unroll(Config(seq_len=T, hidden_size=4))
    for fig in (gradient.grad_norm_figure(numbered), forward.gates_figure(numbered)):
        assert "ticktext" not in spec(fig)["layout"]["xaxis"], "numbered steps stay numbers"


def test_pairs_thin_for_half_the_width_and_presenting_thins_more(sentence):
    full = spec(gradient.grad_norm_figure(sentence))["layout"]["xaxis"]
    a, b = compare.paired_grad_norm_figures(sentence, sentence, WHERE)
    pair = spec(a)["layout"]["xaxis"]
    assert pair["ticktext"] == base.word_ticks(WORDS, theme.PAIR_AXIS_PX)["ticktext"]
    assert len(pair["tickvals"]) < len(full["tickvals"])
    presented = spec(style_for_presentation(gradient.grad_norm_figure(sentence)))["layout"]["xaxis"]
    assert presented["ticktext"][0] == "what" and len(presented["tickvals"]) < len(full["tickvals"])
    assert_no_collision(presented, theme.TIME_AXIS_PX, theme.PRESENT_FONT, len(WORDS))


def test_paired_norm_titles_wrap_their_readout(batch):
    fig, _ = compare.paired_grad_norm_figures(batch, batch, WHERE)
    head, *lines = fig.layout.title.text.split("<br>")
    assert head == "A · Gradient norm through time (sample 0)" and len(lines) >= 2
    assert all(len(line) <= compare.PAIR_TITLE_CHARS for line in lines), lines
    assert " · ".join(lines) == readouts.decay_readout(batch), "the whole readout, none cut off"
    alone = gradient.grad_norm_figure(batch)  # one line of title over the plot
    assert fig.layout.margin.t >= alone.layout.margin.t + compare.READOUT_LINE * len(lines), \
        "room for the lines above the plot"


def test_word_reach_is_the_input_gradient_norm(sentence):
    s = spec(gradient.word_reach_figure(sentence))
    g = np.linalg.norm(sentence.grad_input[:, 0], axis=-1)
    np.testing.assert_allclose(s["data"][0]["y"], np.log10(g), rtol=1e-5)
    title = s["layout"]["title"]["text"]
    assert title.startswith("How much each word reaches the loss") and '("what")' in title
    assert f"{g[0]:.2g}" in title and f"{g[-1]:.2g}" in title
    assert g[0] < 1e-3 * g[-1], "the tanh RNN's first word barely reaches the loss"
    stacked, _ = views.build_view("gradient", sentence, 0, 0, 0)
    rows = [a["text"] for a in stacked["layout"]["annotations"]]
    assert any(r.startswith("How much each word reaches") for r in rows), "in the gradient view"
    numbered, _ = views.build_view("gradient", unroll(Config(seq_len=8, hidden_size=3)), 0, 0, 0)
    assert not any("reaches" in a["text"] for a in numbered["layout"]["annotations"])


def by_name(s: dict) -> dict:
    return {tr.get("name"): tr for tr in s["data"]}


def test_batch_band_and_median_behind_the_sample(batch):
    s = spec(gradient.grad_norm_figure(batch, sample=3))
    names = [tr.get("name") for tr in s["data"]]
    assert names[:3] == ["10-90 % of 8 samples", "median of 8 samples", "hidden path ||dL/dh_t||"], \
        "band and median drawn first: behind the selected sample"
    lg = batch.grad_hidden_log10[0]  # (T, B)
    band, median = by_name(s)["10-90 % of 8 samples"], by_name(s)["median of 8 samples"]
    T = lg.shape[0]
    np.testing.assert_allclose(band["y"][:T], np.quantile(lg, 0.9, axis=1), rtol=1e-5)
    np.testing.assert_allclose(band["y"][T:], np.quantile(lg, 0.1, axis=1)[::-1], rtol=1e-5)
    np.testing.assert_allclose(median["y"], np.median(lg, axis=1), rtol=1e-5)
    np.testing.assert_allclose(by_name(s)["hidden path ||dL/dh_t||"]["y"], lg[:, 3], rtol=1e-6)
    fit = batch.batch_decay[0]
    dist = np.arange(T - 1, -1, -1)
    np.testing.assert_allclose(by_name(s)["fitted decay (median)"]["y"],
                               fit["intercept_log10"] + fit["slope_log10"] * dist, rtol=1e-5)
    title = s["layout"]["title"]["text"]
    assert "median of 8 samples" in title and f"{fit['half_life']:.3g}" in title and "10-90 %" in title


def test_one_sample_looks_as_before(single):
    s = spec(gradient.grad_norm_figure(single))
    assert [tr.get("name") for tr in s["data"]] == ["hidden path ||dL/dh_t||",
                                                    "||dh_T/dh_t|| (Jacobian)", "fitted decay"]
    assert "customdata" not in s["data"][0] and "hovertemplate" not in s["data"][0]
    assert readouts.decay_readout(single) == (
        f"x{single.decay[0]['rate']:.3g} per step back · half-life "
        f"{single.decay[0]['half_life']:.3g} steps · fit r² {single.decay[0]['r2']:.2f}")
    assert "median" not in " ".join(compare.summary_row(single, WHERE))


def test_readouts_and_summary_describe_the_median(batch):
    fit = batch.batch_decay[0]
    sentence = readouts.decay_sentence(batch)
    assert sentence.startswith("|dL/dh_t| (median over 8 samples) shrinks by ×")
    assert f"half-life {fit['half_life']:.3g} steps" in sentence
    assert f"10-90 %: {fit['half_life_q10']:.3g}-{fit['half_life_q90']:.3g} steps" in sentence
    row = compare.summary_row(batch, WHERE)
    assert row["half-life (steps, median of 8 samples)"] == f"{fit['half_life']:.3g}"
    assert row["half-life, 10-90 % of the samples"] == (f"{fit['half_life_q10']:.3g}-"
                                                        f"{fit['half_life_q90']:.3g}")
    assert row["fitted decay rate per step (median of 8 samples)"] == f"{fit['rate']:.3g}"
    assert fit["rate"] != pytest.approx(batch.decay[0]["rate"]), "not sample 0's fit"
