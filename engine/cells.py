"""RNN / LSTM / GRU step maths in torch.nn's layout: activations, gate splits, the forward pass.

Shapes: T steps, B samples, I inputs, H hidden units, G gate blocks (RNN 1, LSTM 4, GRU 3).
The forward pass runs torch's own fused kernel for h_t, then recomputes every gate for all steps
in one batched matmul (no per-step Python work; the LSTM's cell scan is a compiled loop). An LSTM
in float64, or one of a batch of 1 or 2 in float32, runs one compiled loop instead that gives every
gate as it goes (own_lstm_forward says when).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import compiled

GATES = {"rnn": ("a",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}

# phi, phi' written in terms of (a, h = phi(a)), and gamma = sup |phi'| for the Pascanu bound.
ACTIVATIONS = {
    "tanh": (torch.tanh, lambda a, h: 1 - h * h, 1.0),
    "relu": (torch.relu, lambda a, h: (a > 0).to(a.dtype), 1.0),
    "sigmoid": (torch.sigmoid, lambda a, h: h * (1 - h), 0.25),
    "linear": (lambda a: a, lambda a, h: torch.ones_like(a), 1.0),
}
FUSED = {"tanh": torch.rnn_tanh, "relu": torch.rnn_relu}  # torch.nn.RNN has only these two


def loop_rnn(x: torch.Tensor, w_ih, w_hh, b_ih, b_hh, phi, h0=None) -> torch.Tensor:
    """h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), one step at a time (for sigmoid/linear),
    from h_{-1} = h0 (zeros when None)."""
    T, B, _ = x.shape
    ax = torch.addmm(b_ih + b_hh, x.reshape(T * B, -1), w_ih.T).reshape(T, B, -1)  # (T, B, H)
    h = x.new_zeros(B, w_hh.shape[1]) if h0 is None else h0
    out = []
    for t in range(T):
        h = phi(torch.addmm(ax[t], h, w_hh.T))  # (B, H)
        out.append(h)
    return torch.stack(out)  # (T, B, H)


def fused_hidden(cell: str, activation: str, x: torch.Tensor, params: list[list[torch.Tensor]],
                 bidirectional: bool) -> torch.Tensor:
    """One layer's output (T, B, D*H) from torch's kernels; params[d] = [w_ih, w_hh, b_ih, b_hh]."""
    D = 2 if bidirectional else 1
    H = params[0][1].shape[1]
    flat = [p for direction in params for p in direction]
    h0 = x.new_zeros(D, x.shape[1], H)
    if cell == "lstm":
        return torch.lstm(x, (h0, h0), flat, True, 1, 0.0, False, bidirectional, False)[0]
    if cell == "gru":
        return torch.gru(x, h0, flat, True, 1, 0.0, False, bidirectional, False)[0]
    if activation in FUSED:
        return FUSED[activation](x, h0, flat, True, 1, 0.0, False, bidirectional, False)[0]
    phi = ACTIVATIONS[activation][0]
    outs = [loop_rnn(x, *params[0], phi)]
    if bidirectional:
        outs.append(loop_rnn(x.flip(0), *params[1], phi).flip(0))
    return torch.cat(outs, dim=-1)


def gate_values(cell: str, activation: str, x: torch.Tensor, h: torch.Tensor,
                w_ih, w_hh, b_ih, b_hh) -> dict[str, torch.Tensor]:
    """Every gate at every step from inputs x (T, B, I) and states h (T, B, H), in processing order.

    Returns gates by torch's names, plus what the backward pass needs: h_prev, and for the LSTM
    c, c_prev, tc = tanh(c_t) and ifgo (T, B, 4H: i f g o, whose views the gates are); for the GRU
    gh_n = W_hn h_{t-1} + b_hn (the part the reset gate scales). RNN and LSTM: also xh (T, B, I+H)
    = [x_t, h_{t-1}], of which h_prev is a view (the backward's one product for dL/dW_ih, W_hh).
    """
    T, B, I = x.shape
    H = w_hh.shape[1]
    if cell == "gru":
        h_prev = torch.cat([h.new_zeros(1, B, H), h[:-1]])  # (T, B, H): h_{t-1}, h_{-1} = 0
        out = {"h": h, "h_prev": h_prev}
    else:  # a_t = [x_t, h_{t-1}] [W_ih | W_hh]^T + b_ih + b_hh: one matmul for all t
        xh = x.new_empty(T, B, I + H)  # [x_t, h_{t-1}], h_{-1} = 0
        xh[..., :I] = x
        xh[0, :, I:] = 0.0
        xh[1:, :, I:] = h[:-1]
        out = {"h": h, "h_prev": xh[..., I:], "xh": xh}  # h_prev (T, B, H): a view
        a = torch.addmm(b_ih + b_hh, xh.reshape(T * B, -1),
                        torch.cat([w_ih, w_hh], dim=1).T).reshape(T, B, -1)
    if cell == "rnn":
        out["a"] = a  # (T, B, H): the pre-activation
        out["act_deriv"] = ACTIVATIONS[activation][1](a, h)
    elif cell == "lstm":
        a = a.cpu()  # the cell scan runs on the CPU
        # in place, vectorised, on the blocks of one (T, B, 4H) array, which then holds i f g o
        # (the gates are its views): i_t, f_t = sigma(a_i), sigma(a_f); g_t = tanh(a_g); o_t = sigma(a_o)
        a[..., :2 * H].sigmoid_()
        a[..., 2 * H:3 * H].tanh_()
        a[..., 3 * H:].sigmoid_()
        i, f, g, o = a.chunk(4, dim=-1)  # each (T, B, H)
        cs = np.empty((T + 1, B, H), dtype=a.numpy().dtype)  # c_{-1}, c_0, ..., c_{T-1}
        cell_scan(a.numpy(), cs)  # c_t = f_t c_{t-1} + i_t g_t
        c = torch.from_numpy(cs[1:])
        out.update(i=i, f=f, g=g, o=o, c=c, c_prev=torch.from_numpy(cs[:-1]), ifgo=a,
                   tc=torch.tanh(c))  # tanh(c_t), vectorised, for the backward pass
    else:
        gi = torch.addmm(b_ih, x.reshape(T * B, -1), w_ih.T).reshape(T, B, -1)  # (T, B, 3H)
        gh = torch.addmm(b_hh, h_prev.reshape(T * B, H), w_hh.T).reshape(T, B, -1)  # (T, B, 3H)
        ir, iz, in_ = gi.chunk(3, dim=-1)  # each (T, B, H)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        out.update(r=r, z=z, n=torch.tanh(in_ + r * hn), gh_n=hn)
    return out


def cell_scan(ifgo: np.ndarray, cs: np.ndarray) -> None:
    """cs (T+1, B, H): row 0 c_{-1} = 0, row t+1 c_t = f_t c_{t-1} + i_t g_t, from i f g o in
    ifgo (T, B, 4H): loops.cell_scan, or the same steps in numpy while it is deferred."""
    loops = compiled.loops()
    if loops is not None:
        loops.cell_scan(ifgo, cs)
        return
    H = ifgo.shape[-1] // 4
    i, f, g = ifgo[..., :H], ifgo[..., H:2 * H], ifgo[..., 2 * H:3 * H]  # each (T, B, H)
    cs[0] = 0.0
    for t in range(len(ifgo)):
        np.add(f[t] * cs[t], i[t] * g[t], out=cs[t + 1])


def lstm_compiled(x: torch.Tensor, w_ih, w_hh, b_ih, b_hh) -> dict[str, torch.Tensor]:
    """gate_values of an LSTM direction computed in its own forward pass (loops.lstm_forward), on
    the CPU where that beats torch's kernel plus the recompute (own_lstm_forward)."""
    from . import loops

    T, B, _ = x.shape
    H = w_hh.shape[1]
    ax = torch.addmm(b_ih + b_hh, x.reshape(T * B, -1), w_ih.T).reshape(T, B, 4 * H).numpy()
    hs = np.empty((T + 1, B, H), dtype=ax.dtype)  # h_{-1}, h_0, ..., h_{T-1}; cs likewise
    cs, tc, ifgo = np.empty_like(hs), np.empty((T, B, H), dtype=ax.dtype), np.empty_like(ax)
    loops.lstm_forward(ax, np.ascontiguousarray(w_hh.numpy().T), hs, cs, ifgo, tc)
    hs, cs, tc, ifgo = (torch.from_numpy(a) for a in (hs, cs, tc, ifgo))
    i, f, g, o = ifgo.chunk(4, dim=-1)  # each (T, B, H)
    return {"h": hs[1:], "h_prev": hs[:-1], "i": i, "f": f, "g": g, "o": o, "c": cs[1:],
            "c_prev": cs[:-1], "ifgo": ifgo, "tc": tc}


# The compiled LSTM forward reads W_hh once per pair of samples and step, and runs its
# activations one sample at a time; torch's kernel reads W_hh once per step for the whole batch.
# Measured on this 2-core machine, float32, forward with every gate, ours / torch + recompute:
# 0.63 at T=200, H=128, B=1 (6.9 vs 8.4 ms at T=1000), 0.78 at B=2, 1.06 at B=4, 1.19 at B=16,
# 1.50 at H=32, B=16; 1.07 at H=512, B=1 (W_hh outgrows the core's cache; 0.93 at 1000x512).
# float64 has no fused torch kernel: ours always.
OWN_FORWARD_MAX_BATCH = 2  # the largest batch that runs the compiled float32 forward


def own_lstm_forward(x: torch.Tensor) -> bool:
    """True when an LSTM layer on x (T, B, I) runs loops.lstm_forward instead of torch's kernel."""
    if x.device.type != "cpu" or compiled.loops() is None:
        return False
    return x.dtype == torch.float64 or x.shape[1] <= OWN_FORWARD_MAX_BATCH


def forward_layer(cell: str, activation: str, x: torch.Tensor, params: list[list[torch.Tensor]],
                  bidirectional: bool) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Run one layer; returns its output (T, B, D*H) and, per direction, every step's values in
    that direction's processing order (the reverse direction sees time flipped)."""
    with torch.no_grad():
        if cell == "lstm" and own_lstm_forward(x):
            per_direction = [lstm_compiled(x if d == 0 else x.flip(0), *p) for d, p in enumerate(params)]
            hs = [v["h"] if d == 0 else v["h"].flip(0) for d, v in enumerate(per_direction)]
            return (hs[0] if len(hs) == 1 else torch.cat(hs, dim=-1)), per_direction  # (T, B, D*H)
        out = fused_hidden(cell, activation, x, params, bidirectional)  # (T, B, D*H)
        H = params[0][1].shape[1]
        per_direction = []
        for d, p in enumerate(params):
            h = out[..., d * H:(d + 1) * H]
            xs, hs = (x, h) if d == 0 else (x.flip(0), h.flip(0))
            per_direction.append(gate_values(cell, activation, xs, hs.contiguous(), *p))
    return out, per_direction


class LoopRNN(nn.Module):
    """torch.nn.RNN's twin for activations it lacks (sigmoid, linear): same parameter names, a
    per-step loop differentiable by autograd. forward(x, hx) -> (output, h_n) like nn.RNN, so a
    carried state continues a sequence (truncated BPTT in engine/models.py)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "sigmoid", bidirectional: bool = False, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bidirectional = nonlinearity, bidirectional
        D = 2 if bidirectional else 1
        for layer in range(num_layers):
            cols = input_size if layer == 0 else D * hidden_size
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                for name, shape in (("weight_ih", (hidden_size, cols)),
                                    ("weight_hh", (hidden_size, hidden_size)),
                                    ("bias_ih", (hidden_size,)), ("bias_hh", (hidden_size,))):
                    self.register_parameter(name + sfx, nn.Parameter(torch.zeros(*shape, dtype=dtype)))

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None):
        phi = ACTIVATIONS[self.nonlinearity][0]
        D = 2 if self.bidirectional else 1
        last = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                p = [getattr(self, f"{n}{sfx}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                xs = x if d == 0 else x.flip(0)
                h = loop_rnn(xs, *p, phi, h0=None if hx is None else hx[layer * D + d])
                outs.append(h if d == 0 else h.flip(0))
                last.append(h[-1])
            x = torch.cat(outs, dim=-1)
        return x, torch.stack(last)
