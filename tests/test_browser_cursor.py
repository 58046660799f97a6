"""The time cursor in a real headless Chromium: a move redraws the cursor lines and the values at
the new step in the browser, before the server hears of it; the link then holds t, and opening
the link restores it. Compare moves both sides at once. Screenshots go to artifacts/."""

from __future__ import annotations

import numpy as np
import pytest
from browser_support import ARTIFACTS, IDLE, served_page, wait_settled

from dashboard.state import explore as S
from engine import unroll

pytestmark = pytest.mark.browser  # a Streamlit server and headless Chromium: -m "not browser" skips

EXCEPTION = '[data-testid="stException"]'
QUERY = "cell=lstm&seq_len=60&hidden_size=12&seed=3"
# Per chart that follows the cursor: its key, the step it shows and its cursor lines' x offsets.
FOLLOWERS_JS = """
() => Array.from(document.querySelectorAll('.unrolled-chart')).filter(b => b.dataset.cursor !== undefined)
  .map(b => [b.dataset.cursor, Array.from(b.querySelectorAll('.unrolled-cursor-line'))
    .filter(d => d.style.display !== 'none').map(d => parseFloat(d.dataset.x))])
"""
# The values chart as drawn: its title and its h_t line.
VALUES_JS = """
() => { const gd = Array.from(document.querySelectorAll('.js-plotly-plot:not([data-spare])'))
    .find(g => String(g.layout.title && g.layout.title.text).startsWith('Values at step t'));
  const h = gd.data.find(t => t.name === 'h_t');
  return [gd.layout.title.text, Array.from(h.y), gd.style.opacity]; }
"""
# The charts as a keyboard reaches them: their names.
LABELS_JS = """
() => Array.from(document.querySelectorAll('.unrolled-chart'))
  .filter(b => b.tabIndex === 0 && b.getAttribute('role') === 'figure')
  .map(b => b.getAttribute('aria-label'))
"""
# Every start of a script run (a server round trip), as the page's status attribute shows it, and the
# last move of the cursor, each with its time. A slow machine may rest between two presses longer
# than the cursor waits before it tells the server; the run that carries the last step can only
# start after the last move.
RUNS_JS = """
() => { window.__runStarts = []; window.__lastMove = null; window.__unrolledCursorDrawn = {};
  new MutationObserver(() => { if (document.querySelector('[data-testid="stApp"]')
      .getAttribute('data-test-script-state') === 'running') window.__runStarts.push(performance.now()); })
    .observe(document.querySelector('[data-testid="stApp"]'), {attributes: true});
  document.querySelector('.unrolled-cursor input')
    .addEventListener('input', () => { window.__lastMove = performance.now(); }); }
"""
# The script runs that started after the last move and before the charts showed its step.
RUNS_BEFORE_DRAW_JS = """
(keys) => { const at = Math.max(...keys.map(k => window.__unrolledCursorDrawn[k].at));
  return window.__runStarts.filter(s => s >= window.__lastMove && s <= at).length; }
"""
# The keys of the charts drawn at step t since RUNS_JS, once as many as follow the cursor have.
DRAWN_AT_JS = """
(t) => { const n = Array.from(document.querySelectorAll('.unrolled-chart'))
    .filter(b => b.dataset.cursor !== undefined).length;
  const keys = Object.entries(window.__unrolledCursorDrawn).filter(([, d]) => d.t === t).map(([k]) => k);
  return keys.length === n && keys; }
"""


@pytest.fixture(scope="module")
def page():
    with served_page("browser_cursor_server.log", 1300) as (pg, url):
        pg.url0 = url
        yield pg


def no_exception(pg) -> None:
    assert pg.locator(EXCEPTION).count() == 0, pg.locator(EXCEPTION).first.inner_text()


def open_page(pg, query: str, path: str = "") -> None:
    pg.goto(f"{pg.url0}/{path}?{query}")
    pg.wait_for_selector(".unrolled-cursor input")
    pg.wait_for_selector(".js-plotly-plot")
    wait_settled(pg)
    no_exception(pg)


