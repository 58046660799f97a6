"""Load test: N concurrent headless Chromium sessions against one Unrolled server.

    .venv/bin/python benchmarks/load_test.py [--sessions 8] [--seconds 60] [--seed 0]

Each session is its own browser context (its own Streamlit session). For the given time it
changes controls at random (seed, cell, activation, sequence length, hidden size), waits for the page to
finish, and checks that what the page shows is its own state: the loss printed on the page must
equal engine.unroll's loss for the configuration in that session's own address bar (computed here,
independently of the server). Prints errors (exceptions on the page, timeouts; required 0),
cross-session mismatches (the page shows a loss that belongs to another session's state;
required 0), own-state mismatches, p50/p95 update latency, and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import CHROMIUM, FLAGS, IDLE, streamlit_app  # noqa: E402

from dashboard.state import explore as S  # noqa: E402
from engine import unroll  # noqa: E402

EXCEPTION = '[data-testid="stException"], [data-testid="stAlertContentError"]'
LOSS_RE = re.compile(r"loss\s*L = ([^\s·]+)")


def rss_of_group(pid: int) -> int:
    """Resident bytes of a process and its children (Linux /proc)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid, pgrp = int(fields[1]), int(fields[2])
            if int(entry) == pid or ppid == pid or pgrp == pid:
                with open(f"/proc/{entry}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


class RssWatch(threading.Thread):
    """Samples the server's RSS every 0.25 s; .peak holds the largest."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.samples, self.stop = pid, 0, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            r = rss_of_group(self.pid)
            self.peak = max(self.peak, r)
            self.samples.append(r)
            time.sleep(0.25)


def expected_loss(url: str) -> str:
    """The loss the page must show for the state in this address bar, as the page formats it."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    config, _ = S.config_from_query(query)
    trace = unroll(config, jacobian=False, influence=False, adjoints=False)
    return f"{trace.loss:.4g}"


async def settled(page, want: str | None = None, timeout: float = 90.0) -> None:
    """Wait until the script has finished, the address bar holds `want` (e.g. 'seed=7') and the
    summary line has stayed the same for a moment."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        ready = (await page.locator(IDLE).count() == 1
                 and (want is None or f"{want}&" in page.url + "&"))
        now = await shown_loss(page) if ready else None
        if now != last:
            last, since = now, time.monotonic()
        elif now is not None and time.monotonic() - since >= 0.4:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the page did not finish (waiting for {want})")


async def shown_loss(page) -> str | None:
    text = " ".join(await page.locator('[data-testid="stMarkdownContainer"]').all_inner_texts())
    m = LOSS_RE.search(text)
    return m.group(1) if m else None


async def choose(page, key: str, option: str) -> bool:
    """Pick an option of a selectbox; False when the box is disabled (e.g. activation of an LSTM)."""
    box = page.locator(f".st-key-{key}").get_by_role("combobox")
    if await box.is_disabled():
        return False
    for attempt in range(3):  # a rerun can replace the box under the click: open it again
        await box.click()
        try:
            await page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return True
        except Exception:  # noqa: BLE001
            await page.keyboard.press("Escape")
            if attempt == 2:
                raise
    return False


async def type_number(page, key: str, value: int) -> None:
    box = page.locator(f".st-key-{key} input")
    await box.fill(str(value))
    await box.press("Enter")


async def session(browser, url: str, i: int, seconds: float, rng: random.Random, out: dict,
                  expectations: dict) -> None:
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1100})
    page = await ctx.new_page()
    page.set_default_timeout(30_000)
    seed = 1000 * (i + 1)
    await page.goto(f"{url}/?seed={seed}&seq_len={30 + i}&hidden_size=16")
    try:  # first load: cold caches, every session at once
        await page.wait_for_selector(".js-plotly-plot", timeout=180_000)
        await settled(page, timeout=180.0)
    except Exception as e:  # noqa: BLE001 - counted and printed
        out["errors"].append(f"session {i}: first load: {type(e).__name__}: {str(e)[:120]}")
        await ctx.close()
        return
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        action = rng.choice(["seed", "seed", "cell", "activation", "seq_len", "hidden"])
        current = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
        t0 = time.monotonic()
        try:
            if action == "seed":
                seed += 1
                want = f"seed={seed}"
                await type_number(page, "cfg_seed", seed)
            elif action == "seq_len":
                n = rng.randint(10, 80)
                want = f"seq_len={n}"
                await type_number(page, "cfg_seq_len", n)
            elif action == "hidden":
                n = rng.randint(4, 48)
                want = f"hidden_size={n}"
                await type_number(page, "cfg_hidden_size", n)
            else:
                key = action  # a selectbox in the sidebar's open groups
                options = {"cell": ["rnn", "lstm", "gru"],
                           "activation": ["tanh", "relu", "sigmoid"]}[action]
                value = rng.choice([o for o in options if o != current.get(key)])
                want = f"{key}={value}"
                if not await choose(page, f"cfg_{key}", value):
                    continue  # disabled for this cell
            await settled(page, want)
            out["latency"].append(time.monotonic() - t0)
            if await page.locator(EXCEPTION).count():
                out["errors"].append(f"session {i}: error element after {action}")
                continue
            own_url = page.url
            want = await asyncio.to_thread(expected_loss, own_url)
            got = await shown_loss(page)
            expectations[i] = want
            if got != want:
                others = {j for j, v in expectations.items() if j != i and v == got}
                key = "cross" if others else "own"
                out[key].append(f"session {i}: shows loss {got}, its URL gives {want} ({action})")
        except Exception as e:  # noqa: BLE001 - counted and printed, the load goes on
            out["errors"].append(f"session {i}: {type(e).__name__}: {str(e)[:120]} ({action})")
    await ctx.close()


async def main_async(args) -> int:
    from playwright.async_api import async_playwright

    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing (apt-get install -y chromium)")
        return 1
    out = {"latency": [], "errors": [], "cross": [], "own": []}
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)  # git-ignored
    with streamlit_app(log_path=ROOT / "benchmarks" / "out" / "load_server.log") as (url, _):
        pid = server_pid(url)
        watch = RssWatch(pid)
        watch.start()
        base = rss_of_group(pid)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            expectations: dict[int, str] = {}
            await asyncio.gather(*(session(browser, url, i, args.seconds,
                                           random.Random(args.seed * 100 + i), out, expectations)
                                   for i in range(args.sessions)))
            await browser.close()
        watch.stop.set()
        watch.join()
    lat = sorted(out["latency"])
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else (lambda q: float("nan"))
    print(f"sessions {args.sessions}, {args.seconds:.0f} s, {len(lat)} updates")
    print(f"errors: {len(out['errors'])} (required 0)")
    print(f"cross-session mismatches: {len(out['cross'])} (required 0)")
    print(f"own-state mismatches: {len(out['own'])}")
    print(f"update latency p50 {statistics.median(lat) if lat else float('nan'):.2f} s, "
          f"p95 {p(0.95):.2f} s")
    print(f"server RSS: {base / 2**20:.0f} MiB at start, peak {watch.peak / 2**20:.0f} MiB, "
          f"at end {watch.samples[-1] / 2**20 if watch.samples else 0:.0f} MiB")
    for line in (out["errors"] + out["cross"] + out["own"])[:20]:
        print("  " + line)
    return 0 if not (out["errors"] or out["cross"]) else 1


def server_pid(url: str) -> int:
    """PID of the streamlit process listening on url's port (it leads its own process group)."""
    port = urllib.parse.urlsplit(url).port
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and str(port).encode() in cmd:
            return int(entry)
    raise RuntimeError("could not find the server process")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
