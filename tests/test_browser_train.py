"""The Train page in a real headless Chromium: a short run updates the charts while it trains and
the progress bar reaches the end; bad CSV uploads get a message on the page, never a traceback.
Screenshots go to artifacts/ (git-ignored)."""

from __future__ import annotations

import time

import pytest
from browser_support import ARTIFACTS, IDLE, served_page

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

EXCEPTION = '[data-testid="stException"]'
STEPS = 500
QUERY = (f"train_task=recall&delay=30&hidden_size=16&batch=16&steps={STEPS}&snapshot_every=10"
         "&models=rnn_tanh,irnn,lstm")
# Per chart: its title and the length of every trace's y as plotly.js decoded it (how many
# steps it shows).
LENGTHS_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const t = gd.layout && gd.layout.title;
  const title = (t && (t.text || t)) || '';
  return [String(title), (gd._fullData || []).map(d => (d.y && d.y.length) || 0)];
})
"""
# Records, every 20 ms inside the page, how many steps the loss chart shows: a fast machine can
# draw and replace a live chart between two polls from Python.
RECORD_JS = """
() => { window.__lossSeen = new Set();
  window.__lossTimer = setInterval(() => {
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
      const t = gd.layout && gd.layout.title;
      const title = String((t && (t.text || t)) || '');
      const d = (gd._fullData || [])[0];
      if (title.includes('Training loss') && d && d.y) window.__lossSeen.add(d.y.length);
    }
  }, 20); }
