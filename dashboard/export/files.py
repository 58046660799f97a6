"""Export: a Trace and its Config as files (CSV, Parquet, zip, config JSON, a PyTorch script, an
offline HTML report). Pure functions, no Streamlit: every download is bytes computed from the
config (and the trace the config reproduces), so the same link always gives the same file.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import math
import urllib.parse
import zipfile

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
import pyarrow as pa
import pyarrow.csv as pa_csv

from dashboard.figures import plots as F
from dashboard.figures import views as V
from dashboard.figures.animation import DEFAULT_SPEED, animation_figure
from dashboard.state import explore as S
from dashboard.state.limits import size_problem
from dashboard.state.schema import format_value
from engine import Config, Trace
from engine.trace import MODEL_LEVEL, PER_STEP

FORMAT = "unrolled-config"  # the "format" field of a config file: what this JSON is
FORMAT_VERSION = 1  # bumped when a config file written today would be read differently
MAX_CONFIG_BYTES = 64_000  # a config file is a few hundred bytes; the sentence is at most 2000 chars
MAX_CONFIG_DEPTH = 3  # {"config": {"field": value}}: nothing in a config file nests deeper
MAX_SNIPPET_VALUES = 1_000_000  # weights + inputs + targets embedded in the script (~11 MB of text)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same config gives the same zip bytes


class ConfigFileError(ValueError):
    """A config file that cannot be loaded; the message says why, and nothing was applied."""


# ---------------------------------------------------------------- data: CSV / Parquet / zip


def quantities(trace: Trace) -> list[str]:
    """Names of the per-step quantities this trace has (Trace.frame accepts each)."""
    per_step = [n for n in PER_STEP if getattr(trace, n) is not None]
    return per_step + [f"gates.{g}" for g in trace.gates] + list(MODEL_LEVEL)


def step_loss_frame(trace: Trace) -> pd.DataFrame:
    """Tidy (t, value) table of the loss at every step, L_t."""
    return pd.DataFrame({"t": np.arange(len(trace.step_loss)), "value": trace.step_loss})


def weight_terms_frame(trace: Trace) -> pd.DataFrame:
    """Tidy (weight, t, value) table: the norm of each step's term of the BPTT sum dL/dW."""
    parts = [pd.DataFrame({"weight": name, "t": np.arange(len(v)), "value": v})
             for name, v in trace.weight_grad_terms.items()]
    return pd.concat(parts, ignore_index=True)


def tidy(trace: Trace, name: str | None = None) -> pd.DataFrame:
    """One quantity's tidy table, or (name None) every quantity stacked with a `quantity` column."""
    if name is None:
        parts = [tidy(trace, n).assign(quantity=n) for n in quantities(trace)]
        df = pd.concat(parts, ignore_index=True)
        return df[["quantity"] + [c for c in df.columns if c != "quantity"]]
    if name == "step_loss":
        return step_loss_frame(trace)
    if name == "weight_grad_terms":
        return weight_terms_frame(trace)
    return trace.frame(name)


def csv_bytes(trace: Trace, name: str | None = None) -> bytes:
    """Tidy CSV of one quantity (or all of them); floats in their shortest round-trip form.
    Written by pyarrow (Streamlit's own dependency): 3x faster than DataFrame.to_csv at
    millions of rows, same values; missing layer/direction (model-level inputs) are empty."""
    buf = io.BytesIO()
    table = pa.Table.from_pandas(tidy(trace, name), preserve_index=False)
    pa_csv.write_csv(table, buf, pa_csv.WriteOptions(quoting_style="needed"))
    return buf.getvalue()


def parquet_bytes(trace: Trace, name: str | None = None) -> bytes:
    """Tidy Parquet of one quantity (or all of them), via pandas and pyarrow."""
    buf = io.BytesIO()
    tidy(trace, name).to_parquet(buf, index=False, engine="pyarrow")
    return buf.getvalue()


