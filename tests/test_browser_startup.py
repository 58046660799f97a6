"""The cold start in a real headless Chromium (dashboard/ui/startup.py, ui/plotly_preload.js): the
browser starts loading plotly.js before the first chart arrives, loads it once, the element that
does it takes no room on the page, and presentation mode still starts with the sidebar shut (its
page setting now follows the imports). Server side: tests/test_startup.py."""

from __future__ import annotations

import pytest
from browser_support import ARTIFACTS, served_page, wait_settled

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

# Every plotly.min.js script tag the page adds, with whether a chart's box (.unrolled-chart, which
# plot_component.js makes before it asks for plotly.js) was on the page at that moment.
RECORD_PLOTLY_TAGS = """
window.__plotlyTags = [];
const append = Node.prototype.appendChild;
Node.prototype.appendChild = function (node) {
  if (node instanceof HTMLScriptElement && /plotly\\.min\\.js$/.test(node.src || "")) {
    window.__plotlyTags.push({chartOnPage: !!document.querySelector(".unrolled-chart")});
  }
  return append.call(this, node);
};
"""
PLOTLY_REQUESTS = """() => performance.getEntriesByType('resource')
  .filter(e => e.name.endsWith('/app/static/plotly.min.js')).length"""
PRELOAD = ".st-key-unrolled_plotly_preload"


def test_plotly_js_loads_once_before_the_first_chart_and_the_preload_takes_no_room():
    with served_page("browser_startup_server.log", 1100) as (page, url):
        page.add_init_script(RECORD_PLOTLY_TAGS)
        page.goto(f"{url}/?cell=lstm&seq_len=30&hidden_size=8")
        page.wait_for_selector(".js-plotly-plot")
        wait_settled(page)
        assert page.evaluate(PLOTLY_REQUESTS) == 1, "plotly.min.js fetched once"
        tags = page.evaluate("() => window.__plotlyTags")
        assert tags == [{"chartOnPage": False}], f"one tag, before any chart arrived: {tags}"
        assert page.locator(PRELOAD).count() == 1
        assert page.locator(PRELOAD).bounding_box() is None, "hidden: no room, no gap"
        page.screenshot(path=str(ARTIFACTS / "startup_explore.png"))

        page.goto(f"{url}/?cell=lstm&seq_len=30&hidden_size=8&present=1")
        page.wait_for_selector(".js-plotly-plot")
        wait_settled(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_attribute("data-collapsed") == "true", "presentation mode: sidebar shut"
        page.screenshot(path=str(ARTIFACTS / "startup_explore_present.png"))
