"""The attention readout in a real headless Chromium: a link with readout=attention draws the
attention map under the gradient view (a T x T heatmap, its causal triangle blank), with the
presentation mode too, and the Compare pair. Screenshots go to artifacts/ (git-ignored)."""

from __future__ import annotations

import pytest
from browser_support import ARTIFACTS, open_settled, served_page

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

# The attention map as drawn by plotly.js: its title, the heatmap's shape, and how many of its
# cells above the diagonal (k > t) and on or below it hold a number.
MAP_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .filter(gd => String(gd.layout.title.text || '').includes('Attention map'))
  .map(gd => {
    const z = gd.calcdata[0][0].z;  // plotly.js's own decoded rows
    let upper = 0, lower = 0;
    z.forEach((row, t) => row.forEach((v, k) => {
      if (Number.isFinite(v)) { if (k > t) upper += 1; else lower += 1; }
    }));
    const drawn = gd.querySelectorAll('.heatmaplayer image, .heatmaplayer .hm').length;
    return {title: gd.layout.title.text, rows: z.length, cols: z[0].length, upper, lower, drawn};
  })
"""


@pytest.fixture(scope="module")
def served():
    with served_page("browser_attention_server.log", 2600) as (pg, url):
        yield pg, url


@pytest.mark.parametrize("present", ["", "&present=1"], ids=["normal", "present"])
def test_the_attention_map_is_drawn(served, present):
    page, url = served
    open_settled(page, f"{url}/?readout=attention&seq_len=60&loss=last{present}")
    maps = page.evaluate(MAP_JS)
    assert len(maps) == 1, "one attention map, under the gradient view"
    m = maps[0]
    assert (m["rows"], m["cols"]) == (60, 60) and m["drawn"] >= 1
    assert m["upper"] == 0 and m["lower"] == 60 * 61 // 2, "the causal triangle, k > t blank"
    assert page.get_by_text("direct part ||dL/do_t||", exact=False).count() >= 1
    assert "readout=attention" in page.url
    name = "browser_attention" + ("_present" if present else "") + ".png"
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    open_settled(page, f"{url}/?seq_len=60&loss=last{present}")
    assert page.evaluate(MAP_JS) == [], "no map with the linear readout"


def test_the_compare_pair(served):
    page, url = served
    open_settled(page, f"{url}/compare?a.cell=rnn&a.activation=tanh&a.seq_len=200&a.loss=last"
                "&b.readout=attention")
    assert page.get_by_text("direct part ||dL/do_t||", exact=False).count() >= 1
    page.screenshot(path=str(ARTIFACTS / "browser_attention_compare.png"), full_page=True)
