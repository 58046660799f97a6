"""Your own model: read a weights file safely and turn a torch.nn state_dict into a Config.

read_weights(source) reads `.safetensors` (the safetensors package: a JSON header and raw bytes,
nothing to run) or a `.pt` / `.pth` state_dict through torch.load with weights_only=True: torch's
restricted unpickler, which builds tensors and plain containers and refuses every other callable,
so a pickle that would run code is a ValueError before anything in it runs.

config_from_weights(weights) finds the torch.nn.RNN / LSTM / GRU in a state_dict under any prefix
and reads its architecture from the names and shapes (torch/nn/modules/rnn.py's layout):
weight_hh_l0 is (G*H, H) with G = 1, 3, 4 for RNN, GRU, LSTM; weight_ih_l0 is (G*H, input_size);
`_l{k}` counts layers and `_reverse` marks a bidirectional model.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from .config import Config
from .init import param_names

SUFFIXES = (".safetensors", ".pt", ".pth")
CELL_OF_GATES = {1: "rnn", 3: "gru", 4: "lstm"}
TORCH_NAME = {"rnn": "nn.RNN", "lstm": "nn.LSTM", "gru": "nn.GRU"}
HEAD_NAMES = ("fc", "head", "out", "linear", "readout", "decoder", "classifier")
NO_HEAD_NOTE = ("no linear head in the weights: the loss is on the top layer's output o_t itself "
                "(targets of width D*H, zero unless given)")
_RECURRENT = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
                        r"_l(?P<layer>\d+)(?P<rev>_reverse)?$")


class Weights(dict):
    """The engine's weight dict (torch.nn names plus readout.weight / readout.bias), with `notes`
    that unroll copies into Trace.notes and `found`, the one-line description of the model."""

    notes: list[str]
    found: str


def read_weights(source) -> dict[str, np.ndarray]:
    """Name -> numpy array from a path or the bytes of a .safetensors / .pt / .pth file.

    Anything else, an empty or truncated file, or a pickle that would run code is a ValueError
    saying what was wrong; nothing in the file is executed.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, what = bytes(source), "the file"
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix.lower() not in SUFFIXES:
            raise ValueError(f"read_weights: {path.name!r} is not a weights file: expected one of "
                             f"{', '.join(SUFFIXES)}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"read_weights: cannot read {path.name!r}: {exc.strerror}") from None
        what = repr(path.name)
    else:
        raise ValueError(f"read_weights: expected a path or bytes, got {type(source).__name__}")
    if not data:
        raise ValueError(f"read_weights: {what} is empty")
    if _looks_like_safetensors(data):
        tensors = _read_safetensors(data, what)
    elif data[:4] == b"PK\x03\x04" or data[:1] == b"\x80":  # torch.save's zip, or a legacy pickle
        tensors = _read_torch(data, what)
    else:
        raise ValueError(f"read_weights: {what} is not a weights file (neither safetensors nor a "
                         "torch.save state_dict)")
    if not tensors:
        raise ValueError(f"read_weights: {what} holds no tensors")
    return {name: _to_numpy(t) for name, t in tensors.items()}


def _looks_like_safetensors(data: bytes) -> bool:
    """safetensors: an 8-byte little-endian header length, then a JSON object."""
    return len(data) >= 10 and data[8:9] == b"{"


def _read_safetensors(data: bytes, what: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load

    n = int.from_bytes(data[:8], "little")
    if 8 + n > len(data):
        raise ValueError(f"read_weights: {what} is truncated: its safetensors header announces "
                         f"{n} bytes, the file has {len(data) - 8} after the length")
    try:
        return load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"read_weights: {what} is not a valid safetensors file "
                         f"(truncated or damaged?): {exc}") from None


def _read_torch(data: bytes, what: str) -> dict:
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            packed = [i.filename for i in archive.infolist() if i.compress_type != zipfile.ZIP_STORED]
            if not packed:  # stored members: checking them reads no more than the file itself
                archive.testzip()
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError):
            raise ValueError(f"read_weights: {what} is truncated or damaged (a broken torch.save "
                             "zip archive)") from None
        if packed:  # a size bomb could hide there; torch.save never compresses
            raise ValueError(f"read_weights: {what} has compressed members ({packed[0]!r}...): "
                             "not a torch.save file (torch.save stores them uncompressed)")
    try:
        # weights_only=True: torch's restricted unpickler (tensors, dicts, lists, numbers only)
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every failure of a foreign file is the user's message
        text = str(exc)
        if "Weights only load failed" in text or "Unsupported global" in text or "GLOBAL" in text:
            found = re.search(r"(Unsupported (?:global|operand)[^\n]*)", text)
            raise ValueError(f"read_weights: {what} refused: its pickle would call code "
                             f"({found.group(1) if found else 'not a tensor'}); only a state_dict "
                             "of tensors is read (save model.state_dict(), not the model)") from None
        raise ValueError(f"read_weights: {what} is not a readable torch.save file (truncated or "
                         f"damaged?): {type(exc).__name__}: {text[:200]}") from None
    return _flatten(obj, what)


