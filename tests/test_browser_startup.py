"""The cold start in a real headless Chromium (dashboard/ui/startup.py, ui/plotly_preload.js): the
browser starts loading plotly.js before the first chart arrives, loads it once, the element that
does it takes no room on the page, and presentation mode still starts with the sidebar shut (its
page setting now follows the imports). Server side: tests/test_startup.py."""

from __future__ import annotations

import pytest
from browser_support import ARTIFACTS, served_page, wait_settled

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

# Every plotly.js script tag the page adds (plotly_loader.js names each), with whether a chart's
# box (.unrolled-chart, which plot_component.js makes before it asks for plotly.js) was on the page
# when the load began (the fetch of the zip that the tag then runs).
RECORD_PLOTLY_TAGS = """
window.__plotlyTags = [];
const realFetch = window.fetch;
window.fetch = function (url, ...rest) {
  if (String(url).endsWith('/app/static/plotly.min.js.zip')) {
    window.__plotlyFetchChart = !!document.querySelector(".unrolled-chart");
  }
  return realFetch.call(this, url, ...rest);
};
const append = Node.prototype.appendChild;
Node.prototype.appendChild = function (node) {
  if (node instanceof HTMLScriptElement && node.dataset.unrolledPlotly) {
    window.__plotlyTags.push({name: node.dataset.unrolledPlotly,
                              chartOnPage: window.__plotlyFetchChart});
  }
  return append.call(this, node);
};
"""
# What the page fetched of plotly.js, and how: the zip once, sent as stored (no gzip on the way).
PLOTLY_REQUESTS = """() => performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/app/static/plotly.min.js'))
  .map(e => [e.name.split('/').pop(), e.encodedBodySize === e.decodedBodySize])"""
PRELOAD = ".st-key-unrolled_plotly_preload"


def test_plotly_js_loads_once_before_the_first_chart_and_the_preload_takes_no_room():
    with served_page("browser_startup_server.log", 1100) as (page, url):
        page.add_init_script(RECORD_PLOTLY_TAGS)
        page.goto(f"{url}/?cell=lstm&seq_len=30&hidden_size=8")
        page.wait_for_selector(".js-plotly-plot")
        wait_settled(page)
        fetched = page.evaluate(PLOTLY_REQUESTS)
        assert fetched == [["plotly.min.js.zip", True]], f"the zip, once, as stored: {fetched}"
        tags = page.evaluate("() => window.__plotlyTags")
        assert tags == [{"name": "app/static/plotly.min.js.zip", "chartOnPage": False}], \
            f"one tag, its load begun before any chart arrived: {tags}"
        assert page.evaluate("() => typeof window.Plotly.react") == "function"
        assert page.locator(PRELOAD).count() == 1
        assert page.locator(PRELOAD).bounding_box() is None, "hidden: no room, no gap"
        page.screenshot(path=str(ARTIFACTS / "startup_explore.png"))

        page.goto(f"{url}/?cell=lstm&seq_len=30&hidden_size=8&present=1")
        page.wait_for_selector(".js-plotly-plot")
        wait_settled(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_attribute("data-collapsed") == "true", "presentation mode: sidebar shut"
        page.screenshot(path=str(ARTIFACTS / "startup_explore_present.png"))


def test_without_the_zip_the_plain_plotly_js_is_loaded():
    """A page that cannot have the zip (here refused by the network; in an old browser, no
    DecompressionStream) loads plotly.min.js itself, and the charts are drawn all the same."""
    with served_page("browser_startup_plain_server.log", 1100) as (page, url):
        page.add_init_script(RECORD_PLOTLY_TAGS)
        page.route("**/app/static/plotly.min.js.zip", lambda route: route.fulfill(status=404))
        page.goto(f"{url}/?cell=gru&seq_len=20&hidden_size=6")
        page.wait_for_selector(".js-plotly-plot")
        wait_settled(page)
        names = [t["name"] for t in page.evaluate("() => window.__plotlyTags")]
        assert names == ["app/static/plotly.min.js"], names
        assert page.locator(".unrolled-chart-error").filter(has_text="could").count() == 0
        assert page.locator(".js-plotly-plot").count() >= 2