def cursor(pg):
    return pg.locator(".unrolled-cursor input")


def test_a_move_redraws_in_the_browser_then_reaches_the_link(page):
    open_page(page, QUERY)
    assert cursor(page).input_value() == "59"
    before = page.evaluate(FOLLOWERS_JS)
    assert len(before) == 2 and all(t == "59" for t, _ in before), before  # the view, the values
    assert len(before[0][1]) == 3, "a cursor line on each time plot of the gradient view"
    page.evaluate(RUNS_JS)
    cursor(page).focus()
    for _ in range(3):
        cursor(page).press("ArrowLeft")
    page.wait_for_function("() => (window.__unrolledCursorDrawn || {}).fig_vectors?.t === 56")
    runs = page.evaluate(RUNS_BEFORE_DRAW_JS, ["fig_vectors"])
    title, h, opacity = page.evaluate(VALUES_JS)
    assert runs == 0, "the charts were redrawn before the server heard of the step"
    assert title.startswith("Values at step t = 56") and opacity == ""
    trace = unroll(S.state_from_query(dict(p.split("=") for p in QUERY.split("&")))[0])
    np.testing.assert_allclose(h, trace.hidden[0, 56, 0], rtol=1e-5, atol=1e-7)
    after = page.evaluate(FOLLOWERS_JS)
    assert all(t == "56" for t, _ in after), after
    # each chart is a keyboard stop named by its title, the readout's following the cursor
    names = page.evaluate(LABELS_JS)
    assert names[0] == "Gradient through time", names
    assert names[1].startswith("Values at step t = 56 · "), names
    assert "<" not in "".join(names), "the names carry no markup"
    assert all(a < b for a, b in zip(after[0][1], before[0][1], strict=True)), \
        "every cursor line moved left"
    page.wait_for_function("() => location.search.includes('t=56')")  # the hand rested
    page.wait_for_selector(IDLE)
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "browser_cursor_moved.png"))
    open_page(page, page.url.split("?", 1)[1])  # the link restores the step
    assert cursor(page).input_value() == "56"
    assert page.evaluate(VALUES_JS)[0].startswith("Values at step t = 56")
    assert all(t == "56" for t, _ in page.evaluate(FOLLOWERS_JS))


def test_a_late_echo_of_an_earlier_move_does_not_pull_the_cursor_back(page):
    """On a slow server the answer to one move can arrive after the next move was sent: the cursor
    keeps the step the hand chose. The server's messages are held back, then delivered in order."""
    held, holding, sockets = [], [False], []

    def route(ws):
        server = ws.connect_to_server()
        sockets.append(ws)
        ws.on_message(server.send)
        server.on_message(lambda m: held.append((ws, m)) if holding[0] else ws.send(m))

    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1300})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.url0 = page.url0
    try:
        pg.route_web_socket("**/_stcore/stream", route)
        open_page(pg, QUERY)
        holding[0] = True
        cursor(pg).focus()
        for t in (58, 57):
            cursor(pg).press("ArrowLeft")  # then a rest: the move is told to the server
            pg.wait_for_function(f"() => window.__unrolledCursor?.t === {t}")
            pg.wait_for_timeout(600)
        for _ in range(300):  # the server answers (a slow machine may take a while)
            if held:
                break
            pg.wait_for_timeout(100)
        assert held, "the server's answers were held back"
        pg.wait_for_timeout(1000)
        while held:  # the answer to t = 58, then the one to t = 57, then any that come meanwhile,
            ws, m = held.pop(0)  # one message at a time, so the page draws each answer on its own
            ws.send(m)
            pg.wait_for_timeout(50)
        holding[0] = False
        pg.wait_for_function("() => location.search.includes('t=57')")
        pg.wait_for_selector(IDLE)
        pg.wait_for_timeout(300)
        assert cursor(pg).input_value() == "57"
        assert pg.evaluate("() => window.__unrolledCursor.t") == 57
        assert all(t == "57" for t, _ in pg.evaluate(FOLLOWERS_JS))
        no_exception(pg)
    finally:
        context.close()


