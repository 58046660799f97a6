"""Work done once per server process, from app.run() (never as a side effect of an import), in the
order the first chart needs it (the cold start: benchmarks/bench_browser.py):

- before the pages' imports (this module imports neither torch nor the engine, so it comes
  first): start_once() puts plotly.js where the charts load it from, and preload_plotly_js()
  makes the browser fetch and parse it while the server is still importing torch and the engine;
- after the pages' imports, freeze_imports() takes their objects out of the garbage collector's
  sight (no collection: microseconds), so Streamlit's collection after the first page's run does
  not hold back the sending of its charts;
- the first page computes without the engine's compiled loops (defer_compiled_loops: numba's
  import and first load cost about 0.75 s, and numpy computes the same);
- after the first page has been sent and drawn: after_first_page() loads the compiled loops and
  freezes numba's objects in a background thread, a few seconds later, while the pages go on with
  the numpy forms until every loop is loaded; only later reruns need them.

Also the engine's thread count for every page's engine call."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
import zipfile
import zlib
from pathlib import Path

import plotly
import streamlit as st

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "static"  # Streamlit serves <main script folder>/static at app/static/
PLOTLY_JS = STATIC / "plotly.min.js"  # a copy made at start-up (git-ignored)
SOURCE_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
PRELOAD_KEY = "unrolled_plotly_preload"  # also its CSS class, st-key-..., which hides it

_log = logging.getLogger(__name__)

# torch's intra-op threads for the engine call. The unroll is a chain of small per-step matrix
# products: a second thread saves little on an idle 2-core machine and, when anything else runs
# (the browser, another session), makes the run many times slower (LSTM T=1000 H=256 under load:
# 1.7-2.4 s with one thread, 16-32 s with two). UNROLLED_TORCH_THREADS overrides it.
ENGINE_THREADS = int(os.environ.get("UNROLLED_TORCH_THREADS", "1"))


@contextlib.contextmanager
def engine_threads():
    """Run the engine on ENGINE_THREADS torch threads, then restore the setting."""
    import torch  # here, not at the top: the first page imports torch after preload_plotly_js

    before = torch.get_num_threads()
    torch.set_num_threads(ENGINE_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def zip_path(target: Path) -> Path:
    """Where the compressed copy of target goes: plotly.min.js.zip beside plotly.min.js."""
    return target.with_name(target.name + ".zip")


def _zip_holds(archive: Path, data: bytes) -> bool:
    """Whether archive is the zip install_plotly_js writes for data (its one file's CRC)."""
    try:
        with zipfile.ZipFile(archive) as z:
            (info,) = z.infolist()
            return info.CRC == zlib.crc32(data) and info.file_size == len(data)
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def _write_atomically(target: Path, write) -> None:
    """write(path) to a temporary name, then renamed: a server starting beside another never
    serves a half-written file."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def install_plotly_js(source: Path = SOURCE_JS, target: Path = PLOTLY_JS) -> bool:
    """Put the plotly package's plotly.min.js where the page loads it from, with a zip of it
    beside it (what plotly_loader.js fetches: sent as it is, where the plain file is gzipped anew
    for every page), again only when the package's copy changed (comparing takes about 15 ms;
    zipping, 0.3 s once). False if impossible (the charts then say so)."""
    data = _read(source)
    if data is None:
        _log.error("plotly.min.js is missing from the plotly package: %s", source)
        return False
    try:
        target.parent.mkdir(exist_ok=True)
        if _read(target) != data:
            _write_atomically(target, lambda tmp: tmp.write_bytes(data))
        if not _zip_holds(zip_path(target), data):
            def write_zip(tmp: Path) -> None:
                # one deflated file with its sizes in its local header: what the browser reads
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
                    z.writestr(target.name, data)
            _write_atomically(zip_path(target), write_zip)
        return True
    except OSError as e:
        _log.error("could not copy plotly.min.js to %s: %s", target, e)
        return False


def with_plotly_loader(script: str) -> str:
    """A component's JavaScript (a file beside this one) after plotly_loader.js, which gives it
    loadPlotly: the chart and the preload share it, and with it one load per page."""
    return "\n".join((HERE / name).read_text(encoding="utf-8")
                     for name in ("plotly_loader.js", script))


_preload = st.components.v2.component(
    PRELOAD_KEY, js=with_plotly_loader("plotly_preload.js"),
    css=f".st-key-{PRELOAD_KEY} {{ display: none; }}", isolate_styles=False)


def preload_plotly_js() -> None:
    """A hidden element, sent before the pages' imports, that starts loading plotly.min.js in the
    browser (plotly_preload.js); the charts' own loader (plot_component.js) then finds it loading
    or loaded. Without it the browser fetched and parsed plotly.js only once the first chart had
    arrived: 1-3 s on the first chart's path."""
    _preload(key=PRELOAD_KEY)


