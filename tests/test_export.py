"""dashboard/export/: data files equal the Trace, config files round-trip and reject bad input
with a clear message, the PyTorch script reproduces the engine, the HTML report is escaped."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from oracle import small_config

from dashboard.export import config_file, report, script, tables
from dashboard.state import explore as S
from engine import Config, unroll


@pytest.fixture(scope="module")
def lstm_trace():
    return unroll(small_config(cell="lstm", num_layers=2, bidirectional=True, batch_size=2))


def test_csv_round_trip_is_exact(lstm_trace):
    for name in ("hidden", "grad_hidden", "gates.f", "inputs"):
        back = pd.read_csv(io.BytesIO(tables.csv_bytes(lstm_trace, name)))
        ref = lstm_trace.frame(name)
        assert list(back.columns) == list(ref.columns)
        assert np.array_equal(back["value"].to_numpy(), ref["value"].to_numpy()), name
        assert np.array_equal(back["t"].to_numpy(), ref["t"].to_numpy())
    hidden = pd.read_csv(io.BytesIO(tables.csv_bytes(lstm_trace, "hidden")))
    grid = hidden.set_index(["layer", "direction", "t", "sample", "unit"])["value"]
    assert grid.loc[(1, 1, 3, 1, 2)] == lstm_trace.hidden[lstm_trace.layer_index(1, 1), 3, 1, 2]


def test_parquet_round_trip_equals_the_frame(lstm_trace):
    back = pd.read_parquet(io.BytesIO(tables.parquet_bytes(lstm_trace, "grad_cell")))
    pd.testing.assert_frame_equal(back, lstm_trace.frame("grad_cell"))


def test_one_file_holds_every_quantity(lstm_trace):
    df = pd.read_parquet(io.BytesIO(tables.parquet_bytes(lstm_trace)))
    assert list(df["quantity"].unique()) == tables.quantities(lstm_trace)
    assert {"gates.i", "gates.f", "gates.g", "gates.o", "cell", "grad_cell"} <= set(df["quantity"])
    g = df[df["quantity"] == "grad_hidden"]["value"].to_numpy()
    assert np.array_equal(g, lstm_trace.grad_hidden.reshape(-1))
    rnn = unroll(small_config())
    assert "cell" not in tables.quantities(rnn) and "act_deriv" in tables.quantities(rnn)


def test_zip_has_every_quantity_and_the_config(lstm_trace):
    view = S.View(view="gates", layer=1, direction="reverse", t=2)
    data = tables.zip_bytes(lstm_trace, view)
    assert data == tables.zip_bytes(lstm_trace, view), "the same trace gives the same bytes"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        assert names == ({f"{q}.csv" for q in tables.quantities(lstm_trace)}
                         | {"step_loss.csv", "weight_grad_terms.csv", "config.json"})
        assert config_file.load_config_json(z.read("config.json")) == (lstm_trace.config, view, [])
        terms = pd.read_csv(z.open("weight_grad_terms.csv"))
        w = terms[terms["weight"] == "weight_hh_l1_reverse"]["value"].to_numpy()
        assert np.array_equal(w, lstm_trace.weight_grad_terms["weight_hh_l1_reverse"])
        loss = pd.read_csv(z.open("step_loss.csv"))["value"].to_numpy()
        assert np.array_equal(loss, lstm_trace.step_loss)


ODD = Config(cell="lstm", hidden_size=17, num_layers=2, bidirectional=True, seq_len=123,
             batch_size=3, dtype="float32", init_hh="orthogonal", init_ih="normal",
             sigma=0.123456789, spectral_radius=1.1, gain=0.7, forget_bias=1.0, task="recall",
             delay=7, loss="last", seed=987654321, text='say "hi" \\ <b>', device="cpu")


@pytest.mark.parametrize("config,view", [
    (Config(), S.View()),
    (ODD, S.View(view="spectrum", layer=1, direction="reverse", sample=2, t=40, influence=True,
                 present=True)),
])
def test_config_json_round_trip(config, view):
    text = config_file.config_json(config, view)
    doc = json.loads(text)
    assert doc["format"] == config_file.FORMAT and doc["version"] == config_file.FORMAT_VERSION
    assert config_file.load_config_json(text.encode()) == (config, view, [])


def test_missing_fields_take_defaults_and_a_view_is_fitted():
    doc = {"format": config_file.FORMAT, "version": 1, "config": {"cell": "gru", "sigma": 2},
           "view": {"layer": 3}}
    config, view, warnings = config_file.load_config_json(json.dumps(doc))
    assert config == Config(cell="gru", sigma=2.0) and isinstance(config.sigma, float)
    assert view.layer == 0 and "layer=3" in warnings[0]


def _doc(**config) -> str:
    return json.dumps({"format": config_file.FORMAT, "version": 1, "config": config})


BAD = {
    "not json": (b"{cell: lstm", "not valid JSON"),
    "not utf-8": (b"\xff\xfe{}", "not UTF-8"),
    "a list": (b"[1, 2]", "expected a JSON object"),
    "too large": (b" " * (config_file.MAX_CONFIG_BYTES + 1), "too large"),
    "deeply nested": (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
    "nested value": (_doc(hidden_size={"a": {"b": 1}}).encode(), "nested too deeply"),
    "unknown top key": (json.dumps({"format": config_file.FORMAT, "version": 1, "config": {},
                                    "evil": 1}).encode(), "unknown key(s) ['evil']"),
    "wrong format": (json.dumps({"format": "pickle", "version": 1, "config": {}}).encode(),
                     "format"),
    "future version": (json.dumps({"format": config_file.FORMAT, "version": 99,
                                   "config": {}}).encode(), "version 99"),
    "no config": (json.dumps({"format": config_file.FORMAT, "version": 1}).encode(),
                  "no \"config\""),
    "config not an object": (json.dumps({"format": config_file.FORMAT, "version": 1,
                                         "config": [1]}).encode(), "must be an object"),
    "unknown field": (_doc(colour="blue").encode(), "unknown config field(s) ['colour']"),
    "string for int": (_doc(hidden_size="32").encode(), "config.hidden_size = '32'"),
    "bool for int": (_doc(seq_len=True).encode(), "config.seq_len = true"),
    "float for int": (_doc(seed=1.5).encode(), "config.seed = 1.5"),
    "out of range": (_doc(hidden_size=100_000).encode(), "expected an integer in [1, 512]"),
    "bad choice": (_doc(cell="transformer").encode(), "expected one of ['rnn', 'lstm', 'gru']"),
    "NaN": (b'{"format": "unrolled-config", "version": 1, "config": {"sigma": NaN}}', "NaN"),
    "huge number": (_doc(sigma=1e308 * 10).encode(), "Infinity"),
    "duplicate key": (b'{"format": "unrolled-config", "version": 1, "config": {"seed": 1, '
                      b'"seed": 2}}', "duplicate key(s) ['seed']"),
    "fields that do not combine": (_doc(task="recall", delay=60, seq_len=50).encode(),
                                   "Config.delay"),
    "too big for the page": (_doc(seq_len=5000, hidden_size=512, batch_size=4).encode(),
                             "dashboard stops at"),
    "bad view": (json.dumps({"format": config_file.FORMAT, "version": 1, "config": {},
                             "view": {"view": "3d"}}).encode(), "view.view = '3d'"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_config_files_raise_a_clear_error(case):
    data, piece = BAD[case]
    with pytest.raises(config_file.ConfigFileError) as err:
        config_file.load_config_json(data)
    assert str(err.value).startswith("config file:") and piece in str(err.value), str(err.value)


# ---------------------------------------------------------------- the PyTorch script

SNIPPET_CASES = {
    "rnn-tanh": dict(cell="rnn", activation="tanh"),
    "rnn-sigmoid": dict(cell="rnn", activation="sigmoid", loss="last"),
    "rnn-linear-bidirectional": dict(cell="rnn", activation="linear", bidirectional=True),
    "lstm": dict(cell="lstm", forget_bias=1.0),
    "gru": dict(cell="gru", loss="last"),
    "lstm-2-layer-bidirectional": dict(cell="lstm", num_layers=2, bidirectional=True),
    "gru-2-layer-bidirectional": dict(cell="gru", num_layers=2, bidirectional=True, task="sine"),
    "rnn-tanh-attention": dict(cell="rnn", activation="tanh", readout="attention", loss="last"),
    "lstm-2-layer-bidirectional-attention": dict(cell="lstm", num_layers=2, bidirectional=True,
                                                 readout="attention"),
    "gru-attention": dict(cell="gru", readout="attention", task="sine"),
}

# Runs each script as __main__ in one fresh interpreter (one torch import for all), from an empty
# directory, with `engine` and `dashboard` made unimportable: the script needs only torch + numpy.
DRIVER = """
import contextlib, io, json, runpy, sys
sys.modules["engine"] = None
sys.modules["dashboard"] = None
out = {}
for path in sys.argv[1:]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        runpy.run_path(path, run_name="__main__")
    out[path] = buf.getvalue()
