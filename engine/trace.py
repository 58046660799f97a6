"""Trace: everything one unroll computed, as numpy arrays, plus tidy and torch views of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import torch

from .config import Config
from .flags import any_flag

if TYPE_CHECKING:
    import pandas as pd

PER_STEP = ("hidden", "cell", "act_deriv", "grad_hidden", "grad_cell")  # (L*D, T, B, H)
MODEL_LEVEL = ("inputs", "targets", "outputs", "grad_input", "grad_direct")  # (T, B, .)


@dataclass
class Trace:
    """One unrolled run. Per-step arrays are (L*D, T, B, .), indexed layer * D + direction like
    torch's h_n, in natural time order (the reverse direction's step t sits at position t)."""

    config: Config
    weights: dict[str, np.ndarray]  # torch.nn names, plus readout.weight / readout.bias (and
    # attention.weight W_a for the attention readout)
    inputs: np.ndarray  # (T, B, I) x_t
    targets: np.ndarray  # (T, B, O) y_t
    outputs: np.ndarray  # (T, B, O) y_hat_t = V o_t + b, or V [o_t ; a_t] + b with attention
    loss: float  # L: L_T ("last") or sum_t L_t ("sum"), L_t = mean_b |y_hat_t - y_t|^2
    step_loss: np.ndarray  # (T,) L_t for every t, whichever loss mode
    hidden: np.ndarray  # (L*D, T, B, H) h_t
    cell: np.ndarray | None  # (L*D, T, B, H) c_t, LSTM only
    gates: dict[str, np.ndarray]  # name -> (L*D, T, B, H): i f g o / r z n; RNN "a" = pre-activation
    act_deriv: np.ndarray | None  # (L*D, T, B, H) phi'(a_t), RNN only: the per-step gradient factor
    grad_hidden: np.ndarray  # (L*D, T, B, H) delta_t = dL/dh_t, total through all later steps
    grad_hidden_log10: np.ndarray  # (L*D, T, B) log10 |delta_t|, exact even where delta_t underflows
    grad_cell: np.ndarray | None  # (L*D, T, B, H) dL/dc_t, LSTM only
    grad_input: np.ndarray  # (T, B, I) dL/dx_t: which inputs the loss depends on
    # (T, B, D*H) the partial dL/do_t of the top layer's output, every other state held fixed:
    # what the loss puts into o_t directly (V^T dL/dy_hat_t; with attention also as a query, a
    # key and a value of later steps). grad_hidden adds what arrives through the recurrence.
    grad_direct: np.ndarray
    attention: np.ndarray | None  # (T, B, T) alpha_tk of the attention readout, 0 for k > t
    weight_grad: dict[str, np.ndarray]  # name -> dL/dW, equal to autograd's .grad
    weight_grad_terms: dict[str, np.ndarray]  # name -> (T,) norm of the step-t term of the BPTT sum
    jacobian_norm: np.ndarray | None  # (L*D, T) spectral norm of dh_end/dh_t, sample 0
    influence: np.ndarray | None  # (K, T) |dL_s/dh_k| for s = influence_steps, top layer, sample 0
    influence_steps: np.ndarray | None  # (K,) the target steps s of the influence rows
    decay: list[dict]  # per layer-direction: fitted rate per step, half-life in steps, r2
    flags: dict[str, dict]  # quantity -> {"nan"|"inf"|"overflow"|"underflow": first step or None}
    notes: list[str] = field(default_factory=list)  # honest remarks: subsampling, skipped views
    adjoints: dict = field(default_factory=dict, repr=False)  # per-step dA, inputs: BPTT terms

    @cached_property
    def spectrum(self) -> list[dict]:
        """Per layer-direction: singular values and eigenvalues of W_hh, spectral radius, the
        1/gamma bound and its verdict. Computed on first use: it costs an eigendecomposition
        per layer (about 0.2 s at H=512), so a page that does not show it does not pay."""
        from .gradients import spectrum
        from .init import param_names

        c = self.config
        D = c.num_directions
        return [spectrum(c.cell, c.activation, self.weights[param_names(i // D, i % D)[1]])
                for i in range(c.num_layers * D)]

    @property
    def any_flag(self) -> bool:
        """True when some quantity has NaN, Inf, overflow or underflow."""
        return any_flag(self.flags)

    @cached_property
    def batch_decay(self) -> list[dict]:
        """Per layer-direction: the decay fit of the median over the batch of log10 |dL/dh_t|,
        with the spread of the samples' own fits (gradients.batch_decay_fit). For one sample it
        is that sample's fit, as in `decay`."""
        from .gradients import batch_decay_fit

        D = self.config.num_directions
        return [batch_decay_fit(lg if i % D == 0 else lg[::-1])  # processing order
                for i, lg in enumerate(self.grad_hidden_log10)]

    @property
    def step_labels(self) -> list[str] | None:
        """The name of every step (the words of task 'sentence', inputs.step_labels), or None
        when steps are only numbered (or the trace ran on given inputs of another length)."""
        from .inputs import step_labels

        labels = step_labels(self.config)
        return labels if labels is not None and len(labels) == self.inputs.shape[0] else None

    @property
    def influence_subsampled(self) -> bool:
        """True when the influence matrix has fewer rows than steps."""
        return self.influence_steps is not None and len(self.influence_steps) < self.inputs.shape[0]

    def layer_index(self, layer: int, direction: int = 0) -> int:
        """Row of the per-step arrays for (layer, direction)."""
        return layer * self.config.num_directions + direction

    def array(self, name: str) -> np.ndarray | None:
        """A quantity by name; gates as 'gates.i' (or just 'i')."""
        gate = name.split(".", 1)[1] if name.startswith("gates.") else name
        if gate in self.gates:
            return self.gates[gate]
        if name in PER_STEP or name in MODEL_LEVEL:
            return getattr(self, name)
        raise ValueError(f"Trace.frame: unknown quantity {name!r}; known: "
                         f"{list(PER_STEP + MODEL_LEVEL) + ['gates.' + g for g in self.gates]}")

    def frame(self, name: str) -> pd.DataFrame:
        """Tidy table (layer, direction, t, sample, unit, value) of one quantity."""
        import pandas as pd  # here: a table is asked for rarely, and pandas takes 0.5 s to import

        x = self.array(name)
        if x is None:
            raise ValueError(f"Trace.frame: {name!r} does not exist for cell {self.config.cell!r}")
        D = self.config.num_directions
        model_level = x.ndim == 3  # (T, B, .): no layer or direction
        if model_level:
            x = x[None]
        ld, t, sample, unit = (g.reshape(-1) for g in np.indices(x.shape))
        if model_level:
            layer = direction = pd.array([pd.NA] * x.size, dtype="Int64")
        else:
            layer, direction = pd.array(ld // D, dtype="Int64"), pd.array(ld % D, dtype="Int64")
        return pd.DataFrame({"layer": layer, "direction": direction, "t": t, "sample": sample,
                             "unit": unit, "value": x.reshape(-1)})

    def to_torch(self) -> dict:
        """Equivalent torch.nn modules with these weights: rnn (RNN/LSTM/GRU, or LoopRNN for
        sigmoid/linear), readout (Linear; for the attention readout an attention.AttentionReadout
        whose state_dict holds attention.weight, readout.weight, readout.bias), and the inputs
        and targets as tensors. readout(rnn(inputs)[0]) is y_hat either way."""
        from .attention import AttentionReadout
        from .cells import FUSED, LoopRNN

        c = self.config
        dtype = getattr(torch, c.dtype)
        I = self.inputs.shape[-1]
        kw = dict(num_layers=c.num_layers, bidirectional=c.bidirectional, dtype=dtype)
        if c.cell == "lstm":
            rnn = torch.nn.LSTM(I, c.hidden_size, **kw)
        elif c.cell == "gru":
            rnn = torch.nn.GRU(I, c.hidden_size, **kw)
        elif c.activation in FUSED:
            rnn = torch.nn.RNN(I, c.hidden_size, nonlinearity=c.activation, **kw)
        else:
            rnn = LoopRNN(I, c.hidden_size, nonlinearity=c.activation, **kw)
        readout_names = ("readout.", "attention.")
        rnn.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.weights.items()
                             if not k.startswith(readout_names)})
        V = self.weights["readout.weight"]
        state = {k: torch.from_numpy(v.copy()) for k, v in self.weights.items()
                 if k.startswith(readout_names)}
        if c.readout == "attention":
            readout = AttentionReadout(V.shape[1] // 2, V.shape[0], dtype=dtype)
        else:
            readout = torch.nn.Linear(V.shape[1], V.shape[0], dtype=dtype)
            state = {k.split(".", 1)[1]: w for k, w in state.items()}  # weight, bias
        readout.load_state_dict(state)
        return {"rnn": rnn, "readout": readout, "inputs": torch.from_numpy(self.inputs.copy()),
                "targets": torch.from_numpy(self.targets.copy())}
