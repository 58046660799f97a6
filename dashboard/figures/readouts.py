"""One-line readouts printed beside the figures: the fitted decay of |dL/dh_t| and the numerical
flags of a run. Pure functions of an engine Trace.
"""

from __future__ import annotations

import math

from engine import Trace
from engine.flags import describe


def shown_fit(trace: Trace, layer: int = 0, direction: int = 0) -> dict:
    """The decay fit the pages describe: the fit of sample 0 for one sample (trace.decay), the
    fit of the batch's median with the samples' spread for more (trace.batch_decay)."""
    ld = trace.layer_index(layer, direction)
    return trace.batch_decay[ld] if trace.grad_hidden_log10.shape[2] > 1 else trace.decay[ld]


def spread(fit: dict) -> str:
    """'10-90 %: 2.8-3.5': the samples' spread of the half-life (or of the rate where some
    samples do not decay); empty for one sample."""
    if fit.get("samples", 1) <= 1:
        return ""
    lo, hi = fit["half_life_q10"], fit["half_life_q90"]
    if math.isfinite(lo) and math.isfinite(hi):
        return f"10-90 %: {lo:.3g}-{hi:.3g} steps"
    return f"10-90 %: x{fit['rate_q10']:.3g}-{fit['rate_q90']:.3g} per step"


def _trend(fit: dict) -> str:
    """What the fit says: 'none' (too few finite steps), 'flat' (no clear exponential trend:
    r² below 0.5), 'grows' or 'shrinks'."""
    rate, r2 = fit.get("rate", math.nan), fit.get("r2", math.nan)
    if not math.isfinite(rate):
        return "none"
    return "flat" if r2 < 0.5 else "grows" if rate > 1 else "shrinks"


def _doubling(fit: dict) -> float:
    """Steps for a growing gradient to double."""
    return math.log10(2) / fit["slope_log10"]


def decay_readout(trace: Trace, layer: int = 0, direction: int = 0) -> str:
    """One line: rate per step, half-life and fit quality of |dL/dh_t| (of the batch's median
    for more than one sample, with the samples' spread)."""
    fit = shown_fit(trace, layer, direction)
    trend, B = _trend(fit), fit.get("samples", 1)
    median = f"median of {B} samples: " if B > 1 else ""
    if trend in ("none", "flat"):
        return median + ("no decay fit (too few finite steps)" if trend == "none" else
                         f"no clear exponential trend (fit r² {fit['r2']:.2f})")
    head = f"{median}x{fit['rate']:.3g} per step back · "
    if trend == "grows":
        return (f"{head}grows: doubles every {_doubling(fit):.3g} steps · fit r² {fit['r2']:.2f}"
                + (f" · {spread(fit)}" if B > 1 else ""))
    return (f"{head}half-life {fit['half_life']:.3g} steps"
            + (f" ({spread(fit)})" if B > 1 else "") + f" · fit r² {fit['r2']:.2f}")


def decay_sentence(trace: Trace, layer: int = 0, direction: int = 0) -> str:
    """The decay of |dL/dh_t| in one sentence, for the line under a page's title: '|dL/dh_t|
    shrinks by ×0.793 per step back: half-life 2.99 steps (fit r² 1.00)'; for a batch, of its
    median, saying so, with the samples' spread."""
    fit = shown_fit(trace, layer, direction)
    trend, B = _trend(fit), fit.get("samples", 1)
    who = f"|dL/dh_t| (median over {B} samples)" if B > 1 else "|dL/dh_t|"
    if trend == "none":
        return f"{who}: no decay fit going back in time (too few finite steps)"
    quality = f"({spread(fit) + '; ' if B > 1 else ''}fit r² {fit['r2']:.2f})"
    if trend == "flat":
        return f"{who} follows no clear exponential trend going back in time {quality}"
    if trend == "grows":
        return (f"{who} grows by ×{fit['rate']:.3g} per step back: doubles every "
                f"{_doubling(fit):.3g} steps {quality}")
    return (f"{who} shrinks by ×{fit['rate']:.3g} per step back: half-life "
            f"{fit['half_life']:.3g} steps {quality}")


def flag_lines(trace: Trace) -> list[str]:
    """One sentence per numerical problem (quantity, kind, first step); empty when healthy."""
    return describe(trace.flags)
