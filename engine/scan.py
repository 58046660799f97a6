"""Elementwise linear recurrences s_t = a_t * s_{t-1} + b_t (s_{-1} = 0), as in the LSTM's
c_t = f_t c_{t-1} + i_t g_t and its adjoint dc_t = f_{t+1} dc_{t+1} + dh_t o_t tanh'(c_t).

Two exact evaluation orders: a plain loop over t (cheap when each step is wide), and a
log-depth Hillis-Steele scan (cheap when steps are narrow and many: ~log2(T) vectorised passes
instead of T Python steps). Both only multiply and add, never divide, so they agree to rounding.
"""

from __future__ import annotations

import numpy as np

# Below this many elements per step the Python loop's overhead dominates: use the parallel scan.
PARALLEL_BELOW = 256


def linear_scan(a: np.ndarray, b: np.ndarray, reverse: bool = False) -> np.ndarray:
    """s (T, ...) with s_t = a_t s_{t-1} + b_t; reverse=True runs from the end: s_t = a_t s_{t+1} + b_t."""
    if reverse:
        return linear_scan(a[::-1], b[::-1])[::-1]
    if b[0].size < PARALLEL_BELOW:
        return _parallel(a, b)
    s = np.empty_like(b)
    prev = np.zeros_like(b[0])
    for t in range(b.shape[0]):
        np.multiply(a[t], prev, out=s[t])
        s[t] += b[t]
        prev = s[t]
    return s


def _parallel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hillis-Steele inclusive scan of the affine maps s -> a_t s + b_t."""
    A = np.array(a, copy=True)
    S = np.array(b, copy=True)
    d = 1
    T = S.shape[0]
    while d < T:
        S[d:] += A[d:] * S[:-d]  # compose with the map d steps back (right side evaluated first)
        A[d:] = A[d:] * A[:-d]
        d *= 2
    return S
