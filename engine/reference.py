"""The maths, plainly: backpropagation through time for the RNN, LSTM and GRU, one step at a time.

Open this file first. It is slow on purpose: numpy, float64, one time step after another, no
autograd, no rescaling, no performance tricks; every line sits beside the equation it computes.
The fast engine (cells.py, gradients.py, loops.py, unroll.py) computes the same numbers and is
tested against this file, and this file against torch.nn and autograd (tests/test_reference.py).

Notation (DESIGN.md): x_t input, h_t hidden state, c_t LSTM cell state, a_t pre-activation,
delta_t = dL/dh_t the *total* derivative (through every later step), L the loss.
Row convention: B samples are B rows, so W x_t is `x @ W.T` and one step back is `dL/da_t @ W`.
Weights are torch.nn's: weight_ih_l0 (G*H, input_size), weight_hh_l0 (G*H, hidden_size),
bias_ih_l0, bias_hh_l0 (G*H,), with the G gate blocks stacked in torch's order (RNN a; LSTM i f g o;
GRU r z n); the readout y_hat_t = V o_t + b is readout.weight V (O, D*H) and readout.bias b (O,).
The attention readout (Config.readout "attention") reads [o_t ; a_t] instead: V is (O, 2*D*H),
and attention.weight W_a (D*H, D*H) scores e_tk = o_t^T W_a o_k / sqrt(D*H).

    one step forward     rnn_step, lstm_step, gru_step               -> the step's values
    one step backward    rnn_step_back, lstm_step_back, gru_step_back -> adjoints, BPTT terms
    the shared part      linear_back: back through W_ih x_t + b_ih and W_hh h_{t-1} + b_hh
    one layer-direction  direction_forward, direction_backward       (all T steps)
    the attention        attention_step, attention_step_back          (one query step t)
    the whole model      reference_unroll(config, inputs, targets, weights) -> dict
"""

from __future__ import annotations

import numpy as np

from .init import param_names


def sigmoid(a):
    """sigma(a) = 1 / (1 + exp(-a)); its derivative is sigma(a) (1 - sigma(a))."""
    return 1.0 / (1.0 + np.exp(-a))


GATES = {"rnn": ("a",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}  # torch's order

# phi(a) and phi'(a) of the plain RNN, by the names Config.activation uses.
PHI = {
    "tanh": (np.tanh, lambda a: 1.0 - np.tanh(a) ** 2),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(np.float64)),
    "sigmoid": (sigmoid, lambda a: sigmoid(a) * (1.0 - sigmoid(a))),
    "linear": (lambda a: a, np.ones_like),
}


# ------------------------------------------------------------------------------------------------
# One step forward. x (B, I), h_prev = h_{t-1} and c_prev = c_{t-1} (B, H); weights = (W_ih, W_hh,
# b_ih, b_hh) of one layer and direction. Each returns every value the step's backward reads.
# ------------------------------------------------------------------------------------------------


def rnn_step(x, h_prev, weights, activation="tanh"):
    """One RNN step: a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, h_t = phi(a_t)."""
    w_ih, w_hh, b_ih, b_hh = weights
    phi, phi_prime = PHI[activation]
    # a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    a = x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh  # (B, H)
    h = phi(a)  # (B, H)  h_t = phi(a_t)
    return {"x": x, "h_prev": h_prev, "a": a, "act_deriv": phi_prime(a), "h": h}


