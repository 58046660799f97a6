# The template of the PyTorch script that the Export section downloads: plain Python, linted and
# imported like the rest of dashboard/export/. dashboard/export/script.py copies what lies below
# the "the script" line and replaces each __NAME__ (capitals between double underscores) by a
# part generated from one run: in code a Python expression, in the docstring plain text. The
# stand-ins here are dropped with this comment; they let the template itself import and lint.
# ruff: noqa: E402
__CONFIG__ = {"cell": "rnn", "activation": "tanh", "loss": "sum", "dtype": "float64",
              "num_layers": 1, "hidden_size": 1, "bidirectional": False, "readout": "linear"}
__WEIGHTS__ = __INPUTS__ = __INPUTS_SHAPE__ = __TARGETS__ = __TARGETS_SHAPE__ = None
# ---- the script ----
"""Unrolled, reproduced with plain PyTorch: __TITLE__

Rebuilds the model with torch.nn (the exact weights and inputs the dashboard drew from seed __SEED__
are embedded at the bottom of this file), runs it step by step, and uses autograd for the total
derivative dL/dh_t of the loss with respect to every hidden state h_t (through all later steps).
With the attention readout, y_hat_t also looks back at every earlier output (AttentionReadout).
Prints the loss, then |h_t| and |dL/dh_t| for every layer, direction, step and sample.

Dashboard link (query string): __QUERY__
Needs only torch and numpy: python __STEM__.py
"""

import base64

import numpy as np
import torch

CONFIG = __CONFIG__

DTYPE = getattr(torch, CONFIG["dtype"])
CELL, ACTIVATION, LOSS = CONFIG["cell"], CONFIG["activation"], CONFIG["loss"]
READOUT = CONFIG.get("readout", "linear")
L, H = CONFIG["num_layers"], CONFIG["hidden_size"]
D = 2 if CONFIG["bidirectional"] else 1


class PhiRNNCell(torch.nn.Module):
    """torch.nn.RNNCell with any nonlinearity: h' = phi(W_ih x + b_ih + W_hh h + b_hh).
    (torch.nn.RNNCell offers only tanh and relu.)"""

    def __init__(self, input_size, hidden_size, phi, dtype):
        super().__init__()
        kw = dict(dtype=dtype)
        self.weight_ih = torch.nn.Parameter(torch.empty(hidden_size, input_size, **kw))
        self.weight_hh = torch.nn.Parameter(torch.empty(hidden_size, hidden_size, **kw))
        self.bias_ih = torch.nn.Parameter(torch.empty(hidden_size, **kw))
        self.bias_hh = torch.nn.Parameter(torch.empty(hidden_size, **kw))
        self.phi = phi

    def forward(self, x, h):
        a = torch.nn.functional.linear(x, self.weight_ih, self.bias_ih)
        return self.phi(a + torch.nn.functional.linear(h, self.weight_hh, self.bias_hh))


class AttentionReadout(torch.nn.Module):
    """Causal attention, then a linear readout, one query step t at a time (o_t: the top layer's
    output, N = D*H wide): alpha_t = softmax over k <= t of o_t^T W_a o_k / sqrt(N),
    a_t = sum_k alpha_tk o_k, y_hat_t = V [o_t ; a_t] + b. W_a is attention.weight."""

    def __init__(self, size, output_size, dtype):
        super().__init__()
        self.attention = torch.nn.Linear(size, size, bias=False, dtype=dtype)  # k -> W_a o_k
        self.readout = torch.nn.Linear(2 * size, output_size, dtype=dtype)  # V, b

    def forward(self, o):
        y_hat = []
        for t in range(o.shape[0]):
            seen = o[: t + 1]  # (t+1, B, N): o_0 .. o_t, never a later step
            scores = (self.attention(seen) * o[t]).sum(dim=-1) / o.shape[-1] ** 0.5  # (t+1, B)
            alpha = torch.softmax(scores, dim=0)  # over k <= t
            context = (alpha.unsqueeze(-1) * seen).sum(dim=0)  # (B, N): a_t
            y_hat.append(self.readout(torch.cat([o[t], context], dim=-1)))
        return torch.stack(y_hat)  # (T, B, O)


def make_readout(weights, size, output_size):
    """y_hat_t from the top layer's o_t: torch.nn.Linear (V o_t + b) or AttentionReadout."""
    if READOUT == "attention":
        readout = AttentionReadout(size, output_size, DTYPE)
        readout.load_state_dict({k: v for k, v in weights.items()
                                 if k.startswith(("readout.", "attention."))})
    else:
        readout = torch.nn.Linear(size, output_size, dtype=DTYPE)
        readout.load_state_dict({"weight": weights["readout.weight"],
                                 "bias": weights["readout.bias"]})
    return readout


