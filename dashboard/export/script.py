"""The reproducible PyTorch script: script_template.py (plain torch.nn + autograd, readable and
linted) filled in with one run's config, weights, inputs and targets. Pure, no Streamlit.

The template marks each generated part with a placeholder __NAME__ (capitals between double
underscores): in code it is a name, replaced by a Python expression built here from repr and
base64; in the docstring it is text, replaced by text that cannot end the docstring. fill()
replaces every placeholder in one pass and insists that each is given, and each part used, so no
user text is ever read as a placeholder and no part is left out.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from pathlib import Path

import numpy as np

from dashboard.export.config_file import file_stem
from dashboard.state import explore
from engine import Trace

MAX_SNIPPET_VALUES = 1_000_000  # weights + inputs + targets embedded in the script (~11 MB of text)
TEMPLATE_PATH = Path(__file__).with_name("script_template.py")
TEMPLATE_START = "# ---- the script ----\n"  # the template's header comment ends at this line
PLACEHOLDER = re.compile(r"\b__([A-Z][A-Z_]*[A-Z])__\b")  # __CONFIG__, never __name__


def template() -> str:
    """The script's source with its placeholders (the template file below its header comment)."""
    return TEMPLATE_PATH.read_text(encoding="utf-8").split(TEMPLATE_START, 1)[1]


def fill(source: str, code: dict[str, str], text: dict[str, str]) -> str:
    """source with each placeholder __NAME__ replaced by code[NAME] (a Python expression) or
    text[NAME] (docstring text), in one pass: a value is never scanned again. Every placeholder
    must be given and every part used; a text value may hold no quote, backslash or newline."""
    for name, value in text.items():
        if re.search(r'["\\\n]', value):
            raise ValueError(f"script template: text for __{name}__ may not hold a quote, a "
                             f"backslash or a newline, got {value!r}")
    used: list[str] = []

    parts = {**code, **text}

    def value(m: re.Match) -> str:
        name = m.group(1)
        if name not in parts:
            raise ValueError(f"script template: nothing given for __{name}__")
        used.append(name)
        return parts[name]

    out = PLACEHOLDER.sub(value, source)
    if sorted(used) != sorted(parts) or len(parts) != len(code) + len(text):
        raise ValueError(f"script template: placeholders {sorted(used)} do not match the parts "
                         f"given, {sorted(code)} (code) and {sorted(text)} (text)")
    return out


def b64_literal(a: np.ndarray) -> str:
    """float64 little-endian bytes, base64, as a parenthesised string literal (96 characters a
    line, indented to sit as an argument inside a function)."""
    s = base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode()
    lines = [s[i:i + 96] for i in range(0, len(s), 96)] or [""]
    return "(\n" + "\n".join(f'        "{line}"' for line in lines) + "\n    )"


def dict_literal(d: dict) -> str:
    """A dict of plain values as Python source, one field a line (repr quotes every string)."""
    body = "".join(f"    {k!r}: {v!r},\n" for k, v in d.items())
    return "{\n" + body + "}"


def snippet_size(trace: Trace) -> int:
    """How many values the script would embed (weights, inputs and targets)."""
    return sum(w.size for w in trace.weights.values()) + trace.inputs.size + trace.targets.size


def snippet(trace: Trace) -> str:
    """A standalone PyTorch script (torch + numpy only) that rebuilds this exact model and data,
    recomputes h_t and dL/dh_t with autograd, and prints |h_t| and |dL/dh_t| per step. The
    weights and inputs are embedded, so it reproduces them exactly; above MAX_SNIPPET_VALUES
    values it raises a ValueError saying so."""
    n = snippet_size(trace)
    if n > MAX_SNIPPET_VALUES:
        raise ValueError(f"the script embeds the weights and inputs: {n:,} values is above its "
                         f"cap of {MAX_SNIPPET_VALUES:,}; lower H, T, the batch or the layers")
    c = trace.config
    weights = "".join(f"        {k!r}: load({b64_literal(v)}, {tuple(v.shape)!r}),\n"
                      for k, v in trace.weights.items())
    title = f"{c.cell.upper()}" + (f" ({c.activation})" if c.cell == "rnn" else "")
    title += f", H={c.hidden_size}, T={trace.inputs.shape[0]}, loss {c.loss!r}"
    title += ", attention readout" if c.readout == "attention" else ""
    code = {
        "CONFIG": dict_literal(c.to_dict()),
        "WEIGHTS": "{\n" + weights + "    }",  # torch.nn names -> tensors
        "INPUTS": b64_literal(trace.inputs), "INPUTS_SHAPE": repr(tuple(trace.inputs.shape)),
        "TARGETS": b64_literal(trace.targets), "TARGETS_SHAPE": repr(tuple(trace.targets.shape)),
    }
    text = {
        "TITLE": title, "SEED": str(c.seed), "STEM": file_stem(c),
        # percent-encoded: no quote, backslash or newline, whatever the sentence holds
        "QUERY": urllib.parse.urlencode(explore.config_to_query(c)),
    }
    return fill(template(), code, text)
