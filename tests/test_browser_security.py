"""User-provided text is shown as text, never as HTML or Markdown, in a real headless Chromium.

URL values (known keys with bad values, unknown keys, a sentence) carry <script>, <img onerror>,
Markdown-image, LaTeX and Streamlit-directive payloads. The page must run none of them, fetch
nothing they point at, and show each one verbatim in its warning (or widget).
"""

from __future__ import annotations

import urllib.parse

import pytest
from browser_support import ARTIFACTS, served_page, wait_settled

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

# A port nothing listens on: a request to it would mean a payload made the page fetch something.
TRAP = "127.0.0.1:9"
PAYLOADS = {
    "seed": '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>": "1",
    "sigma": f"![p](http://{TRAP}/pixel.png)",
    "gain": "$x^2$ :red[boom] **bold** `code`",
    "cell": "<svg onload=window.__xss=3>",
}
SENTENCE = '<img src=y onerror="window.__xss=4"> <script>window.__xss=5</script>'


@pytest.fixture(scope="module")
def browser_page():
    with served_page("security_server.log", 1400) as (page, url):
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        yield page, url, requests


def _open(page, url: str, query: dict) -> None:
    page.goto(f"{url}/?{urllib.parse.urlencode(query)}")
    page.wait_for_selector(".js-plotly-plot")
    wait_settled(page)


def test_url_payloads_are_shown_as_text_and_never_run(browser_page):
    page, url, requests = browser_page
    _open(page, url, PAYLOADS)
    assert page.evaluate("window.__xss") is None, "a payload ran"
    assert not any(TRAP in r for r in requests), "a payload made the page fetch something"
    assert page.locator('img[src="x"], svg[onload]').count() == 0
    assert page.locator(".stApp strong:text('bold')").count() == 0, "Markdown was interpreted"
    warnings = " ".join(page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts())
    for key, value in PAYLOADS.items():
        assert key in warnings, f"the warning does not name {key!r}"
        if value != "1":
            assert value in warnings, f"the value {value!r} is not shown verbatim"
    page.screenshot(path=str(ARTIFACTS / "security_url_payloads.png"))


def test_sentence_payload_stays_text(browser_page):
    page, url, _ = browser_page
    _open(page, url, {"task": "sentence", "text": SENTENCE})
    assert page.evaluate("window.__xss") is None, "a payload ran"
    assert page.locator('img[src="y"]').count() == 0
    field = page.locator(".st-key-cfg_text input")
    assert field.input_value() == SENTENCE
