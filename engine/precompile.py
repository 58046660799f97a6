"""Every compiled loop the engine calls (engine/loops.py), loaded from numba's disk cache or compiled
into it: one tiny unroll per cell and dtype. `python3 dev.py setup` and `app` run it as
`python -m engine.precompile` when engine/loops.py changed since the last time, so that no visit
to the dashboard waits for numba to compile (a few seconds per loop on a fresh install); the
dashboard runs compile_loops() again after its first page, to load them before freezing its
start-up objects (dashboard/ui/startup.py).

The cache lives where numba puts it: engine/__pycache__ beside loops.py, or NUMBA_CACHE_DIR when
that is set (dev.py sets it when engine/__pycache__ is not writable)."""

from __future__ import annotations

import sys
import time

from .cells import OWN_FORWARD_MAX_BATCH
from .config import CELLS, DTYPES, Config
from .unroll import unroll


def compile_loops() -> None:
    """One unroll of T=2, H=2 per cell and dtype, and one float32 LSTM of a larger batch: between
    them they call every compiled loop with every argument type the pages use (the same signatures
    as a grid of batch sizes, layers, directions and influence/Jacobian options, checked in
    tests/test_startup.py)."""
    for cell in CELLS:
        for dtype in DTYPES:
            unroll(Config(cell=cell, seq_len=2, hidden_size=2, dtype=dtype), influence=False,
                   jacobian=False)
    # a float32 LSTM of a larger batch runs torch's kernel and the cell scan instead
    unroll(Config(cell="lstm", seq_len=2, hidden_size=2, batch_size=OWN_FORWARD_MAX_BATCH + 1,
                  dtype="float32"), influence=False, jacobian=False)


def main() -> int:
    start = time.perf_counter()
    compile_loops()
    print(f"engine.precompile: compiled loops ready in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