@st.cache_resource(show_spinner=False)
def start_once() -> bool:
    """What the first chart needs before anything is drawn, once per server process: plotly.js
    where the page loads it from."""
    return install_plotly_js()


@st.cache_resource(show_spinner=False)
def defer_compiled_loops() -> bool:
    """Once per server process, before its first page: the engine computes with its numpy forms
    instead of the compiled loops (engine/compiled.py), so numba's import and first load (about
    0.75 s) do not delay the first chart; load_compiled_loops() ends this after that page."""
    from engine import compiled

    compiled.defer()
    return True


@st.cache_resource(show_spinner=False)
def keep_freed_memory() -> bool:
    """Once per server process: the C heap keeps the blocks an unroll frees for the next one
    (engine/heap.py: without it an LSTM unroll at T=1000, H=128 spent up to 2 ms of 17 in page
    faults)."""
    from engine.heap import keep_freed_memory as keep

    return keep()


@st.cache_resource(show_spinner=False)
def freeze_imports() -> bool:
    """Once per server process, right after the pages' imports: every object alive (torch,
    Plotly, Streamlit, the pages: about 300,000) leaves the garbage collector's sight, without a
    collection first (gc.freeze alone takes microseconds; what little garbage the imports left
    stays). Streamlit runs a full collection after every script run while holding the
    interpreter lock: with them in sight it took 0.1-0.2 s, which held back the sending of the
    first page's charts and slowed every control change until after_first_page's freeze."""
    gc.freeze()
    return True


def load_compiled_loops() -> None:
    """Import numba and load every compiled loop of the engine (engine/precompile.py: from numba's
    disk cache, which `python3 dev.py app` fills; compiled there if missing), in this thread
    only (engine.compiled.loading), then let the pages use them (engine.compiled.resume). Pages
    that used them while they loaded waited on numba's compiler lock for the whole sequence: a
    control change in those seconds took 3-7 s. This comes before freeze_startup_objects, so
    that numba's ~80,000 objects are frozen too: left in sight they made every full collection
    take 45-95 ms (measured with gc.collect timed). Only a speed-up: if loading fails, the pages
    go on with the numpy forms."""
    from engine import compiled
    from engine.precompile import compile_loops

    try:
        with compiled.loading():  # the pages keep the numpy forms until every loop is loaded
            compile_loops()
    except Exception:  # noqa: BLE001 - never take the page down at start-up
        logging.getLogger(__name__).exception("loading the compiled loops failed; the engine "
                                              "computes with numpy")
        return
    compiled.resume()


def freeze_startup_objects() -> None:
    """Move every object alive now out of the garbage collector's sight, after a collection: what
    freeze_imports left (numba's objects, the first pages'). Streamlit runs a full collection after
    every script run (runner.postScriptGC) and holds the interpreter lock while it scans them:
    0.1-0.4 s per update in which no message reaches the browser with all of torch, numba, Plotly
    and Streamlit in sight. Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


# How long after the first page has been sent the compiled loops start loading. The browser is
# still drawing that page then (1.5-3 s on a 2-core machine): loaded at once, numba's import took
# the CPU and the interpreter lock from it and from the server sending the page (first chart
# 1-2 s later, measured with server marks and benchmarks/bench_browser.py).
LOAD_DELAY_S = 3.0
after_first_page_done = threading.Event()  # set once the loops are loaded and the freeze is done


def _load_then_freeze() -> None:
    time.sleep(LOAD_DELAY_S)
    try:
        load_compiled_loops()
        freeze_startup_objects()
    finally:
        after_first_page_done.set()


@st.cache_resource(show_spinner=False)
def after_first_page() -> threading.Thread:
    """Once per server process, at the end of the first script run that reaches it (its page has
    been sent by then): a background thread that, LOAD_DELAY_S later, loads the compiled loops,
    then freezes what freeze_imports did not. A rerun before that computes with the loops'
    numpy forms."""
    thread = threading.Thread(target=_load_then_freeze, name="unrolled-after-first-page",
                              daemon=True)
    thread.start()
    return thread
