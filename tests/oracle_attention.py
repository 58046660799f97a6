"""The tests' ground truth for the attention readout: plain torch, one query step at a time, for
autograd (tests/oracle.py's reference_loop calls it with readout="attention"). Independent of
engine/attention.py and engine/reference.py: only the equations are shared.

    e_tk = o_t^T W_a o_k / sqrt(N) (k <= t),  alpha_t = softmax_k e_t,  a_t = sum_k alpha_tk o_k,
    y_hat_t = V [o_t ; a_t] + b
"""

from __future__ import annotations

import math

import torch


def readout_output(kind, o, use):
    """y_hat (T, B, O) and, for kind "attention", alpha (T, B, T) as numpy (zeros for k > t; None
    for "linear") from o (T, B, N); use(name, t) gives a weight as used at step t (a zero probe
    may be added to it, so dL/d(probe) is the step-t term of dL/dW)."""
    if kind == "linear":
        return torch.stack([o[t] @ use("readout.weight", t).T + use("readout.bias", t)
                            for t in range(o.shape[0])]), None
    T, B, N = o.shape
    y_hat, alpha = [], torch.zeros(T, B, T, dtype=o.dtype)
    for t in range(T):
        w_a = use("attention.weight", t)
        e = torch.stack([(o[t] @ w_a * o[k]).sum(-1) for k in range(t + 1)], dim=-1) / math.sqrt(N)
        w = torch.softmax(e, dim=-1)  # (B, t+1)
        alpha[t, :, :t + 1] = w.detach()
        a = sum(w[:, k:k + 1] * o[k] for k in range(t + 1))  # (B, N)
        y_hat.append(torch.cat([o[t], a], dim=-1) @ use("readout.weight", t).T + use("readout.bias", t))
    return torch.stack(y_hat), alpha.numpy()


def direct_gradient(top, weights, targets, loss_mode, readout):
    """The partial dL/do_t (T, B, N): autograd with o itself the leaf, so every other state is
    held fixed (nothing flows back into the recurrence)."""
    o = torch.as_tensor(top, dtype=torch.float64).clone().requires_grad_(True)
    w = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in weights.items()}
    y_hat, _ = readout_output(readout, o, lambda name, t: w[name])
    y = torch.as_tensor(targets, dtype=torch.float64)
    step = ((y_hat - y) ** 2).sum(dim=(1, 2)) / y.shape[1]
    (step[-1] if loss_mode == "last" else step.sum()).backward()
    return o.grad.numpy()
