"""Real-browser helpers shared by tests/test_browser.py and benchmarks/bench_browser.py: start a
Streamlit app in its own process group, launch /usr/bin/chromium headless, read Plotly charts."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # deploy/ (the benchmarks import this file from benchmarks/)
    sys.path.insert(0, str(ROOT))
from deploy.room import stop as stop_group  # noqa: E402 - SIGTERM a process group, then SIGKILL

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
MISSING = (f"{CHROMIUM} is missing: the browser tests drive the system Chromium. Install it with "
           "`apt-get update && apt-get install -y chromium` (python3 dev.py setup does this when "
           "run as root); never `playwright install`.")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(k: int) -> list[int]:
    """k different ports nobody listens on right now."""
    ports: list[int] = []
    while len(ports) < k:
        p = free_port()
        ports += [p] if p not in ports else []
    return ports


@contextlib.contextmanager
def streamlit_app(script: str = "dashboard/app.py", timeout: float = 90.0, log_path=None):
    """Run `streamlit run script` on a free port (own process group); yield (url, started_at).
    Stops the group by PID at the end."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.enableStaticServing", "true"]  # charts load plotly.min.js from app/static/
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = started + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode} before answering")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer {url}/_stcore/health in {timeout} s")
            time.sleep(0.2)
        yield url, started
    finally:
        stop_group(proc)
        if log_path:
            log.close()


def launch(playwright):
    """Headless system Chromium with the flags known to work on these machines."""
    if not os.path.exists(CHROMIUM):
        raise FileNotFoundError(MISSING)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


# Per chart on screen (not the values readout's hidden spares, plot_component.js): its title, its
# shapes (the time cursor) and a summary of every data array (typed arrays by their base64 payload,
# decoded ones by length and sum), so "the chart now shows different data" is one comparison.
SIGNATURE_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot:not([data-spare])')).map(gd => {
  const sum = v => {
    if (v == null) return null;
    if (v.bdata) return [v.dtype, v.shape || null, v.bdata.length, v.bdata.slice(0, 48), v.bdata.slice(-48)];
    if (ArrayBuffer.isView(v) || Array.isArray(v)) {
      const flat = Array.isArray(v) && Array.isArray(v[0]) ? v.flat() : Array.from(v);
      let s = 0; for (const a of flat) { if (typeof a === 'number' && isFinite(a)) s += a; }
      return [flat.length, s];
    }
    return null;
  };
  const title = (gd.layout && gd.layout.title && (gd.layout.title.text || gd.layout.title)) || '';
  const shapes = ((gd.layout && gd.layout.shapes) || []).map(s => [s.x0, s.x1]);
  return JSON.stringify([title, shapes, (gd.data || []).map(t => [t.type, t.name, sum(t.x), sum(t.y), sum(t.z)])]);
})
"""

HEATMAP_SHAPE_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot:not([data-spare])')).flatMap(gd =>
  (gd.data || []).filter(t => t.type === 'heatmap').map(t => {
    const z = t.z;
    if (z && z.bdata) return String(z.shape).split(',').map(Number);
    return [z.length, z[0].length];
  }))
"""


def signature(page) -> list[str]:
    return page.evaluate(SIGNATURE_JS)


def wait_settled(page, before: list[str] | None = None, timeout: float = 60.0,
                 quiet: float = 0.4) -> tuple[list[str], float]:
    """Wait until the app is idle and the charts have stopped changing (and differ from `before`
    when given); returns (final signature, monotonic time of its last change)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        idle = page.locator(IDLE).count() == 1
        sig = signature(page)
        if sig != last:
            last, since = sig, time.monotonic()
        elif idle and sig and (before is None or sig != before) and time.monotonic() - since >= quiet:
            return sig, since
        time.sleep(0.05)
    raise TimeoutError("the charts did not settle" + (" on new data" if before is not None else ""))


EXCEPTION = '[data-testid="stException"]'  # Streamlit's element for an uncaught exception


def open_settled(page, url: str) -> None:
    """Load url, wait for its charts to be drawn and to settle; no exception may show."""
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot")
    wait_settled(page)
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


ARTIFACTS = ROOT / "artifacts"  # screenshots and server logs of the browser tests (git-ignored)


@contextlib.contextmanager
def served_page(log_name: str, height: int):
    """The app on a free port and one headless Chromium page 1400 px wide (60 s timeouts):
    yields (page, url). A missing Chromium fails the test with the install instructions."""
    import pytest
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(MISSING, pytrace=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_app(log_path=ARTIFACTS / log_name) as (url, _), sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": height})
            page.set_default_timeout(60_000)
            yield page, url
        finally:
            browser.close()