def zip_bytes(trace: Trace, view: S.View | None = None) -> bytes:
    """A zip of every quantity as tidy CSV, the per-step loss and BPTT terms, and config.json."""
    buf = io.BytesIO()
    # compresslevel 1: CSV of floats deflates about as well at 1 as at 6, in far less time
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            z.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)

        add("config.json", config_json(trace.config, view).encode())
        for name in quantities(trace) + ["step_loss", "weight_grad_terms"]:
            add(f"{name}.csv", csv_bytes(trace, name))
    return buf.getvalue()


def file_stem(config: Config) -> str:
    """A short, readable file name for downloads of this config."""
    what = config.cell if config.cell != "rnn" else f"rnn-{config.activation}"
    return f"unrolled_{what}_H{config.hidden_size}_T{config.seq_len}_seed{config.seed}"


# ---------------------------------------------------------------- config JSON


def config_json(config: Config, view: S.View | None = None) -> str:
    """The config (and view) as a versioned JSON document that load_config_json reads back."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "config": config.to_dict(),
           "view": dataclasses.asdict(view if view is not None else S.DEFAULT_VIEW)}
    return json.dumps(doc, indent=2) + "\n"


def _reject_constant(name: str):
    raise ConfigFileError(f"config file: {name} is not a number a config can hold")


def _no_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ConfigFileError(f"config file: duplicate key(s) {dup}")
    return dict(pairs)


def _depth(obj, limit: int, level: int = 0) -> None:
    """Raise when containers nest deeper than `limit` (checked before any value is read)."""
    if isinstance(obj, (dict, list)):
        if level >= limit:
            raise ConfigFileError(f"config file: nested too deeply (more than {limit} levels); "
                                  "a config holds only plain values")
        for v in obj.values() if isinstance(obj, dict) else obj:
            _depth(v, limit, level + 1)


def _typed(where: str, p: S.Param, value):
    """A JSON value checked against the dashboard's schema for p; ConfigFileError says why not."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None and p.optional:
        return None
    if p.kind == "choice" and isinstance(value, str) and value in p.choices:
        return value
    if p.kind == "bool" and isinstance(value, bool):
        return value
    if p.kind == "int" and number and isinstance(value, int) and p.lo <= value <= p.hi:
        return value
    if p.kind == "float" and number and math.isfinite(value) and p.lo <= value <= p.hi:
        return float(value)  # JSON writes 2.0 as 2: the widget wants a float
    if p.kind == "text" and isinstance(value, str) and value.split() and len(value) <= p.hi:
        return value
    bounds = f"[{p.lo:g}, {p.hi:g}]" if p.lo is not None else ""
    expected = {"choice": f"one of {list(p.choices)}", "bool": "true or false",
                "int": f"an integer in {bounds}", "float": f"a number in {bounds}",
                "text": f"text with at least one word, at most {p.hi or 0:g} characters"}[p.kind]
    raise ConfigFileError(f"config file: {where}.{p.name} = {_short(value)} is not valid: "
                          f"expected {expected}" + (" (or null)" if p.optional else ""))


def _short(value) -> str:
    s = json.dumps(value) if not isinstance(value, str) else repr(value)
    return s if len(s) <= 60 else s[:57] + "..."


def _fields(where: str, given, schema: dict[str, S.Param], defaults: dict) -> dict:
    if not isinstance(given, dict):
        raise ConfigFileError(f"config file: {where!r} must be an object of field: value, "
                              f"got {type(given).__name__}")
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ConfigFileError(f"config file: unknown {where} field(s) {unknown}; known: "
                              f"{sorted(schema)}")
    return {**defaults, **{k: _typed(where, schema[k], v) for k, v in given.items()}}


