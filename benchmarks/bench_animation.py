"""Browser benchmark of the time animation: the Compare page's Animate tab in headless Chromium.

    .venv/bin/python benchmarks/bench_animation.py [--sizes 50x32,1000x256,5000x256]

For each size (T x H, A tanh vs B ReLU) it opens /compare?...&view=animate, picks the fastest
speed (40 steps/s: 25 ms per frame), presses Play and times the whole walk (forward and back) in
the browser from the first frame to plotly's 'plotly_animated' event. It prints the frames, the
milliseconds per frame asked and obtained, and the chart's JSON size. A frame only moves shapes,
but plotly.js then redraws the figure: that is why the animation draws its heatmaps reduced to at
most animation.MAX_ROWS x MAX_COLUMNS cells.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import IDLE, launch, streamlit_app  # noqa: E402

ARM_JS = """
() => {
  const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(g => g.layout && g.layout.sliders && g.layout.sliders.length);
  window.__anim = {frames: gd._transitionData._frames.length, done: null};
  gd.on('plotly_animatingframe', () => { if (window.__anim.t0 == null) window.__anim.t0 = performance.now(); });
  gd.once('plotly_animated', () => { window.__anim.done = performance.now(); });
  return window.__anim.frames;
}
"""


def chart_mb(T: int, H: int) -> float:
    """Size of the animated chart's JSON as Streamlit sends it (the same pair, built here)."""
    sys.path.insert(0, str(ROOT))
    from dashboard.figures.animation import animation_figure
    from dashboard.state.compare import data_config
    from engine import Config, unroll
    from engine.inputs import make_task

    a = Config(seq_len=T, hidden_size=H)
    x, y = make_task(data_config(a))
    pair = [(s, unroll(c, inputs=x, targets=y, influence=False, jacobian=False, adjoints=False))
            for s, c in (("A", a), ("B", a.replace(activation="relu")))]
    return len(animation_figure(pair, frame_ms=25).to_json()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50x32,1000x256,5000x256")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with streamlit_app() as (url, _), sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.set_default_timeout(180_000)
        print(f"{'T x H':>10} {'frames':>7} {'asked ms':>9} {'got ms/frame':>13} {'chart MB':>9}")
        for size in args.sizes.split(","):
            T, H = (int(v) for v in size.split("x"))
            page.goto(f"{url}/compare?a.seq_len={T}&a.hidden_size={H}&b.hidden_size={H}"
                      "&b.activation=relu&view=animate")
            page.wait_for_selector(".st-key-cmp_speed")
            slider = page.locator(".st-key-cmp_speed").get_by_role("slider")
            slider.focus()
            slider.press("End")  # the fastest speed: 40 steps/s, 25 ms per frame
            page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                   ".some(g => g.layout && g.layout.updatemenus && g.layout.updatemenus"
                                   ".length && g.layout.updatemenus[0].buttons[0].args[1].frame.duration === 25)")
            page.wait_for_selector(IDLE)
            time.sleep(1.0)
            frames = page.evaluate(ARM_JS)
            page.get_by_text("▶ Play").click()
            page.wait_for_function("() => window.__anim.done != null", timeout=600_000)
            r = page.evaluate("() => window.__anim")
            per = (r["done"] - r["t0"]) / max(frames - 1, 1)
            print(f"{size:>10} {frames:>7} {25:>9} {per:>13.1f} {chart_mb(T, H):>9.2f}")
        browser.close()


if __name__ == "__main__":
    main()
