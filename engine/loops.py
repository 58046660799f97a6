"""Compiled loops (numba): the LSTM's forward pass, adjoint recursion and cell-state
scan, the flags' scan and the log10 row norms of dL/dh_t.

A Python loop over t costs microseconds per step in interpreter and dispatch overhead alone,
which is most of the time at small H; here each whole loop is one compiled call. The equations are
engine/reference.py's lstm_step and lstm_step_back, line by line (the comments say which); the
recursion is the same arithmetic as gradients.bptt (same operations per step, fastmath off, so
equal to rounding), including the power-of-two rescaling that keeps log10 |dL/dh_t| exact below
underflow (gradients._rescale explains it; `_about_to_underflow` here). The two tricks that are not
maths live in their own helpers: `_matvec` (a hand-unrolled matrix product) and the rescaling.
Compiled once per dtype and layout and cached on disk (cache=True): the first LSTM unroll of a
fresh install compiles for a few seconds. They touch no Python object, so they release the
interpreter lock (nogil=True): a long unroll in one dashboard session no longer stalls the others.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _matvec(a, w, out):  # pragma: no cover - compiled
    """out (B, H) = a (B, G*H) @ w (G*H, H), the plain product (e.g. dL/dh_{t-1} = dL/da_t W_hh),
    hand-unrolled: eight rows of w per pass over out, summed pairwise (vectorises over H;
    measured 1.5-3x faster than one row per pass, and than a BLAS call at these sizes). Two samples
    share each pass, so w is read once for both (1.2-1.5x faster from B = 2 on); every sample's
    sum is formed in the same order either way."""
    B, GH = a.shape
    H = w.shape[1]
    for b in range(B):
        for h in range(H):
            out[b, h] = 0.0
    b = 0
    while b + 2 <= B:  # samples b and b + 1 (s and u)
        j = 0
        while j + 8 <= GH:
            s0, s1, s2, s3 = a[b, j], a[b, j + 1], a[b, j + 2], a[b, j + 3]
            s4, s5, s6, s7 = a[b, j + 4], a[b, j + 5], a[b, j + 6], a[b, j + 7]
            u0, u1, u2, u3 = a[b + 1, j], a[b + 1, j + 1], a[b + 1, j + 2], a[b + 1, j + 3]
            u4, u5, u6, u7 = a[b + 1, j + 4], a[b + 1, j + 5], a[b + 1, j + 6], a[b + 1, j + 7]
            for h in range(H):
                w0, w1, w2, w3 = w[j, h], w[j + 1, h], w[j + 2, h], w[j + 3, h]
                w4, w5, w6, w7 = w[j + 4, h], w[j + 5, h], w[j + 6, h], w[j + 7, h]
                out[b, h] += (((s0 * w0 + s1 * w1) + (s2 * w2 + s3 * w3))
                              + ((s4 * w4 + s5 * w5) + (s6 * w6 + s7 * w7)))
                out[b + 1, h] += (((u0 * w0 + u1 * w1) + (u2 * w2 + u3 * w3))
                                  + ((u4 * w4 + u5 * w5) + (u6 * w6 + u7 * w7)))
            j += 8
        while j < GH:
            for h in range(H):
                out[b, h] += a[b, j] * w[j, h]
                out[b + 1, h] += a[b + 1, j] * w[j, h]
            j += 1
        b += 2
    while b < B:  # the last sample of an odd batch (every sample when B = 1)
        j = 0
        while j + 8 <= GH:
            s0, s1, s2, s3 = a[b, j], a[b, j + 1], a[b, j + 2], a[b, j + 3]
            s4, s5, s6, s7 = a[b, j + 4], a[b, j + 5], a[b, j + 6], a[b, j + 7]
            for h in range(H):
                out[b, h] += (((s0 * w[j, h] + s1 * w[j + 1, h]) + (s2 * w[j + 2, h] + s3 * w[j + 3, h]))
                              + ((s4 * w[j + 4, h] + s5 * w[j + 5, h]) + (s6 * w[j + 6, h] + s7 * w[j + 7, h])))
            j += 8
        while j < GH:
            for h in range(H):
                out[b, h] += a[b, j] * w[j, h]
            j += 1
        b += 1


@njit(cache=True, nogil=True)
def _scaled(x, s, out):  # pragma: no cover - compiled
    """out = x * s for a power of two s (exact), in x's dtype."""
    for b in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[b, j] = x[b, j] * s
    return out