print(json.dumps(out))
"""


def _parse(text: str, shape: tuple) -> tuple[float, np.ndarray, np.ndarray]:
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0].startswith("loss ") and lines[1].startswith("layer direction t sample")
    loss = float(lines[0].split()[1])
    h, g = np.full(shape, np.nan), np.full(shape, np.nan)
    for ln in lines[2:]:
        layer, d, t, b, hn, gn = ln.split()
        h[int(layer), int(d), int(t), int(b)] = float(hn)
        g[int(layer), int(d), int(t), int(b)] = float(gn)
    return loss, h, g


def test_snippet_reproduces_the_engine(tmp_path):
    traces, paths = {}, []
    for case, kw in SNIPPET_CASES.items():
        trace = unroll(small_config(hidden_size=5, seq_len=9, batch_size=2, **kw))
        src = script.snippet(trace)
        assert "import engine" not in src and "from engine" not in src
        path = tmp_path / f"{case}.py"
        path.write_text(src)
        traces[str(path)] = trace
        paths.append(str(path))
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", DRIVER, *paths], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = json.loads(run.stdout)
    for path, trace in traces.items():
        c = trace.config
        L, D, T, B = c.num_layers, c.num_directions, *trace.hidden.shape[1:3]
        loss, h, g = _parse(outputs[path], (L, D, T, B))
        ref_h = np.linalg.norm(trace.hidden, axis=-1).reshape(L, D, T, B)
        ref_g = np.linalg.norm(trace.grad_hidden, axis=-1).reshape(L, D, T, B)
        assert not np.isnan(h).any(), f"{path}: every (layer, direction, t, sample) is printed"
        np.testing.assert_allclose(h, ref_h, rtol=1e-8, atol=1e-14, err_msg=path)
        np.testing.assert_allclose(g, ref_g, rtol=1e-8, atol=1e-14, err_msg=path)
        assert loss == pytest.approx(trace.loss, rel=1e-10)
        if c.activation in ("tanh", "relu") or c.cell != "rnn":
            diff = float(outputs[path].splitlines()[0].rsplit("=", 1)[1])
            assert diff < 1e-12, "torch.nn's fused module agrees with the step-by-step cells"


def test_snippet_quotes_any_text_and_caps_its_size(monkeypatch):
    text = 'a """ b \\N{x} \' c\n d'
    trace = unroll(small_config(task="sentence", text=text, seq_len=6))
    src = script.snippet(trace)
    scope: dict = {}
    exec(compile(src, "snippet.py", "exec"), scope)  # defines, does not run main()
    assert scope["CONFIG"]["text"] == text
    assert scope["CONFIG"] == trace.config.to_dict()
    monkeypatch.setattr(script, "MAX_SNIPPET_VALUES", script.snippet_size(trace) - 1)
    with pytest.raises(ValueError, match="cap"):
        script.snippet(trace)