def _flatten(obj, what: str, prefix: str = "") -> dict:
    """The tensors of a state_dict, or of a checkpoint dict nesting one ('model.' + its names)."""
    if isinstance(obj, torch.Tensor) and not prefix:
        raise ValueError(f"read_weights: {what} holds a single tensor, not a state_dict")
    if not isinstance(obj, dict):
        if prefix:
            return {}
        raise ValueError(f"read_weights: {what} holds a {type(obj).__name__}, not a state_dict")
    out = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            out[name] = value
        elif isinstance(value, dict):
            out.update(_flatten(value, what, name + "."))
    return out


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().to("cpu")
    return t.to(torch.float64).numpy() if t.is_floating_point() else t.numpy()


def recurrent_prefixes(weights: dict) -> list[str]:
    """Every prefix under which a torch.nn RNN / LSTM / GRU's weight_hh_l0 sits."""
    return sorted({m["prefix"] for n in weights if (m := _RECURRENT.match(n))
                   and m["kind"] == "weight_hh" and m["layer"] == "0" and not m["rev"]})


def config_from_weights(weights: dict, **overrides) -> tuple[Config, Weights]:
    """(Config, weights under the engine's names) for the recurrent model in a state_dict.

    overrides: `prefix=` picks the recurrent module when there are several, `head=` the linear
    head's prefix (None or "" for none), and any Config field (activation: the RNN's
    nonlinearity, which weights cannot tell: tanh unless given; seq_len, loss, dtype, ...).
    """
    weights = {str(k): np.asarray(v) for k, v in weights.items()}
    prefixes = recurrent_prefixes(weights)
    prefix = overrides.pop("prefix", None)
    if prefix is None:
        if not prefixes:
            raise ValueError("config_from_weights: no recurrent module (no torch.nn RNN/LSTM/GRU "
                             "weight_hh_l0) among the tensors " + _listing(weights))
        if len(prefixes) > 1:
            raise ValueError("config_from_weights: several recurrent modules, at "
                             + ", ".join(repr(p) for p in prefixes) + "; choose one with prefix=")
        prefix = prefixes[0]
    elif prefix not in prefixes:
        raise ValueError(f"config_from_weights: no recurrent module at prefix {prefix!r}; "
                         f"found {prefixes}")
    own = {}
    for n, w in weights.items():
        m = _RECURRENT.match(n)
        if m and m["prefix"] == prefix:
            own[(m["kind"], int(m["layer"]), 1 if m["rev"] else 0)] = (n, w)
    if any(kind == "weight_hr" for kind, _, _ in own):
        raise ValueError(f"config_from_weights: {prefix}weight_hr_l0 is an LSTM projection "
                         "(proj_size > 0), which the engine cannot represent")
    _, w_hh = own[("weight_hh", 0, 0)]
    if w_hh.ndim != 2 or w_hh.shape[1] == 0 or w_hh.shape[0] % w_hh.shape[1] \
            or w_hh.shape[0] // w_hh.shape[1] not in CELL_OF_GATES:
        raise ValueError(f"config_from_weights: {prefix}weight_hh_l0 has shape {w_hh.shape}: "
                         "expected (H, H), (3H, H) or (4H, H) for RNN, GRU or LSTM")
    H = w_hh.shape[1]
    G = w_hh.shape[0] // H
    cell = CELL_OF_GATES[G]
    layers = sorted({layer for _, layer, _ in own})
    L = len(layers)
    if layers != list(range(L)):
        raise ValueError(f"config_from_weights: layers {layers} at {prefix!r} are not 0..{L - 1}")
    D = 2 if any(d for _, _, d in own) else 1
    if ("weight_ih", 0, 0) not in own:
        raise ValueError(f"config_from_weights: {prefix}weight_ih_l0 is missing")
    I = own[("weight_ih", 0, 0)][1].shape[-1]
    out = Weights()
    has_bias = any(kind.startswith("bias") for kind, _, _ in own)
    for layer in range(L):
        cols = I if layer == 0 else D * H
        for d in range(D):
            for kind, name in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), param_names(layer, d), strict=True):
                shape = (G * H, cols) if kind == "weight_ih" else (G * H, H) if kind == "weight_hh" else (G * H,)
                if (kind, layer, d) not in own:
                    if kind.startswith("bias") and not has_bias:  # bias=False: zero biases
                        out[name] = np.zeros(shape)
                        continue
                    raise ValueError(f"config_from_weights: {prefix}{name} is missing")
                src, w = own[(kind, layer, d)]
                if w.shape != shape:
                    raise ValueError(f"config_from_weights: {src} has shape {w.shape}, expected "
                                     f"{shape} for a {TORCH_NAME[cell]} with hidden_size={H}")
                out[name] = w.astype(np.float64)
    head = _head(weights, prefix, D * H, overrides.pop("head", "?"))
    notes = []
    if head is None:
        out["readout.weight"], out["readout.bias"] = np.eye(D * H), np.zeros(D * H)
        notes.append(NO_HEAD_NOTE)
    else:
        w, b = weights[head + "weight"], weights.get(head + "bias")
        out["readout.weight"] = w.astype(np.float64)
        out["readout.bias"] = np.zeros(w.shape[0]) if b is None else b.astype(np.float64)
    fields = {"cell": cell, "input_size": int(I), "hidden_size": int(H), "num_layers": L,
              "bidirectional": D == 2, "readout": "linear"}
    config = Config(**{**fields, **overrides})
    if (config.cell, config.input_size, config.hidden_size, config.num_layers,
            config.bidirectional) != tuple(fields[k] for k in ("cell", "input_size", "hidden_size",
                                                               "num_layers", "bidirectional")):
        raise ValueError("config_from_weights: the architecture comes from the weights; "
                         "overrides may not change cell, sizes, layers or directions")
    if config.readout != "linear":
        raise ValueError("config_from_weights: only the linear readout comes from a state_dict")
    out.notes = notes
    desc = (f"{TORCH_NAME[cell]}(input_size={I}, hidden_size={H}, num_layers={L}"
            + (", bidirectional=True" if D == 2 else "") + ("" if has_bias else ", bias=False")
            + f") at {prefix!r}")
    out.found = desc + (", no head" if head is None
                        else f", head {head[:-1]!r} ({out['readout.weight'].shape[0]} outputs)")
    return config, out


