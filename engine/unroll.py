"""unroll(config) -> Trace: run the model over a sequence and compute every BPTT quantity.

Forward: torch's fused kernels for h_t (no per-step Python), then every gate of every step in one
batched matmul (an LSTM in float64, or of a batch of 1 or 2 in float32: one compiled loop,
cells.py). Backward, layer by layer from the top, each direction in its own processing order: the
adjoint recursion of gradients.py (RNN, GRU), for the LSTM as one compiled loop
(loops.lstm_bptt); weight gradients are batched matmuls.
"""

from __future__ import annotations

import numpy as np
import torch

from . import attention as att
from . import flags as flagmod
from . import gradients as gr
from .cells import GATES, forward_layer
from .config import Config
from .influence import influence as influence_matrix
from .init import init_weights, param_names, weight_shapes
from .inputs import make_task
from .trace import Trace

# The influence matrix (engine/influence.py) costs about K * T/2 * G * H^2 * D multiply-adds for
# K target rows (each row is alive only from its target back; the reverse direction of an attention
# readout keeps every row alive, up to 1.5x that). Measured on this 2-core machine, float32, with
# benchmarks/bench_engine.py --only-influence: every row at T=1000, H=128 is 3.3e10 for the LSTM
# in 0.82 s, 2.5e10 for the GRU in 0.56 s, 0.8e10 for the RNN in 0.31 s. Above the budget (or
# above INFLUENCE_CELLS values: a (K, T) float64 matrix of 32 MB, kept in every cached trace) the
# rows are an evenly spaced, labelled subsample, e.g. at H=512 or T=5000.
INFLUENCE_BUDGET = 3.5e10
INFLUENCE_CELLS = 4_000_000
# jacobian_norm propagates H probes: about T * G * H^3 multiply-adds per layer-direction.
JACOBIAN_BUDGET = 2.0e10


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cuda' without CUDA is a ValueError."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("Config.device: 'cuda' requested but CUDA is not available here")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _as_tensor(name: str, value, dtype: torch.dtype) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    if t.ndim != 3:
        raise ValueError(f"unroll: expected {name} of shape (T, B, features), got {tuple(t.shape)}")
    return t.detach().to("cpu", dtype)


def _data(config: Config, inputs, targets, series, weights=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (T, B, I) and targets (T, B, O): given, or made by the config's task (given inputs
    without targets: zeros, as wide as the given readout's output, else 1)."""
    dtype = getattr(torch, config.dtype)
    if inputs is None:
        x, y = make_task(config, series=series)
        y = y if targets is None else _as_tensor("targets", targets, dtype)
    else:
        x = _as_tensor("inputs", inputs, dtype)
        width = 1 if weights is None or "readout.weight" not in weights else len(weights["readout.weight"])
        y = (torch.zeros(*x.shape[:2], width, dtype=dtype) if targets is None
             else _as_tensor("targets", targets, dtype))
    if x.shape[:2] != y.shape[:2] or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"unroll: inputs {tuple(x.shape)} and targets {tuple(y.shape)} must share "
                         "a non-empty (T, B)")
    return x, y


def _weights(config: Config, weights, input_size: int, output_size: int) -> dict[str, torch.Tensor]:
    """The config's initialization, or the given weights checked against torch.nn's names/shapes."""
    if weights is None:
        return init_weights(config, input_size, output_size)
    dtype = getattr(torch, config.dtype)
    shapes = weight_shapes(config, input_size, output_size)
    missing = sorted(set(shapes) - set(weights))
    if missing:
        raise ValueError(f"unroll: weights missing {missing}")
    out = {}
    for name, shape in shapes.items():
        w = _as_weight(weights[name]).to("cpu", dtype)
        if tuple(w.shape) != shape:
            raise ValueError(f"unroll: weight {name} has shape {tuple(w.shape)}, expected {shape}")
        out[name] = w
    return out


def _as_weight(value) -> torch.Tensor:
    return (value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))).detach()


