"""The first screen and the sentence in a real headless Chromium: a visit to / with no parameters
shows a gradient fading back in time and its rate and half-life in one sentence without
scrolling; the sentence preset names the time axes by its words, and no two labels overlap."""

from __future__ import annotations

import itertools
import re

import pytest
from browser_support import ARTIFACTS, served_page, wait_settled

from dashboard.state import explore as S
from dashboard.state.presets import load_presets

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

HEIGHT = 900
# Every x tick label drawn, with its plot, its axis (xtick, x2tick, ...) and its box on the page
TICKS_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap((gd, i) =>
  Array.from(gd.querySelectorAll('[class*="xaxislayer"] text')).map(t => {
    const r = t.getBoundingClientRect();
    return {plot: i, axis: t.parentNode.getAttribute('class'), text: t.textContent,
            left: r.left, right: r.right};
  }))
"""


@pytest.fixture(scope="module")
def page():
    with served_page("browser_story.log", HEIGHT) as (pg, url):
        pg.base = url
        yield pg


def test_the_first_screen_shows_a_fading_gradient_and_its_half_life(page):
    page.goto(page.base)
    page.wait_for_selector(".js-plotly-plot")
    wait_settled(page)
    sentence = page.get_by_text(re.compile(r"\|dL/dh_t\| shrinks by ×0\.\d+ per step back: "
                                           r"half-life [\d.]+ steps \(fit r² [\d.]+\)"))
    box = sentence.bounding_box()
    assert box and box["y"] + box["height"] < HEIGHT, "the sentence, without scrolling"
    heatmap = page.locator(".js-plotly-plot .heatmaplayer image, .js-plotly-plot .hm image").first
    hbox = heatmap.bounding_box()
    assert hbox and hbox["y"] + 0.5 * hbox["height"] < HEIGHT, "the fading heatmap, on screen"
    landing = {p.id: p for p in load_presets()}[S.LANDING_PRESET].config
    assert f"sigma={landing.sigma}" in page.url and f"seq_len={landing.seq_len}" in page.url
    page.screenshot(path=str(ARTIFACTS / "browser_first_screen.png"))


def test_the_sentence_names_the_time_axes_without_overlap(page):
    preset = {p.id: p for p in load_presets()}["sentence"]
    page.locator(f".st-key-preset_{preset.id}").get_by_role("button").first.click()
    page.wait_for_function("() => document.body.innerText.includes('How much each word reaches')")
    wait_settled(page)
    ticks = page.evaluate(TICKS_JS)
    words = [t["text"] for t in ticks]
    assert "what" in words and "hand" in words, words
    rows: dict = {}
    for t in ticks:
        rows.setdefault((t["plot"], t["axis"]), []).append(t)
    named = [r for r in rows.values() if any(t["text"] == "what" for t in r)]
    assert len(named) >= 4, "heatmap, norm, reach and BPTT terms all name the words"
    for r in named:
        r.sort(key=lambda t: t["left"])
        for a, b in itertools.pairwise(r):
            assert a["right"] <= b["left"], f"{a['text']!r} overlaps {b['text']!r}"
    page.screenshot(path=str(ARTIFACTS / "browser_sentence.png"), full_page=True)
