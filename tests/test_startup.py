"""The cold start (dashboard/ui/startup.py, app.run, engine/precompile.py, dev.py's compile step):
nothing the first chart does not need runs before it, and no visit waits for a compile that the
set-up could have done. The browser side (plotly.js loading before the first chart arrives):
tests/test_browser_startup.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from dashboard.ui import startup

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------- plotly.js where the page loads it


def test_plotly_js_is_copied_once_and_replaced_when_the_package_changes(tmp_path):
    source, target = tmp_path / "pkg" / "plotly.min.js", tmp_path / "static" / "plotly.min.js"
    source.parent.mkdir()
    source.write_text("/* plotly v1 */")
    assert startup.install_plotly_js(source, target) and target.read_text() == "/* plotly v1 */"
    mtime = target.stat().st_mtime_ns
    assert startup.install_plotly_js(source, target) and target.stat().st_mtime_ns == mtime
    assert unzipped(target) == b"/* plotly v1 */", "the zip the page fetches holds the same file"
    source.write_text("/* plotly v2 */")
    assert startup.install_plotly_js(source, target) and target.read_text() == "/* plotly v2 */"
    assert unzipped(target) == b"/* plotly v2 */", "and follows a new version"
    startup.zip_path(target).write_bytes(b"PK broken")
    assert startup.install_plotly_js(source, target) and unzipped(target) == b"/* plotly v2 */"
    assert sorted(p.name for p in target.parent.iterdir()) == ["plotly.min.js", "plotly.min.js.zip"], \
        "no temp files"


def unzipped(target: Path) -> bytes:
    """The one file in the zip beside target, checked for what plotly_loader.js reads: deflated,
    its sizes in its local header (no data descriptor)."""
    with zipfile.ZipFile(startup.zip_path(target)) as z:
        (info,) = z.infolist()
        assert info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x8, info
        return z.read(info)


def test_plotly_js_missing_from_the_package_is_reported_not_raised(tmp_path):
    assert startup.install_plotly_js(tmp_path / "absent.js", tmp_path / "static" / "plotly.min.js") is False


def test_the_served_copy_is_the_plotly_packages_own():
    assert startup.install_plotly_js()
    assert startup.PLOTLY_JS.read_bytes() == startup.SOURCE_JS.read_bytes()
    assert unzipped(startup.PLOTLY_JS) == startup.SOURCE_JS.read_bytes()
    loader = (startup.HERE / "plotly_loader.js").read_text()
    assert '"app/static/plotly.min.js.zip"' in loader and '"app/static/plotly.min.js"' in loader, \
        "the page fetches the URLs the copies are served at"
    for script in ("plotly_preload.js", "plot_component.js"):
        assert startup.with_plotly_loader(script).startswith(loader), "one loader for both"


# ------------------------------------------------------------- the first script run's order

# A fresh interpreter runs the app once (AppTest) with every start-up step recorded: what was
# imported when the plotly.js preload went out, and where the compiled loops and the freeze came
# relative to the first chart.
FIRST_RUN = r"""
import gc, json, sys
import streamlit.components.v2 as v2
from streamlit.testing.v1 import AppTest

events = []
def note(name):
    events.append({"name": name, "torch": "torch" in sys.modules, "numba": "numba" in sys.modules,
                   "pandas": "pandas" in sys.modules, "pyarrow": "pyarrow" in sys.modules,
                   "emojis": "streamlit.emojis" in sys.modules,
                   "frozen": gc.get_freeze_count()})
def spy(module, attr, name=None):
    real = getattr(module, attr)
    def wrapped(*a, **k):
        note(name or attr)
        return real(*a, **k)
    setattr(module, attr, wrapped)
real_component = v2.component
def component(name, *a, **k):  # every chart is drawn by the "unrolled_chart" component
    mount = real_component(name, *a, **k)
    if name != "unrolled_chart":
        return mount
    def chart(*a, **k):
        note("chart")
        return mount(*a, **k)
    return chart
v2.component = component
from dashboard.ui import startup  # light: imports neither torch nor the engine
for attr in ("preload_plotly_js", "freeze_imports", "load_compiled_loops", "freeze_startup_objects"):
    spy(startup, attr)
at = AppTest.from_file("dashboard/app.py", default_timeout=120)
at.query_params.update({"cell": "gru", "seq_len": "8", "hidden_size": "4"})
at.run()
assert not at.exception, [e.value for e in at.exception]
names = [el.proto.component_name for el in at.get("bidi_component")]
assert startup.after_first_page_done.wait(120), "the loops' thread did not finish"
from engine import compiled
print(json.dumps({"events": events, "components": names,
                  "after": {"numba": "numba" in sys.modules, "loops": compiled.loops() is not None}}))
