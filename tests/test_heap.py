"""engine/heap.py: with keep_freed_memory() the next unroll reuses the pages the last one freed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# An unroll in miniature, in a fresh process: three 4 MiB arrays made (C malloc), filled and all
# freed, five times; the page faults of each round. A whole unroll is the same pattern with more
# arrays, but how many of its pages glibc hands back by default depends on what was freed before
# it (its thresholds adapt), so its count moves from run to run; this pattern's does not.
ROUNDS = r"""
import ctypes, resource, sys
from engine.heap import keep_freed_memory
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
size, faults = 4 << 20, []
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [libc.malloc(size) for _ in range(3)]
    for b in blocks:
        ctypes.memset(b, 1, size)
    for b in blocks:
        libc.free(b)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(kept, *faults)
"""


def _rounds(mode: str) -> tuple[str, list[int]]:
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    kept, *faults = out.stdout.split()
    return kept, [int(f) for f in faults]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_next_round_reuses_the_pages_the_last_one_freed():
    """By default glibc gives the 12 MiB back after every round and the next round faults in
    about 3,000 fresh 4 KiB pages; kept, only the first round does."""
    kept, faults = _rounds("keep")
    _, default = _rounds("default")
    assert kept == "True"
    pages = 3 * (4 << 20) // 4096
    assert min(default[1:]) > pages // 2, default  # the cost this module removes
    assert faults[0] > pages // 2 and max(faults[1:]) < 50, faults
