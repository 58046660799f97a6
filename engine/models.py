"""The torch.nn models a training run steps, and the truncated-BPTT forward pass through them.

build_model turns an engine Config into torch.nn's own fused module (nn.RNN / LSTM / GRU) plus its
readout, initialised exactly like engine.unroll's model; the sigmoid and linear RNN, which
torch.nn.RNN lacks, run as cells.LoopRNN. The readout is Config.readout's: linear (an nn.Linear,
y_hat_t = V o_t + b) or causal attention over the top layer's outputs (engine/attention.py's
AttentionReadout, by the same weight names). Truncated BPTT with window k runs the sequence in
chunks of k steps, aligned to end at the last step, and detaches the carried state between chunks;
the readout reads every step's output at once, so attention reaches across the cuts.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import AttentionReadout
from .cells import FUSED, LoopRNN
from .config import Config
from .init import init_weights


def chunks(T: int, window: int | None) -> list[tuple[int, int]]:
    """[start, stop) of each truncated-BPTT chunk, aligned to end at T: window 10, T 25 ->
    (0, 5), (5, 15), (15, 25)."""
    if window is None or window >= T:
        return [(0, T)]
    stops = list(range(T, 0, -window))
    return [(max(s - window, 0), s) for s in reversed(stops)]


def build_model(config: Config, input_size: int, output_size: int = 1,
                update_bias: float | None = None) -> tuple[nn.Module, nn.Module]:
    """(recurrent module, readout) in torch.nn, initialised by engine.init_weights: an nn.Linear,
    or an AttentionReadout for Config.readout = "attention". update_bias (GRU only): start the
    update gate z's bias there (b_iz = update_bias, b_hz = 0, every layer), the GRU's counterpart
    of Config.forget_bias: h_t = (1 - z) n + z h_{t-1}, so z near 1 keeps h."""
    c = config
    w = init_weights(c, input_size, output_size)
    if update_bias is not None:
        if c.cell != "gru":
            raise ValueError(f"build_model: update_bias is the GRU's z gate; cell is {c.cell!r}")
        H = c.hidden_size
        for layer in range(c.num_layers):  # gates r z n: z is the second block
            w[f"bias_ih_l{layer}"][H:2 * H] = update_bias
            w[f"bias_hh_l{layer}"][H:2 * H] = 0.0
    dtype = getattr(torch, c.dtype)
    kw = dict(num_layers=c.num_layers, dtype=dtype)
    if c.cell == "lstm":
        rnn = nn.LSTM(input_size, c.hidden_size, **kw)
    elif c.cell == "gru":
        rnn = nn.GRU(input_size, c.hidden_size, **kw)
    elif c.activation in FUSED:
        rnn = nn.RNN(input_size, c.hidden_size, nonlinearity=c.activation, **kw)
    else:
        rnn = LoopRNN(input_size, c.hidden_size, c.num_layers, c.activation, dtype=dtype)
    head = ("readout.", "attention.")
    rnn.load_state_dict({k: v for k, v in w.items() if not k.startswith(head)})
    if c.readout == "attention":
        readout = AttentionReadout(c.num_directions * c.hidden_size, output_size, dtype=dtype)
        readout.load_state_dict({k: v for k, v in w.items() if k.startswith(head)})
        return rnn, readout
    readout = nn.Linear(c.num_directions * c.hidden_size, output_size, dtype=dtype)
    readout.load_state_dict({"weight": w["readout.weight"], "bias": w["readout.bias"]})
    return rnn, readout


def detach(state):
    """A carried state (h, or (h, c)) cut from the graph: truncated BPTT's cut."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def forward(rnn: nn.Module, readout: nn.Module, x: torch.Tensor, window: int | None) -> torch.Tensor:
    """y_hat (T, B, O) through the fused module, chunk by chunk, the state detached in between."""
    state, outs = None, []
    for a, b in chunks(x.shape[0], window):
        out, state = rnn(x[a:b], state)  # (b-a, B, H)
        outs.append(out)
        state = detach(state)
    return readout(torch.cat(outs) if len(outs) > 1 else outs[0])
