"""The compiled LSTM loops (engine/loops.py) against the plain numpy recursion of gradients.bptt."""

from __future__ import annotations

import numpy as np
import pytest

from engine import gradients as gr
from engine import loops


def _lstm_vals(T: int, B: int, H: int, dtype, forget_shift: float, seed: int = 0) -> dict:
    """Forward values of a random LSTM (processing order), as cells.gate_values lays them out."""
    rng = np.random.default_rng(seed)
    pre = rng.standard_normal((T, B, 4 * H))
    pre[..., H:2 * H] += forget_shift
    ifgo = (1 / (1 + np.exp(-pre))).astype(dtype)  # (T, B, 4H): i f g o
    ifgo[..., 2 * H:3 * H] = np.tanh(pre[..., 2 * H:3 * H])  # g_t = tanh(a_g)
    cs = np.empty((T + 1, B, H), dtype)
    loops.cell_scan(ifgo, cs)
    i, f, g, o = (np.ascontiguousarray(ifgo[..., k * H:(k + 1) * H]) for k in range(4))
    return {"i": i, "f": f, "g": g, "o": o, "c": cs[1:], "ifgo": ifgo, "c_prev": cs[:-1]}


def test_cell_scan_is_the_lstm_cell_recursion():
    v = _lstm_vals(50, 2, 3, np.float64, 0.0)
    c = np.zeros((2, 3))
    for t in range(50):
        c = v["f"][t] * c + v["i"][t] * v["g"][t]
        np.testing.assert_allclose(v["c"][t], c, rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dense", [True, False])
def test_compiled_lstm_bptt_equals_numpy_recursion(dtype, dense):
    """Same adjoints and the same power-of-two scales as gradients.bptt. Sparse loss: the adjoint
    underflows between two loss terms, so the compiled loop must rescale and then unscale."""
    T, B, H = 400, 2, 5
    v = _lstm_vals(T, B, H, dtype, forget_shift=-3.0 if not dense else 1.0)
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((4 * H, H)) * (0.05 if not dense else 0.4)).astype(dtype)
    e = rng.standard_normal((T, B, H)).astype(dtype)
    if not dense:
        e[:] = 0
        e[3], e[T - 1] = 1.0, -2.0
    want = gr.bptt("lstm", gr.factors("lstm", v), w, e, (B,))
    got = gr.lstm_bptt(v, w, e)
    if not dense:
        assert want["scale"].max() > 0  # the test does reach the rescaling
    np.testing.assert_array_equal(got["scale"], want["scale"])
    tol = 1e-5 if dtype == np.float32 else 1e-13
    for k in ("dh", "dA", "dc"):
        assert got[k].dtype == dtype
        np.testing.assert_allclose(got[k], want[k], rtol=tol, atol=tol * np.abs(want[k]).max(),
                                   err_msg=k)
    np.testing.assert_allclose(gr.log10_norm(got["dh"], got["scale"]),
                               gr.log10_norm(want["dh"], want["scale"]), rtol=0, atol=1e-4)


