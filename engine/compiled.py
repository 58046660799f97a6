"""When the engine calls its compiled loops (engine/loops.py, numba) and when their numpy forms.

Both compute the same maths: tests/test_compiled.py holds every loop to its numpy form. The compiled
ones are faster per call, but a fresh process pays for them once: numba's import and the first
loop loaded from its disk cache take about 0.75 s together. A dashboard process should not spend
that before its first chart is drawn. So it calls defer() before its first page and resume() once
that page has been sent (dashboard/ui/startup.py), and then loads the loops. Everything else
(tests, benchmarks, scripts) never defers and uses the compiled loops from the first call.
"""

from __future__ import annotations

from types import ModuleType

_deferred = False
_loops: ModuleType | None = None  # engine.loops once imported (an import statement costs ~5 us)


def defer() -> None:
    """Use the numpy forms until resume(): numba is not even imported."""
    global _deferred
    _deferred = True


def resume() -> None:
    """Use the compiled loops again (the next call loads the ones it needs)."""
    global _deferred
    _deferred = False


def loops() -> ModuleType | None:
    """engine.loops, or None while deferred (the caller then computes the same with numpy)."""
    global _loops
    if _deferred:
        return None
    if _loops is None:
        from . import loops as compiled_loops  # numba: imported on first use (it takes a while)

        _loops = compiled_loops
    return _loops
