"""One-line readouts printed beside the figures: the fitted decay of |dL/dh_t| and the numerical
flags of a run. Pure functions of an engine Trace.
"""

from __future__ import annotations

import math

from engine import Trace
from engine.flags import describe


def decay_readout(trace: Trace, layer: int = 0, direction: int = 0) -> str:
    """One line: rate per step, half-life and fit quality of |dL/dh_t|."""
    fit = trace.decay[trace.layer_index(layer, direction)]
    rate, half, r2 = fit.get("rate", math.nan), fit.get("half_life", math.nan), fit.get("r2", math.nan)
    if not math.isfinite(rate):
        return "no decay fit (too few finite steps)"
    if r2 < 0.5:
        return f"no clear exponential trend (fit r² {r2:.2f})"
    if rate > 1:
        doubling = math.log10(2) / fit["slope_log10"]
        return f"x{rate:.3g} per step back · grows: doubles every {doubling:.3g} steps · fit r² {r2:.2f}"
    return f"x{rate:.3g} per step back · half-life {half:.3g} steps · fit r² {r2:.2f}"


def flag_lines(trace: Trace) -> list[str]:
    """One sentence per numerical problem (quantity, kind, first step); empty when healthy."""
    return describe(trace.flags)