def _first(mask):
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _flags_reference(x, time_axis):
    """The flags' definitions written out with numpy (NaN propagates into the per-step maximum)."""
    fi = np.finfo(x.dtype)
    axes = tuple(a for a in range(x.ndim) if a != time_axis)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        peak = ax.max(axis=axes)
        return {"nan": _first(np.isnan(x).any(axis=axes)), "inf": _first(np.isinf(x).any(axis=axes)),
                "overflow": _first(peak > np.sqrt(fi.max)),
                "underflow": _first(((ax < fi.tiny) & (ax > 0)).any(axis=axes))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("time_axis", [0, 1])
def test_flag_scan_finds_each_kind_at_its_first_step(dtype, time_axis):
    from engine import flags

    fi = np.finfo(dtype)
    shape = (3, 40, 2, 5) if time_axis == 1 else (40, 2, 5)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    assert flags.scan(x, time_axis) == dict.fromkeys(flags.KINDS)
    at = (lambda t, v: x.__setitem__((1, t, 1, 2), v)) if time_axis == 1 else \
        (lambda t, v: x.__setitem__((t, 1, 2), v))
    at(30, np.nan)
    at(25, np.inf)
    at(12, fi.max / 4)  # overflow
    at(33, fi.tiny / 8)  # subnormal
    at(9, -np.inf)
    got = flags.scan(x, time_axis)
    assert got == _flags_reference(x, time_axis) == {"nan": 30, "inf": 9, "overflow": 9,
                                                      "underflow": 33}
    y = x[:, ::2] if time_axis == 1 else x[::-1]  # strided views scan the same way
    assert flags.scan(y, time_axis) == _flags_reference(y, time_axis)


# float64: torch's float64 kernel to rounding. float32: torch's oneDNN kernel sums the
# pre-activations in its own order and our exp is not libm's (both within 2 ulp per value): at
# scale 1e3 the pre-activations' terms reach hundreds, and both kernels are then 4e-6 from the
# float64 result (measured); test_forward's float32 tolerance, 1e-5, holds at every step of 40.
FORWARD_TOL = {"float64": 1e-12, "float32": 1e-5}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [1.0, 1e3])  # 1e3: every gate saturated, exp() overflows
def test_compiled_lstm_forward_equals_torch_kernel(scale, dtype):
    import torch

    from engine.cells import fused_hidden, gate_values, lstm_compiled

    gen = torch.Generator().manual_seed(0)
    T, B, I, H = 40, 3, 5, 6
    x = torch.randn(T, B, I, generator=gen, dtype=torch.float64)
    p = [torch.randn(*s, generator=gen, dtype=torch.float64) * scale / 3
         for s in ((4 * H, I), (4 * H, H), (4 * H,), (4 * H,))]
    x, p = x.to(getattr(torch, dtype)), [w.to(getattr(torch, dtype)) for w in p]
    ours = lstm_compiled(x, *p)
    h = fused_hidden("lstm", "tanh", x, [p], False)  # torch.lstm
    ref = gate_values("lstm", "tanh", x, h, *p)
    for k in ("h", "h_prev", "i", "f", "g", "o", "c", "c_prev"):
        assert ours[k].dtype == x.dtype, k
        assert torch.isfinite(ours[k]).all(), k
        torch.testing.assert_close(ours[k], ref[k], atol=FORWARD_TOL[dtype], rtol=0, msg=k)
    i, f, g, o = ours["ifgo"].chunk(4, dim=-1)  # i f g o, each after its activation
    assert torch.equal(g, ours["g"]) and torch.equal(i, ours["i"]) and torch.equal(o, ours["o"])


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in float32 ulps of want (want exact, in float64), where want is normal."""
    fi = np.finfo(np.float32)
    normal = np.abs(want) >= fi.tiny
    return np.abs(got[normal].astype(np.float64) - want[normal]) / (np.abs(want[normal]) * fi.eps)


def test_float32_sigmoid_and_tanh_are_within_two_ulp_everywhere():
    """The compiled forward's own float32 activations (loops._sigmoid, _tanh: a vectorised exp)
    against float64 maths: within 2 ulp from -120 to 120, tiny arguments included (where tanh
    takes its series: e^u - 1 would lose every digit), exact at 0, odd, saturating to 0 and 1;
    NaN in, NaN out."""
    x = np.concatenate([np.linspace(-120, 120, 400_001), np.geomspace(1e-30, 1, 2_001),
                        -np.geomspace(1e-30, 1, 2_001), [0.0]]).astype(np.float32)
    x64 = x.astype(np.float64)
    e, bits, out = np.empty_like(x), np.empty(len(x), np.int32), np.empty_like(x)
    loops._sigmoid(x, out, e, bits)
    assert _ulps(out, 1 / (1 + np.exp(-x64))).max() <= 2
    assert out[x == 0][0] == 0.5 and out[x >= 20].min() == 1.0 and out[x <= -104].max() == 0.0
    loops._tanh(x, out, e, bits)
    assert _ulps(out, np.tanh(x64)).max() <= 2
    assert out[x == 0][0] == 0.0 and out[x >= 10].min() == 1.0 and out[x <= -10].max() == -1.0
    tiny = np.abs(x) < 1e-3
    np.testing.assert_allclose(out[tiny], x[tiny], rtol=4e-7)  # tanh(x) = x - x^3 / 3 + ...
    odd = np.array([np.nan, np.inf, -np.inf], dtype=np.float32)  # a NaN stays one: never hidden
    loops._sigmoid(odd, out[:3], e, bits)
    np.testing.assert_array_equal(out[:3], [np.nan, 1.0, 0.0])
    loops._tanh(odd, out[:3], e, bits)
    np.testing.assert_array_equal(out[:3], [np.nan, 1.0, -1.0])


def test_the_float64_activations_are_libm_s():
    """float64 rows take libm's exp and tanh value by value: numpy's to an ulp or two."""
    x = np.linspace(-40, 40, 10_001)
    e, bits, out = np.empty_like(x), np.empty(len(x), np.int32), np.empty_like(x)
    loops._tanh(x, out, e, bits)
    np.testing.assert_allclose(out, np.tanh(x), rtol=5e-16, atol=0)
    loops._sigmoid(x, out, e, bits)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-x)), rtol=5e-16, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log10_row_norms_sum_squares_in_float64_without_a_copy(dtype):
    fi = np.finfo(dtype)
    x = np.random.default_rng(1).standard_normal((30, 7)).astype(dtype)
    x[3] = 0.0
    x[4, 2] = np.nan
    x[5, 1] = np.inf
    x[6] = float(fi.smallest_subnormal) * 3  # squares below float32's range: exact in float64
    x[7] = float(fi.max) / 2  # squares beyond float32's range: finite in float64
    with np.errstate(all="ignore"):  # log10(0); the Inf and NaN rows
        want = np.log10(np.linalg.norm(x.astype(np.float64), axis=-1))
    got = loops.log10_row_norms(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-15, atol=0)
    if dtype == np.float32:
        assert np.isfinite(got[[6, 7]]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flag_scan_counts_a_norm_that_flushed_to_zero_as_underflow(dtype):
    """Given the exact log10 norms, a row whose squares all round to 0 in its dtype (a normal
    float, not a subnormal one) is underflow at its step; rows far above that are not."""
    from engine import flags

    fi = np.finfo(dtype)
    x = np.random.default_rng(2).standard_normal((2, 50, 3, 4)).astype(dtype)  # (L*D, T, B, H)
    tiny_normal = float(fi.tiny) * 4  # normal, yet its square rounds to 0
    x[1, 17, 2] = tiny_normal
    x[0, 40, 0] = 0.0  # exactly zero with a -inf log10: not a lost norm
    with np.errstate(divide="ignore"):  # exact log10 norms, as gradients.log10_norm keeps them
        log10 = np.log10(np.linalg.norm(x.astype(np.float64), axis=-1))
    log10[1, 17, 2] = np.log10(np.linalg.norm(x[1, 17, 2].astype(np.float64) * 2.0**600)) - \
        600 * np.log10(2.0)  # scaled up first: in float64 its plain square underflows too
    assert flags.scan(x, 1) == dict.fromkeys(flags.KINDS)  # no subnormal entry anywhere
    assert flags.scan(x, 1, log10)["underflow"] == 17
    with np.errstate(all="ignore"):  # the definition: the norm in x's dtype is 0, the exact one not
        lost = np.isfinite(log10) & (np.linalg.norm(x, axis=-1) == 0)
    assert np.flatnonzero(lost.any(axis=(0, 2))).tolist() == [17]
    log10[1, 17, 2] = -np.inf  # the exact norm is 0 too: nothing was lost
    assert flags.scan(x, 1, log10)["underflow"] is None
