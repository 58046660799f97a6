"""When the engine calls its compiled loops (engine/loops.py, numba) and when their numpy forms.

Both compute the same maths: tests/test_compiled.py holds every loop to its numpy form. The compiled
ones are faster per call, but a fresh process pays for them once: numba's import and the first
loop loaded from its disk cache take about 0.75 s together. A dashboard process should not spend
that before its first chart is drawn. So it calls defer() before its first page and resume() once
that page has been sent (dashboard/ui/startup.py), after loading the loops in a thread of its
own (loading()). Everything else (tests, benchmarks, scripts) never defers and uses the compiled
loops from the first call.
"""

from __future__ import annotations

import contextlib
import threading
from types import ModuleType

_deferred = False
_loops: ModuleType | None = None  # engine.loops once imported (an import statement costs ~5 us)
_loading = threading.local()  # .on: this thread loads the loops while the others are deferred


def defer() -> None:
    """Use the numpy forms until resume(): numba is not even imported."""
    global _deferred
    _deferred = True


def resume() -> None:
    """Use the compiled loops again (the next call loads the ones it needs)."""
    global _deferred
    _deferred = False


@contextlib.contextmanager
def loading():
    """In this thread, use the compiled loops even while deferred: it loads them (numba's
    compiler lock serialises loads, so a page that used them meanwhile waited for the whole
    sequence, seconds) while every other thread goes on with the numpy forms."""
    _loading.on = True
    try:
        yield
    finally:
        _loading.on = False


def loops() -> ModuleType | None:
    """engine.loops, or None while deferred (the caller then computes the same with numpy)."""
    global _loops
    if _deferred and not getattr(_loading, "on", False):
        return None
    if _loops is None:
        from . import loops as compiled_loops  # numba: imported on first use (it takes a while)

        _loops = compiled_loops
    return _loops
