"""The 'series' task in a real headless Chromium: a link to a built-in stock draws the gradient
view, presentation mode too, and an uploaded CSV drives it (the sidebar says a file is not part
of the link). Screenshots go to artifacts/ (git-ignored)."""

from __future__ import annotations

import pytest
from browser_support import ARTIFACTS, IDLE, open_settled, served_page, wait_settled

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

EXCEPTION = '[data-testid="stException"]'
TITLES = ("|dL/dh_t| per unit", "Gradient norm through time", "Per-step terms", "Values at step t")


@pytest.fixture(scope="module")
def served():
    with served_page("browser_series_server.log", 1900) as (pg, url):
        yield pg, url


_open = open_settled  # browser_support: load, settle, no exception


def test_a_link_to_aapl_draws_the_gradient_view(served):
    page, url = served
    _open(page, f"{url}/?task=series&series=stocks:AAPL")
    for title in TITLES:
        assert page.get_by_text(title, exact=False).count() >= 1, f"the {title!r} plot is drawn"
    assert page.get_by_text("AAPL · Apple: weekly closing price 2018-01-01", exact=False).count() == 1
    assert "series=stocks%3AAAPL" in page.url or "series=stocks:AAPL" in page.url
    assert page.get_by_text("URL parameter", exact=False).count() == 0, "a clean link: no warning"
    page.screenshot(path=str(ARTIFACTS / "browser_series_aapl.png"), full_page=True)
    _open(page, f"{url}/?task=series&series=stocks:AAPL&seq_len=100&loss=last&present=1")
    assert page.get_by_text("Gradient norm through time", exact=False).count() >= 1
    page.screenshot(path=str(ARTIFACTS / "browser_series_aapl_present.png"), full_page=True)


def test_an_upload_drives_the_page(served):
    page, url = served
    _open(page, f"{url}/?task=series&seq_len=40")
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("A file is not part of the link", exact=False).count() >= 1
    rows = "\n".join(f"2024-01-{1 + d % 28:02d},{100 + d + (d % 4) ** 2}" for d in range(60))
    before = page.evaluate("() => document.querySelectorAll('.js-plotly-plot').length")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "prices.csv", "mimeType": "text/csv",
                "buffer": ("Date,Close\n" + rows + "\n").encode()}])
    page.get_by_text("60 values from column 'Close'", exact=False).wait_for()
    page.wait_for_selector(IDLE)
    wait_settled(page)
    assert page.locator(EXCEPTION).count() == 0 and before >= 1
    assert "series=upload%3AClose" in page.url or "series=upload:Close" in page.url
    page.screenshot(path=str(ARTIFACTS / "browser_series_upload.png"), full_page=True)
    sidebar.locator('[data-testid="stFileUploader"]').scroll_into_view_if_needed()
    sidebar.screenshot(path=str(ARTIFACTS / "browser_series_upload_sidebar.png"))


def test_compare_reads_the_stock_for_a_and_b(served):
    page, url = served
    for present in ("", "&present=1"):
        _open(page, f"{url}/compare?a.task=series&a.series=stocks:AAPL&a.seq_len=100&a.loss=last"
                    f"&b.cell=lstm&b.forget_bias=1.0{present}")
        assert page.locator(".js-plotly-plot").count() == 5, "A and B heatmaps, norms, the ratio"
        assert page.get_by_text("AAPL · Apple: weekly closing price", exact=False).count() == 1
        name = "browser_series_compare" + ("_present" if present else "") + ".png"
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