# The values chart on screen, and a fresh Plotly drawing of its data and layout beside it (same
# size, axes autoranged): their lines' paths, their axes' ranges and their titles as drawn; and
# whether the chart shown is the element shown at the last call.
SHOWN_AND_FRESH_JS = """
async () => {
  const gd = Array.from(document.querySelectorAll('.js-plotly-plot:not([data-spare])'))
    .find(g => String(g.layout.title && g.layout.title.text).startsWith('Values at step t'));
  const div = document.createElement('div');
  div.style.cssText = `position:absolute;left:0;top:0;width:${gd.clientWidth}px;height:${gd.clientHeight}px`;
  gd.parentElement.appendChild(div);
  const layout = JSON.parse(JSON.stringify(gd.layout));
  for (const k of Object.keys(layout)) if (/^[xy]axis/.test(k)) { delete layout[k].range; layout[k].autorange = true; }
  await Plotly.newPlot(div, gd.data.map(t => ({...t})), layout);
  const look = g => [Array.from(g.querySelectorAll('.scatterlayer path.js-line')).map(p => p.getAttribute('d')),
                     ['xaxis', 'yaxis', 'yaxis2'].map(a => g._fullLayout[a].range),
                     g._fullLayout.title.text];
  const out = [look(gd), look(div), gd === window.__lastShown];
  Plotly.purge(div); div.remove();
  window.__lastShown = gd;
  return out;
}
"""
SPARES_JS = "() => Array.from(document.querySelectorAll('[data-spare][data-step]')).map(g => g.dataset.step).sort()"


def test_one_step_shows_the_step_drawn_ahead_exactly(page):
    """While the cursor rests, the readout draws the steps either side ahead (hidden); a one-step
    move shows that drawing, which is exactly Plotly's drawing of the new step's values."""
    open_page(page, QUERY)
    trace = unroll(S.state_from_query(dict(p.split("=") for p in QUERY.split("&")))[0])
    cursor(page).focus()
    cursor(page).press("ArrowLeft")  # 58: the cursor in use, both neighbours exist
    page.wait_for_function("() => (window.__unrolledCursorDrawn || {}).fig_vectors?.t === 58")
    page.evaluate(SHOWN_AND_FRESH_JS)  # the chart shown at 58
    for key, t in [("ArrowLeft", 57), ("ArrowRight", 58), ("ArrowRight", 59)]:
        page.wait_for_function(f"() => ({SPARES_JS})().includes('{t}')")  # drawn ahead
        cursor(page).press(key)
        page.wait_for_function(f"() => (window.__unrolledCursorDrawn || {{}}).fig_vectors?.t === {t}")
        shown, fresh, same_element = page.evaluate(SHOWN_AND_FRESH_JS)
        assert not same_element, f"t = {t}: the step was drawn again, not shown from its spare"
        assert shown == fresh, f"t = {t}: the chart shown differs from Plotly's own drawing"
        assert shown[2].startswith(f"Values at step t = {t}")
        title, h, opacity = page.evaluate(VALUES_JS)
        np.testing.assert_allclose(h, trace.hidden[0, t, 0], rtol=1e-5, atol=1e-7)
        assert opacity == ""
    no_exception(page)


@pytest.mark.parametrize("reach", ["hover", "focus"])
def test_the_first_move_shows_a_step_drawn_when_the_hand_reached_the_cursor(page, reach):
    """Nothing is drawn ahead on a page whose cursor is untouched; a pointer over the cursor or its
    focus draws the neighbour, and the first move then shows that drawing."""
    page.mouse.move(0, 0)  # not where an earlier test left the pointer: over the new cursor
    open_page(page, QUERY)
    page.wait_for_timeout(300)  # longer than the readout waits once the cursor rests
    assert page.evaluate("() => document.querySelectorAll('[data-spare]').length") == 0
    page.evaluate(SHOWN_AND_FRESH_JS)  # the chart shown at 59
    getattr(cursor(page), reach)()
    page.wait_for_function(f"() => ({SPARES_JS})().includes('58')")  # 59 is the last step
    cursor(page).focus()
    cursor(page).press("ArrowLeft")
    page.wait_for_function("() => (window.__unrolledCursorDrawn || {}).fig_vectors?.t === 58")
    shown, fresh, same_element = page.evaluate(SHOWN_AND_FRESH_JS)
    assert not same_element, "the first move drew the step again, not from its spare"
    assert shown == fresh and shown[2].startswith("Values at step t = 58")
    no_exception(page)


