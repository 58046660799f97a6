"""The torch.nn models a training run steps, and the truncated-BPTT forward pass through them.

build_model turns an engine Config into torch.nn's own fused module (nn.RNN / LSTM / GRU) plus a
linear readout, initialised exactly like engine.unroll's model; the sigmoid and linear RNN, which
torch.nn.RNN lacks, run as cells.LoopRNN. Truncated BPTT with window k runs the sequence in chunks
of k steps, aligned to end at the last step, and detaches the carried state between chunks.
"""

from __future__ import annotations

import torch
from torch import nn

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


def build_model(config: Config, input_size: int, output_size: int = 1) -> tuple[nn.Module, nn.Linear]:
    """(recurrent module, readout) in torch.nn, initialised by engine.init_weights."""
    c = config
    w = init_weights(c, input_size, output_size)
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
    rnn.load_state_dict({k: v for k, v in w.items() if not k.startswith("readout.")})
    readout = nn.Linear(c.num_directions * c.hidden_size, output_size, dtype=dtype)
    readout.load_state_dict({"weight": w["readout.weight"], "bias": w["readout.bias"]})
    return rnn, readout


def detach(state):
    """A carried state (h, or (h, c)) cut from the graph: truncated BPTT's cut."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def forward(rnn: nn.Module, readout: nn.Linear, x: torch.Tensor, window: int | None) -> torch.Tensor:
    """y_hat (T, B, O) through the fused module, chunk by chunk, the state detached in between."""
    state, outs = None, []
    for a, b in chunks(x.shape[0], window):
        out, state = rnn(x[a:b], state)  # (b-a, B, H)
        outs.append(out)
        state = detach(state)
    return readout(torch.cat(outs) if len(outs) > 1 else outs[0])
