"""dashboard/animation.py: the play-through-time figure, as a pure function of traces."""

from __future__ import annotations

import json

import numpy as np
import pytest
from plotly_decode import spec

from dashboard import theme
from dashboard.figures.animation import MAX_STEPS, animation_figure, frame_plan, frame_steps
from engine import Config, unroll


@pytest.fixture(scope="module")
def pair():
    a = unroll(Config(seq_len=30, hidden_size=6), influence=False, jacobian=False)
    b = unroll(Config(seq_len=30, hidden_size=6, activation="relu", init_hh="normal", sigma=3.0),
               inputs=a.inputs, targets=a.targets, influence=False, jacobian=False)
    return a, b


def cursors(fig) -> list[tuple[str, float]]:
    """(frame name, cursor x) per frame; every subplot's cursor must agree."""
    out = []
    for fr in fig.frames:
        xs = {s.x0 for s in fr.layout.shapes if s.type == "line"}
        assert len(xs) == 1, f"frame {fr.name}: the cursors disagree {xs}"
        out.append((fr.name, xs.pop()))
    return out


def covers(fig, frame, xref: str) -> tuple[float, float]:
    (rect,) = [s for s in frame.layout.shapes if s.type == "rect" and s.xref == xref]
    return rect.x0, rect.x1


def test_frames_walk_forward_then_backward(pair):
    fig = animation_figure([("", pair[0])])
    pos = [x for _, x in cursors(fig)]
    T = 30
    assert pos == list(range(T)) + list(range(T - 1, -1, -1))
    assert [f.group for f in fig.frames] == ["forward"] * T + ["backward"] * T
    # forward at t=4: h_t hidden after step 4, the gradient row still wholly covered
    f4 = fig.frames[4]
    assert covers(fig, f4, "x") == (4.5, T - 0.5) and covers(fig, f4, "x2") == (-0.5, T - 0.5)
    # backward at t=10: every h_t shown, dL/dh_t arrived back to step 10
    b10 = next(f for f in fig.frames if f.name == "b10")
    assert covers(fig, b10, "x")[0] == covers(fig, b10, "x")[1]
    assert covers(fig, b10, "x2") == (-0.5, 9.5)


def test_play_controls_and_slider(pair):
    fig = animation_figure([("", pair[0])], frame_ms=50)
    (menu,) = fig.layout.updatemenus
    play = next(b for b in menu.buttons if "Play" in b.label)
    assert play.method == "animate" and play.args[0] is None
    assert play.args[1]["frame"] == {"duration": 50, "redraw": False}, "no redraw per frame"
    (slider,) = fig.layout.sliders
    assert [s.args[0][0] for s in slider.steps] == [f.name for f in fig.frames]
    assert slider.steps[0].label == "→0" and slider.steps[-1].label == "←0"


def test_frames_carry_no_data_and_stay_small(pair):
    fig = animation_figure([("A", pair[0]), ("B", pair[1])])
    d = json.loads(fig.to_json())
    assert all("data" not in fr for fr in d["frames"]), "frames must not resend the heatmaps"
    per_frame = max(len(json.dumps(fr)) for fr in d["frames"])
    assert per_frame < 2000, per_frame
    assert len(d["frames"][0]["layout"]["shapes"]) == 2 * 4, "a cover and a cursor per subplot"


def test_two_sides_share_their_colour_scales(pair):
    s = spec(animation_figure([("A", pair[0]), ("B", pair[1])]))
    maps = {(tr["name"], tr["xaxis"]): tr for tr in s["data"] if tr["type"] == "heatmap"}
    ha, hb = maps[("h_t", "x")], maps[("h_t", "x2")]
    assert (ha["zmin"], ha["zmax"]) == (hb["zmin"], hb["zmax"])
    assert ha["zmax"] > 1, "B is a ReLU run beyond 1: the shared range covers it"
    ga, gb = maps[("log10|dL/dh|", "x3")], maps[("log10|dL/dh|", "x4")]
    assert (ga["zmin"], ga["zmax"]) == (gb["zmin"], gb["zmax"]) == theme.LOG10_RANGE
    assert np.allclose(ha["z"], pair[0].hidden[0, :, 0, :].T.astype(np.float32))


def test_long_sequences_are_strided_and_labelled():
    assert frame_steps(MAX_STEPS) == (list(range(MAX_STEPS)), 1)
    for T in (MAX_STEPS + 1, 1000, 1001, 5000):
        steps, k = frame_steps(T)
        assert k > 1 and steps[0] == 0 and steps[-1] == T - 1 and len(steps) <= MAX_STEPS
        assert set(np.diff(steps[:-1])) == {k}, "a constant stride, then the last step"
    plan = frame_plan(250)
    assert plan[0] == ("forward", 0) and plan[-1] == ("backward", 0) and len(plan) <= 2 * MAX_STEPS
    tr = unroll(Config(seq_len=250, hidden_size=4), influence=False, jacobian=False)
    fig = animation_figure([("", tr)])
    assert len(fig.frames) == len(plan) and "one frame every 3 steps (T = 250)" in fig.layout.title.text


def test_bad_input_is_a_clear_error(pair):
    short = unroll(Config(seq_len=10, hidden_size=6), influence=False, jacobian=False)
    with pytest.raises(ValueError, match="same length"):
        animation_figure([("A", pair[0]), ("B", short)])
    with pytest.raises(ValueError, match="one or two"):
        animation_figure([])


def test_big_heatmaps_are_reduced_for_the_animation_and_say_so():
    tr = unroll(Config(seq_len=450, hidden_size=200), influence=False, jacobian=False)
    s = spec(animation_figure([("", tr)]))
    h = next(t for t in s["data"] if t["type"] == "heatmap" and t["name"] == "h_t")
    assert h["z"].shape == (100, 150), "units pooled by 2, steps by 3"
    assert h["x"][:2].tolist() == [0, 3] and h["y"][:2].tolist() == [0, 2]
    z = tr.hidden[0, :, 0, :].T  # (200, 450)
    block = z[:2, :3]
    assert h["z"][0, 0] == np.float32(block.flat[np.abs(block).argmax()]), "max |value| kept"
    assert "max |value| of every 3 steps x 2 units" in s["layout"]["title"]["text"]