def load_config_json(data: bytes | str) -> tuple[Config, S.View, list[str]]:
    """A config file's bytes -> (Config, View, warnings). Anything wrong raises ConfigFileError
    with a message naming it, before anything is returned: a file is applied whole or not at all.
    Only json.loads reads it (never pickle or eval); fields missing from it take their defaults."""
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(f"config file: {len(data):,} bytes is too large for a config "
                              f"(at most {MAX_CONFIG_BYTES:,})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigFileError(f"config file: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ConfigFileError("config file: nested too deeply to be a config") from None
    except json.JSONDecodeError as e:
        raise ConfigFileError(f"config file: not valid JSON: {e.msg} (line {e.lineno}, "
                              f"column {e.colno})") from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise ConfigFileError(f"config file: {e}") from None
    _depth(doc, MAX_CONFIG_DEPTH)
    if not isinstance(doc, dict):
        raise ConfigFileError(f"config file: expected a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - {"format", "version", "config", "view"})
    if unknown:
        raise ConfigFileError(f"config file: unknown key(s) {unknown}; expected format, version, "
                              "config and view")
    if doc.get("format") != FORMAT:
        raise ConfigFileError(f"config file: \"format\" must be {FORMAT!r}, got "
                              f"{_short(doc.get('format'))}: is this an Unrolled config?")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ConfigFileError(f"config file: version {_short(version)} is not one this Unrolled "
                              f"reads (1 to {FORMAT_VERSION})")
    if "config" not in doc:
        raise ConfigFileError("config file: no \"config\" object")
    values = _fields("config", doc["config"], S.PARAM, S.config_values(S.DEFAULT_CONFIG))
    view = _fields("view", doc.get("view", {}), S.VIEW_PARAM, dataclasses.asdict(S.DEFAULT_VIEW))
    try:
        config = Config(**values)
    except ValueError as e:  # fields fine alone, not together (e.g. delay >= seq_len)
        raise ConfigFileError(f"config file: {e}") from None
    problem = size_problem(config)
    if problem:
        raise ConfigFileError(f"config file: {problem}")
    view, warnings = S.fit_view(S.View(**view), config)
    return config, view, [f"config file: {w}" for w in warnings]


# ---------------------------------------------------------------- reproducible PyTorch script


def _b64(a: np.ndarray) -> str:
    """float64 little-endian bytes, base64, wrapped in a parenthesised string literal."""
    s = base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode()
    lines = [s[i:i + 96] for i in range(0, len(s), 96)] or [""]
    return "(\n" + "\n".join(f'        "{line}"' for line in lines) + "\n    )"


SNIPPET = '''\
"""Unrolled, reproduced with plain PyTorch: {title}

Rebuilds the model with torch.nn (the exact weights and inputs the dashboard drew from seed {seed}
are embedded at the bottom of this file), runs it step by step, and uses autograd for the total
derivative dL/dh_t of the loss with respect to every hidden state h_t (through all later steps).
Prints the loss, then |h_t| and |dL/dh_t| for every layer, direction, step and sample.

Dashboard link (query string): {query}
Needs only torch and numpy: python {stem}.py
"""

import base64

import numpy as np
import torch

CONFIG = {config}

DTYPE = getattr(torch, CONFIG["dtype"])
CELL, ACTIVATION, LOSS = CONFIG["cell"], CONFIG["activation"], CONFIG["loss"]
L, H = CONFIG["num_layers"], CONFIG["hidden_size"]
D = 2 if CONFIG["bidirectional"] else 1


class PhiRNNCell(torch.nn.Module):
    """torch.nn.RNNCell with any nonlinearity: h' = phi(W_ih x + b_ih + W_hh h + b_hh).
    (torch.nn.RNNCell offers only tanh and relu.)"""

    def __init__(self, input_size, hidden_size, phi, dtype):
        super().__init__()
        kw = dict(dtype=dtype)
        self.weight_ih = torch.nn.Parameter(torch.empty(hidden_size, input_size, **kw))
        self.weight_hh = torch.nn.Parameter(torch.empty(hidden_size, hidden_size, **kw))
        self.bias_ih = torch.nn.Parameter(torch.empty(hidden_size, **kw))
        self.bias_hh = torch.nn.Parameter(torch.empty(hidden_size, **kw))
        self.phi = phi

    def forward(self, x, h):
        a = torch.nn.functional.linear(x, self.weight_ih, self.bias_ih)
        return self.phi(a + torch.nn.functional.linear(h, self.weight_hh, self.bias_hh))


def make_cell(input_size, weights, suffix):
    """One layer-direction as a torch.nn cell holding the weights named weight_ih{{suffix}} etc."""
    if CELL == "lstm":
        cell = torch.nn.LSTMCell(input_size, H, dtype=DTYPE)
    elif CELL == "gru":
        cell = torch.nn.GRUCell(input_size, H, dtype=DTYPE)
    elif ACTIVATION in ("tanh", "relu"):
        cell = torch.nn.RNNCell(input_size, H, nonlinearity=ACTIVATION, dtype=DTYPE)
    else:
        phi = {{"sigmoid": torch.sigmoid, "linear": lambda a: a}}[ACTIVATION]
        cell = PhiRNNCell(input_size, H, phi, DTYPE)
    cell.load_state_dict({{k: weights[k + suffix] for k in
                          ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}})
    return cell


def unroll(cells, readout, x, y):
    """Every layer and direction step by step. Returns the loss and every h_t, each with
    retain_grad(): after backward, h_t.grad is dL/dh_t through every later use of h_t."""
    T, B, _ = x.shape  # steps, batch, inputs
    states = {{}}  # (layer, direction) -> [h_t for t in 0..T-1], each (B, H), natural time order
    layer_in = x  # (T, B, I) for layer 0, then (T, B, D*H)
    for layer in range(L):
        outs = []
        for d in range(D):  # d = 1 reads the sequence backwards
            cell = cells[layer * D + d]
            h = x.new_zeros(B, H)  # h_{{-1}} = 0
            c = x.new_zeros(B, H)  # c_{{-1}} = 0 (LSTM)
            hs = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                if CELL == "lstm":
                    h, c = cell(layer_in[t], (h, c))
                else:
                    h = cell(layer_in[t], h)
                h.retain_grad()
                hs[t] = h
            states[layer, d] = hs
            outs.append(torch.stack(hs))  # (T, B, H)
        layer_in = torch.cat(outs, dim=-1)  # (T, B, D*H): the next layer's input
    y_hat = readout(layer_in)  # (T, B, O): y_hat_t = V h_t + b
    step_loss = ((y_hat - y) ** 2).sum(dim=(1, 2)) / B  # (T,) L_t = mean_b |y_hat_t - y_t|^2
    loss = step_loss[-1] if LOSS == "last" else step_loss.sum()
    return loss, states, layer_in


def check_fused(weights, x, top):
    """The same weights in torch.nn.RNN/LSTM/GRU (num_layers, bidirectional) give the same
    top-layer output as the step-by-step cells above."""
    kw = dict(num_layers=L, bidirectional=D == 2, dtype=DTYPE)
    if CELL == "lstm":
        rnn = torch.nn.LSTM(x.shape[-1], H, **kw)
    elif CELL == "gru":
        rnn = torch.nn.GRU(x.shape[-1], H, **kw)
    elif ACTIVATION in ("tanh", "relu"):
        rnn = torch.nn.RNN(x.shape[-1], H, nonlinearity=ACTIVATION, **kw)
    else:
        return None  # torch.nn.RNN has no sigmoid or linear nonlinearity
    rnn.load_state_dict({{k: v for k, v in weights.items() if not k.startswith("readout.")}})
    with torch.no_grad():
        return (rnn(x)[0] - top).abs().max().item()


def main():
    weights, x, y = data()
    cells = []
    for layer in range(L):
        for d in range(D):
            suffix = f"_l{{layer}}" + ("_reverse" if d else "")
            cells.append(make_cell(x.shape[-1] if layer == 0 else D * H, weights, suffix))
    readout = torch.nn.Linear(D * H, y.shape[-1], dtype=DTYPE)
    readout.load_state_dict({{"weight": weights["readout.weight"], "bias": weights["readout.bias"]}})

    loss, states, top = unroll(cells, readout, x, y)
    loss.backward()
    diff = check_fused(weights, x, top.detach())
    if diff is not None:
        print(f"# torch.nn.{{CELL.upper()}} vs the cells step by step: max |difference| = {{diff:.3g}}")
    print(f"loss {{loss.item()!r}}")
    print("layer direction t sample |h_t| |dL/dh_t|")
    for (layer, d), hs in states.items():
        for t, h in enumerate(hs):
            h_norm = h.detach().norm(dim=-1)  # (B,)
            g_norm = h.grad.norm(dim=-1)  # (B,)
            for b in range(h.shape[0]):
                print(layer, d, t, b, repr(h_norm[b].item()), repr(g_norm[b].item()))


def load(b64, shape):
    """An embedded array: float64 little-endian bytes, base64 (exact for float32 values too)."""
    a = np.frombuffer(base64.b64decode(b64), dtype="<f8").reshape(shape)
    return torch.from_numpy(a.copy()).to(DTYPE)


def data():
    """The weights (torch.nn names), inputs x (T, B, I) and targets y (T, B, O), embedded."""
    weights = {{
{weights}
    }}
    x = load({inputs}, {inputs_shape})
    y = load({targets}, {targets_shape})
    return weights, x, y


if __name__ == "__main__":
    main()
'''


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
    weights = "\n".join(f"        {k!r}: load({_b64(v)}, {tuple(v.shape)!r}),"
                        for k, v in trace.weights.items())
    query = urllib.parse.urlencode(S.config_to_query(c))  # percent-encoded: safe in a docstring
    title = f"{c.cell.upper()}" + (f" ({c.activation})" if c.cell == "rnn" else "")
    title += f", H={c.hidden_size}, T={trace.inputs.shape[0]}, loss {c.loss!r}"
    return SNIPPET.format(
        title=title, seed=c.seed, query=query, stem=file_stem(c),
        config=_py_literal(c.to_dict()), weights=weights,
        inputs=_b64(trace.inputs), inputs_shape=repr(tuple(trace.inputs.shape)),
        targets=_b64(trace.targets), targets_shape=repr(tuple(trace.targets.shape)))


def _py_literal(d: dict) -> str:
    """A dict of plain values as Python source, one field a line (repr quotes every string)."""
    body = "".join(f"    {k!r}: {v!r},\n" for k, v in d.items())
    return "{\n" + body + "}"


# ---------------------------------------------------------------- offline HTML report


def view_figures(trace: Trace, view: S.View) -> list[tuple[str, go.Figure]]:
    """(key, figure) for every plot the Explore page draws for this view, in page order
    (the same builders and arguments as explore._draw, plus the values at the cursor)."""
    T = trace.inputs.shape[0]
    t = view.cursor(T)
    d = S.DIRECTIONS.index(view.direction)
    where = dict(layer=view.layer, direction=d, sample=view.sample)
    out: list[tuple[str, go.Figure]] = []
    if view.view in ("signals", "hidden", "gates", "gradient"):  # one stacked figure each
        fig = V.view_figure(view.view, trace, where, t)
        if fig is not None:
            out.append(({"gradient": "grad"}.get(view.view, view.view), fig))
        if view.view == "gradient" and trace.influence is not None:
            out.append(("influence", F.influence_figure(trace, cursor=t)))
    elif view.view == "spectrum":
        out.append(("spectrum", F.spectrum_figure(trace, view.layer, d)))
    elif view.view == "animate":  # the report plays at the page's default speed
        out.append(("anim", animation_figure([("", trace)], frame_ms=int(1000 / DEFAULT_SPEED),
                                             **where)))
    if view.view != "gradient":  # the gradient view carries the values at t as its last row
        out.append(("vectors", F.vectors_figure(trace, t=t, **where)))
    return out

REPORT_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: #555; font-size: .9rem; word-break: break-all; }
.explain { background: #f4f6f8; border-left: 4px solid #1f77b4; padding: .6rem 1rem; }
.flag { background: #fdecea; border-left: 4px solid #d62728; padding: .6rem 1rem; }
.note { background: #eef4fb; border-left: 4px solid #7f7f7f; padding: .6rem 1rem; }
table.config { border-collapse: collapse; font-size: .9rem; }
table.config td, table.config th { border: 1px solid #ddd; padding: .2rem .6rem; text-align: left; }
.figure { margin: 1rem 0 2rem; }
@media print { .figure { page-break-inside: avoid; } }
"""

# Adds a "Download plot as an svg" modebar button beside the PNG one (JSON configs cannot carry
# the click function, so it is attached here in the report's own script).
REPORT_JS = """
function unrolledPlot(id, fig, config, filename) {
  config.toImageButtonOptions = {format: 'png', filename: filename, scale: 2};
  config.modeBarButtonsToAdd = [{
    name: 'Download plot as an svg', title: 'Download plot as an svg', icon: Plotly.Icons.camera,
    click: function (gd) { Plotly.downloadImage(gd, {format: 'svg', filename: filename}); }
  }];
  return Plotly.newPlot(id, fig.data, fig.layout, config);
}
"""


def report_html(figures: list[tuple[str, go.Figure]], config: Config, *, view: S.View | None = None,
                explanations: list[tuple[str, str]] = (), summary: list[str] = (),
                warnings: list[str] = (), notes: list[str] = (), url: str = "") -> str:
    """A self-contained HTML page (plotly.js embedded, no network) of the current view: the
    figures, the config table, the explanations and the link. Every given string is escaped."""
    e = html.escape
    view = view if view is not None else S.DEFAULT_VIEW
    rows = "".join(f"<tr><th>{e(p.label)}</th><td><code>{e(p.name)}</code></td>"
                   f"<td>{e(format_value(p, getattr(config, p.name)))}</td></tr>"
                   for p in S.PARAMS)
    view_rows = "".join(f"<tr><th>{e(p.label)}</th><td><code>{e(p.name)}</code></td>"
                        f"<td>{e(format_value(p, getattr(view, p.name)))}</td></tr>"
                        for p in S.VIEW_PARAMS)
    parts = [f'<div class="explain"><strong>{e(title)}.</strong> {e(text)}</div>'
             for title, text in explanations]
    parts += [f'<p>{e(s)}</p>' for s in summary]
    parts += [f'<div class="flag">{e(w)}</div>' for w in warnings]
    parts += [f'<div class="note">{e(n)}</div>' for n in notes]
    plots, scripts = [], []
    for i, (key, fig) in enumerate(figures):
        div = f"figure-{i}"
        plots.append(f'<div class="figure"><div id="{div}"></div></div>')
        # "<" only occurs inside JSON strings, where \u003c means the same: no user text (a
        # sentence in a tick label) can close or open a tag inside this <script>
        # white background: the page gets Streamlit's theme, a handout gets printed
        fig = go.Figure(fig).update_layout(template="plotly_white")
        fig_json = pio.to_json(fig, validate=False).replace("<", "\\u003c")
        name = json.dumps(f"{file_stem(config)}_{key}").replace("<", "\\u003c")
        scripts.append(f'unrolledPlot("{div}", {fig_json}, {{"displaylogo": false, '
                       f'"responsive": true}}, {name});')
    link = (f'<p class="meta">Link: <a href="{e(url, quote=True)}">{e(url)}</a></p>'
            if url else "")
    query = urllib.parse.urlencode(S.state_to_query(config, view))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:">
<title>Unrolled · {e(S.VIEW_TITLES[view.view])} · {e(file_stem(config))}</title>
<style>{REPORT_CSS}</style>
<script>{plotly.offline.get_plotlyjs()}</script>
<script>{REPORT_JS}</script>
</head>
<body>
<h1>Unrolled · {e(S.VIEW_TITLES[view.view])}</h1>
{link}
<p class="meta">Query: <code>?{e(query)}</code></p>
{"".join(parts)}
{"".join(plots)}
<h2>Configuration</h2>
<table class="config">{rows}</table>
<h2>View</h2>
<table class="config">{view_rows}</table>
<p class="meta">Made by Unrolled; works offline (plotly.js is embedded). Every plot's modebar
downloads it as PNG or SVG.</p>
<script>
{chr(10).join(scripts)}
</script>
</body>
</html>
"""
