"""Browser benchmark: the Explore page against a bare one-heatmap Streamlit page, in headless
Chromium driven by Playwright.

    .venv/bin/python benchmarks/bench_browser.py [--reps N] [--sizes 50x32,1000x256,5000x256]

For each size (T x H; LSTM, Explore's default 'Gradient through time' tab) it starts the app,
measures the cold start (server process start to first chart drawn), then changes the seed N
times and prints the median time from the key press to every visible chart showing new data, and
the bytes the server sent over the websocket per update. The same run measures
benchmarks/bare_heatmap.py (one Plotly heatmap of random 256 x T float32 data, its seed changed the
same way) and prints our ratio to it. Required: ratio <= 1.5 at every size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import IDLE, launch, signature, streamlit_app  # noqa: E402

REQUIRED_RATIO = 1.5


def wait_all_changed(page, before: list[str], timeout: float = 120.0) -> float:
    """Poll until the app is idle and every chart differs from `before`; return that moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sig = signature(page)
        if (len(sig) == len(before) and all(a != b for a, b in zip(sig, before, strict=True))
                and page.locator(IDLE).count() == 1):
            return time.monotonic()
        time.sleep(0.03)
    raise TimeoutError("not every chart was redrawn with new data")


def settle(page, quiet: float = 1.0, timeout: float = 120.0) -> list[str]:
    """Wait until idle and the charts have not changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        sig = signature(page)
        if sig != last:
            last, since = sig, time.monotonic()
        elif sig and page.locator(IDLE).count() == 1 and time.monotonic() - since >= quiet:
            return sig
        time.sleep(0.05)
    raise TimeoutError("the page did not settle")


def seed_change(page, selector: str):
    """A control change that needs a new engine run: type the next seed, press Enter."""
    box = page.locator(selector)
    value = int(box.input_value()) + 1
    box.fill(str(value))
    return lambda: box.press("Enter")


def cursor_change(page, selector: str):
    """A view change with no engine run: move the time cursor one step left."""
    slider = page.locator(selector).get_by_role("slider")
    slider.focus()
    return lambda: slider.press("ArrowLeft")


def measure(pw, script: str, query: str, controls: dict, reps: int) -> dict:
    """Cold start, then per control `reps` changes: seconds until every chart shows new data, and
    the bytes received over the websocket per change."""
    with streamlit_app(script) as (url, started):
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            received = []
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda payload: received.append(len(payload) if payload else 0)))
            page.goto(f"{url}/?{query}")
            page.wait_for_selector(".js-plotly-plot", timeout=180_000)
            cold = time.monotonic() - started
            before = settle(page)
            out = {"cold": cold, "charts": len(before)}
            for name, (prepare, selector) in controls.items():
                times, sizes = [], []
                for _ in range(reps):
                    fire = prepare(page, selector)
                    mark = len(received)
                    t0 = time.monotonic()
                    fire()
                    times.append(wait_all_changed(page, before) - t0)
                    before = settle(page, quiet=0.5)
                    sizes.append(sum(received[mark:]))
                out[name] = {"update": statistics.median(times), "all": times,
                             "bytes": statistics.median(sizes)}
            return out
        finally:
            browser.close()


def engine_seconds(T: int, H: int, reps: int = 3) -> float:
    """Median time of the engine call the page makes for this size (in this process, idle)."""
    sys.path.insert(0, str(ROOT))
    from dashboard.render import engine_threads
    from engine import Config, unroll

    times = []
    for seed in range(reps):
        t0 = time.perf_counter()
        with engine_threads():  # the page's torch thread setting
            unroll(Config(cell="lstm", seq_len=T, hidden_size=H, seed=seed), jacobian=False,
                   influence=False, adjoints=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_pressure() -> str:
    """Linux PSI 'some' CPU pressure (avg10/avg60): how much other work competed for the CPUs."""
    try:
        with open("/proc/pressure/cpu") as f:
            fields = dict(kv.split("=") for kv in f.readline().split()[1:])
        return f"avg10 {fields['avg10']}%, avg60 {fields['avg60']}%"
    except (OSError, KeyError, ValueError):
        return "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="seed changes per size (median reported)")
    ap.add_argument("--sizes", default="50x32,1000x256,5000x256", help="T x H pairs")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    ours_controls = {"seed": (seed_change, ".st-key-cfg_seed input"),
                     "cursor": (cursor_change, ".st-key-view_t")}
    rows = []
    print(f"CPU pressure from other work at start: {cpu_pressure()}", flush=True)
    with sync_playwright() as pw:
        for T, H in sizes:
            ours = measure(pw, "dashboard/app.py", f"cell=lstm&seq_len={T}&hidden_size={H}",
                           ours_controls, args.reps)
            bare = measure(pw, "benchmarks/bare_heatmap.py", f"T={T}",
                           {"seed": (seed_change, ".st-key-seed input")}, args.reps)
            ours["engine"] = engine_seconds(T, H)
            rows.append((T, H, ours, bare))
            print(f"T={T} H={H}: ours seed {ours['seed']['all']} cursor {ours['cursor']['all']}"
                  f" | bare {bare['seed']['all']}", flush=True)
    print(f"\nLSTM, Explore's 'Gradient through time' tab ({rows[0][2]['charts']} charts) vs a bare "
          f"page with one 256 x T heatmap; median of {args.reps} changes each.")
    print("seed: new seed typed (engine re-run, every chart new); cursor: time cursor moved one "
          "step (no engine run, every chart redrawn). Ratio = ours / bare seed change.")
    print("engine s: the unroll alone for that size (measured in this process), part of every "
          "seed change.")
    head = (f"{'T x H':>11} {'control':>8} {'ours s':>7} {'bare s':>7} {'ratio':>6} "
            f"{'ours KB':>8} {'bare KB':>8} {'cold ours':>10} {'cold bare':>10} {'engine s':>9}")
    print(head)
    ok = True
    for T, H, o, b in rows:
        for name in ("seed", "cursor"):
            ratio = o[name]["update"] / b["seed"]["update"]
            ok &= ratio <= REQUIRED_RATIO
            print(f"{f'{T} x {H}':>11} {name:>8} {o[name]['update']:7.2f} {b['seed']['update']:7.2f} "
                  f"{ratio:6.2f} {o[name]['bytes'] / 1e3:8.0f} {b['seed']['bytes'] / 1e3:8.0f} "
                  f"{o['cold']:10.1f} {b['cold']:10.1f} {o['engine']:9.2f}")
    print(f"CPU pressure at the end: {cpu_pressure()} (high values mean the timings are inflated)")
    print(f"required: ratio <= {REQUIRED_RATIO} at every size: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
