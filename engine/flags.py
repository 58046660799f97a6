"""Numerical health flags: where NaN, Inf, overflow or underflow first appears in a quantity."""

from __future__ import annotations

import numpy as np

KINDS = ("nan", "inf", "overflow", "underflow")


def _first(mask_per_step: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask_per_step)
    return int(hits[0]) if hits.size else None


def scan(x: np.ndarray, time_axis: int, log10_norm: np.ndarray | None = None) -> dict:
    """First step of each kind of trouble in x; time_axis says which axis is t.

    overflow: |x| beyond sqrt(largest float) (one more multiply away from Inf);
    underflow: subnormal entries, or (given log10_norm, exact) a true norm that flushed to 0.
    """
    fi = np.finfo(x.dtype)
    axes = tuple(a for a in range(x.ndim) if a != time_axis)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        peak = ax.max(axis=axes)  # one pass: NaN and Inf propagate into the per-step maximum
        out = {"nan": None, "inf": None, "overflow": _first(peak > np.sqrt(fi.max))}
        if not np.isfinite(peak).all():  # rare: tell NaN from Inf exactly
            out["nan"] = _first(np.isnan(x).any(axis=axes))
            out["inf"] = _first(np.isinf(x).any(axis=axes))
        sub = ax < fi.tiny
        sub &= ax > 0
        under = sub.any(axis=axes)
        if log10_norm is not None:  # (..., T, ...) with the same time axis, norm over units
            lost = np.isfinite(log10_norm) & (np.linalg.norm(x, axis=-1) == 0)
            lax = tuple(a for a in range(lost.ndim) if a != time_axis)
            under = under | lost.any(axis=lax)
    out["underflow"] = _first(under)
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
