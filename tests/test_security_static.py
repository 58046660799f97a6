"""No code path can run what a user uploads or types: the dashboard never unpickles, evals or
renders raw HTML from input. (Static: these calls must not appear in its sources.)

One exception, pinned exactly: engine/weights.py reads a user's .pt / .pth state_dict with
torch.load(..., weights_only=True). That is torch's restricted unpickler, which rebuilds only
tensors and plain containers and refuses every other global before it can be called (the files
are the standard format users have; tests/test_weights.py shows a code-running pickle refused).
Every other torch.load, and any torch.load in another file, still fails this test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "dashboard").rglob("*.py")) + sorted((ROOT / "engine").glob("*.py"))
FORBIDDEN = {
    "pickle": r"\bimport pickle\b|\bpickle\.loads?\(",
    # a torch.load call whose argument list does not say weights_only=True
    "torch.load": r"\btorch\.load\((?![^()]*(?:\([^()]*\)[^()]*)*weights_only=True\s*\))",
    "eval/exec": r"(?<![\w.])(eval|exec)\(",
    "unsafe_allow_html": r"unsafe_allow_html\s*=\s*True",
    "numpy allow_pickle": r"allow_pickle\s*=\s*True",
}


SAFE_LOAD_FILE = "engine/weights.py"  # the one file allowed torch.load(..., weights_only=True)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_unsafe_call(path):
    text = path.read_text(encoding="utf-8")
    for what, pattern in FORBIDDEN.items():
        assert not re.search(pattern, text), f"{path.relative_to(ROOT)} uses {what}"
    if path.relative_to(ROOT).as_posix() != SAFE_LOAD_FILE:
        assert "torch.load(" not in text, f"{path.relative_to(ROOT)} uses torch.load"


def test_torch_load_pattern():
    """The pattern lets through only torch.load with weights_only=True among its arguments."""
    bad = ["torch.load(f)", "torch.load(io.BytesIO(d), map_location='cpu')",
           "torch.load(f, weights_only=False)", "torch.load(f)  # weights_only=True"]
    good = ["torch.load(io.BytesIO(data), map_location=\"cpu\", weights_only=True)"]
    for text in bad:
        assert re.search(FORBIDDEN["torch.load"], text), text
    for text in good:
        assert not re.search(FORBIDDEN["torch.load"], text), text
    assert (ROOT / SAFE_LOAD_FILE).read_text(encoding="utf-8").count("torch.load(") == 1


def test_raw_html_only_for_fixed_styles():
    """st.html appears only with constant CSS (presentation mode's font size), never with text
    that could come from a user."""
    for path in SOURCES:
        for m in re.finditer(r"st\.html\((.*)\)", path.read_text(encoding="utf-8")):
            assert m.group(1).startswith(('f"<style>', '"<style>')), f"{path.relative_to(ROOT)}: {m.group(0)}"