@njit(cache=True, nogil=True)
def _about_to_underflow(dA, dc, lo):  # pragma: no cover - compiled
    """True when every |value| of the adjoint state is below lo but not all 0: time to multiply
    it by 2**up (exact) and record the exponent (the rescaling of gradients._rescale)."""
    m = max(np.abs(dA).max(), np.abs(dc).max())
    return 0.0 < m < lo


@njit(cache=True, nogil=True)
def lstm_bptt(w_hh, e, ifgo, c_prev, tc, lo, up, dh_all, dA_all, dc_all, scale):  # pragma: no cover
    """LSTM adjoints, last step to first (processing order), into dh_all, dA_all (T, B, 4H),
    dc_all, each scaled by 2**scale[t]: reference.lstm_step_back for every step and sample.
    ifgo: (T, B, 4H) the gates i f g o; c_prev: c_{t-1} (c_{-1} = 0), tc = tanh(c_t): (T, B, H).
    lo: rescale when every |state| falls below it; up: the power-of-two exponent to rescale by."""
    T, B, H = e.shape
    one = np.ones(1, dtype=dA_all.dtype)[0]  # keeps float32 runs in float32
    zero = np.zeros((B, 4 * H), dtype=dA_all.dtype)
    nxt, carry = zero, np.zeros((B, H), dtype=dA_all.dtype)  # dL/da_{t+1}, dL/dc_{t+1}
    sa, sc = np.empty_like(nxt), np.empty_like(carry)  # rescaled copies (the stored rows keep theirs)
    k = 0  # the state is scaled by 2**k
    for t in range(T - 1, -1, -1):
        live = False
        for b in range(B):
            for h in range(H):
                live = live or e[t, b, h] != 0.0
        if live and k:  # a new loss term arrives at true scale: undo ours first
            nxt, carry = _scaled(nxt, 2.0 ** -k, sa), _scaled(carry, 2.0 ** -k, sc)
            k = 0
        dh, dA, dc = dh_all[t], dA_all[t], dc_all[t]
        _matvec(nxt, w_hh, dh)  # dL/dh_t through step t+1 = dL/da_{t+1} W_hh (linear_back)
        if live:
            for b in range(B):
                for h in range(H):
                    dh[b, h] += e[t, b, h]  # delta_t = direct dL/dh_t + the above
        forget_next = ifgo[t + 1] if t + 1 < T else zero  # f_{t+1} at [H:2H]; 0 after the last
        for b in range(B):
            for h in range(H):
                delta, tanh_c = dh[b, h], tc[t, b, h]
                i, f, gt, o = ifgo[t, b, h], ifgo[t, b, H + h], ifgo[t, b, 2 * H + h], ifgo[t, b, 3 * H + h]
                # dL/dc_t = f_{t+1} dL/dc_{t+1} + delta_t o_t tanh'(c_t)
                dc_t = carry[b, h] * forget_next[b, H + h] + delta * (o * (one - tanh_c * tanh_c))
                dc[b, h] = dc_t
                # the gates' adjoints: dL/da_i, dL/da_f, dL/da_g = dL/dc_t times g_t i_t (1 - i_t),
                # c_{t-1} f_t (1 - f_t), i_t (1 - g_t^2); dL/da_o = delta_t tanh(c_t) o_t (1 - o_t)
                dA[b, h] = dc_t * (gt * i * (one - i))  # dL/da_i
                dA[b, H + h] = dc_t * (c_prev[t, b, h] * f * (one - f))  # dL/da_f
                dA[b, 2 * H + h] = dc_t * (i * (one - gt * gt))  # dL/da_g
                dA[b, 3 * H + h] = delta * (tanh_c * o * (one - o))  # dL/da_o
        nxt, carry = dA, dc
        scale[t] = k
        if t % 8 == 0 and _about_to_underflow(dA, dc, lo):  # rescale exactly, by 2**up
            nxt, carry = _scaled(dA, 2.0 ** up, sa), _scaled(dc, 2.0 ** up, sc)
            k += up


