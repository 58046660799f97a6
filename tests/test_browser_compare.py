"""The Compare page in a real headless Chromium: /compare renders A and B from the link, and the
animation's Play button walks the time cursor in the browser (no rerun of the script)."""

from __future__ import annotations

import time

import pytest
from browser_support import ARTIFACTS, IDLE, served_page, wait_settled

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

EXCEPTION = '[data-testid="stException"]'

# The animated chart: its cursor (the x of its cursor lines) and its slider's active frame.
ANIMATION_JS = """
() => {
  const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(g => g.layout && g.layout.sliders && g.layout.sliders.length);
  if (!gd) return null;
  const xs = gd.layout.shapes.filter(s => s.type === 'line').map(s => s.x0);
  return {cursor: xs, active: gd.layout.sliders[0].active, frames: (gd._transitionData._frames || []).length};
}
"""


@pytest.fixture(scope="module")
def page():
    with served_page("browser_compare_server.log", 1600) as (pg, url):
        pg.goto(f"{url}/compare?a.seq_len=30&b.activation=relu&a.seed=4")
        pg.wait_for_selector(".js-plotly-plot")
        wait_settled(pg)
        yield pg


def test_compare_renders_both_sides_from_the_link(page):
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator(".js-plotly-plot").count() == 5, "A and B heatmaps, norms, and the ratio"
    assert "a.seed=4" in page.url and "b.activation=relu" in page.url and "b.seed=4" in page.url
    assert page.get_by_text("B differs from A in:").count() == 1
    page.screenshot(path=str(ARTIFACTS / "browser_compare.png"))


def test_play_advances_the_cursor(page):
    page.get_by_role("radio", name="Animate").click()
    page.wait_for_function(f"({ANIMATION_JS})() !== null")
    wait_settled(page)
    start = page.evaluate(ANIMATION_JS)
    assert start["frames"] == 60 and set(start["cursor"]) == {0} and start["active"] == 0
    page.get_by_text("▶ Play").click()
    deadline = time.monotonic() + 20
    now = start
    while time.monotonic() < deadline:
        now = page.evaluate(ANIMATION_JS)
        if now["active"] >= 5:
            break
        time.sleep(0.1)
    assert now["active"] >= 5, now
    assert len(set(now["cursor"])) == 1 and now["cursor"][0] > 0, "every subplot's cursor moved"
    assert page.locator(IDLE).count() == 1, "playing runs in the browser, not the script"
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(ARTIFACTS / "browser_compare_animation.png"))


def test_pages_keep_their_state_across_navigation(page):
    """Streamlit drops a page's widget state while another page runs: both pages put it back."""
    page.get_by_role("link", name="Explore").click()
    page.wait_for_selector(".st-key-cfg_seq_len input")
    wait_settled(page)
    box = page.locator(".st-key-cfg_seq_len input")
    box.fill("44")
    box.press("Enter")
    page.wait_for_url("**/?*seq_len=44*")
    wait_settled(page)
    page.get_by_role("link", name="Compare").click()
    page.wait_for_url("**/compare?*b.activation=relu*")
    wait_settled(page)
    assert page.locator(".st-key-cmp_a_seq_len input").input_value() == "30"
    page.get_by_role("link", name="Explore").click()
    page.wait_for_url("**/?*seq_len=44*")
    wait_settled(page)
    assert page.get_by_text("Something went wrong").count() == 0
    assert page.locator(".st-key-cfg_seq_len input").input_value() == "44"
    assert page.locator(EXCEPTION).count() == 0