"""


@pytest.fixture(scope="module")
def first_run() -> dict:
    out = subprocess.run([sys.executable, "-c", FIRST_RUN], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_plotly_js_preload_goes_out_before_torch_and_numba_are_imported(first_run):
    events = first_run["events"]
    assert events[0]["name"] == "preload_plotly_js", [e["name"] for e in events]
    assert not events[0]["torch"] and not events[0]["numba"], events[0]
    # an emoji icon imports Streamlit's emoji catalog (0.1-0.2 s): the page's icons are Material
    assert not any(e["emojis"] for e in events if e["name"] in ("preload_plotly_js", "chart")), \
        events
    assert first_run["components"][0] == startup.PRELOAD_KEY, "the page's first component"


def test_loops_warm_up_and_freeze_come_after_the_first_page(first_run):
    names = [e["name"] for e in first_run["events"]]
    charts = [i for i, n in enumerate(names) if n == "chart"]
    assert charts, names
    assert names.index("load_compiled_loops") > charts[-1], names
    assert names.index("freeze_startup_objects") > names.index("load_compiled_loops"), names
    assert names.count("freeze_startup_objects") == 1 and names.count("load_compiled_loops") == 1


def test_the_imports_leave_the_collectors_sight_before_the_first_chart(first_run):
    """gc.freeze() alone, once, after the pages' imports: Streamlit's full collection after the
    first page (and after every control change until the loops are loaded) then skips them."""
    events = first_run["events"]
    names = [e["name"] for e in events]
    at = names.index("freeze_imports")
    assert events[at]["torch"] and not events[at]["numba"], events[at]
    assert at < names.index("chart"), names
    assert all(e["frozen"] > 0 for e in events if e["name"] == "chart"), events


def test_the_pages_keep_the_numpy_forms_until_every_loop_is_loaded(monkeypatch):
    """The loops load in their own thread (compiled.loading) while a page's engine call goes on
    with the numpy forms: numba's compiler lock made a control change in those seconds wait for
    the whole sequence (3-7 s, measured). Then every page uses them; a failed load leaves the
    numpy forms."""
    import threading

    from engine import compiled, precompile

    seen = []

    def load():
        page = threading.Thread(target=lambda: seen.append(compiled.loops()))
        page.start()
        page.join()
        seen.append(compiled.loops())
    monkeypatch.setattr(precompile, "compile_loops", load)
    compiled.defer()
    try:
        startup.load_compiled_loops()
        assert seen == [None, sys.modules["engine.loops"]], "a page: numpy; the loader: numba"
        assert compiled.loops() is sys.modules["engine.loops"], "resumed once loaded"

        def fail():
            raise RuntimeError("no cache")
        monkeypatch.setattr(precompile, "compile_loops", fail)
        compiled.defer()
        startup.load_compiled_loops()
        assert compiled.loops() is None, "the numpy forms go on"
    finally:
        compiled.resume()


def test_the_first_page_imports_no_pandas_and_no_numba(first_run):
    """pandas and pyarrow (0.5 s to import) make only tables (exports, uploads, summaries), and
    numba (0.75 s to import and load a first loop) only speeds the engine up: the first page's
    charts are drawn without them. After that page the engine uses its compiled loops."""
    charts = [e for e in first_run["events"] if e["name"] == "chart"]
    assert charts and not any(e["pandas"] or e["pyarrow"] or e["numba"] for e in charts), charts
    assert first_run["after"] == {"numba": True, "loops": True}


def test_explore_sends_its_charts_before_the_sidebar(monkeypatch):
    """The views read the knobs from the session state, so their charts go out before the
    sidebar's 46 widgets are built and sent (the browser mounts those after the first chart is
    drawn); the sidebar still follows in the same run."""
    from streamlit.testing.v1 import AppTest

    from dashboard.screens import explore
    from dashboard.ui import charts

    order = []

    def spy(module, name):
        real = getattr(module, name)

        def wrapped(*a, **k):
            order.append(name)
            return real(*a, **k)
        monkeypatch.setattr(module, name, wrapped)

    for name in ("presets_ui", "config_ui"):
        spy(explore, name)
    spy(charts, "plotly_chart")
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
    at.query_params.update({"cell": "gru", "seq_len": "8", "hidden_size": "4"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert order.count("plotly_chart") >= 2, order
    assert order.index("plotly_chart") < order.index("presets_ui") < order.index("config_ui"), order
    assert order.count("presets_ui") == 1, "one run: drawing the sidebar changed nothing it read"
    assert at.sidebar.number_input(key="cfg_seed").value == 0, "the knobs are in the sidebar"


# ------------------------------------------------------------- the compiled loops' disk cache

GRID = r"""
import itertools, json
from engine import Config, loops, unroll
from engine.precompile import compile_loops
def signatures():
    return {n: sorted(map(str, getattr(loops, n).signatures)) for n in dir(loops)
            if hasattr(getattr(loops, n), "signatures")}