F32 = np.float32
LOG2_E, LN2_HI, LN2_LO = F32(1.4426950408889634), F32(0.693359375), F32(-2.1219444e-4)


@njit(cache=True, nogil=True, error_model="numpy")
def _exp(x, out, bits):  # pragma: no cover - compiled
    """out = e^x for a row x; bits: an int32 scratch row as long. float64: libm's exp, value by
    value. float32: e^x = 2^n e^r with n = round(x log2 e) and |r| <= ln2 / 2, e^r by its Taylor
    series to r^7 / 7! (under 2 ulp), 2^n written straight into a float's exponent bits. Only
    arithmetic, so the loop is vectorised (libm's expf is one call per value: 4-5x slower)."""
    if x.itemsize == 8:
        for k in range(x.shape[0]):
            out[k] = np.exp(x[k])
        return
    two_n = bits.view(np.float32)
    for k in range(x.shape[0]):
        v = min(max(x[k], F32(-87.0)), F32(89.0))  # 2^-126, the smallest normal; 2^128 = inf
        n = np.floor(v * LOG2_E + F32(0.5))
        bits[k] = (np.int32(n) + 127) << 23  # the float 2^n: biased exponent, zero mantissa
        r = (v - n * LN2_HI) - n * LN2_LO  # ln2 in two parts: n * LN2_HI is exact
        out[k] = F32(1) + r * (F32(1) + r * (F32(1 / 2) + r * (F32(1 / 6) + r * (F32(1 / 24) + r * (
            F32(1 / 120) + r * (F32(1 / 720) + r * F32(1 / 5040)))))))
    for k in range(x.shape[0]):
        out[k] *= two_n[k]


@njit(cache=True, nogil=True, error_model="numpy")
def _sigmoid(a, out, e, bits):  # pragma: no cover - compiled
    """out = sigma(a) = 1 / (1 + e^-a) for a row a (e, bits: scratch rows at least as long)."""
    n = a.shape[0]
    for k in range(n):
        out[k] = -a[k]
    _exp(out, e[:n], bits[:n])
    for k in range(n):
        out[k] = F32(1) / (F32(1) + e[k])  # F32: keeps float32 rows in float32


@njit(cache=True, nogil=True, error_model="numpy")
def _tanh(a, out, e, bits):  # pragma: no cover - compiled
    """out = tanh(a) for a row a. float64: libm's tanh. float32: sign(a) m / (m + 2) with
    m = e^(2|a|) - 1, taken from its Taylor series where 2|a| < 1/2 (there e^u - 1 would cancel
    most digits; the series to u^9 / 9! is exact to rounding)."""
    n = a.shape[0]
    if a.itemsize == 8:
        for k in range(n):
            out[k] = np.tanh(a[k])
        return
    for k in range(n):
        out[k] = min(F32(2) * abs(a[k]), F32(40))  # u = 2|a|; tanh(20) is 1 in float32
    _exp(out, e[:n], bits[:n])
    for k in range(n):
        u = out[k]
        series = u * (F32(1) + u * (F32(1 / 2) + u * (F32(1 / 6) + u * (F32(1 / 24) + u * (F32(1 / 120) + u * (
            F32(1 / 720) + u * (F32(1 / 5040) + u * (F32(1 / 40320) + u * F32(1 / 362880)))))))))
        m = series if u < F32(0.5) else e[k] - F32(1)
        th = m / (m + F32(2))  # tanh(|a|)
        out[k] = th if a[k] >= 0 else -th


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_forward(ax, w_hh_t, hs, cs, ifgo, tc):  # pragma: no cover - compiled
    """An LSTM direction forward, step by step, into hs, cs (T+1, B, H: row 0 is h_{-1} = c_{-1} =
    0, row t+1 is h_t, c_t, so rows :T are h_{t-1}, c_{t-1} without a copy), ifgo (T, B, 4H: i f g o
    after their activations) and tc = tanh(c_t) (T, B, H): reference.lstm_step for every step.
    ax (T, B, 4H) = x_t W_ih^T + b_ih + b_hh for every t (one matmul outside); w_hh_t = W_hh^T
    (H, 4H), contiguous. Every gate comes out, so none needs recomputing: faster than torch's
    kernel plus that recompute for float64 (1.3-4.6x) and for small float32 models (cells.py)."""
    T, B, G = ax.shape
    H = G // 4
    hw = np.empty((B, G), dtype=ax.dtype)  # h_{t-1} W_hh^T: so a_t = ax[t] + hw
    a = np.empty(G, dtype=ax.dtype)  # a_t of one sample
    e, bits = np.empty(G, dtype=ax.dtype), np.empty(G, dtype=np.int32)  # scratch of _exp
    hs[0], cs[0] = 0.0, 0.0  # h_{-1} = c_{-1} = 0
    for t in range(T):
        _matvec(hs[t], w_hh_t, hw)
        for b in range(B):
            gate = ifgo[t, b]
            for k in range(G):
                a[k] = ax[t, b, k] + hw[b, k]
            _sigmoid(a[:2 * H], gate[:2 * H], e, bits)  # i_t, f_t = sigma(a_i), sigma(a_f)
            _tanh(a[2 * H:3 * H], gate[2 * H:3 * H], e, bits)  # g_t = tanh(a_g)
            _sigmoid(a[3 * H:], gate[3 * H:], e, bits)  # o_t = sigma(a_o)
            c_prev, c, h = cs[t, b], cs[t + 1, b], hs[t + 1, b]
            for k in range(H):
                c[k] = gate[H + k] * c_prev[k] + gate[k] * gate[2 * H + k]  # c_t = f_t c_{t-1} + i_t g_t
            _tanh(c, tc[t, b], e, bits)
            for k in range(H):
                h[k] = gate[3 * H + k] * tc[t, b, k]  # h_t = o_t tanh(c_t)


