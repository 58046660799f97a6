"""Initialization schemes for W_hh and W_ih, by name, in torch.nn's weight layout."""

from __future__ import annotations

import math

import torch

from .config import Config


def param_names(layer: int, direction: int) -> tuple[str, str, str, str]:
    """torch.nn's names for one layer and direction: weight_ih, weight_hh, bias_ih, bias_hh."""
    sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
    return (f"weight_ih{sfx}", f"weight_hh{sfx}", f"bias_ih{sfx}", f"bias_hh{sfx}")


def layer_input_size(config: Config, layer: int, input_size: int) -> int:
    """Width of a layer's input: the data for layer 0, both directions' h for the rest."""
    return input_size if layer == 0 else config.num_directions * config.hidden_size


def weight_shapes(config: Config, input_size: int, output_size: int) -> dict[str, tuple]:
    """Name -> shape of every weight init_weights makes (without drawing any numbers)."""
    H, G, D = config.hidden_size, config.gate_count, config.num_directions
    shapes = {}
    for layer in range(config.num_layers):
        cols = layer_input_size(config, layer, input_size)
        for direction in range(D):
            n_ih, n_hh, n_bih, n_bhh = param_names(layer, direction)
            shapes.update({n_ih: (G * H, cols), n_hh: (G * H, H), n_bih: (G * H,), n_bhh: (G * H,)})
    attention = config.readout == "attention"
    shapes["readout.weight"] = (output_size, (2 if attention else 1) * D * H)  # V: o_t (; a_t)
    shapes["readout.bias"] = (output_size,)
    if attention:
        shapes["attention.weight"] = (D * H, D * H)  # W_a of the score o_t^T W_a o_k
    return shapes


def _block(scheme: str, rows: int, cols: int, sigma: float, g: torch.Generator) -> torch.Tensor:
    """One (rows, cols) block initialised by `scheme` (float64, then cast by the caller)."""
    if scheme == "normal":  # std = sigma / sqrt(fan_in): a square block has spectral radius ~ sigma
        return torch.randn(rows, cols, generator=g, dtype=torch.float64) * (sigma / math.sqrt(cols))
    if scheme == "xavier":  # Glorot: var = 2 / (fan_in + fan_out)
        return torch.randn(rows, cols, generator=g, dtype=torch.float64) * math.sqrt(2.0 / (rows + cols))
    if scheme == "kaiming":  # He, fan_in, for ReLU: var = 2 / fan_in
        return torch.randn(rows, cols, generator=g, dtype=torch.float64) * math.sqrt(2.0 / cols)
    if scheme == "orthogonal":  # QR of a Gaussian, sign-fixed so the draw is uniform (Haar)
        a = torch.randn(max(rows, cols), min(rows, cols), generator=g, dtype=torch.float64)
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
        return q if rows >= cols else q.T
    if scheme == "identity":
        return torch.eye(rows, cols, dtype=torch.float64)
    raise ValueError(f"init: unknown scheme {scheme!r}")


def _matrix(scheme: str, gates: int, hidden: int, cols: int, bound: float, config: Config,
            g: torch.Generator) -> torch.Tensor:
    """A stacked (gates * hidden, cols) weight: torch's uniform, or one block per gate."""
    if scheme == "default":  # torch.nn.RNN/LSTM/GRU: U(-1/sqrt(H), 1/sqrt(H)) for every entry
        w = torch.rand(gates * hidden, cols, generator=g, dtype=torch.float64) * (2 * bound) - bound
    else:  # each gate gets its own block so e.g. identity means identity per gate
        w = torch.cat([_block(scheme, hidden, cols, config.sigma, g) for _ in range(gates)])
    return w * config.gain


def _rescale_radius(w_hh: torch.Tensor, gates: int, radius: float) -> torch.Tensor:
    """Scale each square gate block of W_hh so its spectral radius equals `radius`."""
    blocks = []
    for block in w_hh.chunk(gates):
        rho = torch.linalg.eigvals(block).abs().max().item()
        blocks.append(block * (radius / rho) if rho > 0 else block)  # a zero block stays zero
    return torch.cat(blocks)


def init_weights(config: Config, input_size: int, output_size: int) -> dict[str, torch.Tensor]:
    """All weights, seeded: torch.nn names, gates stacked in torch order, plus the readout."""
    g = torch.Generator().manual_seed(config.seed)
    H, G, D = config.hidden_size, config.gate_count, config.num_directions
    bound = 1.0 / math.sqrt(H)
    weights: dict[str, torch.Tensor] = {}
    for layer in range(config.num_layers):
        cols = layer_input_size(config, layer, input_size)
        for direction in range(D):
            n_ih, n_hh, n_bih, n_bhh = param_names(layer, direction)
            w_ih = _matrix(config.init_ih, G, H, cols, bound, config, g)  # (G*H, I)
            w_hh = _matrix(config.init_hh, G, H, H, bound, config, g)  # (G*H, H)
            if config.spectral_radius is not None:
                w_hh = _rescale_radius(w_hh, G, config.spectral_radius)
            if config.init_hh == "default":  # torch's biases are uniform like its weights
                b_ih = torch.rand(G * H, generator=g, dtype=torch.float64) * (2 * bound) - bound
                b_hh = torch.rand(G * H, generator=g, dtype=torch.float64) * (2 * bound) - bound
            else:  # the papers behind the other schemes (IRNN, orthogonal RNNs) start biases at 0
                b_ih = torch.zeros(G * H, dtype=torch.float64)
                b_hh = torch.zeros(G * H, dtype=torch.float64)
            if config.cell == "lstm" and config.forget_bias is not None:
                b_ih[H:2 * H] = config.forget_bias  # gates i f g o: f is the second block
                b_hh[H:2 * H] = 0.0
            weights.update({n_ih: w_ih, n_hh: w_hh, n_bih: b_ih, n_bhh: b_hh})
    # Readout: torch.nn.Linear's default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)). The attention
    # readout reads [o_t ; a_t] (fan_in 2*D*H); its W_a, a bias-free torch.nn.Linear(D*H, D*H),
    # is drawn last, so the recurrent weights are the linear readout's for the same seed.
    fan_in = config.num_directions * H * (2 if config.readout == "attention" else 1)
    r = 1.0 / math.sqrt(fan_in)
    weights["readout.weight"] = torch.rand(output_size, fan_in, generator=g, dtype=torch.float64) * (2 * r) - r
    weights["readout.bias"] = torch.rand(output_size, generator=g, dtype=torch.float64) * (2 * r) - r
    if config.readout == "attention":
        r = 1.0 / math.sqrt(D * H)
        weights["attention.weight"] = torch.rand(D * H, D * H, generator=g, dtype=torch.float64) * (2 * r) - r
    dtype = getattr(torch, config.dtype)
    return {name: w.to(dtype) for name, w in weights.items()}
