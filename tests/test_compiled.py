"""engine/compiled.py: while the compiled loops are deferred, the engine computes the same trace with
numpy, without importing numba; afterwards it uses the compiled loops again."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import Config, compiled, flags, unroll
from engine import gradients as gr
from engine.cells import cell_scan

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def deferred():
    compiled.defer()
    yield
    compiled.resume()


def _arrays(trace) -> dict[str, np.ndarray]:
    """Every array of a trace that the pages draw, by name."""
    out = {k: getattr(trace, k) for k in ("hidden", "cell", "act_deriv", "grad_hidden",
                                          "grad_hidden_log10", "grad_cell", "grad_input",
                                          "outputs", "influence", "jacobian_norm")}
    out.update({f"gates.{g}": a for g, a in trace.gates.items()})
    out.update({f"weight_grad.{k}": v for k, v in trace.weight_grad.items()})
    out.update({f"terms.{k}": v for k, v in trace.weight_grad_terms.items()})
    return {k: v for k, v in out.items() if v is not None}


GRID = list(itertools.product(("rnn", "lstm", "gru"), ("float32", "float64"), (1, 3), (1, 2),
                              (False, True)))


@pytest.mark.parametrize(("cell", "dtype", "batch", "layers", "bi"), GRID)
def test_deferred_trace_equals_the_compiled_one(cell, dtype, batch, layers, bi):
    cfg = Config(cell=cell, dtype=dtype, seq_len=30, hidden_size=5, batch_size=batch,
                 num_layers=layers, bidirectional=bi, loss="sum")
    want = unroll(cfg)
    compiled.defer()
    try:
        got = unroll(cfg)
    finally:
        compiled.resume()
    tol = 2e-5 if dtype == "float32" else 1e-12
    a, b = _arrays(want), _arrays(got)
    assert a.keys() == b.keys()
    for k in a:
        assert b[k].dtype == a[k].dtype, k
        np.testing.assert_allclose(b[k], a[k], rtol=tol, atol=tol * max(np.abs(a[k]).max(), 1e-30),
                                   err_msg=k)
    assert got.flags == want.flags and got.loss == pytest.approx(want.loss, rel=tol)


def test_deferred_trace_keeps_the_underflow_scaling_and_flags(deferred):
    """A vanishing LSTM gradient far below float32's range: the numpy forms rescale and flag it
    exactly as the compiled ones do."""
    cfg = Config(cell="lstm", seq_len=400, hidden_size=6, gain=0.1, forget_bias=-3.0,
                 dtype="float32", loss="last")
    got = unroll(cfg)
    compiled.resume()
    want = unroll(cfg)
    assert want.grad_hidden_log10[0, 0, 0] < -60, "the test reaches below float32's range"
    np.testing.assert_allclose(got.grad_hidden_log10, want.grad_hidden_log10, rtol=0, atol=1e-3)
    assert got.flags == want.flags and got.flags["grad_hidden"]["underflow"] is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_flag_scan_finds_each_kind_like_the_compiled_one(dtype, deferred):
    from engine import loops

    fi = np.finfo(dtype)
    x = np.random.default_rng(0).standard_normal((3, 40, 5)).astype(dtype)
    x[1, 30, 2], x[0, 25, 1], x[2, 12, 0], x[1, 33, 4] = np.nan, np.inf, fi.max / 4, fi.tiny / 8
    x[0, 30, 0] = fi.max / 4  # an overflow at a step with a NaN is not an overflow
    args = (dtype(fi.tiny), dtype(np.sqrt(fi.max)))  # in x's dtype, as flags.scan passes them
    want = loops.step_flags(x, *args)
    np.testing.assert_array_equal(flags._step_flags(x, *args), want)
    np.testing.assert_array_equal(want, [30, 25, 12, 33])
    assert flags.scan(x, 1) == {"nan": 30, "inf": 25, "overflow": 12, "underflow": 33}
    np.testing.assert_array_equal(flags._step_flags(np.zeros((1, 4, 2), dtype), *args), [-1] * 4)


def test_numpy_cell_scan_and_row_norms_equal_the_compiled_ones(deferred):
    from engine import loops

    rng = np.random.default_rng(2)
    ifgo = rng.random((50, 2, 12)).astype(np.float32)
    got, want = np.empty((51, 2, 3), np.float32), np.empty((51, 2, 3), np.float32)
    cell_scan(ifgo, got)
    loops.cell_scan(ifgo, want)
    np.testing.assert_array_equal(got, want)  # the same two products and one sum per value
    x = rng.standard_normal((3, 20, 7)).astype(np.float32)
    x[0, 2] = 0.0
    x[1, 3] = 1e-30  # squares below float32's range: summed in float64
    scale = np.arange(3) * 64
    with np.errstate(divide="ignore"):
        want_n = np.log10(np.linalg.norm(x.astype(np.float64), axis=-1)) - gr.LOG10_2 * scale[:, None]
    np.testing.assert_allclose(gr.log10_norm(x, scale), want_n, rtol=1e-12)


def test_resume_goes_back_to_the_compiled_loops():
    compiled.defer()
    assert compiled.loops() is None
    compiled.resume()
    assert compiled.loops() is sys.modules["engine.loops"]


def test_loading_uses_the_loops_in_its_own_thread_only(deferred):
    import threading

    seen = {}
    with compiled.loading():
        other = threading.Thread(target=lambda: seen.update(other=compiled.loops()))
        other.start()
        other.join()
        seen["own"] = compiled.loops()
    assert seen == {"other": None, "own": sys.modules["engine.loops"]}
    assert compiled.loops() is None, "still deferred after it: resume() is the loader's to call"


DEFERRED_RUN = r"""
import json, sys
from engine import Config, compiled, unroll
compiled.defer()
for cell in ("rnn", "lstm", "gru"):
    for dtype in ("float32", "float64"):
        unroll(Config(cell=cell, dtype=dtype, seq_len=20, hidden_size=4))
before = "numba" in sys.modules
compiled.resume()
unroll(Config(cell="lstm", seq_len=20, hidden_size=4))
print(json.dumps({"deferred": before, "resumed": "numba" in sys.modules}))
"""


def test_a_deferred_engine_does_not_import_numba():
    out = subprocess.run([sys.executable, "-c", DEFERRED_RUN], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"deferred": False, "resumed": True}
