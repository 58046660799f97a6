#!/usr/bin/env python3
"""Unrolled's one entry point: set up, start the dashboard, run the tests or the benchmarks.

    python3 dev.py app [streamlit args]   set up if needed, then start the dashboard
    python3 dev.py test [pytest args]     set up if needed, lint (ruff check .), then run the tests
    python3 dev.py bench [args]           set up if needed, then run benchmarks/bench_engine.py
    python3 dev.py room N [args]          set up if needed, then N replicas behind HAProxy (deploy/)
    python3 dev.py setup                  only the set-up

The set-up creates .venv, installs torch==2.13.0 first (the pin keeps pip on the CPU wheel rather
than an open range pulling the multi-GB CUDA build), then this project with its test extra,
editable. It records what it installed in .venv/.unrolled-stamp and does nothing the next time
unless pyproject.toml or the torch pin changed. Set UNROLLED_TORCH_INDEX_URL to take torch from
another index (e.g. https://download.pytorch.org/whl/cpu). `setup` and `app` also fill numba's disk
cache with the engine's compiled loops (engine/precompile.py) whenever engine/loops.py changed,
and compile the project's modules to bytecode, so the dashboard's first visit never waits for a
compile.

Standard library only: it must run on a fresh machine that has nothing but python3.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time

TORCH_PIN = "torch==2.13.0"  # exact pin, installed before the project (see above)
ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
VENV_PY = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin", "python")
STAMP = os.path.join(VENV, ".unrolled-stamp")
LOCK = os.path.join(VENV, ".unrolled-lock")
PYPROJECT = os.path.join(ROOT, "pyproject.toml")

APP_ARGS = ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            "--server.enableStaticServing", "true"]  # charts load plotly.min.js (ui/plot_component.py)
PYTEST_NO_TESTS = 5  # pytest's "no tests were collected"


class SetupError(Exception):
    """A set-up step failed; the message says which and what to do."""


def say(msg: str) -> None:
    print(f"dev.py: {msg}", flush=True)


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    """Run cmd from the repo root, output streaming through; raise SetupError if it fails."""
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    if rc != 0:
        raise SetupError(f"command failed (exit {rc}): {' '.join(cmd)}")


def wanted_stamp() -> str:
    """What a finished set-up for this pyproject.toml and torch pin looks like."""
    h = hashlib.sha256()
    with open(PYPROJECT, "rb") as f:
        h.update(f.read())
    h.update(b"\0" + TORCH_PIN.encode())
    return h.hexdigest()


def read_stamp() -> str | None:
    try:
        with open(STAMP, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def is_set_up() -> bool:
    return os.path.exists(VENV_PY) and read_stamp() == wanted_stamp()


def ensure_ensurepip() -> None:
    """Debian ships venv's pip bootstrap (ensurepip) apart, in python3-venv."""
    if importlib.util.find_spec("ensurepip") is not None:
        return
    pkg = "python3-venv"
    hint = (
        f"Python's ensurepip is missing, so `python3 -m venv` cannot install pip.\n"
        f"  On Debian/Ubuntu: apt-get install -y {pkg}   "
        f"(or python3.{sys.version_info.minor}-venv), then run this again."
    )
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        raise SetupError(hint)
    say(f"ensurepip is missing; running as root, so: apt-get install -y {pkg}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", pkg]
    if subprocess.call(install, env=env) != 0:
        if (
            subprocess.call(["apt-get", "update", "-q"], env=env) != 0
            or subprocess.call(install, env=env) != 0
        ):
            raise SetupError(hint)
    importlib.invalidate_caches()
    if importlib.util.find_spec("ensurepip") is None:
        raise SetupError(hint)


