"""The current cell's equations as LaTeX, with live numbers at the time cursor (pure functions)."""

from __future__ import annotations

import math

import numpy as np

from engine import Trace


def num(x: float) -> str:
    """A number in LaTeX: 3 significant digits, powers of ten written out."""
    x = float(x)
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    e = math.floor(math.log10(abs(x)))
    return rf"{x / 10**e:.3g}\times 10^{{{e}}}"


def pow10(log10: float) -> str:
    """10**log10 in LaTeX, exact even where the float itself would underflow."""
    if not math.isfinite(log10):
        return "0" if log10 < 0 else r"\infty"
    e = math.floor(log10)
    return rf"{10 ** (log10 - e):.3g}\times 10^{{{e}}}" if not -3 <= e < 4 else f"{10**log10:.3g}"


def head(v: np.ndarray, n: int = 2) -> str:
    """The first n entries of a vector, then an ellipsis."""
    vals = ", ".join(num(a) for a in v[:n])
    more = r", \ldots" if v.size > n else ""
    return f"({vals}{more})"


def norm(v: np.ndarray) -> str:
    with np.errstate(all="ignore"):
        return num(np.linalg.norm(v))


def cell_equations(trace: Trace, layer: int = 0, direction: int = 0, sample: int = 0,
                   t: int = 0) -> list[str]:
    """LaTeX lines of the cell's forward step and its gradient step, with the numbers at step t."""
    c = trace.config
    ld = trace.layer_index(layer, direction)
    h = trace.hidden[ld, t, sample]
    prev = "t+1" if direction else "t-1"  # the reverse direction's previous state is at t+1
    delta = pow10(float(trace.grad_hidden_log10[ld, t, sample]))
    lines: list[str] = []
    if c.cell == "rnn":
        a = trace.gates["a"][ld, t, sample]
        d = trace.act_deriv[ld, t, sample]
        phi = {"tanh": r"\tanh", "relu": r"\mathrm{relu}", "sigmoid": r"\sigma",
               "linear": r"\mathrm{id}"}[c.activation]
        lines += [
            rf"a_t = W_{{ih}} x_t + b_{{ih}} + W_{{hh}} h_{{{prev}}} + b_{{hh}}"
            rf"\qquad \|a_t\| = {norm(a)}",
            rf"h_t = {phi}(a_t) \qquad \|h_t\| = {norm(h)},\; h_t = {head(h, 1)}",
            rf"\delta_{{{prev}}} = W_{{hh}}^\top\big(\phi'(a_t) \odot \delta_t\big) + "
            rf"\frac{{\partial L_{{{prev}}}}}{{\partial h_{{{prev}}}}}"
            rf"\qquad \|\delta_t\| = {delta},\; \overline{{\phi'(a_t)}} = {num(np.nanmean(d))}",
        ]
    elif c.cell == "lstm":
        g = {k: trace.gates[k][ld, t, sample] for k in "ifgo"}
        cs = trace.cell[ld, t, sample]
        for k, act in (("i", r"\sigma"), ("f", r"\sigma"), ("g", r"\tanh"), ("o", r"\sigma")):
            lines.append(rf"{k}_t = {act}(W_{{i{k}}} x_t + W_{{h{k}}} h_{{{prev}}} + b_{k})"
                         rf"\qquad \overline{{{k}_t}} = {num(g[k].mean())}")
        lines += [
            rf"c_t = f_t \odot c_{{{prev}}} + i_t \odot g_t \qquad \|c_t\| = {norm(cs)}",
            rf"h_t = o_t \odot \tanh(c_t) \qquad \|h_t\| = {norm(h)}",
            rf"\frac{{\partial c_t}}{{\partial c_{{{prev}}}}} = \mathrm{{diag}}(f_t)"
            rf"\qquad \overline{{f_t}} = {num(g['f'].mean())},\; \|\delta_t\| = {delta}",
        ]
    else:
        g = {k: trace.gates[k][ld, t, sample] for k in "rzn"}
        lines += [
            rf"r_t = \sigma(W_{{ir}} x_t + W_{{hr}} h_{{{prev}}} + b_r)"
            rf"\qquad \overline{{r_t}} = {num(g['r'].mean())}",
            rf"z_t = \sigma(W_{{iz}} x_t + W_{{hz}} h_{{{prev}}} + b_z)"
            rf"\qquad \overline{{z_t}} = {num(g['z'].mean())}",
            rf"n_t = \tanh\big(W_{{in}} x_t + b_{{in}} + r_t \odot (W_{{hn}} h_{{{prev}}} + b_{{hn}})\big)"
            rf"\qquad \overline{{n_t}} = {num(g['n'].mean())}",
            rf"h_t = (1 - z_t) \odot n_t + z_t \odot h_{{{prev}}} \qquad \|h_t\| = {norm(h)}",
            rf"\frac{{\partial h_t}}{{\partial h_{{{prev}}}}} \ni \mathrm{{diag}}(z_t)"
            rf"\qquad \|\delta_t\| = {delta}",
        ]
    return lines
