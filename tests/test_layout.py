"""The layout promises of the README's "How it is built": pure packages stay pure, the folders
say where things are, and no file grows past what a newcomer reads in one sitting."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE = ["engine", "dashboard/state", "dashboard/figures", "dashboard/export"]
PURE_LOOSE = ["dashboard/theme.py", "dashboard/safe.py", "dashboard/uploads.py"]
UI_ONLY = {"streamlit"}
MAX_LINES = 450
MAX_LOOSE = 6


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Top-level package names a source file imports (anywhere in it, functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


PURE_FILES = [p for f in PURE for p in sources(f)] + [ROOT / f for f in PURE_LOOSE]


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_modules_never_import_streamlit(path):
    assert not imported(path) & UI_ONLY


@pytest.mark.parametrize("path", sources("engine"), ids=lambda p: p.name)
def test_engine_imports_no_ui_or_plotting(path):
    assert not imported(path) & {"streamlit", "plotly", "dashboard"}


def test_pure_packages_import_with_streamlit_unavailable():
    """Not only the text: importing every pure module works in a process where streamlit
    cannot be imported at all."""
    mods = [str(p.relative_to(ROOT).with_suffix("")).replace("/", ".").removesuffix(".__init__")
            for p in PURE_FILES]
    code = ("import sys; sys.modules['streamlit'] = None\n"
            f"import importlib\nfor m in {mods!r}: importlib.import_module(m)\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_few_modules_loose_at_the_top_of_dashboard():
    loose = sorted(p.name for p in (ROOT / "dashboard").glob("*.py"))
    assert len(loose) <= MAX_LOOSE, loose


@pytest.mark.parametrize("path", [p for f in ("engine", "dashboard", "tests", "benchmarks")
                                  for p in sources(f)] + [ROOT / "dev.py"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_over_450_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)}: {n} lines; split it by what it holds"


def test_the_pages_folder_is_not_streamlits_reserved_name():
    """A folder named pages/ beside app.py is Streamlit's older multipage convention: AppTest
    then treats its modules as pages (a rerun dropped the Explore page). Ours is screens/."""
    assert not (ROOT / "dashboard" / "pages").exists()
    assert {p.stem for p in sources("dashboard/screens")} >= {"explore", "compare", "train"}