def test_script_template_is_python_and_every_placeholder_is_filled():
    source = script.template()
    compile(source, "script_template.py", "exec")  # what is copied parses, placeholders and all
    names = set(script.PLACEHOLDER.findall(source))
    assert names == {"TITLE", "SEED", "QUERY", "STEM", "CONFIG", "WEIGHTS", "INPUTS",
                     "INPUTS_SHAPE", "TARGETS", "TARGETS_SHAPE"}
    trace = unroll(small_config(task="sentence", text="say __WEIGHTS__ __SEED__", seq_len=6))
    src = script.snippet(trace)
    assert src.startswith('"""Unrolled, reproduced with plain PyTorch: RNN (tanh)')
    rest = src.replace("'say __WEIGHTS__ __SEED__'", "").replace("say+__WEIGHTS__+__SEED__", "")
    assert not script.PLACEHOLDER.search(rest), "every placeholder is filled..."
    assert "'text': 'say __WEIGHTS__ __SEED__'" in src, "...and user text is never read as one"
    assert "---- the script ----" not in src and "= None\n" not in src, "no stand-in is copied"
    with pytest.raises(ValueError, match="nothing given for __SEED__"):
        script.fill("__SEED__", {}, {})
    with pytest.raises(ValueError, match="do not match"):
        script.fill("x = __AA__", {"AA": "1", "BB": "2"}, {})
    with pytest.raises(ValueError, match="quote"):
        script.fill('"""__TT__"""', {}, {"TT": 'a """ b'})
    assert script.fill("x = __AA__  # __TT__ __name__", {"AA": "{1: 2}"}, {"TT": "t"}) == \
        "x = {1: 2}  # t __name__"