def test_a_zoomed_readout_keeps_its_zoom_when_the_cursor_moves(page):
    """A drawing made ahead is autoranged: after a user's zoom the move takes Plotly's update,
    which keeps the zoom."""
    shown = ("Array.from(document.querySelectorAll('.js-plotly-plot:not([data-spare])'))"
             ".find(g => String(g.layout.title.text).startsWith('Values at step t'))")
    open_page(page, QUERY)
    cursor(page).focus()
    cursor(page).press("ArrowLeft")
    page.wait_for_function(f"() => ({SPARES_JS})().includes('57')")
    page.evaluate(f"() => Plotly.relayout({shown}, {{'yaxis.range': [-0.25, 0.25]}})")  # a zoom
    cursor(page).press("ArrowLeft")
    page.wait_for_function("() => (window.__unrolledCursorDrawn || {}).fig_vectors?.t === 57")
    title, y_range = page.evaluate(f"() => [{shown}.layout.title.text, {shown}._fullLayout.yaxis.range]")
    assert title.startswith("Values at step t = 57")
    assert y_range == [-0.25, 0.25]
    no_exception(page)


@pytest.mark.parametrize("T", [50, 51, 2])
def test_a_new_page_shows_its_step_and_fills_the_track(page, T):
    """The cursor's first draw shows t = T - 1 beside a filled track, also where the range
    input's own starting value (the middle of 0..100, clamped to T - 1) equals it: T = 50, 51."""
    open_page(page, f"cell=rnn&seq_len={T}&hidden_size=4&seed=1")
    got = page.evaluate("""() => { const i = document.querySelector('.unrolled-cursor input');
        return [document.querySelector('.unrolled-cursor output').value, i.value,
                i.style.getPropertyValue('--fill')]; }""")
    assert got == [f"t = {T - 1}", str(T - 1), "100%"], got


def test_a_jump_outside_the_window_greys_the_values_until_the_server_answers(page):
    open_page(page, "cell=gru&seq_len=900&hidden_size=256&seed=1")
    cursor(page).focus()
    cursor(page).press("Home")  # t = 0: far outside the window sent around t = 899
    page.wait_for_function("() => document.querySelector('.unrolled-cursor output').value === 't = 0'")
    page.wait_for_function("() => location.search.includes('t=0')")
    page.wait_for_function("() => (window.__unrolledCursorDrawn || {}).fig_vectors?.t === 0")
    title, _, opacity = page.evaluate(VALUES_JS)
    assert title.startswith("Values at step t = 0") and opacity == ""
    no_exception(page)


def test_compare_moves_both_sides(page):
    open_page(page, "a.seq_len=40&a.hidden_size=8&b.activation=relu", "compare")
    followers = page.evaluate(FOLLOWERS_JS)
    assert len(followers) >= 3 and all(t == "39" for t, _ in followers), followers
    page.evaluate(RUNS_JS)
    cursor(page).focus()
    cursor(page).press("PageDown")
    t = int(cursor(page).input_value())
    assert t < 39
    keys = page.wait_for_function(DRAWN_AT_JS, arg=t).json_value()
    assert len(keys) == len(followers), keys
    assert page.evaluate(RUNS_BEFORE_DRAW_JS, keys) == 0, "both sides moved before the server heard of it"
    page.wait_for_function(f"() => location.search.includes('t={t}')")
    page.wait_for_selector(IDLE)
    no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "browser_cursor_compare.png"))