def make_cell(input_size, weights, suffix):
    """One layer-direction as a torch.nn cell holding the weights named weight_ih{suffix} etc."""
    if CELL == "lstm":
        cell = torch.nn.LSTMCell(input_size, H, dtype=DTYPE)
    elif CELL == "gru":
        cell = torch.nn.GRUCell(input_size, H, dtype=DTYPE)
    elif ACTIVATION in ("tanh", "relu"):
        cell = torch.nn.RNNCell(input_size, H, nonlinearity=ACTIVATION, dtype=DTYPE)
    else:
        phi = {"sigmoid": torch.sigmoid, "linear": lambda a: a}[ACTIVATION]
        cell = PhiRNNCell(input_size, H, phi, DTYPE)
    cell.load_state_dict({k: weights[k + suffix] for k in
                          ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    return cell


def unroll(cells, readout, x, y):
    """Every layer and direction step by step. Returns the loss and every h_t, each with
    retain_grad(): after backward, h_t.grad is dL/dh_t through every later use of h_t."""
    T, B, _ = x.shape  # steps, batch, inputs
    states = {}  # (layer, direction) -> [h_t for t in 0..T-1], each (B, H), natural time order
    layer_in = x  # (T, B, I) for layer 0, then (T, B, D*H)
    for layer in range(L):
        outs = []
        for d in range(D):  # d = 1 reads the sequence backwards
            cell = cells[layer * D + d]
            h = x.new_zeros(B, H)  # h_{-1} = 0
            c = x.new_zeros(B, H)  # c_{-1} = 0 (LSTM)
            hs = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                if CELL == "lstm":
                    h, c = cell(layer_in[t], (h, c))
                else:
                    h = cell(layer_in[t], h)
                h.retain_grad()
                hs[t] = h
            states[layer, d] = hs
            outs.append(torch.stack(hs))  # (T, B, H)
        layer_in = torch.cat(outs, dim=-1)  # (T, B, D*H): the next layer's input
    y_hat = readout(layer_in)  # (T, B, O): y_hat_t = V o_t + b, or V [o_t ; a_t] + b
    step_loss = ((y_hat - y) ** 2).sum(dim=(1, 2)) / B  # (T,) L_t = mean_b |y_hat_t - y_t|^2
    loss = step_loss[-1] if LOSS == "last" else step_loss.sum()
    return loss, states, layer_in


def check_fused(weights, x, top):
    """The same weights in torch.nn.RNN/LSTM/GRU (num_layers, bidirectional) give the same
    top-layer output as the step-by-step cells above."""
    kw = dict(num_layers=L, bidirectional=D == 2, dtype=DTYPE)
    if CELL == "lstm":
        rnn = torch.nn.LSTM(x.shape[-1], H, **kw)
    elif CELL == "gru":
        rnn = torch.nn.GRU(x.shape[-1], H, **kw)
    elif ACTIVATION in ("tanh", "relu"):
        rnn = torch.nn.RNN(x.shape[-1], H, nonlinearity=ACTIVATION, **kw)
    else:
        return None  # torch.nn.RNN has no sigmoid or linear nonlinearity
    rnn.load_state_dict({k: v for k, v in weights.items()
                         if not k.startswith(("readout.", "attention."))})
    with torch.no_grad():
        return (rnn(x)[0] - top).abs().max().item()


def main():
    weights, x, y = data()
    cells = []
    for layer in range(L):
        for d in range(D):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            cells.append(make_cell(x.shape[-1] if layer == 0 else D * H, weights, suffix))
    readout = make_readout(weights, D * H, y.shape[-1])

    loss, states, top = unroll(cells, readout, x, y)
    loss.backward()
    diff = check_fused(weights, x, top.detach())
    if diff is not None:
        print(f"# torch.nn.{CELL.upper()} vs the cells step by step: max |difference| = {diff:.3g}")
    print(f"loss {loss.item()!r}")
    print("layer direction t sample |h_t| |dL/dh_t|")
    for (layer, d), hs in states.items():
        for t, h in enumerate(hs):
            h_norm = h.detach().norm(dim=-1)  # (B,)
            g_norm = h.grad.norm(dim=-1)  # (B,)
            for b in range(h.shape[0]):
                print(layer, d, t, b, repr(h_norm[b].item()), repr(g_norm[b].item()))


def load(b64, shape):
    """An embedded array: float64 little-endian bytes, base64 (exact for float32 values too)."""
    a = np.frombuffer(base64.b64decode(b64), dtype="<f8").reshape(shape)
    return torch.from_numpy(a.copy()).to(DTYPE)


def data():
    """The weights (torch.nn names), inputs x (T, B, I) and targets y (T, B, O), embedded."""
    weights = __WEIGHTS__
    x = load(__INPUTS__, __INPUTS_SHAPE__)
    y = load(__TARGETS__, __TARGETS_SHAPE__)
    return weights, x, y


if __name__ == "__main__":
    main()