def venv_has_pip() -> bool:
    if not os.path.exists(VENV_PY):
        return False
    probe = [VENV_PY, "-c", "import pip"]
    return subprocess.call(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def ensure_venv() -> None:
    if venv_has_pip():
        return
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py may be run by an older python3
        raise SetupError(f"Python >= 3.10 is needed; this is {sys.version.split()[0]}")
    ensure_ensurepip()
    clear = os.path.isdir(VENV)
    say("re-creating .venv (it has no working python/pip)" if clear else "creating .venv")
    run([sys.executable, "-m", "venv", *(["--clear"] if clear else []), VENV])
    if not venv_has_pip():
        raise SetupError(f"{VENV_PY} has no pip after creating the venv")


def install() -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [VENV_PY, "-m", "pip", "install", "-q"]
    torch_index = os.environ.get("UNROLLED_TORCH_INDEX_URL")
    say(f"installing {TORCH_PIN} (first, so the project does not pull another build)")
    run(pip + [TORCH_PIN] + (["--index-url", torch_index] if torch_index else []), env)
    say("installing unrolled (editable) with its test extra")
    run(pip + ["-e", ".[test]"], env)


CHROMIUM = "/usr/bin/chromium"  # the browser tests drive the system Chromium (never `playwright install`)


HAPROXY = "/usr/sbin/haproxy"  # Debian's load balancer: `dev.py room` and tests/test_replicas.py


def ensure_debian_package(path: str, package: str, needed_by: str) -> None:
    """Install Debian's `package` (which provides `path`) when it is missing and we are root; else
    only say how (what needs it then fails with the same hint). Idempotent: one stat when present."""
    if os.path.exists(path) or not sys.platform.startswith("linux"):
        return
    hint = f"apt-get update && apt-get install -y {package}"
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        say(f"{path} is missing: {needed_by} need it ({hint}, as root)")
        return
    say(f"{path} is missing; running as root, so: {hint}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if (subprocess.call(["apt-get", "update", "-q"], env=env) != 0
            or subprocess.call(["apt-get", "install", "-y", "-q", package], env=env) != 0):
        say(f"installing {package} failed; {needed_by} will fail until {hint} works")


def ensure_chromium() -> None:
    """Debian's chromium for the browser tests (see ensure_debian_package)."""
    ensure_debian_package(CHROMIUM, "chromium", "the browser tests")


def ensure_haproxy() -> None:
    """Debian's haproxy for `dev.py room` and tests/test_replicas.py (see ensure_debian_package)."""
    ensure_debian_package(HAPROXY, "haproxy", "`dev.py room` and tests/test_replicas.py")


def setup() -> None:
    """Create .venv and install torch then the project, unless the stamp says it is done; make
    sure Chromium (the browser tests) and HAProxy (`dev.py room`, test_replicas.py) are there."""
    ensure_chromium()
    ensure_haproxy()
    if is_set_up():
        return
    start = time.monotonic()
    ensure_venv()
    lock = None
    try:
        import fcntl  # POSIX only; elsewhere two concurrent set-ups are simply not guarded

        lock = open(LOCK, "w")  # held until the set-up ends
        fcntl.flock(lock, fcntl.LOCK_EX)
    except ImportError:
        pass
    try:
        if read_stamp() == wanted_stamp():  # another dev.py finished it while we waited
            return
        if os.path.exists(STAMP):
            os.remove(STAMP)  # a failed install below must not look finished
        install()
        with open(STAMP, "w", encoding="utf-8") as f:
            f.write(wanted_stamp() + "\n")
        say(f"set-up done in {time.monotonic() - start:.0f} s")
    finally:
        if lock is not None:
            lock.close()


LOOPS = os.path.join(ROOT, "engine", "loops.py")  # the engine's numba-compiled loops
PRECOMPILE = os.path.join(ROOT, "engine", "precompile.py")  # loads or compiles every one of them


def numba_cache_dir() -> str:
    """Where numba keeps the compiled loops: NUMBA_CACHE_DIR when set, else engine/__pycache__
    beside loops.py (numba's own choice). When that is not writable, numba would pick a per-user
    folder by itself; NUMBA_CACHE_DIR is then set to a fixed one, inherited by the app, so the
    set-up's compile and every server start find the same cache. Raises OSError if none works."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen:
        os.makedirs(chosen, exist_ok=True)
        return chosen
    in_tree = os.path.join(ROOT, "engine", "__pycache__")
    with contextlib.suppress(OSError):
        os.makedirs(in_tree, exist_ok=True)
    if os.access(in_tree, os.W_OK):
        return in_tree
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    fallback = os.path.join(home, "unrolled", "numba")
    os.makedirs(fallback, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = fallback
    say(f"{in_tree} is not writable: numba's cache goes to {fallback} (NUMBA_CACHE_DIR)")
    return fallback


def loops_stamp() -> str:
    """What a cache filled for this code looks like: loops.py as numba sees it (its index is keyed
    on the file's modification time and size), the warm-up, the installed packages, the venv's
    python and this machine (numba compiles for the CPU it runs on)."""
    info = os.stat(LOOPS)
    h = hashlib.sha256()
    with open(PRECOMPILE, "rb") as f:
        h.update(f.read())
    h.update(f"\0{info.st_mtime_ns} {info.st_size} {read_stamp()} {os.path.realpath(VENV_PY)} "
             f"{platform.node()} {platform.machine()}".encode())
    return h.hexdigest()


def ensure_compiled_loops() -> None:
    """Fill numba's disk cache with every compiled loop of the engine (python -m engine.precompile)
    unless the stamp says this code was compiled here already, so the dashboard's first visit never
    waits for a compile (a few seconds per loop on a fresh install); otherwise it costs one stat
    and one small hash. A failure is reported, not fatal: the page then compiles on first use."""
    try:
        stamp = os.path.join(numba_cache_dir(), "unrolled-loops.stamp")
    except OSError as e:
        say(f"no writable folder for numba's cache ({e}): the first LSTM run will compile the loops")
        return
    want = loops_stamp()
    with contextlib.suppress(OSError), open(stamp, encoding="utf-8") as f:
        if f.read().strip() == want:
            return
    say("compiling the engine's loops into numba's disk cache (once; a minute at most)")
    rc = subprocess.call([VENV_PY, "-m", "engine.precompile"], cwd=ROOT)
    if rc != 0:
        say(f"compiling the loops failed (exit {rc}): the first LSTM run will compile them")
        return
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(want + "\n")


SOURCES = ("dashboard", "engine")  # the project's own packages (the rest came compiled by pip)


def ensure_bytecode() -> None:
    """Compile the project's modules to bytecode (__pycache__/*.pyc) where a source is newer than
    its .pyc, so a server start reads them instead of compiling ~70 modules from source (0.2-0.3 s
    on the first page's path, and every start where PYTHONDONTWRITEBYTECODE is set, as on some
    CI machines and containers: Python then never writes them itself). Up to date, it costs
    one stat per module. A failure is reported, not fatal: Python then compiles at import."""
    rc = subprocess.call([VENV_PY, "-m", "compileall", "-q", *SOURCES], cwd=ROOT)
    if rc != 0:
        say(f"compiling the modules to bytecode failed (exit {rc}): a server start compiles them")


def exec_venv(args: list[str]) -> None:
    """Replace this process with the venv's python running args, from the repo root."""
    os.chdir(ROOT)
    sys.stdout.flush()
    os.execv(VENV_PY, [VENV_PY, *args])


RUFF = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin", "ruff")


def lint() -> int:
    """`ruff check .` with the venv's ruff (the test extra's pin); 0 when it finds nothing."""
    if not os.path.exists(RUFF) and not os.path.exists(RUFF + ".exe"):
        print(f"dev.py: {RUFF} is missing: run `python3 dev.py setup` (ruff is in the test extra)",
              file=sys.stderr)
        return 1
    rc = subprocess.call([RUFF, "check", "."], cwd=ROOT)
    if rc != 0:
        print(f"dev.py: ruff check . failed (exit {rc}), so the tests did not run. Fix the findings "
              "above (`.venv/bin/ruff check --fix .` fixes the ones marked [*]), then run again.",
              file=sys.stderr)
    return rc


def cmd_test(args: list[str]) -> int:
    """Lint first (any ruff finding fails the command), then pytest with args."""
    rc = lint()
    if rc != 0:
        return rc
    rc = subprocess.call([VENV_PY, "-m", "pytest", *args], cwd=ROOT)
    if rc == PYTEST_NO_TESTS:
        say("pytest collected no tests: that is a failure (exit 5)")
    if rc < 0:  # killed by a signal: report it the way a shell would
        rc = 128 - rc
    return rc


USAGE = __doc__.split("\n\n")[1]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(f"usage:\n{USAGE}")
        return 0 if argv else 2
    cmd, args = argv[0], argv[1:]
    if cmd not in ("app", "test", "bench", "setup", "room"):
        print(f"dev.py: unknown command {cmd!r}\nusage:\n{USAGE}", file=sys.stderr)
        return 2
    try:
        setup()
    except SetupError as e:
        print(f"dev.py: set-up failed: {e}", file=sys.stderr)
        return 1
    if cmd in ("app", "setup", "room"):
        ensure_bytecode()
        ensure_compiled_loops()
    if cmd == "app":
        exec_venv(["-m", "streamlit", "run", "dashboard/app.py", *APP_ARGS, *args])
    if cmd == "test":
        return cmd_test(args)
    if cmd == "bench":
        script = os.path.join("benchmarks", "bench_engine.py")
        if not os.path.exists(os.path.join(ROOT, script)):
            print(f"dev.py: {script} does not exist yet", file=sys.stderr)
            return 1
        exec_venv([script, *args])
    if cmd == "room":  # N replicas of the app behind HAProxy; Ctrl-C stops them all
        exec_venv([os.path.join("deploy", "room.py"), *args])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
