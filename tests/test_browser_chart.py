"""The chart element (dashboard/plot_component.js) in a real headless Chromium: an update redraws
the same chart once with the new data, fullscreen and resizing fit the chart to its box, and a
plotting library that cannot load is a message on the page, not a blank or a traceback."""

from __future__ import annotations

import pytest
from browser_support import ARTIFACTS, served_page, signature, wait_settled

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

EXCEPTION = '[data-testid="stException"]'
GD = ".js-plotly-plot"

# The first heatmap as drawn (Plotly's calcdata) and as sent (gd.data, base64 typed arrays
# decoded by Plotly): sum of finite values and shape of each.
DRAWN_VS_SENT_JS = """
() => {
  const gd = document.querySelector('.js-plotly-plot');
  const i = gd.data.findIndex(t => t.type === 'heatmap');
  const drawn = gd.calcdata[i][0].z;
  const sent = gd._fullData[i].z;
  const total = rows => { let s = 0, n = 0; for (const r of rows) for (const v of r)
    if (Number.isFinite(v)) { s += v; n += 1; } return [n, s]; };
  return {drawn: total(drawn), sent: total(sent), rows: drawn.length, cols: drawn[0].length};
}
"""


@pytest.fixture(scope="module")
def app():
    with served_page("browser_chart_server.log", 1300) as (pg, url):
        pg.goto(f"{url}/?cell=lstm&seq_len=40&hidden_size=16")
        pg.wait_for_selector(GD)
        wait_settled(pg)
        yield pg, url


def size(page) -> list:
    return page.evaluate("() => { const l = document.querySelector('.js-plotly-plot')._fullLayout;"
                         " return [l.width, l.height]; }")


def test_an_update_redraws_the_same_chart_once_with_the_new_data(app):
    page, _ = app
    page.evaluate("""() => { const gd = document.querySelector('.js-plotly-plot');
        gd.__mark = 'before'; window.__draws = 0; gd.on('plotly_afterplot', () => window.__draws++); }""")
    before = signature(page)
    box = page.locator(".st-key-cfg_seed input")
    box.fill(str(int(box.input_value()) + 1))
    box.press("Enter")
    wait_settled(page, before)
    assert page.locator(EXCEPTION).count() == 0
    assert page.evaluate("() => document.querySelector('.js-plotly-plot').__mark") == "before", \
        "the chart was redrawn in place, not unmounted and mounted again"
    assert page.evaluate("() => window.__draws") == 1, "one Plotly draw per update"
    got = page.evaluate(DRAWN_VS_SENT_JS)
    assert (got["rows"], got["cols"]) == (16, 40)
    assert got["drawn"][0] == got["sent"][0] == 16 * 40
    assert got["drawn"][1] == pytest.approx(got["sent"][1], rel=1e-6), "the heatmap shows the new data"


def test_fullscreen_fills_the_screen_and_returns(app):
    page, _ = app
    normal = size(page)
    chart = page.locator(GD).first
    chart.hover()
    page.locator('.modebar-btn[data-title="Fullscreen"]').first.click()
    page.wait_for_function("() => document.fullscreenElement"
                           " && document.fullscreenElement.classList.contains('unrolled-chart')")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout.height"
                           " === window.innerHeight")
    assert size(page) == page.evaluate("() => [window.innerWidth, window.innerHeight]")
    page.screenshot(path=str(ARTIFACTS / "browser_chart_fullscreen.png"))
    chart.hover()
    page.locator('.modebar-btn[data-title="Close fullscreen"]').first.click()
    page.wait_for_function("() => !document.fullscreenElement")
    page.wait_for_function(f"() => document.querySelector('.js-plotly-plot')._fullLayout.height"
                           f" === {normal[1]}")
    assert size(page) == normal


def test_a_narrower_window_narrows_the_chart(app):
    page, _ = app
    wide = size(page)[0]
    page.set_viewport_size({"width": 1000, "height": 1300})
    try:
        page.wait_for_function(f"() => document.querySelector('.js-plotly-plot')._fullLayout.width"
                               f" < {wide}")
        box = page.evaluate("() => document.querySelector('.unrolled-chart').clientWidth")
        assert size(page)[0] == box, "the chart fills its column, no more"
    finally:
        page.set_viewport_size({"width": 1400, "height": 1300})


def test_no_upload_button_in_the_toolbar(app):
    page, _ = app
    page.locator(GD).first.hover()
    titles = page.locator(".modebar-btn").evaluate_all(
        "els => els.map(e => e.getAttribute('data-title'))")
    assert "Download plot as a PNG" in titles and "Fullscreen" in titles
    assert not [t for t in titles if "share" in t.lower() or "cloud" in t.lower()], titles


def test_plotting_library_that_cannot_load_is_a_message(app):
    page, url = app
    other = page.context.browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        other.route("**/plotly.min.js*", lambda route: route.abort())  # the zip and the plain file
        other.goto(f"{url}/?seq_len=20")
        alert = other.locator(".unrolled-chart-error").first
        alert.wait_for(state="visible")
        assert "could not be drawn" in alert.inner_text()
        assert other.locator(GD).count() == 0, "nothing half-drawn"
        assert other.locator(EXCEPTION).count() == 0
    finally:
        other.close()