"""
SEEN_JS = "() => { clearInterval(window.__lossTimer); return Array.from(window.__lossSeen); }"


@pytest.fixture(scope="module")
def browser_page():
    with served_page("browser_train_server.log", 1800) as (pg, url):
        yield pg, url


def no_exception(page) -> None:
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def loss_steps(page) -> int | None:
    """How many steps the loss chart shows (None while it is not drawn)."""
    for title, lengths in page.evaluate(LENGTHS_JS):
        if "Training loss" in title and lengths:
            return int(lengths[0])
    return None


def progress_value(page) -> int | None:
    bar = page.get_by_role("progressbar")
    return int(bar.get_attribute("aria-valuenow")) if bar.count() == 1 else None


def test_short_run_updates_live_and_finishes(browser_page):
    page, url = browser_page
    page.goto(f"{url}/train?{QUERY}")
    page.wait_for_selector(IDLE)
    no_exception(page)
    page.evaluate(RECORD_JS)
    page.locator(".st-key-tr_run").get_by_role("button").click()
    shown, bar, deadline = set(), set(), time.monotonic() + 240
    while time.monotonic() < deadline:
        shown.add(loss_steps(page))
        bar.add(progress_value(page))
        if page.get_by_text(f"Done: {STEPS} steps").count():
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"the run did not finish; the loss chart showed {shown} steps")
    page.wait_for_selector(IDLE)
    no_exception(page)
    shown.add(loss_steps(page))
    shown.update(page.evaluate(SEEN_JS))
    bar.add(progress_value(page))
    assert any(n is not None and 0 < n < STEPS for n in shown), \
        f"the loss chart should be drawn while training; it showed {shown} steps"
    assert STEPS in shown, shown
    assert any(v is not None and 0 < v < 100 for v in bar), f"progress seen: {bar}"
    assert progress_value(page) == 100
    assert f"Done: {STEPS} steps of 3 model(s)" in \
        page.locator('[data-testid="stProgress"]').inner_text()
    titles = [t for t, _ in page.evaluate(LENGTHS_JS)]
    assert any("How far back the gradient reaches" in t for t in titles)
    assert any("Spectral radius" in t for t in titles)
    # the slider comes with the finished run's page, which may follow "Done" by a rerun
    page.get_by_role("slider").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "browser_train_done.png"), full_page=True)


def test_stop_keeps_what_was_trained(browser_page):
    page, url = browser_page
    page.goto(f"{url}/train?train_task=adding&seq_len=100&hidden_size=16&steps=5000"
              "&snapshot_every=50&models=lstm")
    page.wait_for_selector(IDLE)
    page.locator(".st-key-tr_run").get_by_role("button").click()
    deadline = time.monotonic() + 120
    while (progress_value(page) or 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    page.locator(".st-key-tr_stop").get_by_role("button").click()
    page.get_by_text("Stopped after step").wait_for()
    page.wait_for_selector(IDLE)
    no_exception(page)
    assert 0 < progress_value(page) < 100
    assert loss_steps(page) and loss_steps(page) < 5000, "the partial run is drawn"


def test_settings_survive_a_visit_to_explore(browser_page):
    page, url = browser_page
    page.goto(f"{url}/train?delay=7&models=lstm,gru&lr=0.05")
    page.wait_for_selector(IDLE)
    page.get_by_role("link", name="Explore").click()
    page.wait_for_selector(".js-plotly-plot")
    page.wait_for_selector(IDLE)
    page.get_by_role("link", name="Train").click()
    page.wait_for_selector(".st-key-tr_run")
    page.wait_for_selector(IDLE)
    no_exception(page)
    for part in ("delay=7", "models=lstm%2Cgru", "lr=0.05"):
        assert part in page.url, page.url
    alerts = page.locator('[data-testid="stAlert"]').all_inner_texts()
    assert alerts and all("then press Train" in a for a in alerts), alerts  # only the hint


def test_explore_survives_a_visit_to_train(browser_page):
    page, url = browser_page
    page.goto(f"{url}/?seq_len=80&cell=lstm")
    page.wait_for_selector(".js-plotly-plot")
    page.wait_for_selector(IDLE)
    page.get_by_role("link", name="Train").click()
    page.wait_for_selector(".st-key-tr_run")
    page.wait_for_selector(IDLE)
    page.get_by_role("link", name="Explore").click()
    page.wait_for_selector(".js-plotly-plot")
    page.wait_for_selector(IDLE)
    no_exception(page)
    assert "seq_len=80" in page.url and "cell=lstm" in page.url, page.url
    assert page.get_by_text("Something went wrong").count() == 0


def _upload(page, name: str, data: bytes) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE)


def test_bad_uploads_get_messages(browser_page):
    page, url = browser_page
    page.goto(f"{url}/train?train_task=series&seq_len=5&steps=5&hidden_size=4&batch=2")
    page.wait_for_selector(IDLE)
    page.get_by_text("Upload a CSV file to train on your series").wait_for()
    rows = "\n".join(f"2024-01-{d:02d},{100 + d}" for d in range(1, 21))
    _upload(page, "prices.csv", ("Date,Close\n" + rows.replace(",105", ",").replace(",111", ",n/a")
                                 + "\n").encode())
    page.get_by_text("2 missing or non-numeric value(s): 2 dropped").wait_for()
    no_exception(page)
    page.locator(".st-key-tr_run").get_by_role("button").click()  # 18 prices are enough
    page.get_by_text("Done: 5 steps").wait_for()
    no_exception(page)
    _upload(page, "empty.csv", b"")
    page.get_by_text("'empty.csv' is empty").wait_for()
    _upload(page, "names.csv", b"name,city\nann,paris\n")
    page.get_by_text("has no numeric column").wait_for()
    assert not page.locator(".st-key-tr_run").get_by_role("button").is_enabled()
    no_exception(page)


def test_file_and_column_names_are_shown_as_text(browser_page):
    """A file name and CSV column names carrying <script> / <img onerror> payloads are shown
    verbatim and never run (issue 6: no user text is rendered as HTML)."""
    page, url = browser_page
    page.goto(f"{url}/train?train_task=series&seq_len=5&steps=5&hidden_size=4&batch=2")
    page.wait_for_selector(IDLE)
    page.get_by_text("Upload a CSV file to train on your series").wait_for()
    column = '<img src=x onerror="window.__xss=1">'
    rows = "\n".join(f"{d},{d * 1.5},note{d}" for d in range(1, 21))
    data = f'id,"{column.replace(chr(34), chr(34) * 2)}",<script>window.__xss=2</script>\n{rows}\n'
    _upload(page, "<script>window.__xss=3</script>.csv", data.encode())
    page.get_by_text("values from column").wait_for()
    assert page.evaluate("window.__xss") is None, "a payload ran"
    assert page.locator('img[src="x"]').count() == 0
    shown = " ".join(page.locator('[data-testid="stAlertContainer"]').all_inner_texts())
    assert "<script>window.__xss=2</script>" in shown, "the skipped column's name is shown as text"
    page.locator(".st-key-tr_column").get_by_role("combobox").click()
    assert page.get_by_role("option", name=column, exact=True).count() == 1
    page.keyboard.press("Escape")
    _upload(page, "<img src=y onerror=window.__xss=4>.csv", b"")
    page.get_by_text("is empty").wait_for()
    assert page.evaluate("window.__xss") is None and page.locator('img[src="y"]').count() == 0
    assert "<img src=y onerror=window.__xss=4>.csv" in " ".join(
        page.locator('[data-testid="stAlertContainer"]').all_inner_texts())
    no_exception(page)


def test_a_remedy_preset_sets_the_knobs_and_the_link(browser_page):
    """Clicking a remedy in the sidebar sets the knobs (and so the address bar) to its link's;
    its caption's Link points at the same settings."""
    page, url = browser_page
    page.goto(f"{url}/train?hidden_size=7&models=lstm")
    page.wait_for_selector(IDLE)
    page.locator(".st-key-tr_preset_attention").get_by_role("button").click()
    page.wait_for_function("() => location.search.includes('rnn_tanh_attn')")
    page.wait_for_selector(IDLE)
    no_exception(page)
    for part in ("models=rnn_tanh%2Crnn_tanh_attn", "hidden_size=64", "lr=0.003", "steps=600"):
        assert part in page.url, page.url
    assert page.locator(".st-key-tr_hidden_size input").input_value() == "64"
    link = page.get_by_role("link", name="Link").nth(4).get_attribute("href")
    assert "models=rnn_tanh,rnn_tanh_attn" in link and "hidden_size=64" in link, link
    page.screenshot(path=str(ARTIFACTS / "browser_train_preset.png"), full_page=True)