compile_loops()
after_precompile = signatures()
for cell, dtype, batch, layers, bi in itertools.product(("rnn", "lstm", "gru"), ("float32", "float64"),
                                                         (1, 3), (1, 2), (False, True)):
    cfg = Config(cell=cell, dtype=dtype, seq_len=5, hidden_size=3, batch_size=batch,
                 num_layers=layers, bidirectional=bi)
    unroll(cfg, influence=True, jacobian=True)
print(json.dumps({"precompile": after_precompile, "grid": signatures()}))
"""


def test_precompile_loads_every_loop_signature_the_engine_uses():
    """engine.precompile (what dev.py runs into the cache) covers every compiled loop with every
    argument type a grid of cells, dtypes, batch sizes, layers, directions and options calls."""
    out = subprocess.run([sys.executable, "-c", GRID], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert any(got["precompile"].values()), got
    assert got["grid"] == got["precompile"], "a signature the precompile step does not compile"


def _dev(monkeypatch, tmp_path):
    """dev.py as a module, pointed at a copy of the engine's loop files under tmp_path, with the
    compile step recorded instead of run."""
    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    (tmp_path / "engine").mkdir()
    for name in ("loops.py", "precompile.py"):
        (tmp_path / "engine" / name).write_bytes((ROOT / "engine" / name).read_bytes())
    monkeypatch.setattr(dev, "ROOT", str(tmp_path))
    monkeypatch.setattr(dev, "LOOPS", str(tmp_path / "engine" / "loops.py"))
    monkeypatch.setattr(dev, "PRECOMPILE", str(tmp_path / "engine" / "precompile.py"))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    calls = []
    monkeypatch.setattr(dev.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or dev.rc)
    dev.rc = 0
    return dev, calls


def test_dev_compiles_the_loops_once_and_again_when_loops_py_changes(monkeypatch, tmp_path):
    dev, calls = _dev(monkeypatch, tmp_path)
    dev.ensure_compiled_loops()
    assert calls == [[dev.VENV_PY, "-m", "engine.precompile"]]
    assert (tmp_path / "engine" / "__pycache__" / "unrolled-loops.stamp").exists(), \
        "numba's own cache folder beside loops.py holds the stamp"
    dev.ensure_compiled_loops()
    assert len(calls) == 1, "a filled cache is not compiled again"
    loops = tmp_path / "engine" / "loops.py"
    os.utime(loops, ns=(loops.stat().st_atime_ns, loops.stat().st_mtime_ns + 10**9))
    dev.ensure_compiled_loops()
    assert len(calls) == 2, "numba's index is keyed on loops.py's time: compile again"


def test_dev_a_failed_compile_is_not_recorded_as_done(monkeypatch, tmp_path):
    dev, calls = _dev(monkeypatch, tmp_path)
    dev.rc = 1
    dev.ensure_compiled_loops()
    dev.ensure_compiled_loops()
    assert len(calls) == 2, "tried again at the next start"


def test_dev_moves_the_cache_to_a_fixed_folder_when_engine_is_read_only(monkeypatch, tmp_path):
    dev, _ = _dev(monkeypatch, tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    in_tree = tmp_path / "engine" / "__pycache__"
    real_access = os.access
    monkeypatch.setattr(dev.os, "access",
                        lambda p, mode: False if Path(p) == in_tree else real_access(p, mode))
    assert dev.numba_cache_dir() == str(tmp_path / "home-cache" / "unrolled" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == dev.numba_cache_dir(), "the app inherits it"
    assert Path(os.environ["NUMBA_CACHE_DIR"]).is_dir()


def test_dev_compiles_the_modules_to_bytecode_and_again_after_an_edit(monkeypatch, tmp_path):
    """dev.py app/setup/room leave a .pyc beside every module of dashboard/ and engine/, rewritten
    when the source changes, so a server start compiles nothing (even where
    PYTHONDONTWRITEBYTECODE keeps Python from writing them itself)."""
    spec = importlib.util.spec_from_file_location("dev_bytecode", ROOT / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    monkeypatch.setattr(dev, "ROOT", str(tmp_path))
    monkeypatch.setattr(dev, "VENV_PY", sys.executable)  # the interpreter whose .pyc we look for
    sources = [tmp_path / "dashboard" / "ui" / "a.py", tmp_path / "engine" / "b.py"]
    for path in sources:
        path.parent.mkdir(parents=True)
        path.write_text("X = 1\n")
    dev.ensure_bytecode()
    cached = [Path(importlib.util.cache_from_source(str(p))) for p in sources]
    assert all(c.exists() for c in cached), cached
    first = cached[1].read_bytes()
    sources[1].write_text("X = 22  # edited\n")
    os.utime(sources[1], ns=(time.time_ns() + 10**9,) * 2)  # a later mtime, as an edit gives
    dev.ensure_bytecode()
    assert cached[1].read_bytes() != first, "the edited module was compiled again"
