"""Decode Plotly figure JSON as the browser receives it: typed arrays {"dtype", "bdata", "shape"}."""

from __future__ import annotations

import base64
import json

import numpy as np


def decode(obj):
    """Replace every base64 typed array in a Plotly JSON object by a numpy array (recursively)."""
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if isinstance(obj.get("bdata"), str) and isinstance(obj.get("dtype"), str):
        arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]).newbyteorder("<"))
        shape = obj.get("shape")
        if shape:
            dims = shape if isinstance(shape, list) else [int(s) for s in str(shape).split(",")]
            arr = arr.reshape(dims)
        return arr
    return {k: decode(v) for k, v in obj.items()}


def spec(fig_or_json) -> dict:
    """The decoded spec of a go.Figure or of the JSON string Streamlit sends (proto.spec)."""
    text = fig_or_json if isinstance(fig_or_json, str) else fig_or_json.to_json()
    return decode(json.loads(text))


def typed_arrays(fig_or_json) -> list[str]:
    """dtypes of every typed array in the raw JSON (to check what goes over the wire)."""
    text = fig_or_json if isinstance(fig_or_json, str) else fig_or_json.to_json()
    found: list[str] = []

    def walk(o):
        if isinstance(o, list):
            for v in o:
                walk(v)
        elif isinstance(o, dict):
            if isinstance(o.get("bdata"), str):
                found.append(o["dtype"])
            else:
                for k, v in o.items():
                    if k != "template":
                        walk(v)

    walk(json.loads(text))
    return found


def data_digest(spec_dict: dict) -> list:
    """A comparable summary of a figure's data: per trace, every numeric array's bytes."""
    out = []
    for tr in spec_dict.get("data", []):
        for k in sorted(tr):
            v = tr[k]
            if isinstance(v, np.ndarray):
                out.append((tr.get("type"), k, v.shape, np.nan_to_num(v.astype(np.float64)).tobytes()))
            elif isinstance(v, list) and v and all(isinstance(a, (int, float)) for a in v):
                out.append((tr.get("type"), k, len(v), tuple(v)))
    return out
