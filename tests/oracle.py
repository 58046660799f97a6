"""The tests' ground truth: torch.nn, autograd, and engine/reference.py, never the fast engine.

Import it as `from oracle import ...` (pytest puts tests/ on sys.path). What it offers:
- reference_loop: every step through torch's own cell kernels (torch.rnn_tanh_cell,
  torch.gru_cell, ...; the LSTM written out, see cell_step), with zero probes, so autograd
  gives the total derivatives dL/dh_t, dL/dc_t and the per-step BPTT terms; its gates come from
  engine/reference.py (the plain maths that every fast path is compared with);
- torch.nn modules rebuilt from a Trace's weights by name, layer by layer, so every layer's hidden
  states can be compared (build_torch_module, single_layer_modules, torch_layer_states);
- autograd_reference(trace): all of the above for one Trace; influence_reference and
  step_jacobians for the influence matrix and the per-step Jacobians.
Only the Trace's data (config, weights, inputs, targets) is read from the engine.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import torch
from oracle_attention import readout_output

from engine.reference import reference_unroll

# Every combination the forward and gradient checks sweep: (cell, activation).
CELL_ACTS = [
    ("rnn", "tanh"),
    ("rnn", "relu"),
    ("rnn", "sigmoid"),
    ("rnn", "linear"),
    ("lstm", "tanh"),
    ("gru", "tanh"),
]
CELL_ACT_IDS = [f"{c}-{a}" if c == "rnn" else c for c, a in CELL_ACTS]

ACTS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "linear": lambda a: a,
}

GATE_COUNT = {"rnn": 1, "lstm": 4, "gru": 3}

TORCH_RNN_CELL = {"tanh": torch.rnn_tanh_cell, "relu": torch.rnn_relu_cell}  # torch's own kernels


def small_config(**kw):
    """A small float64 config (fast) with the given overrides."""
    from engine import Config

    base = dict(
        cell="rnn",
        activation="tanh",
        input_size=3,
        hidden_size=4,
        num_layers=1,
        bidirectional=False,
        seq_len=5,
        batch_size=3,
        dtype="float64",
        task="noise",
        loss="sum",
        seed=1,
        device="cpu",
    )
    base.update(kw)
    return Config(**base)


def suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")


def t64(a) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to("cpu", torch.float64).clone()
    return torch.as_tensor(np.asarray(a), dtype=torch.float64).clone()


def np64(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# One step of each cell (torch.nn layout and gate order)
# --------------------------------------------------------------------------------------------


def cell_step(cell, activation, x, h, c, w_ih, w_hh, b_ih, b_hh, c_hook=None):
    """One step, differentiable by autograd. x (B, I), h/c (B, H). Returns (h, c).

    The RNN (tanh, relu) and GRU run torch's own cell kernels; the sigmoid / linear RNN, which
    torch lacks, is its one-line definition. The LSTM is written out (i f g o, torch's order),
    because c_hook(c) -> c must act on c_t before h_t = o_t tanh(c_t) is computed from it: a zero
    probe there measures the total derivative dL/dc_t.
    """
    if cell == "rnn":
        if activation in TORCH_RNN_CELL:
            return TORCH_RNN_CELL[activation](x, h, w_ih, w_hh, b_ih, b_hh), None
        return ACTS[activation](x @ w_ih.T + b_ih + h @ w_hh.T + b_hh), None
    if cell == "gru":
        return torch.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh), None
    if cell == "lstm":
        i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if c_hook is not None:
            c_new = c_hook(c_new)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new
    raise AssertionError(cell)


# --------------------------------------------------------------------------------------------
# Per-step reference loop with zero probes
# --------------------------------------------------------------------------------------------


def reference_loop(cell, activation, num_layers, bidirectional, weights, inputs, targets, loss_mode,
                   *, probes=True, weight_probes=False, readout="linear"):
    """Unroll step by step in float64 (cell_step); return everything autograd can tell.

    weights: dict name -> tensor (torch.nn names + readout.weight / readout.bias).
    inputs (T, B, I), targets (T, B, O). The gates (not differentiated) come from
    engine.reference.reference_unroll on the same data.

    Zero probes: a zero tensor requiring grad is added to every h_t (and c_t), so its .grad is
    the *total* derivative dL/dh_t. With weight_probes, every use of a weight at step t goes
    through W + P_t with a zero P_t, so dL/dP_t is exactly the step-t term of the BPTT sum.
    readout: "linear" or "attention" (oracle_attention.py); out["attention"] holds its alpha.
    """
    D = 2 if bidirectional else 1
    W = {k: t64(v).requires_grad_(True) for k, v in weights.items()}
    x = t64(inputs).requires_grad_(True)
    y = t64(targets)
    T, B, _ = x.shape
    H = W["weight_hh_l0"].shape[1]

    h_probe = [[None] * T for _ in range(num_layers * D)]
    c_probe = [[None] * T for _ in range(num_layers * D)]
    w_probe = {k: [None] * T for k in W} if weight_probes else None

    def use(name, t):
        if not weight_probes:
            return W[name]
        p = torch.zeros_like(W[name], requires_grad=True)
        w_probe[name][t] = p
        return W[name] + p

    hidden = torch.zeros(num_layers * D, T, B, H, dtype=torch.float64)
    cellst = torch.zeros(num_layers * D, T, B, H, dtype=torch.float64)
    h_keep = [[None] * T for _ in range(num_layers * D)]
    layer_in = x
    for k in range(num_layers):
        outs = []
        for d in range(D):
            ld = k * D + d
            s = suffix(k, d)
            h = torch.zeros(B, H, dtype=torch.float64)
            c = torch.zeros(B, H, dtype=torch.float64)
            seq = [None] * T
            order = range(T) if d == 0 else range(T - 1, -1, -1)
            for t in order:
                def c_hook(cn, ld=ld, t=t):
                    if not probes:
                        return cn
                    p = torch.zeros_like(cn, requires_grad=True)
                    c_probe[ld][t] = p
                    return cn + p

                h, c_new = cell_step(
                    cell, activation, layer_in[t], h, c,
                    use("weight_ih" + s, t), use("weight_hh" + s, t),
                    use("bias_ih" + s, t), use("bias_hh" + s, t),
                    c_hook=c_hook if cell == "lstm" else None,
                )
                if c_new is not None:
                    c = c_new
                    cellst[ld, t] = c.detach()
                if probes:
                    p = torch.zeros_like(h, requires_grad=True)
                    h_probe[ld][t] = p
                    h = h + p
                hidden[ld, t] = h.detach()
                h_keep[ld][t] = h
                seq[t] = h
            outs.append(torch.stack(seq))
        layer_in = torch.cat(outs, dim=-1)

    yhat, alpha = readout_output(readout, layer_in, use)  # (T, B, O), alpha or None
    per_step = ((yhat - y) ** 2).sum(dim=(1, 2)) / B  # (T,)
    loss = per_step[-1] if loss_mode == "last" else per_step.sum()

    leaves = list(W.values()) + [x]
    if probes:
        leaves += [p for row in h_probe for p in row]
        if cell == "lstm":
            leaves += [p for row in c_probe for p in row]
    if weight_probes:
        leaves += [p for ps in w_probe.values() for p in ps if p is not None]
    grads = torch.autograd.grad(loss, leaves, retain_graph=True, allow_unused=True)
    gmap = {id(leaf): g for leaf, g in zip(leaves, grads, strict=True)}

    def g_of(leaf):
        g = gmap[id(leaf)]
        return torch.zeros_like(leaf) if g is None else g

    plain = SimpleNamespace(cell=cell, activation=activation, num_layers=num_layers,
                            num_directions=D, loss=loss_mode, readout=readout)
    out = dict(
        hidden=hidden.numpy(),
        cell=cellst.numpy() if cell == "lstm" else None,
        gates=reference_unroll(plain, np64(inputs), np64(targets),
                               {k: np64(v) for k, v in weights.items()})["gates"],
        outputs=yhat.detach().numpy(),
        per_step_loss=per_step.detach().numpy(),
        loss=float(loss.detach()),
        weight_grad={k: g_of(v).numpy() for k, v in W.items()},
        grad_input=g_of(x).numpy(),
        # kept for influence: graph handles
        _per_step=per_step,
        _h_probe=h_probe,
        _h_keep=h_keep,
        attention=alpha,
    )
    if probes:
        out["grad_hidden"] = np.stack(
            [np.stack([g_of(p).numpy() for p in row]) for row in h_probe]
        )
        out["grad_cell"] = (
            np.stack([np.stack([g_of(p).numpy() for p in row]) for row in c_probe])
            if cell == "lstm"
            else None
        )
    if weight_probes:
        out["weight_terms"] = {
            k: np.stack([g_of(p).numpy() for p in ps]) for k, ps in w_probe.items()
        }
    return out


def influence_reference(ref, num_layers, bidirectional, steps, sample=0):
    """norm over units (top-layer directions concatenated) of dL_t/dh_k, sample `sample`."""
    D = 2 if bidirectional else 1
    per_step = ref["_per_step"]
    probes = ref["_h_probe"]
    T = per_step.shape[0]
    top = [(num_layers - 1) * D + d for d in range(D)]
    rows = []
    for t in steps:
        leaves = [probes[ld][k] for k in range(T) for ld in top]
        grads = torch.autograd.grad(per_step[int(t)], leaves, retain_graph=True, allow_unused=True)
        row = []
        for k in range(T):
            sq = 0.0
            for j in range(len(top)):
                g = grads[k * D + j]
                if g is not None:
                    sq += float((g[sample] ** 2).sum())
            row.append(math.sqrt(sq))
        rows.append(row)
    return np.array(rows)


def reference_for_trace(trace, **kw):
    """reference_loop driven by a Trace's own config, weights, inputs and targets."""
    cfg = trace.config
    return reference_loop(cfg.cell, cfg.activation, cfg.num_layers, cfg.bidirectional,
                          trace.weights, trace.inputs, trace.targets, cfg.loss,
                          readout=cfg.readout, **kw)


# --------------------------------------------------------------------------------------------
# torch.nn route
# --------------------------------------------------------------------------------------------

TORCH_CLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def build_torch_module(cell, activation, input_size, hidden_size, num_layers, bidirectional, weights):
    """torch.nn.RNN/LSTM/GRU (float64) filled from a name -> tensor dict via load_state_dict."""
    kw = dict(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
              bidirectional=bidirectional, bias=True, batch_first=False)
    if cell == "rnn":
        assert activation in ("tanh", "relu")
        kw["nonlinearity"] = activation
    mod = TORCH_CLS[cell](**kw).double()
    sd = {k: t64(v) for k, v in weights.items() if not k.startswith("readout.")}
    mod.load_state_dict(sd, strict=True)
    return mod


def single_layer_modules(cell, activation, input_size, hidden_size, num_layers, bidirectional, weights):
    """One single-layer torch.nn module per layer (weights renamed l{k} -> l0)."""
    D = 2 if bidirectional else 1
    mods = []
    for k in range(num_layers):
        sub = {}
        for d in range(D):
            for base in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                sub[base + suffix(0, d)] = weights[base + suffix(k, d)]
        in_size = input_size if k == 0 else D * hidden_size
        mods.append(build_torch_module(cell, activation, in_size, hidden_size, 1, bidirectional, sub))
    return mods


def torch_layer_states(mods, x, hidden_size, bidirectional):
    """Run single-layer modules one after the other; hidden of every layer/direction."""
    D = 2 if bidirectional else 1
    H = hidden_size
    hs = []
    inp = x
    with torch.no_grad():
        for m in mods:
            out, _ = m(inp)
            for d in range(D):
                hs.append(out[:, :, d * H:(d + 1) * H])
            inp = out
    return torch.stack(hs).numpy()


def autograd_reference(trace, route="to_torch"):
    """The autograd ground truth for a Trace, float64.

    route="to_torch": the module and readout that trace.to_torch() returns (cast to float64).
    route="names":    torch.nn modules built here from trace.weights by name (load_state_dict).

    Returns a dict with hidden (every layer & direction, via single-layer modules), outputs,
    loss, weight_grad (autograd .grad of every weight incl. readout) from the torch.nn route,
    and grad_hidden / grad_cell / grad_input / per-step quantities from the probe loop (whose
    agreement with torch.nn is itself tested).
    """
    cfg = trace.config
    H = cfg.hidden_size
    D = 2 if cfg.bidirectional else 1
    native = cfg.cell != "rnn" or cfg.activation in ("tanh", "relu")
    res = {}

    if route == "to_torch":
        tt = trace.to_torch()
        rnn = tt["rnn"].double()
        readout = tt["readout"].double()
        x = t64(tt["inputs"])
        y = t64(tt["targets"])
        names = {k: v for k, v in rnn.named_parameters()}
        names.update({"readout." + k: v for k, v in readout.named_parameters()})
        weights = {k: v.detach() for k, v in names.items()}
    else:
        x = t64(trace.inputs)
        y = t64(trace.targets)
        weights = {k: t64(v) for k, v in trace.weights.items()}
        if native:
            rnn = build_torch_module(
                cfg.cell, cfg.activation, x.shape[-1], H, cfg.num_layers, cfg.bidirectional, weights
            )
            readout = torch.nn.Linear(D * H, weights["readout.weight"].shape[0]).double()
            readout.load_state_dict(
                {"weight": weights["readout.weight"], "bias": weights["readout.bias"]}
            )
        else:
            rnn = readout = None

    if rnn is not None:
        for p in list(rnn.parameters()) + list(readout.parameters()):
            p.grad = None
        out = rnn(x)
        out = out[0] if isinstance(out, tuple) else out
        yhat = readout(out)
        B = x.shape[1]
        per_step = ((yhat - y) ** 2).sum(dim=(1, 2)) / B
        loss = per_step[-1] if cfg.loss == "last" else per_step.sum()
        loss.backward()
        res["outputs"] = yhat.detach().numpy()
        res["loss"] = float(loss.detach())
        res["top_output"] = out.detach().numpy()
        wg = {k: p.grad.detach().clone().numpy() for k, p in rnn.named_parameters()}
        wg.update({"readout." + k: p.grad.detach().clone().numpy() for k, p in readout.named_parameters()})
        res["weight_grad"] = wg
        if native:
            mods = single_layer_modules(
                cfg.cell, cfg.activation, x.shape[-1], H, cfg.num_layers, cfg.bidirectional, weights
            )
            res["hidden"] = torch_layer_states(mods, x, H, cfg.bidirectional)

    loop = reference_loop(
        cfg.cell, cfg.activation, cfg.num_layers, cfg.bidirectional, weights, x, y, cfg.loss
    )
    res.setdefault("hidden", loop["hidden"])
    res.setdefault("outputs", loop["outputs"])
    res.setdefault("loss", loop["loss"])
    res.setdefault("weight_grad", loop["weight_grad"])
    res["loop"] = loop
    for k in ("cell", "gates", "grad_hidden", "grad_cell", "grad_input", "per_step_loss"):
        res[k] = loop[k]
    return res


# --------------------------------------------------------------------------------------------
# Jacobians, explicit
# --------------------------------------------------------------------------------------------


def layer_inputs(ref_hidden, inputs, layer, D):
    """The sequence a layer reads: x for layer 0, else the layer below's directions concatenated."""
    if layer == 0:
        return t64(inputs)
    below = [torch.as_tensor(ref_hidden[(layer - 1) * D + d]) for d in range(D)]
    return torch.cat(below, dim=-1)


def step_jacobians(cell, activation, weights, layer, direction, xs, hs, cs, sample):
    """Per-step state Jacobians for one layer-direction and one sample.

    Returns a dict t -> J_t = d state_t / d state_prev (state = h, or (h, c) for LSTM), where
    state_prev is the state the direction had before processing position t.
    """
    s = suffix(layer, direction)
    w = [t64(weights[n + s]) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    T = xs.shape[0]
    H = hs.shape[-1]
    order = list(range(T)) if direction == 0 else list(range(T - 1, -1, -1))
    jac = {}
    prev_h = torch.zeros(H, dtype=torch.float64)
    prev_c = torch.zeros(H, dtype=torch.float64)
    for t in order:
        xt = xs[t, sample:sample + 1]

        if cell == "lstm":
            def f(state, xt=xt):
                hh, cc = state[:H].unsqueeze(0), state[H:].unsqueeze(0)
                h2, c2 = cell_step(cell, activation, xt, hh, cc, *w)
                return torch.cat([h2[0], c2[0]])

            jac[t] = torch.autograd.functional.jacobian(f, torch.cat([prev_h, prev_c]))
            prev_c = torch.as_tensor(cs[t, sample])
        else:
            def f(hh, xt=xt):
                h2, _ = cell_step(cell, activation, xt, hh.unsqueeze(0), None, *w)
                return h2[0]

            jac[t] = torch.autograd.functional.jacobian(f, prev_h)
        prev_h = torch.as_tensor(hs[t, sample])
    return jac, order
