"""Load test: N concurrent headless Chromium sessions against one Unrolled server, or a room.

    .venv/bin/python benchmarks/load_test.py [--sessions 8] [--seconds 60] [--seed 0]
    .venv/bin/python benchmarks/load_test.py --replicas 1,2 [--sessions 8] [--seconds 60]

With --replicas, each listed count in turn is a room (deploy/room.py: that many replicas behind
HAProxy, as `python3 dev.py room N` runs it) and the sessions go through the balancer; "1,2,1,2"
interleaves the rounds, and rounds of the same count are pooled. It then prints a row per count
(updates/s, latency, errors, mismatches, how the balancer spread the sessions, the replicas'
summed peak RSS) and the ratios to the first count.

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
import collections
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
from browser_support import CHROMIUM, FLAGS, IDLE, free_ports, streamlit_app  # noqa: E402

from dashboard.state import explore as S  # noqa: E402
from deploy import room as room_mod  # noqa: E402
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
    """Samples the servers' summed RSS every 0.25 s; .peak holds the largest."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.samples, self.stop = pids, 0, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            r = sum(rss_of_group(p) for p in self.pids)
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
        out["spread"].append(next((c["value"] for c in await ctx.cookies()
                                   if c["name"] == room_mod.COOKIE), "direct"))
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


async def load(url: str, pids: list[int], args) -> dict:
    """args.sessions browser sessions against url for args.seconds; what they saw, and the RSS
    of the server processes pids (summed)."""
    from playwright.async_api import async_playwright

    out = {"latency": [], "errors": [], "cross": [], "own": [], "spread": []}
    watch = RssWatch(pids)
    watch.start()
    out["rss_start"] = sum(rss_of_group(p) for p in pids)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        expectations: dict[int, str] = {}
        await asyncio.gather(*(session(browser, url, i, args.seconds,
                                       random.Random(args.seed * 100 + i), out, expectations)
                               for i in range(args.sessions)))
        await browser.close()
    watch.stop.set()
    watch.join()
    out["rss_peak"], out["rss_end"] = watch.peak, (watch.samples or [0])[-1]
    return out


def quantile(values: list[float], q: float) -> float:
    lat = sorted(values)
    return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")


def report(out: dict, args) -> None:
    lat = out["latency"]
    print(f"sessions {args.sessions}, {args.seconds:.0f} s, {len(lat)} updates")
    print(f"errors: {len(out['errors'])} (required 0)")
    print(f"cross-session mismatches: {len(out['cross'])} (required 0)")
    print(f"own-state mismatches: {len(out['own'])}")
    print(f"update latency p50 {statistics.median(lat) if lat else float('nan'):.2f} s, "
          f"p95 {quantile(lat, 0.95):.2f} s")
    print(f"server RSS: {out['rss_start'] / 2**20:.0f} MiB at start, peak "
          f"{out['rss_peak'] / 2**20:.0f} MiB, at end {out['rss_end'] / 2**20:.0f} MiB")
    for line in (out["errors"] + out["cross"] + out["own"])[:20]:
        print("  " + line)


async def main_async(args) -> int:
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing (apt-get install -y chromium)")
        return 1
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)  # git-ignored
    if args.replicas:
        return await rooms(args)
    with streamlit_app(log_path=ROOT / "benchmarks" / "out" / "load_server.log") as (url, _):
        out = await load(url, [server_pid(url)], args)
    report(out, args)
    return 0 if not (out["errors"] or out["cross"]) else 1


async def rooms(args) -> int:
    """Each count of --replicas in turn behind HAProxy; rounds of one count pooled; a row each."""
    counts = [int(n) for n in args.replicas.split(",")]
    pooled: dict[int, list[dict]] = {}
    for i, n in enumerate(counts):
        port, *ports = free_ports(n + 1)
        print(f"-- round {i + 1}: {n} replica(s) behind HAProxy", flush=True)
        with room_mod.open_room(n, port, ports=ports,
                                workdir=ROOT / "benchmarks" / "out" / f"room{i + 1}") as room:
            out = await load(room.url, [r.proc.pid for r in room.replicas], args)
        report(out, args)
        pooled.setdefault(n, []).append(out)
    print(f"\nthrough the balancer, {args.sessions} sessions, {args.seconds:.0f} s per round")
    print("replicas  rounds  updates  updates/s  p50 s  p95 s  errors (req. 0)  cross (req. 0)  "
          "spread  peak RSS MiB")
    rows = {}
    for n, outs in pooled.items():
        lat = [x for o in outs for x in o["latency"]]
        rate = len(lat) / (args.seconds * len(outs))
        errors, cross = (sum(len(o[k]) for o in outs) for k in ("errors", "cross"))
        spread = ",".join(f"{k}:{v}" for k, v in sorted(
            collections.Counter(x for o in outs for x in o["spread"]).items()))
        rows[n] = (rate, statistics.median(lat) if lat else float("nan"), quantile(lat, 0.95))
        print(f"{n:>8}  {len(outs):>6}  {len(lat):>7}  {rate:>9.2f}  {rows[n][1]:>5.2f}  "
              f"{rows[n][2]:>5.2f}  {errors:>15}  {cross:>14}  {spread}  "
              f"{max(o['rss_peak'] for o in outs) / 2**20:.0f}")
    first = counts[0]
    for n in rows:
        if n != first:
            print(f"{n} vs {first} replica(s): updates/s x{rows[n][0] / rows[first][0]:.2f}, "
                  f"p50 x{rows[n][1] / rows[first][1]:.2f}, p95 x{rows[n][2] / rows[first][2]:.2f}")
    bad = sum(len(o["errors"]) + len(o["cross"]) for outs in pooled.values() for o in outs)
    return 0 if bad == 0 else 1


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
    ap.add_argument("--replicas", default="",
                    help="e.g. 1,2: rooms of that many replicas behind HAProxy, in turn")
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
