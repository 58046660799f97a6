"""The attention readout: causal dot-product attention with a bilinear score (Luong et al. 2015,
"general") between the top layer and the output, so the loss reaches every earlier state directly.

    e_tk = o_t^T W_a o_k / sqrt(N)        for k <= t (masked above the diagonal), N = D*H
    alpha_tk = exp(e_tk) / sum_{j<=t} exp(e_tj)        the causal softmax
    a_t = sum_{k<=t} alpha_tk o_k                       the context
    y_hat_t = V [o_t ; a_t] + b                         V = [V_o V_a], (O, 2N)

o_t is the top layer's output (both directions side by side, as torch.nn writes it). The same
equations, one query step at a time and line by line: engine/reference.py, attention_step and
attention_step_back. Here they run for all steps and samples at once as batched matmuls through
torch (the engine's one thread pool), in the array's dtype. AttentionReadout is the readout as a
torch.nn.Module holding the same weights by the same names (Trace.to_torch).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _batch_major(a: np.ndarray) -> torch.Tensor:
    """(T, B, n) numpy -> (B, T, n) torch (contiguous)."""
    return torch.from_numpy(np.ascontiguousarray(a.transpose(1, 0, 2)))


def _time_major(a: torch.Tensor) -> np.ndarray:
    """(B, T, n) torch -> (T, B, n) numpy (contiguous)."""
    return np.ascontiguousarray(a.numpy().transpose(1, 0, 2))


def forward(o: np.ndarray, w_a: np.ndarray) -> dict:
    """alpha (T, B, T), zeros above the diagonal, and the context a (T, B, N), from o (T, B, N)."""
    T, _, N = o.shape
    ob = _batch_major(o)  # (B, T, N)
    wa = torch.from_numpy(np.ascontiguousarray(w_a))  # (N, N)
    e = (ob @ wa) @ ob.transpose(1, 2) / math.sqrt(N)  # (B, T, T)  e[b, t, k] = o_t^T W_a o_k / sqrt(N)
    e.masked_fill_(torch.ones(T, T, dtype=torch.bool).triu(1), -math.inf)  # k > t: not yet read
    alpha = torch.softmax(e, dim=-1)  # (B, T, T)  alpha_tk, exactly 0 above the diagonal
    a = alpha @ ob  # (B, T, N)  a_t = sum_k alpha_tk o_k
    return {"alpha": np.ascontiguousarray(alpha.numpy().transpose(1, 0, 2)), "context": _time_major(a)}


def backward(o: np.ndarray, w_a: np.ndarray, v: np.ndarray, alpha: np.ndarray,
             context: np.ndarray, d_y: np.ndarray) -> dict:
    """Back from dL/dy_hat_t (T, B, O) through the readout and the attention, all steps at once.

    Returns grad_direct (T, B, N): the partial dL/do_t with every other o_k held fixed (through
    y_hat_t, as a query, as a key and as a value); weight_grad for attention.weight (N, N); and
    the pieces of the per-step terms of dL/dW_a = sum_t sum_b o_t c_t^T: o and c (T, B, N).
    """
    N = o.shape[-1]
    scale = 1.0 / math.sqrt(N)
    ob, ctx = _batch_major(o), _batch_major(context)  # (B, T, N) o_t, a_t
    ab = torch.from_numpy(np.ascontiguousarray(alpha.transpose(1, 0, 2)))  # (B, T, T) alpha_tk
    wa = torch.from_numpy(np.ascontiguousarray(w_a))  # (N, N)
    dyb = _batch_major(d_y)  # (B, T, O)
    vt = torch.from_numpy(np.ascontiguousarray(v))  # (O, 2N)
    g = dyb @ vt[:, N:]  # (B, T, N)  dL/da_t = dL/dy_hat_t V_a
    d_alpha = g @ ob.transpose(1, 2)  # (B, T, T)  dL/dalpha_tk = dL/da_t . o_k
    # dL/de_tk = alpha_tk (dL/dalpha_tk - sum_j alpha_tj dL/dalpha_tj); sum_j alpha_tj o_j = a_t
    de = d_alpha.sub_((g * ctx).sum(dim=-1, keepdim=True)).mul_(ab)  # (B, T, T), in place (T^2)
    d_o = (dyb @ vt[:, :N]  # through y_hat_t itself: dL/dy_hat_t V_o
           + ab.transpose(1, 2) @ g  # as a value: sum_t alpha_tk dL/da_t
           + scale * de @ (ob @ wa.T)  # as the query of step t: sum_k dL/de_tk W_a o_k / sqrt(N)
           + scale * de.transpose(1, 2) @ (ob @ wa))  # as a key: sum_t dL/de_tk W_a^T o_t / sqrt(N)
    c = scale * de @ ob  # (B, T, N)  c_t = sum_k dL/de_tk o_k / sqrt(N): step t's dL/dW_a = o_t c_t^T
    dw = torch.einsum("btn,btm->nm", ob, c)  # (N, N)  dL/dW_a = sum_t sum_b o_t c_t^T
    return {"grad_direct": _time_major(d_o), "attention.weight": dw.numpy(), "c": _time_major(c)}


def influence_rows(o: np.ndarray, w_a: np.ndarray, v: np.ndarray, alpha: np.ndarray,
                   context: np.ndarray, d_step: np.ndarray, steps: np.ndarray):
    """For the influence matrix (sample 0): a function k -> (K, N), row j = the partial
    dL_s/do_k of the loss at step s = steps[j] (zero where k > s), the injection of probe j.

    The same terms as backward(), one loss step s per row: alpha_sk g_s as a value,
    dL_s/de_sk W_a^T o_s / sqrt(N) as a key, and at k = s the readout's V_o^T dL_s/dy_hat_s and
    the query's sum_j dL_s/de_sj W_a o_j / sqrt(N).
    """
    N = o.shape[-1]
    scale = 1.0 / math.sqrt(N)
    o0, a0, al = o[:, 0], context[steps, 0], alpha[steps, 0]  # (T, N), (K, N), (K, T)
    d = d_step[steps, 0]  # (K, O) dL_s/dy_hat_s, sample 0
    g = d @ v[:, N:]  # (K, N)  dL_s/da_s
    de = al * (g @ o0.T - (g * a0).sum(axis=-1, keepdims=True))  # (K, T)  dL_s/de_sk
    as_key = scale * o0[steps] @ w_a  # (K, N)  W_a^T o_s / sqrt(N), row form
    at_s = d @ v[:, :N] + scale * de @ (o0 @ w_a.T)  # (K, N)  readout + query terms, at k = s

    def rows(k: int) -> np.ndarray:
        out = al[:, k, None] * g + de[:, k, None] * as_key  # (K, N)
        out[steps == k] += at_s[steps == k]
        return out

    return rows


class AttentionReadout(torch.nn.Module):
    """The attention readout as a torch.nn.Module: `attention` (a bias-free Linear N -> N whose
    weight is W_a) and `readout` (Linear 2N -> O: V and b), so its state_dict names are the
    engine's (attention.weight, readout.weight, readout.bias). forward(o (T, B, N)) -> y_hat."""

    def __init__(self, size: int, output_size: int, dtype: torch.dtype | None = None):
        super().__init__()
        self.attention = torch.nn.Linear(size, size, bias=False, dtype=dtype)
        self.readout = torch.nn.Linear(2 * size, output_size, dtype=dtype)

    def weights(self, o: torch.Tensor) -> torch.Tensor:
        """alpha (B, T, T): row t the causal softmax of o_t^T W_a o_k / sqrt(N) over k <= t."""
        ob = o.transpose(0, 1)  # (B, T, N)
        T, N = ob.shape[1], ob.shape[2]
        keys = self.attention(ob)  # (B, T, N)  W_a o_k (a Linear computes x W^T)
        e = ob @ keys.transpose(1, 2) / math.sqrt(N)  # (B, T, T)  o_t^T W_a o_k / sqrt(N)
        mask = torch.ones(T, T, dtype=torch.bool, device=o.device).triu(1)
        return torch.softmax(e.masked_fill(mask, -math.inf), dim=-1)

    def forward(self, o: torch.Tensor) -> torch.Tensor:
        a = (self.weights(o) @ o.transpose(0, 1)).transpose(0, 1)  # (T, B, N) contexts a_t
        return self.readout(torch.cat([o, a], dim=-1))  # (T, B, O)  V [o_t ; a_t] + b