def lstm_step(x, h_prev, c_prev, weights):
    """One LSTM step: gates i f g o, c_t = f_t * c_{t-1} + i_t * g_t, h_t = o_t * tanh(c_t)."""
    w_ih, w_hh, b_ih, b_hh = weights
    # a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, all four gates in one
    a = x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh  # (B, 4H)
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=-1)  # (B, H) each: the four gates' pre-activations
    i = sigmoid(a_i)  # input gate   i_t = sigma(a_i)
    f = sigmoid(a_f)  # forget gate  f_t = sigma(a_f)
    g = np.tanh(a_g)  # candidate    g_t = tanh(a_g)
    o = sigmoid(a_o)  # output gate  o_t = sigma(a_o)
    c = f * c_prev + i * g  # (B, H)  c_t = f_t * c_{t-1} + i_t * g_t
    h = o * np.tanh(c)  # (B, H)  h_t = o_t * tanh(c_t)
    return {"x": x, "h_prev": h_prev, "c_prev": c_prev,
            "i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


def gru_step(x, h_prev, weights):
    """One GRU step, torch's convention: h_t = (1 - z_t) * n_t + z_t * h_{t-1}."""
    w_ih, w_hh, b_ih, b_hh = weights
    x_r, x_z, x_n = np.split(x @ w_ih.T + b_ih, 3, axis=-1)  # (B, H) each: W_i* x_t + b_i*
    h_r, h_z, h_n = np.split(h_prev @ w_hh.T + b_hh, 3, axis=-1)  # (B, H) each: W_h* h_{t-1} + b_h*
    r = sigmoid(x_r + h_r)  # reset gate   r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigmoid(x_z + h_z)  # update gate  z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    # candidate  n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)): a_n, its pre-activation
    n = np.tanh(x_n + r * h_n)  # (B, H)
    h = (1 - z) * n + z * h_prev  # (B, H)  h_t = (1 - z_t) * n_t + z_t * h_{t-1}
    return {"x": x, "h_prev": h_prev, "r": r, "z": z, "n": n, "h_n": h_n, "h": h}


# ------------------------------------------------------------------------------------------------
# One step backward. dh = delta_t = dL/dh_t, the total derivative (the loss's direct share at t
# plus everything that reaches h_t through step t+1). Each returns the gates' adjoints
# (dL/d pre-activation, by gate name), what flows on to step t-1 and to the input x_t, and the
# step-t terms of the BPTT sums dL/dW = sum_t (step-t term).
# ------------------------------------------------------------------------------------------------


def linear_back(da_ih, da_hh, s, weights):
    """Back through u_t = W_ih x_t + b_ih and v_t = W_hh h_{t-1} + b_hh, given dL/du_t, dL/dv_t.

    For the RNN and LSTM both are dL/da_t (a_t = u_t + v_t); the GRU's differ in the n block.
    """
    w_ih, w_hh, _, _ = weights
    return {
        "da_ih": da_ih,  # (B, G*H)  dL/du_t
        "da_hh": da_hh,  # (B, G*H)  dL/dv_t
        "dx": da_ih @ w_ih,  # (B, I)  dL/dx_t = dL/du_t W_ih
        "dh_prev": da_hh @ w_hh,  # (B, H)  dL/dh_{t-1} through step t = dL/dv_t W_hh
        "weight_ih": da_ih.T @ s["x"],  # (G*H, I)  step-t term of dL/dW_ih: sum_b dL/du_t x_t^T
        "weight_hh": da_hh.T @ s["h_prev"],  # (G*H, H)  ... of dL/dW_hh: sum_b dL/dv_t h_{t-1}^T
        "bias_ih": da_ih.sum(axis=0),  # (G*H,)  step-t term of dL/db_ih: sum_b dL/du_t
        "bias_hh": da_hh.sum(axis=0),  # (G*H,)  step-t term of dL/db_hh: sum_b dL/dv_t
    }


def rnn_step_back(dh, s, weights):
    """One RNN step backwards from delta_t: dL/da_t = delta_t * phi'(a_t)."""
    da = dh * s["act_deriv"]  # (B, H)  dL/da_t = delta_t * phi'(a_t)
    return {"gates": {"a": da}, **linear_back(da, da, s, weights)}


def lstm_step_back(dh, dc_next, s, weights):
    """One LSTM step backwards from delta_t and dc_next = f_{t+1} dL/dc_{t+1} (via c_{t+1})."""
    i, f, g, o, c_prev = s["i"], s["f"], s["g"], s["o"], s["c_prev"]
    tanh_c = np.tanh(s["c"])  # (B, H)
    # dL/dc_t = delta_t o_t tanh'(c_t) + f_{t+1} dL/dc_{t+1}: through h_t and through c_{t+1}
    dc = dh * o * (1 - tanh_c**2) + dc_next  # (B, H)
    do = dh * tanh_c  # dL/do_t  from h_t = o_t * tanh(c_t)
    di = dc * g  # dL/di_t  from c_t = f_t * c_{t-1} + i_t * g_t
    df = dc * c_prev  # dL/df_t
    dg = dc * i  # dL/dg_t
    da_i = di * i * (1 - i)  # dL/da_i = dL/di_t sigma'(a_i), sigma'(a_i) = i_t (1 - i_t)
    da_f = df * f * (1 - f)  # dL/da_f = dL/df_t f_t (1 - f_t)
    da_g = dg * (1 - g**2)  # dL/da_g = dL/dg_t tanh'(a_g), tanh'(a_g) = 1 - g_t^2
    da_o = do * o * (1 - o)  # dL/da_o = dL/do_t o_t (1 - o_t)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=-1)  # (B, 4H)  dL/da_t, torch's gate order
    back = linear_back(da, da, s, weights)
    back.update(dc=dc, dc_prev=dc * f)  # dL/dc_{t-1} through c_t = dL/dc_t * f_t
    return {"gates": {"i": da_i, "f": da_f, "g": da_g, "o": da_o}, **back}


def gru_step_back(dh, s, weights):
    """One GRU step backwards from delta_t; h_{t-1} reaches h_t directly and through W_hh."""
    r, z, n, h_n, h_prev = s["r"], s["z"], s["n"], s["h_n"], s["h_prev"]
    dn = dh * (1 - z)  # dL/dn_t  from h_t = (1 - z_t) * n_t + z_t * h_{t-1}
    dz = dh * (h_prev - n)  # dL/dz_t
    da_n = dn * (1 - n**2)  # dL/da_n, a_n = W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)
    dr = da_n * h_n  # dL/dr_t
    da_r = dr * r * (1 - r)  # dL/da_r = dL/dr_t r_t (1 - r_t)
    da_z = dz * z * (1 - z)  # dL/da_z = dL/dz_t z_t (1 - z_t)
    du = np.concatenate([da_r, da_z, da_n], axis=-1)  # (B, 3H)  dL/d(W_ih x_t + b_ih)
    # dL/d(W_hh h_{t-1} + b_hh): the same, except that r_t scales W_hn h_{t-1} + b_hn inside a_n
    dv = np.concatenate([da_r, da_z, da_n * r], axis=-1)  # (B, 3H)
    back = linear_back(du, dv, s, weights)
    back["dh_prev"] = back["dh_prev"] + dh * z  # plus the direct path: dh_t/dh_{t-1} holds z_t
    return {"gates": {"r": da_r, "z": da_z, "n": da_n}, **back}


# ------------------------------------------------------------------------------------------------
# One layer in one direction, all T steps, in its processing order (the reverse direction is
# handed its input already flipped in time).
# ------------------------------------------------------------------------------------------------


def direction_forward(cell, activation, xs, weights):
    """Run one layer-direction over xs (T, B, I) from h_{-1} = c_{-1} = 0: a list of step values."""
    T, B, _ = xs.shape
    H = weights[1].shape[1]
    h = np.zeros((B, H))  # h_{-1} = 0 (torch's default h_0)
    c = np.zeros((B, H))  # c_{-1} = 0 (LSTM)
    steps = []
    for t in range(T):
        if cell == "rnn":
            s = rnn_step(xs[t], h, weights, activation)
        elif cell == "lstm":
            s = lstm_step(xs[t], h, c, weights)
            c = s["c"]
        else:
            s = gru_step(xs[t], h, weights)
        h = s["h"]
        steps.append(s)
    return steps


def direction_backward(cell, steps, weights, inject):
    """BPTT over one layer-direction, last step first: each step's backward values, with dh.

    inject (T, B, H): the loss's direct dL/dh_t (from the readout, or from the layer above).
    """
    T = len(steps)
    dh_next = np.zeros_like(inject[0])  # dL/dh_t through step t+1: nothing after the last step
    dc_next = np.zeros_like(inject[0])  # dL/dc_t through c_{t+1} (LSTM)
    backs = [None] * T
    for t in reversed(range(T)):
        dh = inject[t] + dh_next  # (B, H)  delta_t = direct dL/dh_t + dL/dh_t through step t+1
        if cell == "rnn":
            back = rnn_step_back(dh, steps[t], weights)
        elif cell == "lstm":
            back = lstm_step_back(dh, dc_next, steps[t], weights)
            dc_next = back["dc_prev"]
        else:
            back = gru_step_back(dh, steps[t], weights)
        back["dh"] = dh
        dh_next = back["dh_prev"]
        backs[t] = back
    return backs


# ------------------------------------------------------------------------------------------------
# The attention readout, one query step t at a time. o (T, B, N): the top layer's outputs o_k,
# N = D*H. Step t reads only o_0..o_t (causal); y_hat_t = V [o_t ; a_t] + b, V = [V_o V_a].
# ------------------------------------------------------------------------------------------------


def attention_step(o, t, w_a):
    """Scores of query t over keys k <= t, their softmax alpha_t and the context a_t."""
    keys = o[:t + 1]  # (t+1, B, N)  o_0 .. o_t
    N = o.shape[-1]
    e = np.einsum("bn,nm,kbm->bk", o[t], w_a, keys) / np.sqrt(N)  # e_tk = o_t^T W_a o_k / sqrt(N)
    p = np.exp(e - e.max(axis=1, keepdims=True))  # (B, t+1)  (shifted: the same softmax, no overflow)
    alpha = p / p.sum(axis=1, keepdims=True)  # (B, t+1)  alpha_tk = exp(e_tk) / sum_{j<=t} exp(e_tj)
    a = np.einsum("bk,kbn->bn", alpha, keys)  # (B, N)  a_t = sum_{k<=t} alpha_tk o_k
    return {"alpha": alpha, "a": a}


def attention_step_back(dy, o, t, s, w_a, V):
    """Back from dy = dL/dy_hat_t (B, O) through y_hat_t = V [o_t ; a_t] + b and query t's
    attention: do (t+1, B, N), the partial dL/do_k for k <= t through step t's output, and the
    step-t terms of dL/dV, dL/db and dL/dW_a."""
    keys, alpha, a = o[:t + 1], s["alpha"], s["a"]  # (t+1, B, N), (B, t+1), (B, N)
    N = o.shape[-1]
    V_o, V_a = V[:, :N], V[:, N:]  # (O, N) each: the columns that read o_t and a_t
    da = dy @ V_a  # (B, N)  dL/da_t = V_a^T dL/dy_hat_t
    d_alpha = np.einsum("bn,kbn->bk", da, keys)  # (B, t+1)  dL/dalpha_tk = dL/da_t . o_k
    # softmax backward: dL/de_tk = alpha_tk (dL/dalpha_tk - sum_j alpha_tj dL/dalpha_tj)
    de = alpha * (d_alpha - (alpha * d_alpha).sum(axis=1, keepdims=True))  # (B, t+1)
    do = np.einsum("bk,bn->kbn", alpha, da)  # as values: dL/do_k = alpha_tk dL/da_t
    do += np.einsum("bk,bn,nm->kbm", de, o[t], w_a) / np.sqrt(N)  # as keys: dL/de_tk W_a^T o_t / sqrt(N)
    do[t] += np.einsum("bk,nm,kbm->bn", de, w_a, keys) / np.sqrt(N)  # query: sum_k dL/de_tk W_a o_k / sqrt(N)
    do[t] += dy @ V_o  # o_t read by the readout itself: V_o^T dL/dy_hat_t
    return {
        "do": do,
        "readout.weight": dy.T @ np.concatenate([o[t], a], axis=-1),  # (O, 2N)  sum_b dy [o_t ; a_t]^T
        "readout.bias": dy.sum(axis=0),  # (O,)  sum_b dL/dy_hat_t
        # (N, N)  dL/dW_a's step-t term: sum_b sum_k dL/de_tk o_t o_k^T / sqrt(N)
        "attention.weight": np.einsum("bk,bn,kbm->nm", de, o[t], keys) / np.sqrt(N),
    }


# ------------------------------------------------------------------------------------------------
# The whole model: stacked layers, optional reverse direction, the readout and the loss.
# ------------------------------------------------------------------------------------------------


PARTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")  # one layer-direction's weights, in order


def _f64(a):
    """An array or (non-grad) torch tensor as float64 numpy (read only here, never written)."""
    return np.asarray(a, dtype=np.float64)


def _flip(a, direction):
    """Time-flip (axis 0) for the reverse direction (1), unchanged for the forward one (0)."""
    return a[::-1] if direction else a


def reference_unroll(config, inputs, targets, weights, only_step=None):
    """Forward and backward of the configured model, step by step: every Trace quantity, plainly.

    config: an engine Config (cell, activation, num_layers, bidirectional, loss, readout are
    read); inputs (T, B, input_size); targets (T, B, O); weights: torch.nn names -> arrays, plus
    readout.weight / readout.bias (and attention.weight). Per-step arrays are (L*D, T, B, .) in natural time order,
    indexed layer * D + direction like torch's h_n; weight_grad_term_tensors[name] (T, *shape)
    holds the step-t terms whose sum over t is weight_grad[name]. only_step=s: the gradients of
    the step loss L_s alone (whatever config.loss says), as reference_influence needs.
    """
    cell, activation = config.cell, config.activation
    L, D = config.num_layers, config.num_directions  # layers, directions
    x, y = _f64(inputs), _f64(targets)  # (T, B, I), (T, B, O)
    w = {name: _f64(v) for name, v in weights.items()}
    T, B, _ = x.shape
    H = w["weight_hh_l0"].shape[1]

    # Forward, bottom layer first. Layer l reads o_t of layer l-1 (x_t for l = 0); its own o_t is
    # both directions' h_t side by side, the reverse direction having read time backwards.
    layer_in, runs = [], []  # runs[l * D + d]: that layer-direction's step values, processing order
    o = x
    for layer in range(L):
        layer_in.append(o)
        outs = []
        for d in range(D):
            p = tuple(w[name] for name in param_names(layer, d))  # W_ih, W_hh, b_ih, b_hh
            runs.append(direction_forward(cell, activation, _flip(o, d), p))
            outs.append(_flip(np.stack([s["h"] for s in runs[-1]]), d))  # (T, B, H) natural order
        o = np.concatenate(outs, axis=-1)  # (T, B, D*H)  o_t = [h_t forward ; h_t reverse]

    V, b = w["readout.weight"], w["readout.bias"]  # (O, D*H) or, with attention, (O, 2*D*H); (O,)
    attention = getattr(config, "readout", "linear") == "attention"
    if attention:  # y_hat_t = V [o_t ; a_t] + b, a_t the context of query t
        att = [attention_step(o, t, w["attention.weight"]) for t in range(T)]
        y_hat = np.stack([np.concatenate([o[t], s["a"]], axis=-1) @ V.T + b
                          for t, s in enumerate(att)])  # (T, B, O)
    else:
        y_hat = o @ V.T + b  # (T, B, O)  y_hat_t = V o_t + b
    err = y_hat - y  # (T, B, O)
    step_loss = (err**2).sum(axis=(1, 2)) / B  # (T,)  L_t = sum over batch and outputs of err^2 / B
    counted = np.zeros(T)  # 1 where L_t is part of L
    counted[-1 if config.loss == "last" else slice(None)] = 1.0  # "last": L = L_T; "sum": sum_t L_t
    if only_step is not None:  # L = L_s alone
        counted[:] = 0.0
        counted[only_step] = 1.0
    loss = float((step_loss * counted).sum())
    dy = 2.0 * err / B * counted[:, None, None]  # (T, B, O)  dL/dy_hat_t

    if attention:  # every query step t passes dL/dy_hat_t back to o_0..o_t
        inject = np.zeros_like(o)  # (T, B, D*H)  the partial dL/do_k, summed over queries t >= k
        backs = [attention_step_back(dy[t], o, t, att[t], w["attention.weight"], V) for t in range(T)]
        for t, back in enumerate(backs):
            inject[:t + 1] += back["do"]
        terms = {name: np.stack([back[name] for back in backs])  # name -> (T, *shape)
                 for name in ("readout.weight", "readout.bias", "attention.weight")}
    else:
        terms = {  # name -> (T, *shape): the step-t terms of dL/dW
            "readout.weight": np.einsum("tbo,tbk->tok", dy, o),  # (T, O, D*H)  sum_b dL/dy_hat_t o_t^T
            "readout.bias": dy.sum(axis=1),  # (T, O)  sum_b dL/dy_hat_t
        }
        inject = dy @ V  # (T, B, D*H)  the top layer's direct dL/do_t
    grad_direct = inject  # what the loss puts into o_t directly; the backward adds the recurrence
    grad_hidden, grad_cell, grad_gates = [None] * (L * D), [None] * (L * D), [None] * (L * D)

    # Backward, top layer first: a layer's dL/d(its input) is the direct dL/do_t of the one below.
    for layer in reversed(range(L)):
        d_in = np.zeros_like(layer_in[layer])  # (T, B, I_l)  dL/d(layer input)
        for d in range(D):
            ld = layer * D + d
            names = param_names(layer, d)
            p = tuple(w[name] for name in names)
            e = _flip(inject[..., d * H:(d + 1) * H], d)  # (T, B, H) direct dL/dh_t, its order
            backs = direction_backward(cell, runs[ld], p, e)

            def natural(key, backs=backs, d=d):
                return _flip(np.stack([bk[key] for bk in backs]), d)  # (T, ...) natural order

            grad_hidden[ld] = natural("dh")
            grad_cell[ld] = natural("dc") if cell == "lstm" else None
            grad_gates[ld] = {g: _flip(np.stack([bk["gates"][g] for bk in backs]), d)
                              for g in GATES[cell]}
            d_in += natural("dx")
            for key, name in zip(PARTS, names, strict=True):
                terms[name] = natural(key)  # (T, *shape)
        inject = d_in

    def per_step(key):  # (L*D, T, B, H) natural time order, from the forward's step values
        return np.stack([_flip(np.stack([s[key] for s in run]), i % D)
                         for i, run in enumerate(runs)])

    return {
        "hidden": per_step("h"),  # (L*D, T, B, H)  h_t
        "cell": per_step("c") if cell == "lstm" else None,  # (L*D, T, B, H)  c_t
        "gates": {g: per_step(g) for g in GATES[cell]},  # (L*D, T, B, H)  i f g o / r z n / RNN a_t
        "act_deriv": per_step("act_deriv") if cell == "rnn" else None,  # (L*D, T, B, H)  phi'(a_t)
        "outputs": y_hat,  # (T, B, O)  y_hat_t
        "step_loss": step_loss,  # (T,)  L_t
        "loss": loss,  # L
        "grad_hidden": np.stack(grad_hidden),  # (L*D, T, B, H)  delta_t = dL/dh_t, total
        "grad_cell": np.stack(grad_cell) if cell == "lstm" else None,  # (L*D, T, B, H)  dL/dc_t
        # the gates' adjoints, dL/d(pre-activation) (GRU n: dL/da_n): name -> (L*D, T, B, H)
        "grad_gates": {g: np.stack([per[g] for per in grad_gates]) for g in GATES[cell]},
        "grad_input": inject,  # (T, B, input_size)  dL/dx_t
        "grad_direct": grad_direct,  # (T, B, D*H)  the partial dL/do_t, all other states fixed
        # (T, B, T)  alpha_tk of the attention readout (0 for k > t); None for the linear one
        "attention": (np.stack([np.pad(s["alpha"], ((0, 0), (0, T - 1 - t)))
                                for t, s in enumerate(att)]) if attention else None),
        "weight_grad": {name: t.sum(axis=0) for name, t in terms.items()},  # dL/dW = sum_t term_t
        "weight_grad_term_tensors": terms,  # name -> (T, *shape)
    }


def reference_influence(config, inputs, targets, weights, steps):
    """The influence matrix (K, T): |dL_s/dh_k| for each target step s in steps, over the top
    layer's units (both directions), sample 0. One whole backward pass per target s, plainly."""
    L, D = config.num_layers, config.num_directions
    rows = []
    for s in steps:
        dh = reference_unroll(config, inputs, targets, weights, only_step=int(s))["grad_hidden"]
        top = dh[(L - 1) * D:, :, 0]  # (D, T, H)  dL_s/dh_k of the top layer, sample 0
        rows.append(np.sqrt((top**2).sum(axis=(0, 2))))  # (T,)
    return np.stack(rows)