# ---------------------------------------------------------------- the HTML report


def test_report_is_self_contained_escaped_and_reproducible():
    payload = "<script>alert(1)</script>"
    config = small_config(task="sentence", text=f"hello {payload} world", seq_len=6)
    trace = unroll(config)
    view = S.View(view="signals")
    figs = report.view_figures(trace, view)
    assert [k for k, _ in figs] == ["signals", "vectors"]
    kw = dict(view=view, explanations=[("Signals", f"look {payload}")],
              url=f"http://127.0.0.1/?text={payload}")
    page = report.report_html(figs, config, **kw)
    assert page == report.report_html(figs, config, **kw), "same view, same bytes"
    assert payload not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    import plotly.offline

    own = page.replace(plotly.offline.get_plotlyjs(), "")  # the page without the embedded bundle
    assert "<script src" not in own and "<link" not in own and "http:" not in own.replace(
        "http://127.0.0.1/?text=", ""), "nothing is loaded from elsewhere (checked live in Chromium)"
    assert "default-src 'none'" in own, "a Content-Security-Policy forbids any fetch"
    assert page.count('class="figure"') == 2 and "Download plot as an svg" in page
    assert "<th>Hidden size H</th>" in page and ">sentence<" in page


@pytest.mark.parametrize("view_name,keys", [
    ("hidden", ["hidden", "vectors"]), ("gates", ["gates", "vectors"]),  # h_t and c_t: one figure
    ("gradient", ["grad", "vectors", "influence"]),  # heatmap, norm, terms: one stacked figure
    ("spectrum", ["spectrum", "vectors"]),
])
def test_view_figures_follow_the_page(view_name, keys):
    trace = unroll(small_config(cell="lstm"))
    assert [k for k, _ in report.view_figures(trace, S.View(view=view_name))] == keys


def test_view_figures_are_the_figures_the_page_draws():
    """The report draws what Explore draws: same builders, same order, same titles, per tab."""
    from pathlib import Path

    from apptest_support import chart_specs
    from streamlit.testing.v1 import AppTest

    config = Config(cell="gru", seq_len=15, hidden_size=6)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py"),
                           default_timeout=60)
    at.query_params.update(S.config_to_query(config))
    at.run()
    trace = unroll(config, influence=False, jacobian=False)
    for view in S.VIEWS:
        at.session_state["view_tab"] = S.VIEW_TITLES[view]
        at.run()
        assert not at.exception
        page = [s["layout"]["title"]["text"] for s in chart_specs(at)]
        ours = [fig.layout.title.text for _, fig in report.view_figures(trace, S.View(view=view))]
        assert ours and page == ours, view
