"""Backpropagation through time, written out: adjoints dL/dh_t, dL/dc_t, the BPTT terms of dL/dW,
Jacobian norms, the influence matrix, W_hh spectra and decay fits.

Row-vector convention: a gradient is a row, so one step back is `dA_{t+1} @ W_hh`, where dA_t is
dL/d(pre-activations of step t). Everything runs in a direction's processing order (the reverse
direction sees time flipped). Shapes: T steps, S the state's leading shape ((B,) or (B, P) with P
probes), H units, G gate blocks.

Threads: every matrix product of any size goes through torch (`mm`), so the engine uses one
thread pool. numpy's own BLAS would start a second pool whose spinning threads fight torch's for
the same cores (measured: both sides ran up to 2x slower on a 2-core machine).

The equations are engine/reference.py's step backward functions (rnn_step_back, lstm_step_back,
gru_step_back), computed for all steps and samples at once: `factors` holds every part of them that
does not depend on the adjoint, `bptt` multiplies the adjoints through. The one addition that is not
maths, the power-of-two rescaling against underflow, is explained once, in `_rescale`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import compiled
from .cells import ACTIVATIONS, GATES

RESCALE = {np.dtype(np.float32): (2.0**-64, 64), np.dtype(np.float64): (2.0**-512, 512)}
LOG10_2 = math.log10(2.0)


# With 2..15 output columns and a transposed a (dL/dW_ih = dA^T x for 8 inputs) MKL's GEMM runs
# 1.5-2.5x below its speed on the transposed product b^T a^T, which has that many rows instead;
# with a row-major a (dL/dx = dA W_ih) the plain product is the faster one, up to 6x at 2..4
# inputs (measured, 1 thread, T*B = 1000, 4H = 128..2048).
_FLIP_BELOW = 16

# OpenBLAS threads a product above 2304 * 4 multiply-adds; below it numpy's call is cheapest.
_NUMPY_MM_BELOW = 9216


def mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b computed by torch (zero-copy in and out): the engine's one BLAS thread pool."""
    a = a if all(s >= 0 for s in a.strides) else np.ascontiguousarray(a)
    b = b if all(s >= 0 for s in b.strides) else np.ascontiguousarray(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    if b.ndim == 2 and 1 < b.shape[1] < _FLIP_BELOW and a.ndim == 2 and not a.flags.c_contiguous:
        return (tb.T @ ta.T).T.contiguous().numpy()  # a few output columns, a transposed: see above
    return (ta @ tb).numpy()


def factors(cell: str, vals: dict[str, np.ndarray], probes: bool = False) -> dict[str, np.ndarray]:
    """Per-step multipliers of the backward pass, from the forward values (processing order).

    Named x_from_y: the factor that turns dL/dy into (its share of) dL/dx, e.g. dc_from_h =
    o_t tanh'(c_t), as in dL/dc_t = delta_t o_t tanh'(c_t) + ... (reference.lstm_step_back).
    All (T, B, H), or (T, B, k, H) for k gates at once.
    With probes=True an axis is inserted after the batch so they broadcast over P probe rows.
    """
    f: dict[str, np.ndarray] = {}
    if cell == "rnn":  # reference.rnn_step_back
        f["act_deriv"] = vals["act_deriv"]  # phi'(a_t): dL/da_t = delta_t phi'(a_t)
    elif cell == "lstm":  # reference.lstm_step_back
        i, fg, g, o, c, c_prev = (vals[k] for k in ("i", "f", "g", "o", "c", "c_prev"))
        tc = np.tanh(c)
        f["dc_from_h"] = o * (1 - tc * tc)  # o_t tanh'(c_t): dL/dc_t gets delta_t o_t tanh'(c_t)
        # f_{t+1}: dL/dc_t gets f_{t+1} dL/dc_{t+1} (no step after the last)
        f["forget_next"] = np.concatenate([fg[1:], np.zeros_like(fg[:1])])
        # (T, B, 3, H): dL/da_i, dL/da_f, dL/da_g = dL/dc_t times
        #   g_t i_t (1 - i_t),  c_{t-1} f_t (1 - f_t),  i_t (1 - g_t^2)
        f["ifg_from_c"] = np.stack([g * i * (1 - i), c_prev * fg * (1 - fg), i * (1 - g * g)],
                                   axis=-2)
        f["o_from_h"] = tc * o * (1 - o)  # dL/da_o = delta_t tanh(c_t) o_t (1 - o_t)
    else:  # reference.gru_step_back; gh_n = W_hn h_{t-1} + b_hn
        r, z, n, h_prev, gh_n = (vals[k] for k in ("r", "z", "n", "h_prev", "gh_n"))
        n_from_h = (1 - z) * (1 - n * n)  # dL/da_n = delta_t (1 - z_t) (1 - n_t^2)
        r_from_h = n_from_h * gh_n * r * (1 - r)  # dL/da_r = dL/da_n gh_n r_t (1 - r_t)
        z_from_h = (h_prev - n) * z * (1 - z)  # dL/da_z = delta_t (h_{t-1} - n_t) z_t (1 - z_t)
        # z_{t+1}: dL/dh_t gets z_{t+1} delta_{t+1}, the direct path h_t -> h_{t+1}
        f["update_next"] = np.concatenate([z[1:], np.zeros_like(z[:1])])
        # (T, B, 3, H): dL/d(W_hh h_{t-1} + b_hh) = delta_t * these; r_t scales W_hn h_{t-1} + b_hn
        f["hh_from_h"] = np.stack([r_from_h, z_from_h, n_from_h * r], axis=-2)
        f["ih_from_h"] = np.stack([r_from_h, z_from_h, n_from_h], axis=-2)  # dL/d(W_ih x_t + b_ih)
    if probes:
        f = {k: np.expand_dims(v, 2) for k, v in f.items()}
    return f


def bptt(cell: str, fac: dict[str, np.ndarray], w_hh: np.ndarray, inject, state_shape: tuple,
         store: bool = True, observe=None) -> dict:
    """Run the adjoint recursion from the last step to the first.

    inject: the direct dL/dh_t (e.g. from the readout): an array (T, *S, H), or a function
    t -> array broadcastable to (*S, H) or None (for sparse probes). Returns (when store)
    dh (T, *S, H) total dL/dh_t, dA (T, *S, G*H) on the W_hh side, dc (LSTM), each scaled by
    2**scale[t]; scale (T,) ints. observe(t, dh, k) sees each step's (scaled) dh.
    """
    G_H, H = w_hh.shape
    T = next(iter(fac.values())).shape[0]
    dtype = w_hh.dtype
    lo, step = RESCALE[np.dtype(dtype)]
    if callable(inject):
        get = inject
    else:  # skip the add where no loss reaches the step
        live = (inject != 0).reshape(T, -1).any(axis=1)
        get = lambda t: inject[t] if live[t] else None  # noqa: E731
    dh_all = np.empty((T, *state_shape, H), dtype) if store else None
    dA_all = np.empty((T, *state_shape, G_H), dtype) if store else None
    dc_all = np.empty((T, *state_shape, H), dtype) if store and cell == "lstm" else None
    scale = np.zeros(T, dtype=np.int64)
    nxt = np.zeros((*state_shape, G_H), dtype)  # dA_{t+1}
    carry = np.zeros((*state_shape, H), dtype)  # LSTM: dc_{t+1}; GRU: dh_{t+1}
    act_deriv, dc_from_h, forget_next, ifg_from_c, o_from_h, update_next, hh_from_h = (
        fac.get(n) for n in ("act_deriv", "dc_from_h", "forget_next", "ifg_from_c", "o_from_h",
                             "update_next", "hh_from_h"))
    if G_H * H < _NUMPY_MM_BELOW:
        def step_back(a, out):  # (*S, G*H) @ (G*H, H)
            return np.matmul(a, w_hh, out=out)
    else:
        w_t = torch.from_numpy(w_hh)

        def step_back(a, out):
            out = np.empty((*state_shape, H), dtype) if out is None else out
            torch.matmul(torch.from_numpy(a), w_t, out=torch.from_numpy(out))
            return out
    k = 0  # the state is scaled by 2**k (see _rescale)
    for t in range(T - 1, -1, -1):
        e = get(t)
        if e is not None and k:  # a new loss term arrives at true scale: undo ours first
            nxt, carry, k = nxt * 2.0**-k, carry * 2.0**-k, 0
        # dL/dh_t through step t+1 = dL/dv_{t+1} W_hh (reference.linear_back's dh_prev)
        dh = step_back(nxt, dh_all[t] if store else None)  # (*S, H)
        if e is not None:
            dh += e  # delta_t = direct dL/dh_t + the above (reference.direction_backward)
        a = dA_all[t] if store else np.empty((*state_shape, G_H), dtype)  # dL/dv_t
        if cell == "rnn":
            np.multiply(dh, act_deriv[t], out=a)  # dL/da_t = delta_t phi'(a_t)
        elif cell == "lstm":
            dc = dc_all[t] if store else np.empty_like(carry)
            np.multiply(carry, forget_next[t], out=dc)  # dL/dc_t = f_{t+1} dL/dc_{t+1}
            dc += dh * dc_from_h[t]  #                        + delta_t o_t tanh'(c_t)
            a4 = a.reshape(*state_shape, 4, H)  # the four gate blocks i f g o
            np.multiply(dc[..., None, :], ifg_from_c[t], out=a4[..., :3, :])  # dL/da_i, _f, _g
            np.multiply(dh, o_from_h[t], out=a4[..., 3, :])  # dL/da_o
            carry = dc
        else:
            dh += carry * update_next[t]  # delta_t += z_{t+1} delta_{t+1}: the direct path
            np.multiply(dh[..., None, :], hh_from_h[t], out=a.reshape(*state_shape, 3, H))
            carry = dh
        nxt = a
        scale[t] = k
        if observe is not None:
            observe(t, dh, k)
        if t % 8 == 0:
            nxt, carry, k = _rescale(nxt, carry, k, lo, step)
    return {"dh": dh_all, "dA": dA_all, "dc": dc_all, "scale": scale}


def _rescale(nxt: np.ndarray, carry: np.ndarray, k: int, lo: float, step: int):
    """Power-of-two rescaling: the one part of the backward pass that is not maths.

    A vanishing gradient can fall below the smallest float long before the chart's left edge.
    The adjoint recursion is linear in its state (dA_{t+1} and the carried dc_{t+1} or
    delta_{t+1}), so while no new loss term arrives the state may be multiplied by 2**step: that
    changes the exponent only, not one digit. When every |value| is below `lo` (still
    representable, about to underflow) we do so and record the total exponent k; each stored step
    keeps its own (scale[t]), `unscale` divides it out, and `log10_norm` stays exact where the true
    values flush to 0. bptt undoes the scale when a loss term arrives at true scale. Checked every
    8 steps: the margin between `lo` and the smallest normal number (2**62 in float32, 2**510 in
    float64) absorbs 8 steps of even fast decay. Returns (nxt, carry, k), rescaled or as they were.
    """
    m = max(float(np.abs(nxt).max(initial=0.0)), float(np.abs(carry).max(initial=0.0)))
    if 0.0 < m < lo:  # still representable, about to underflow: rescale exactly
        return nxt * 2.0**step, carry * 2.0**step, k + step
    return nxt, carry, k


def lstm_bptt(vals: dict[str, np.ndarray], w_hh: np.ndarray, e: np.ndarray) -> dict:
    """bptt for the LSTM with every step stored, as one compiled loop (loops.lstm_bptt): same
    result and scaling. vals: the forward values (processing order); e: (T, B, H) direct dL/dh_t."""
    loops = compiled.loops()
    if loops is None:  # deferred (engine/compiled.py): the recursion above, step by step in numpy
        return bptt("lstm", factors("lstm", vals), w_hh, e, (e.shape[1],))
    T, B, H = e.shape
    lo, up = RESCALE[np.dtype(w_hh.dtype)]
    out = {"dh": np.empty_like(e), "dA": np.empty((T, B, 4 * H), e.dtype), "dc": np.empty_like(e),
           "scale": np.zeros(T, dtype=np.int64)}
    # tanh(c_t), kept by the forward pass; else numpy's vectorised tanh (a scalar call per step
    # in the loop would cost far more)
    tc = vals["tc"] if "tc" in vals else np.tanh(vals["c"])
    loops.lstm_bptt(np.ascontiguousarray(w_hh), np.ascontiguousarray(e), vals["ifgo"],
                    vals["c_prev"], tc, lo, up, out["dh"], out["dA"], out["dc"], out["scale"])
    return out


def unscale(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """True values of a stored, per-step scaled array (tiny ones flush to 0 as they must)."""
    if not scale.any():
        return x
    with np.errstate(under="ignore"):
        return x * np.exp2(-scale.astype(x.dtype)).reshape(-1, *([1] * (x.ndim - 1)))


def log10_norm(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log10 of the norm over the last axis of a scaled array: exact even where values underflow.
    The squares are summed in float64 (loops.log10_row_norms: one compiled pass, no copy)."""
    loops = compiled.loops()
    rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    if loops is None:  # deferred (engine/compiled.py): the same sums, from a float64 copy
        with np.errstate(all="ignore"):  # a row of zeros is log10(0) = -inf, as compiled
            n = np.log10(np.sqrt(np.einsum("nr,nr->n", rows, rows, dtype=np.float64)))
    else:
        n = loops.log10_row_norms(rows)
    n = n.reshape(x.shape[:-1])
    return n - LOG10_2 * scale.reshape(-1, *([1] * (n.ndim - 1)))


def _row_norms(x: np.ndarray) -> np.ndarray:
    """Norm of every row of x (T, n): one pass (einsum), in x's dtype like np.linalg.norm."""
    return np.sqrt(np.einsum("ti,ti->t", x, x))


def sample_norms(a: np.ndarray) -> np.ndarray | None:
    """|a[t, 0]| per step of a (T, 1, n), the factor every one-sample term_norms of a shares
    (one pass instead of one per weight); None for a batch (its terms need Gram matrices)."""
    return _row_norms(a[:, 0]) if a.shape[1] == 1 else None


def term_norms(a: np.ndarray, b: np.ndarray | None, a_norms: np.ndarray | None = None) -> np.ndarray:
    """Frobenius norm per step of sum_b a[t,b] b[t,b]^T (or of sum_b a[t,b] when b is None).
    a_norms: |a[t, 0]| per step, where the caller already has it (one sample; see sample_norms)."""
    if a.shape[1] == 1 and a_norms is None:
        a_norms = _row_norms(a[:, 0])
    if b is None:  # one sample: no sum to form (it would copy all of a)
        return a_norms if a.shape[1] == 1 else np.linalg.norm(a.sum(axis=1), axis=-1)
    if a.shape[1] == 1:  # one sample: the outer product's norm is a product of norms
        return a_norms * _row_norms(b[:, 0])
    ga = np.einsum("tbi,tci->tbc", a, a)  # (T, B, B): Gram matrices keep this O(T B^2 (G H + I))
    gb = np.einsum("tbi,tci->tbc", b, b)
    return np.sqrt(np.maximum((ga * gb).sum(axis=(1, 2)), 0.0))


def jacobian_norm(cell: str, vals: dict[str, np.ndarray], w_hh: np.ndarray) -> np.ndarray:
    """Spectral norm of dh_end/dh_t for every t (sample 0, processing order), exactly.

    All H unit vectors at the end are propagated back at once: the rows then hold M_t = dh_end/dh_t
    (for an LSTM, with c_t held fixed: the hidden path). Its top singular value comes from a block
    power iteration on M M^T with 8 vectors, warm-started from the previous step (the end-side
    vectors converge as the product grows), until the value is stable to 1e-12.
    """
    H = w_hh.shape[1]
    fac = factors(cell, {k: v[:, :1] for k, v in vals.items()}, probes=True)  # sample 0
    T = next(iter(fac.values())).shape[0]
    out = np.empty(T)
    eye = np.eye(H, dtype=w_hh.dtype)[None]  # (1, H, H): probe p = unit vector e_p at the end
    k = min(H, 8)
    U = np.linalg.qr(np.random.default_rng(0).standard_normal((H, k)))[0]  # (H, k) end side

    def observe(t, dh, scale):
        nonlocal U
        m = dh[0].astype(np.float64)  # (H, H): row p = e_p^T dh_end/dh_t
        if k == H:  # the block spans everything: exact at once
            s = float(np.linalg.norm(m, 2)) if np.isfinite(m).all() else math.nan
        else:
            s = 0.0
            for _ in range(200):
                V = m.T @ U  # (H, k): M^T U, whose top singular value bounds ||M|| from below
                s_new = math.sqrt(max(float(np.linalg.eigvalsh(V.T @ V)[-1]), 0.0))
                if not math.isfinite(s_new) or s_new == 0 or abs(s_new - s) <= 1e-12 * s_new:
                    s = s_new
                    break
                s = s_new
                U = np.linalg.qr(m @ V)[0]  # one step of subspace iteration on M M^T
        out[t] = math.log10(s) - LOG10_2 * scale if s > 0 else -math.inf

    with np.errstate(all="ignore"):
        bptt(cell, fac, w_hh, lambda t: eye if t == T - 1 else None, (1, H), store=False,
             observe=observe)
    return 10.0**out  # may underflow to 0 in the far past: the log10 is exact before that


def spectrum(cell: str, activation: str, w_hh: np.ndarray) -> dict:
    """Singular values and eigenvalues of W_hh, spectral radius, and the Pascanu et al. verdict."""
    w = w_hh.astype(np.float64)
    H = w.shape[1]
    sv = np.linalg.svd(w, compute_uv=False)
    blocks = {name: np.linalg.eigvals(w[i * H:(i + 1) * H]) for i, name in enumerate(GATES[cell])}
    radius = max(float(np.abs(ev).max()) for ev in blocks.values())
    s = float(sv[0])
    out = {"singular_values": sv, "eigenvalues": blocks[GATES[cell][0]] if cell == "rnn" else None,
           "block_eigenvalues": blocks, "spectral_radius": radius, "max_singular": s}
    if cell == "rnn":
        gamma = ACTIVATIONS[activation][2]
        bound = 1.0 / gamma
        if s < bound:
            regime = "vanishing"
            verdict = f"largest singular value {s:.3g} < 1/gamma = {bound:.3g}: gradients must vanish"
        else:
            regime = "may explode"
            verdict = (f"largest singular value {s:.3g} >= 1/gamma = {bound:.3g}: gradients can "
                       "explode (necessary, not sufficient)")
    else:
        gamma = bound = None
        regime = "gated"
        keeper = "forget gate f" if cell == "lstm" else "update gate z"
        verdict = f"gated cell: the Pascanu bound does not apply; the {keeper} sets how long gradients live"
    out.update(gamma=gamma, bound=bound, regime=regime, verdict=verdict)
    return out


def decay_fit(log10_norms: np.ndarray) -> dict:
    """Least-squares fit of log10 |dL/dh_t| against distance from the end (processing order)."""
    T = log10_norms.shape[0]
    dist = np.arange(T - 1, -1, -1, dtype=np.float64)
    ok = np.isfinite(log10_norms)
    n_ok = int(np.count_nonzero(ok))
    if n_ok < 3:  # (three distinct distances always span a line)
        return {"slope_log10": math.nan, "rate": math.nan, "half_life": math.nan,
                "intercept_log10": math.nan, "r2": math.nan}
    x, y = (dist, log10_norms) if n_ok == T else (dist[ok], log10_norms[ok])
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - ym)).sum()) / sxx  # ordinary least squares, closed form
    intercept = float(ym - slope * xm)
    resid = y - (slope * x + intercept)
    ss = float(((y - ym) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss if ss > 0 else 1.0
    half_life = math.log10(0.5) / slope if slope < 0 else math.inf  # steps to halve
    return {"slope_log10": float(slope), "rate": 10.0 ** float(slope), "half_life": half_life,
            "intercept_log10": float(intercept), "r2": r2}


BAND = (0.1, 0.9)  # the batch's spread: from its 10 % to its 90 % quantile


def batch_band(log10_norms: np.ndarray) -> np.ndarray:
    """(T, B) log10 |dL/dh_t| per step and sample -> (T, 3): the 10 %, 50 % (median) and 90 %
    quantiles over the samples at every step. Quantiles commute with the monotone log10, so
    these are the log10 of the norms' own quantiles (the median of an even batch is the
    geometric mean of its two middle norms). A quantile that reaches an exact zero norm (log10
    -inf) or an infinite one is -inf or +inf, where plain interpolation would give NaN."""
    big = 1e300  # stands in for +-inf while interpolating; any result touched by it is beyond 1e200
    x = np.clip(log10_norms, -big, big)  # NaN (trouble) stays NaN
    q = np.quantile(x, (BAND[0], 0.5, BAND[1]), axis=1).T  # (T, 3)
    return np.where(np.abs(q) > 1e200, np.copysign(np.inf, q), q)


def batch_decay_fit(log10_norms: np.ndarray) -> dict:
    """decay_fit of the median over the batch of log10 |dL/dh_t| ((T, B), processing order),
    plus the spread of the samples' own fits: 'samples' (B), the 10 % and 90 % quantiles of
    their fitted slopes over the samples that have a fit, and the rates and half-lives those
    slopes give ('rate_q10', 'rate_q90', 'half_life_q10', 'half_life_q90'; both grow with the
    slope, and a half-life is inf where the slope does not fall)."""
    fit = decay_fit(batch_band(log10_norms)[:, 1])
    slopes = np.array([decay_fit(log10_norms[:, b])["slope_log10"]
                       for b in range(log10_norms.shape[1])])  # (B,)
    slopes = slopes[np.isfinite(slopes)]
    fit["samples"] = int(log10_norms.shape[1])
    for q, slope in zip(("q10", "q90"), np.quantile(slopes, BAND) if slopes.size else
                        (math.nan, math.nan), strict=True):
        slope = float(slope)
        fit[f"rate_{q}"] = 10.0 ** slope
        fit[f"half_life_{q}"] = (math.nan if math.isnan(slope) else
                                 math.log10(0.5) / slope if slope < 0 else math.inf)
    return fit


def weight_grad_term_tensors(trace, name: str) -> np.ndarray:
    """(T, *shape) the per-step terms of the BPTT sum dL/dW = sum_t term_t, natural time order.

    Memory is T times the weight's size: meant for small models (tests, notebooks).
    """
    adj = trace.adjoints
    if not adj:
        raise ValueError("weight_grad_term_tensors: this trace was unrolled with adjoints=False")
    if name.startswith(("readout.", "attention.")):  # readout.weight reads [o_t (; a_t)]
        a, b = {"readout.weight": (adj["d_y"], adj["readout_in"]), "readout.bias": (adj["d_y"], None),
                "attention.weight": (adj["top"], adj.get("attention_c"))}[name]
    else:
        kind, rest = name.split("_", 1)[0], name.split("_", 2)[2]  # weight|bias, l{k}[_reverse]
        side = name.split("_", 2)[1]  # ih | hh
        layer = int(rest.split("_")[0][1:])
        ld = layer * trace.config.num_directions + (1 if rest.endswith("reverse") else 0)
        a = adj["dA_ih" if side == "ih" else "dA_hh"][ld]
        b = None if kind == "bias" else (adj["layer_in"][layer] if side == "ih" else adj["h_prev"][ld])
    if b is None:
        return a.sum(axis=1)  # (T, G*H)
    return np.einsum("tbi,tbj->tij", a, b)  # (T, G*H, I)
