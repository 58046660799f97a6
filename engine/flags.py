"""Numerical health flags: where NaN, Inf, overflow or underflow first appears in a quantity."""

from __future__ import annotations

import math

import numpy as np

from . import compiled

KINDS = ("nan", "inf", "overflow", "underflow")
_BIG = {c: float(np.sqrt(np.finfo(c).max)) for c in "efdg"}  # sqrt(largest float) per dtype


def _first(mask_per_step: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask_per_step)
    return int(hits[0]) if hits.size else None


def _step_flags(x: np.ndarray, tiny: float, big: float) -> np.ndarray:
    """loops.step_flags in numpy, for while the compiled loops are deferred (engine/compiled.py):
    the first step t of x (P, T, Q), or -1, with a NaN; an Inf; |x| > big at a step without NaN;
    a subnormal (0 < |x| < tiny)."""
    a = np.abs(x)
    with np.errstate(invalid="ignore"):
        nan = np.isnan(a).any(axis=(0, 2))
        per_step = (nan, (a == np.inf).any(axis=(0, 2)), (a > big).any(axis=(0, 2)) & ~nan,
                    ((a < tiny) & (a > 0)).any(axis=(0, 2)))
    return np.array([t if t is not None else -1 for t in map(_first, per_step)], dtype=np.int64)


def scan(x: np.ndarray, time_axis: int, log10_norm: np.ndarray | None = None) -> dict:
    """First step of each kind of trouble in x; time_axis says which axis is t.

    overflow: |x| beyond sqrt(largest float) (one more multiply away from Inf);
    underflow: subnormal entries, or (given log10_norm, exact) a true norm that flushed to 0.
    """
    loops = compiled.loops()  # one compiled pass instead of ~6 numpy passes and temporaries
    step_flags = _step_flags if loops is None else loops.step_flags
    fi = np.finfo(x.dtype)
    T = x.shape[time_axis]
    lead = math.prod(x.shape[:time_axis])  # (np.prod of a shape costs more than the scan of a small x)
    tiny, big = x.dtype.type(fi.tiny), x.dtype.type(_BIG[x.dtype.char])  # in x's dtype
    first = step_flags(x.reshape(lead, T, -1), tiny, big)
    out = dict(zip(KINDS, [s if s >= 0 else None for s in first.tolist()], strict=True))
    if log10_norm is not None:  # (..., T, ...) with the same time axis, norm over units
        # A norm computes to 0 in x's dtype only where every square rounds to 0, |x| <=
        # sqrt(smallest subnormal / 2), so the true norm is below sqrt(R * smallest subnormal)
        # (R units); only rows whose exact log10 norm lies below that (plus a decade) are checked.
        bound = 0.5 * np.log10(x.shape[-1] * float(fi.smallest_subnormal)) + 1.0
        with np.errstate(all="ignore"):
            near = np.isfinite(log10_norm) & (log10_norm < bound)
        lost = np.zeros_like(near)
        if near.any():
            with np.errstate(all="ignore"):
                lost[near] = np.linalg.norm(x[near], axis=-1) == 0
        lax = tuple(a for a in range(lost.ndim) if a != time_axis)
        t = _first(lost.any(axis=lax))
        if t is not None and (out["underflow"] is None or t < out["underflow"]):
            out["underflow"] = t
    return out


def any_flag(flags: dict) -> bool:
    """True if any quantity has any kind of trouble."""
    return any(step is not None for kinds in flags.values() for step in kinds.values())


def describe(flags: dict) -> list[str]:
    """One plain sentence per problem, e.g. 'grad_hidden: Inf from step 12'."""
    words = {"nan": "NaN", "inf": "Inf", "overflow": "overflow (|x| > sqrt(max float))",
             "underflow": "underflow (values below the smallest normal float)"}
    return [f"{q}: {words[k]} from step {s}" for q, kinds in flags.items() for k, s in kinds.items()
            if s is not None]