def _head(weights: dict, prefix: str, width: int, chosen) -> str | None:
    """The linear head's prefix ('fc.'): a (O, D*H) weight (with an (O,) bias or none)."""
    if chosen != "?":
        if not chosen:
            return None
        p = chosen if chosen.endswith(".") else chosen + "."
        w = weights.get(p + "weight")
        if w is None or w.ndim != 2 or w.shape[1] != width:
            raise ValueError(f"config_from_weights: head {chosen!r} needs a weight of shape "
                             f"(outputs, {width}); found {None if w is None else w.shape}")
        return p
    fits = []
    for n, w in weights.items():
        if not n.endswith("weight") or _RECURRENT.match(n):
            continue
        p = n[: -len("weight")]
        if p and not p.endswith("."):
            continue
        b = weights.get(p + "bias")
        if w.ndim == 2 and w.shape[1] == width and (b is None or b.shape == (w.shape[0],)):
            fits.append(p)
    if len(fits) <= 1:
        return fits[0] if fits else None
    named = [p for p in fits if p.rstrip(".").rsplit(".", 1)[-1] in HEAD_NAMES]
    if len(named) == 1:
        return named[0]
    raise ValueError("config_from_weights: several linear heads fit, at "
                     + ", ".join(repr(p) for p in fits) + "; choose one with head=")


def _listing(weights: dict, most: int = 8) -> str:
    names = list(weights)
    return "[" + ", ".join(names[:most]) + (", ..." if len(names) > most else "") + "]"
