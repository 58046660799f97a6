"""No code path can run what a user uploads or types: the dashboard never unpickles, torch.loads,
evals or renders raw HTML from input. (Static: these calls must not appear in its sources.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "dashboard").rglob("*.py")) + sorted((ROOT / "engine").glob("*.py"))
FORBIDDEN = {
    "pickle": r"\bimport pickle\b|\bpickle\.loads?\(",
    "torch.load": r"\btorch\.load\(",
    "eval/exec": r"(?<![\w.])(eval|exec)\(",
    "unsafe_allow_html": r"unsafe_allow_html\s*=\s*True",
    "numpy allow_pickle": r"allow_pickle\s*=\s*True",
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unsafe_call(path):
    text = path.read_text(encoding="utf-8")
    for what, pattern in FORBIDDEN.items():
        assert not re.search(pattern, text), f"{path.relative_to(ROOT)} uses {what}"


def test_raw_html_only_for_fixed_styles():
    """st.html appears only with constant CSS (presentation mode's font size), never with text
    that could come from a user."""
    for path in SOURCES:
        for m in re.finditer(r"st\.html\((.*)\)", path.read_text(encoding="utf-8")):
            assert m.group(1).startswith(('f"<style>', '"<style>')), f"{path.relative_to(ROOT)}: {m.group(0)}"