def unroll(config: Config, inputs=None, targets=None, weights=None, *, series=None,
           jacobian: bool = True, influence: bool = True, adjoints: bool = True) -> Trace:
    """Unroll the configured model over inputs (T, B, I) and compute the whole Trace.

    inputs/targets default to the config's task (series: data for task 'series'); weights default
    to the config's initialization (a dict with torch.nn names). jacobian / influence switch the
    two heavy views; adjoints=False drops the per-step dA tensors kept for
    gradients.weight_grad_term_tensors (a cache of many traces then holds half the memory).
    Numerical blow-up never raises: it is reported in trace.flags.
    """
    device = resolve_device(config.device)
    x, y = _data(config, inputs, targets, series, weights)
    T, B, I = x.shape
    O = y.shape[-1]
    w = _weights(config, weights, I, O)
    cell, L, D, H = config.cell, config.num_layers, config.num_directions, config.hidden_size

    fw = _forward(config, x, w, device)
    vals, layer_in = fw["vals"], fw["layer_in"]
    wn = {k: v.numpy() for k, v in w.items()}
    top, xn, yn = fw["top"], x.numpy(), y.numpy()  # top: o_t (T, B, D*H)
    attn = att.forward(top, wn["attention.weight"]) if config.readout == "attention" else None
    read = top if attn is None else np.concatenate([top, attn["context"]], axis=-1)  # o_t (; a_t)
    V = wn["readout.weight"]  # (O, D*H), or (O, 2*D*H) for the attention readout
    y_hat = gr.mm(read.reshape(T * B, -1), V.T).reshape(T, B, O) + wn["readout.bias"]

    with np.errstate(all="ignore"):  # an exploding run must come back flagged, not raise
        err = y_hat - yn  # (T, B, O)
        step_loss = (err**2).sum(axis=(1, 2)) / B  # (T,) L_t
        mask = np.zeros(T, dtype=xn.dtype)
        mask[-1 if config.loss == "last" else slice(None)] = 1.0
        loss = float((step_loss * mask).sum())
        d_step = 2.0 * err / B  # (T, B, O): dL_t/dy_hat_t
        d_y = d_step * mask[:, None, None]  # dL/dy_hat_t
        if attn is None:
            grad_direct = gr.mm(d_y, V)  # (T, B, D*H)  dL/do_t = V^T dL/dy_hat_t
        else:  # through y_hat_t, and as query, key and value of every later step
            back = att.backward(top, wn["attention.weight"], V, attn["alpha"], attn["context"], d_y)
            grad_direct = back["grad_direct"]
        bw = _backward(config, fw, wn, grad_direct)  # the injection at the top layer
        bw["weight_grad"].update({"readout.weight": gr.mm(d_y.reshape(T * B, O).T, read.reshape(T * B, -1)),
                                  "readout.bias": d_y.sum(axis=(0, 1))})
        bw["terms"].update({"readout.weight": gr.term_norms(d_y, read),
                            "readout.bias": gr.term_norms(d_y, None)})
        if attn is not None:  # step t's term of dL/dW_a: sum_b o_t c_t^T (attention.backward)
            bw["weight_grad"]["attention.weight"] = back["attention.weight"]
            bw["terms"]["attention.weight"] = gr.term_norms(top, back["c"])

    def stack(per: list) -> np.ndarray:
        """(L*D, T, B, .) in natural time order from per layer-direction arrays in processing order."""
        if len(per) == 1:
            return per[0][None]  # a view: no copy for the common one-layer model
        return np.stack([p if i % D == 0 else p[::-1] for i, p in enumerate(per)])

    hidden = stack([v["h"] for v in vals])
    gates = {g: stack([v[g] for v in vals]) for g in GATES[cell]}
    cell_state = stack([v["c"] for v in vals]) if cell == "lstm" else None
    act_deriv = stack([v["act_deriv"] for v in vals]) if cell == "rnn" else None
    grad_hidden, log10 = stack(bw["dh"]), stack(bw["log10"])
    grad_cell = stack(bw["dc"]) if cell == "lstm" else None
    decay = [gr.decay_fit(bw["log10"][i][:, 0]) for i in range(L * D)]  # processing order
    notes: list[str] = list(getattr(weights, "notes", []))  # e.g. engine.weights: no head

    jac = None
    if jacobian:
        cost = T * config.gate_count * H**3 * L * D
        if cost <= JACOBIAN_BUDGET:
            with np.errstate(all="ignore"):
                jac = stack([gr.jacobian_norm(cell, vals[i], wn[param_names(i // D, i % D)[1]])
                             for i in range(L * D)])
        else:
            notes.append(f"jacobian_norm skipped: T*G*H^3 = {cost:.2g} multiply-adds is above the "
                         f"budget of {JACOBIAN_BUDGET:.2g}; lower T or H to see it")

    infl = infl_steps = None
    if influence:
        infl_steps = influence_steps(config, T)
        with np.errstate(all="ignore"):
            if attn is None:  # dL_s/do_k is V^T dL_s/dy_hat_s at k = s, else 0
                e0 = gr.mm(d_step[:, 0], V)  # (T, D*H)
                spans = np.stack([infl_steps, infl_steps], axis=1)

                def rows(k, idx, e0=e0, steps=infl_steps):
                    j = np.flatnonzero(steps[idx] == k)
                    return (j, np.repeat(e0[k][None], len(j), axis=0)) if len(j) else None
            else:  # dL_s/do_k for every k <= s
                spans = np.stack([np.zeros_like(infl_steps), infl_steps], axis=1)
                every = att.influence_rows(top, wn["attention.weight"], V, attn["alpha"],
                                           attn["context"], d_step, infl_steps)

                def rows(k, idx, every=every):
                    return np.arange(len(idx)), every(k)[idx]
            infl = influence_matrix(cell, vals[(L - 1) * D:], wn, L - 1, rows, spans, T, H)
        if len(infl_steps) < T:
            notes.append(f"influence: {len(infl_steps)} of {T} target steps (evenly spaced) to stay "
                         "within the compute and memory budget")

    fl = {"hidden": flagmod.scan(hidden, 1), "outputs": flagmod.scan(y_hat, 0),
          "loss": flagmod.scan(step_loss[:, None], 0),
          "grad_hidden": flagmod.scan(grad_hidden, 1, log10),
          "grad_input": flagmod.scan(bw["grad_input"], 0),
          "grad_direct": flagmod.scan(grad_direct, 0)}
    if attn is not None:
        fl["attention"] = flagmod.scan(attn["alpha"], 0)
    if cell == "lstm":
        fl["cell"] = flagmod.scan(cell_state, 1)
        fl["grad_cell"] = flagmod.scan(grad_cell, 1)
    # LSTM/GRU gates are squashed into (0, 1) or (-1, 1): they can only go wrong where the states
    # already did, so they are scanned only then. The RNN's "a" is unbounded: always scanned.
    troubled = cell == "rnn" or flagmod.any_flag({k: fl[k] for k in ("hidden", "cell") if k in fl})
    fl.update({f"gates.{g}": flagmod.scan(a, 1) if troubled else dict.fromkeys(flagmod.KINDS)
               for g, a in gates.items()})
    fl["weight_grad"] = flagmod.scan(np.stack(list(bw["terms"].values()), axis=1), 0)

    def natural(per: list) -> list:
        return [p if i % D == 0 else p[::-1] for i, p in enumerate(per)]

    return Trace(
        config=config, weights=wn, inputs=xn, targets=yn, outputs=y_hat, loss=loss,
        step_loss=step_loss, hidden=hidden, cell=cell_state, gates=gates, act_deriv=act_deriv,
        grad_hidden=grad_hidden, grad_hidden_log10=log10, grad_cell=grad_cell,
        grad_input=bw["grad_input"], grad_direct=grad_direct,
        attention=None if attn is None else attn["alpha"], weight_grad=bw["weight_grad"], weight_grad_terms=bw["terms"],
        jacobian_norm=jac, influence=infl, influence_steps=infl_steps, decay=decay, flags=fl,
        notes=notes,
        adjoints={"dA_ih": natural(bw["dA_ih"]), "dA_hh": natural(bw["dA_hh"]),
                  "h_prev": natural([v["h_prev"] for v in vals]), "layer_in": layer_in,
                  "d_y": d_y, "top": top, "readout_in": read,
                  **({} if attn is None else {"attention_c": back["c"]})} if adjoints else {},
    )


def influence_steps(config: Config, T: int) -> np.ndarray:
    """The target steps s of the influence matrix's rows: every step, or an evenly spaced
    subsample where every row would cost more than INFLUENCE_BUDGET or hold more than
    INFLUENCE_CELLS values."""
    per_row = max(T / 2 * config.gate_count * config.hidden_size**2 * config.num_directions, 1)
    K = int(min(T, max(2, min(INFLUENCE_BUDGET // per_row, INFLUENCE_CELLS // max(T, 1)))))
    return np.unique(np.linspace(0, T - 1, K).round().astype(np.int64))


def _forward(config: Config, x: torch.Tensor, w: dict, device) -> dict:
    """All layers forward. vals: per layer-direction, every step's values (numpy, processing
    order); layer_in: each layer's input (natural order); top: the last layer's output."""
    cell, L, D = config.cell, config.num_layers, config.num_directions
    vals, layer_in = [], []
    h = x.to(device)
    with torch.no_grad():
        for layer in range(L):
            params = [[w[n].to(device) for n in param_names(layer, d)] for d in range(D)]
            layer_in.append(h.cpu().numpy())
            h, per_dir = forward_layer(cell, config.activation, h, params, config.bidirectional)
            vals += [{k: v.cpu().numpy() for k, v in pd.items()} for pd in per_dir]
    return {"vals": vals, "layer_in": layer_in, "top": h.cpu().numpy()}


def _backward(config: Config, fw: dict, wn: dict, inject: np.ndarray) -> dict:
    """Adjoints of every layer and direction, from the top layer's direct dL/dh_t (`inject`).

    Each layer hands dL/d(its input) to the layer below. Returns per layer-direction (processing
    order) dh, log10 |dh|, dc, dA_ih, dA_hh; weight_grad and BPTT term norms (natural order) by
    name; grad_input (T, B, I).
    """
    cell, L, D, H = config.cell, config.num_layers, config.num_directions, config.hidden_size
    vals, layer_in = fw["vals"], fw["layer_in"]
    T, B = inject.shape[:2]
    out = {k: [None] * (L * D) for k in ("dh", "dc", "log10", "dA_ih", "dA_hh")}
    weight_grad, terms = {}, {}
    for layer in reversed(range(L)):
        d_in = np.zeros_like(layer_in[layer])
        for d in range(D):
            ld = layer * D + d
            n_ih, n_hh, n_bih, n_bhh = param_names(layer, d)
            flip = (lambda a: a[::-1]) if d else (lambda a: a)
            e = np.ascontiguousarray(flip(inject[..., d * H:(d + 1) * H]))  # (T, B, H)
            if cell == "lstm":  # one compiled loop (its own factors)
                fac, res = None, gr.lstm_bptt(vals[ld], wn[n_hh], e)
            else:
                fac = gr.factors(cell, vals[ld])
                res = gr.bptt(cell, fac, wn[n_hh], e, (B,))
            dh, dA_hh = gr.unscale(res["dh"], res["scale"]), gr.unscale(res["dA"], res["scale"])
            dA_ih = dA_hh if cell != "gru" else (dh[..., None, :] * fac["ih_from_h"]).reshape(T, B, -1)
            x_l = np.ascontiguousarray(flip(layer_in[layer]))  # (T, B, I_l) processing order
            h_prev, xh = vals[ld]["h_prev"], vals[ld].get("xh")
            if xh is not None and dA_hh is dA_ih:  # one product: dA^T [x_t, h_{t-1}]
                I_l = x_l.shape[-1]
                both = gr.mm(dA_ih.reshape(T * B, -1).T, xh.reshape(T * B, -1))  # (G*H, I_l+H)
                weight_grad[n_ih] = np.ascontiguousarray(both[:, :I_l])
                weight_grad[n_hh] = np.ascontiguousarray(both[:, I_l:])
            else:
                weight_grad[n_ih] = gr.mm(dA_ih.reshape(T * B, -1).T, x_l.reshape(T * B, -1))
                weight_grad[n_hh] = gr.mm(dA_hh.reshape(T * B, -1).T, h_prev.reshape(T * B, -1))
            weight_grad[n_bih] = dA_ih.sum(axis=(0, 1))
            weight_grad[n_bhh] = (weight_grad[n_bih].copy() if dA_hh is dA_ih  # RNN, LSTM: one dA
                                  else dA_hh.sum(axis=(0, 1)))
            n_dA_ih = gr.sample_norms(dA_ih)  # |dA_t|: shared by the terms of W_ih, b_ih (and
            n_dA_hh = n_dA_ih if dA_hh is dA_ih else gr.sample_norms(dA_hh)  # W_hh, b_hh: one dA)
            terms[n_ih] = flip(gr.term_norms(dA_ih, x_l, n_dA_ih))
            terms[n_hh] = flip(gr.term_norms(dA_hh, h_prev, n_dA_hh))
            terms[n_bih] = flip(gr.term_norms(dA_ih, None, n_dA_ih))
            terms[n_bhh] = terms[n_bih] if dA_hh is dA_ih else flip(gr.term_norms(dA_hh, None, n_dA_hh))
            d_in += flip(gr.mm(dA_ih, wn[n_ih]))
            out["dh"][ld], out["dA_ih"][ld], out["dA_hh"][ld] = dh, dA_ih, dA_hh
            out["log10"][ld] = gr.log10_norm(res["dh"], res["scale"])
            if cell == "lstm":
                out["dc"][ld] = gr.unscale(res["dc"], res["scale"])
        inject = d_in
    return {**out, "weight_grad": weight_grad, "terms": terms, "grad_input": inject}
