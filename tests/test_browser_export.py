"""Export and presentation mode in a real headless Chromium: the HTML report renders every figure
with no network request; the modebar downloads a PNG; a config upload restores a view;
presentation mode collapses the sidebar and enlarges the page. Screenshots go to artifacts/."""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest
from browser_support import ARTIFACTS, CHROMIUM, IDLE, MISSING, launch, streamlit_app, wait_settled
from oracle import small_config

from dashboard.export import config_file, report
from dashboard.state import explore as S
from engine import unroll

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

EXCEPTION = '[data-testid="stException"]'
LOCAL = ("file:", "data:", "blob:", "about:")

RENDERED_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  svg: gd.querySelectorAll('.main-svg').length,
  traces: (gd.data || []).length,
  drawn: gd.querySelectorAll('.heatmaplayer image, .scatterlayer path.js-line, .barlayer path, '
                             + '.scatterlayer path.point').length,
  font: gd._fullLayout ? gd._fullLayout.font.size : null,
}))
"""


@pytest.fixture(scope="module")
def pw():
    if not os.path.exists(CHROMIUM):
        pytest.fail(MISSING, pytrace=False)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


def test_html_report_renders_offline(pw, tmp_path):
    trace = unroll(small_config(cell="lstm", seq_len=30, hidden_size=8, task="sentence",
                                text="one <b>two</b> three " * 4))
    view = S.View(view="gradient")
    # |dL/dh_t|, its norm, BPTT terms; the values at t; influence
    figures = report.view_figures(trace, view)
    assert len(figures) == 3  # the stacked gradient view, the values at t, the influence matrix
    page_html = report.report_html(figures, trace.config, view=view,
                              explanations=[("Gradient", "dL/dh_t <i>through</i> time")],
                              url="http://127.0.0.1:8501/?cell=lstm")
    path = tmp_path / "report.html"
    path.write_text(page_html)
    ctx = pw.new_context(accept_downloads=True)
    page = ctx.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_function("""() => {
        const g = document.querySelectorAll('.js-plotly-plot');
        return g.length === 3 && Array.from(g).every(gd => gd._fullLayout && gd.querySelector('.main-svg'));
    }""", timeout=30_000)
    rendered = page.evaluate(RENDERED_JS)
    assert len(rendered) == 3
    assert all(r["svg"] > 0 and r["traces"] > 0 and r["drawn"] > 0 for r in rendered), rendered
    assert page.get_by_text("dL/dh_t <i>through</i> time").count() == 1, "escaped, shown as text"
    page.screenshot(path=str(ARTIFACTS / "browser_report.png"), full_page=True)

    plot = page.locator(".js-plotly-plot").first
    plot.hover()
    with page.expect_download() as dl:
        plot.locator('[data-title="Download plot as an svg" i]').click()
    svg = open(dl.value.path(), "rb").read()
    assert svg.lstrip().startswith(b"<svg") and b"</svg>" in svg[-200:]
    assert dl.value.suggested_filename.endswith("_grad.svg")
    assert requests and all(u.startswith(LOCAL) for u in requests), \
        [u for u in requests if not u.startswith(LOCAL)]
    ctx.close()


@pytest.fixture(scope="module")
def app(pw):
    """One server and one page for the tests below (each page load costs seconds)."""
    with streamlit_app(log_path=ARTIFACTS / "browser_export_server.log") as (url, _):
        ctx = pw.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1600})
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        _load(page, url + "/?seq_len=20")
        yield url, page
        ctx.close()


def _load(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot")
    wait_settled(page)
    assert page.locator(EXCEPTION).count() == 0


def _sidebar_open(page) -> bool:
    return page.locator('[data-testid="stSidebar"]').get_attribute("data-collapsed") == "false"


def _root_font(page) -> str:
    return page.evaluate("() => getComputedStyle(document.documentElement).fontSize")


def test_modebar_downloads_a_png(app):
    _, page = app
    plot = page.locator(".st-key-fig_grad .js-plotly-plot")
    plot.hover()
    with page.expect_download() as dl:
        plot.locator('[data-title="Download plot as a png" i]').click()
    png = open(dl.value.path(), "rb").read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert dl.value.suggested_filename == "unrolled_fig_grad.png"


def open_export(page) -> None:
    """Open the Export section (lazy: its content exists only while it is open)."""
    if page.locator(".st-key-image_format").count() == 0:
        page.get_by_text("Export: data, config, PyTorch script, report").click()
    page.locator(".st-key-image_format").wait_for()


def test_modebar_downloads_an_svg_when_chosen(app):
    _, page = app
    open_export(page)
    page.locator(".st-key-image_format").get_by_text("SVG").click()
    page.wait_for_timeout(500)  # the rerun re-sends each chart with its new config
    wait_settled(page)
    plot = page.locator(".st-key-fig_grad .js-plotly-plot")
    plot.hover()
    with page.expect_download() as dl:
        plot.locator('.modebar-btn[data-title^="Download plot" i]').click()
    svg = open(dl.value.path(), "rb").read()
    assert svg.lstrip().startswith(b"<svg") and b"</svg>" in svg[-200:], svg[:80]
    assert dl.value.suggested_filename == "unrolled_fig_grad.svg"
    # the cursor lines are drawn over the chart on screen, not by Plotly: the image gets them
    cursor = b"rgb(0, 179, 179)"  # theme.CURSOR_COLOR, on no other line of this chart
    assert svg.count(cursor) == 3, "the time cursor's line on each of the view's three plots"
    page.locator(".st-key-image_format").get_by_text("PNG").click()  # leave it as found


def test_config_upload_restores_the_view(app, tmp_path):
    _, page = app
    config = small_config(cell="gru", hidden_size=6, seq_len=33, seed=5, device="auto",
                          text="to be or not")
    path = tmp_path / "view.json"
    path.write_text(config_file.config_json(config, S.View(view="hidden", t=7)))
    open_export(page)
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.set_input_files(str(path))
    page.wait_for_url("**cell=gru**")
    page.wait_for_selector(IDLE)
    assert page.locator(EXCEPTION).count() == 0
    query = dict(urllib.parse.parse_qsl(page.url.split("?", 1)[1]))
    assert {k: query[k] for k in S.PARAM} == S.config_to_query(config)
    assert query["view"] == "hidden" and query["t"] == "7"
    page.get_by_text("the view it describes is restored").wait_for()

    # downloads work in the browser: the script is built only when clicked (deferred)
    with page.expect_download() as dl:
        page.locator(".st-key-export_snippet").get_by_role("button").click()
    source = open(dl.value.path()).read()
    assert dl.value.suggested_filename == f"{config_file.file_stem(config)}.py"
    compile(source, "script.py", "exec")
    assert "'cell': 'gru'" in source and "'seq_len': 33" in source
    with page.expect_download() as dl:
        page.locator(".st-key-export_config").get_by_role("button").click()
    assert config_file.load_config_json(open(dl.value.path(), "rb").read())[0] == config

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": config_file.FORMAT, "version": 1,
                               "config": {"cell": "tree"}}))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    page.get_by_text("config file: config.cell = 'tree'").wait_for()
    assert "cell=gru" in page.url, "a bad file changes nothing"


def test_presentation_mode_changes_the_page(app):
    url, page = app
    assert _sidebar_open(page) and _root_font(page) == "16px"
    normal = page.evaluate(RENDERED_JS)
    assert normal and all(r["font"] < 18 for r in normal)

    _load(page, url + "/?seq_len=20&present=1&view=hidden")
    assert not _sidebar_open(page), "presentation mode starts with the sidebar collapsed"
    assert _root_font(page) == "20px", "larger page text"
    big = page.evaluate(RENDERED_JS)
    assert {r["font"] for r in big} == {18}, "every chart restyled"
    assert "present=true" in page.url
    page.screenshot(path=str(ARTIFACTS / "browser_present_on.png"))
    # one chart per row: the values-at-t chart sits below the view's chart, full width
    view = page.locator(".st-key-fig_hidden").bounding_box()
    vec = page.locator(".st-key-fig_vectors").bounding_box()
    assert vec["y"] >= view["y"] + view["height"] and vec["width"] >= 0.9 * view["width"]

    switch = page.locator(".st-key-view_present").get_by_role("switch")
    switch.focus()  # a click can land on the sticky header that covers the top of the page
    switch.press("Space")
    page.wait_for_function("() => !location.search.includes('present')")
    page.wait_for_function("() => document.querySelector('[data-testid=stSidebar]').dataset.collapsed === 'false'")
    page.wait_for_function("() => getComputedStyle(document.documentElement).fontSize === '16px'")
    wait_settled(page)
    assert all(r["font"] < 18 for r in page.evaluate(RENDERED_JS))
