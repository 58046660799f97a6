"""The influence matrix |dL_s/dh_k|: every target row s at once, as one shrinking batched product.

One probe row per target step s (the top layer, sample 0). The rows go back together through
the adjoint recursion of gradients.py (the same equations as reference.rnn_step_back,
lstm_step_back, gru_step_back), one batched product per step, where n counts only the rows
already alive: a row is zero until its first injection in processing order (a linear readout
injects dL_s/do_s at k = s alone, the attention readout dL_s/do_k at every k <= s), so it joins
the block then and never before. The gates' per-unit factors are folded into W_hh once per step
(_through), so the product is (n, H) @ (H, H) for the RNN and GRU and (n, 2H) @ (2H, H) for the
LSTM, not (n, G*H) @ (G*H, H). In the forward direction step t carries the rows s >= t, so the
work is sum_s s * H^2 multiply-adds (2 H^2 for the LSTM), plus T * G * H^2 for the folding,
instead of K * T * G * H^2.

Rescaling against underflow (gradients._rescale) is per row here: the rows are independent, so
each keeps its own power-of-two exponent, undone only when that row's own loss term arrives.
"""

from __future__ import annotations

import numpy as np
import torch

from . import gradients as gr
from .init import param_names


def influence(cell: str, top_vals: list[dict], wn: dict, layer: int, rows, spans: np.ndarray,
              T: int, H: int) -> np.ndarray:
    """(K, T) |dL_s/dh_k| over the top layer's units (directions together), sample 0.

    rows(k, idx) (natural step k, probe indices idx) -> (j, e): the positions j in idx of the
    probes that get a direct dL_s/do_k at k, and those injections e (len(j), D*H); or None when
    none of them gets one; spans (K, 2): the first and last natural step k where probe j's
    injection may be nonzero.
    """
    K = len(spans)
    norm = np.zeros((K, T))
    for d, v in enumerate(top_vals):
        # the step in processing order where each row first gets a loss term (the loop runs down)
        first = spans[:, 1] if d == 0 else T - 1 - spans[:, 0]
        order = np.argsort(-first, kind="stable")  # alive rows are always a prefix of `order`
        alive = np.searchsorted(-first[order], -np.arange(T), side="right")  # (T,) rows alive at t
        n_t = _direction(cell, v, wn[param_names(layer, d)[1]], rows, order, alive, d, H)
        # both directions' norms joined by hypot: no square to underflow below 1e-154
        norm[order] = np.hypot(norm[order], n_t.T if d == 0 else n_t[::-1].T)
    return norm


def _through(cell: str, w: torch.Tensor, f: dict, t: int, H: int) -> torch.Tensor:
    """The matrix that takes a row's state after step t to dL/dh_{t-1} through step t.

    The gate adjoints are the state times per-unit factors (dA_g = delta_t F_g for the GRU), so
    dA_t @ W_hh = delta_t @ M_t with M_t = sum_g diag(F_g) W_hh,g: one (H, H) matrix per step,
    folded once and shared by every row, and each row's product is (H, H) instead of (G*H, H).
    RNN: the state is dA_t itself (phi' applied), so W_hh. GRU: the state is delta_t, M_t.
    LSTM: the state is [dc_t | delta_t] (2H): the i f g gates go through dc_t, o through delta_t.
    """
    if cell == "rnn":
        return w  # (H, H)
    if cell == "gru":
        return (f["hh_from_h"][t].reshape(3 * H, 1) * w).view(3, H, H).sum(0)  # (H, H)
    through_c = (f["ifg_from_c"][t].reshape(3 * H, 1) * w[:3 * H]).view(3, H, H).sum(0)
    return torch.cat([through_c, f["o_from_h"][t][:, None] * w[3 * H:]])  # (2H, H)


def _direction(cell, v, w_hh, rows, order, alive, d, H) -> np.ndarray:
    """One direction's norms (T, K), processing order by rows in `order`."""
    T, K = len(alive), len(order)
    f = {k: torch.from_numpy(np.ascontiguousarray(a))
         for k, a in gr.factors(cell, {k: a[:, 0] for k, a in v.items()}).items()}
    dtype = w_hh.dtype
    lo, step = gr.RESCALE[np.dtype(dtype)]
    w = torch.from_numpy(w_hh)
    # what each row carries back (sorted by `order`): RNN dA_{t+1}; GRU delta_{t+1};
    # LSTM [dc_{t+1} | delta_{t+1}] (see _through)
    state = torch.zeros((K, 2 * H if cell == "lstm" else H), dtype=w.dtype)
    expo = np.zeros(K, dtype=np.int64)  # row j's state is scaled by 2**expo[j]
    out = np.zeros((T, K))
    for t in range(T - 1, -1, -1):
        n = int(alive[t])
        if n == 0:
            continue
        hit = rows(t if d == 0 else T - 1 - t, order[:n])
        if hit is not None:
            j, e = hit[0], np.ascontiguousarray(hit[1][:, d * H:(d + 1) * H])  # (len(j), H)
            j = j[(expo[j] != 0) & (e != 0).any(axis=1)]  # a loss term arrives at true scale
            if len(j):  # undo those rows' scale first
                state.numpy()[j] *= np.exp2(-expo[j].astype(np.float64)).astype(dtype)[:, None]
                expo[j] = 0
        s = state[:n]
        if t + 1 < T:  # dL/dh_t through step t+1
            dh = s @ _through(cell, w, f, t + 1, H)  # (n, H)
        else:  # no step after the last
            dh = torch.zeros((n, H), dtype=w.dtype)
        if hit is not None:  # in numpy: often one row, too small for torch's thread pool
            dh.numpy()[hit[0]] += e  # the positions are distinct
        if cell == "rnn":  # dA_t = delta_t phi'(a_t)
            torch.mul(dh, f["act_deriv"][t], out=s)
        elif cell == "lstm":  # in place: dc_t = f_{t+1} dc_{t+1} + delta_t o_t tanh'(c_t)
            s[:, :H].mul_(f["forget_next"][t]).addcmul_(dh, f["dc_from_h"][t])
            s[:, H:].copy_(dh)
        else:  # delta_t += z_{t+1} delta_{t+1}, written over the carried delta_{t+1}
            dh = torch.addcmul(dh, s, f["update_next"][t], out=s)
        nrm = torch.linalg.vector_norm(dh, dim=-1, dtype=torch.float64).numpy()  # in float64
        out[t, :n] = nrm * np.exp2(-expo[:n].astype(np.float64))
        if t % 8 == 0:  # gradients._rescale, one exponent per row
            m = s.abs().amax(dim=-1).numpy()
            low = (m > 0) & (m < lo)
            if low.any():
                s[torch.from_numpy(low)] *= 2.0**step
                expo[:n][low] += step
    return out