@njit(cache=True, nogil=True)
def cell_scan(ifgo, cs):  # pragma: no cover - compiled
    """cs (T+1, B, H): row 0 c_{-1} = 0, row t+1 c_t = f_t c_{t-1} + i_t g_t; i f g o in ifgo
    (T, B, 4H). Rows :T are then c_{t-1} and rows 1: c_t, both without a copy."""
    T, B, G = ifgo.shape
    H = G // 4
    cs[0] = 0.0
    for t in range(T):
        for b in range(B):
            for h in range(H):
                cs[t + 1, b, h] = ifgo[t, b, H + h] * cs[t, b, h] + ifgo[t, b, h] * ifgo[t, b, 2 * H + h]


@njit(cache=True, nogil=True)
def step_flags(x, tiny, big):  # pragma: no cover - compiled
    """First step t of x (P, T, Q), or -1, with: a NaN; an Inf; |x| > big at a step without NaN
    (as a NaN-propagating maximum would say); a subnormal (0 < |x| < tiny). tiny and big in x's
    dtype (float64 thresholds would widen every comparison of a float32 x: 1.8x slower)."""
    P, T, Q = x.shape
    first = np.full(4, -1, dtype=np.int64)
    found = 0  # kinds with a first step so far (a count, not a per-step pass over `first`)
    for t in range(T):
        bad = 0  # the common step has no trouble at all: one test per value says so
        for p in range(P):
            for q in range(Q):
                a = abs(x[p, t, q])
                bad += not ((a <= big) & ((a >= tiny) | (a == 0)))  # NaN fails every comparison
        if bad == 0:
            continue
        n_nan, n_inf, n_big, n_sub = 0, 0, 0, 0
        for p in range(P):
            for q in range(Q):
                a = abs(x[p, t, q])
                n_nan += a != a
                n_inf += a == np.inf
                n_big += a > big
                n_sub += (a < tiny) & (a > 0)
        for k, n in enumerate((n_nan, n_inf, n_big * (n_nan == 0), n_sub)):
            if n and first[k] < 0:
                first[k] = t
                found += 1
        if found == 4:
            break
    return first


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def log10_row_norms(x):  # pragma: no cover - compiled
    """log10 of the Euclidean norm of every row of x (N, R), summed in float64 straight from x's
    dtype (no float64 copy; the squares of float32 values are exact in float64, from 2**-298 to
    2**256). Reassociation only, so the sum may be vectorised: every other operation is IEEE's."""
    N, R = x.shape
    out = np.empty(N)
    for n in range(N):
        s = 0.0
        for r in range(R):
            v = np.float64(x[n, r])
            s += v * v
        out[n] = np.log10(np.sqrt(s))
    return out
