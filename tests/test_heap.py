"""engine/heap.py: with keep_freed_memory() an unroll reuses the pages the last one freed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAULTS = r"""
import resource, sys
from engine import Config, unroll
from engine.heap import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
cfg = Config(cell="lstm", seq_len=1000, hidden_size=128, dtype="float32", input_size=8, task="noise")
for _ in range(3):  # the heap grows to its working size
    unroll(cfg, jacobian=False, influence=False)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    unroll(cfg, jacobian=False, influence=False)
print(kept, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def _faults(mode: str) -> tuple[str, float]:
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    kept, faults = out.stdout.split()
    return kept, float(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_an_unroll_reuses_the_pages_the_last_one_freed():
    """About 10 MB of arrays per unroll at T=1000, H=128: by default glibc returns them to the
    kernel and the next unroll faults in fresh pages (over a thousand); kept, almost none."""
    kept, faults = _faults("keep")
    _, default = _faults("default")
    assert kept == "True"
    assert default > 500, default  # the cost this module removes is there without it
    assert faults < default / 10, (faults, default)
