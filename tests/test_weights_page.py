"""Explore with your own model (dashboard/ui/weights.py) through AppTest: a trained-model file
uploaded, what it found, the architecture knobs greyed out and pinned, the views drawn from its
weights; a bad file and a code-running pickle refused with a message, the previous model kept."""

from __future__ import annotations

import io
import pickle

import numpy as np
import torch
from apptest_support import chart_specs, ok, run_page
from safetensors.torch import save
from streamlit.testing.v1 import AppTest
from test_series_pages import APP, TIMEOUT, plain
from torch import nn

from engine import config_from_weights, read_weights, unroll
from engine.inputs import make_task

FOUND = ("nn.LSTM(input_size=3, hidden_size=6, num_layers=2, bidirectional=True) at "
         "'encoder.lstm.', head 'fc' (2 outputs)")


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.lstm = nn.LSTM(3, 6, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(12, 2)


def model_bytes(seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    return save({k: v.contiguous() for k, v in Model().state_dict().items()})


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="weights_upload").set_value((name, data, "application/octet-stream"))
    return at.run()


def h_row(at: AppTest) -> np.ndarray:
    """h_t at the cursor, as the 'values at t' row under the views draws it."""
    spec = next(s for s in chart_specs(at) if any(tr.get("name") == "h_t" for tr in s["data"]))
    return np.asarray(next(tr["y"] for tr in spec["data"] if tr.get("name") == "h_t"), float)


def your_model_page() -> AppTest:
    at = ok(run_page(AppTest.from_file(APP, default_timeout=TIMEOUT), {"seq_len": "30"}))
    at.radio(key="weights_mode").set_value("your model").run()
    return at


def test_upload_shows_the_model_and_draws_its_gradient():
    at = your_model_page()
    h_init = h_row(at)
    ok(upload(at, "model.safetensors", model_bytes()))
    assert FOUND in " ".join(m.value for m in at.markdown)
    assert any("cannot live in a link" in c.value for c in at.caption)
    for name, value in (("hidden_size", 6), ("num_layers", 2), ("input_size", 3)):
        w = at.number_input(key=f"cfg_{name}")
        assert w.value == value and w.disabled, name
    assert at.selectbox(key="cfg_cell").value == "lstm" and at.selectbox(key="cfg_cell").disabled
    assert at.selectbox(key="cfg_init_hh").disabled and not at.number_input(key="cfg_seed").disabled
    config, w = config_from_weights(read_weights(model_bytes()), seq_len=30)
    x, _ = make_task(config)
    expected = unroll(config, inputs=x, weights=w).hidden[0, -1, 0]  # layer 0, forward, sample 0
    np.testing.assert_allclose(h_row(at), expected, rtol=1e-6, atol=1e-8)
    assert h_row(at).shape != h_init.shape or not np.allclose(h_row(at), h_init)
    assert any("zero" in i.value for i in at.info)  # noise targets are 1 wide, the head gives 2

    before = h_row(at)
    upload(at, "broken.pt", b"this is not a model")  # refused: the previous model stays
    assert "not a weights file" in plain(at.error) and "previous model" in plain(at.error)
    np.testing.assert_allclose(h_row(at), before)

    upload(at, "other.safetensors", model_bytes(seed=1))  # a new file replaces it
    assert not at.error and not np.allclose(h_row(at), before)


def test_code_running_pickle_is_refused_and_never_runs(tmp_path):
    target = tmp_path / "pwned.txt"

    class Payload:
        def __reduce__(self):
            return (open, (str(target), "w"))

    buf = io.BytesIO()
    torch.save({"weight_hh_l0": Payload()}, buf)
    at = your_model_page()
    upload(at, "evil.pt", buf.getvalue())
    assert "refused: its pickle would call code" in plain(at.error)
    assert not target.exists()
    raw = pickle.dumps({"w": Payload()}, protocol=2)
    upload(at, "evil2.pth", raw)
    assert "refused" in plain(at.error) and not target.exists()


def test_no_recurrent_module_and_wrong_task_width_are_messages():
    at = your_model_page()
    upload(at, "linear.safetensors", save({"fc.weight": torch.zeros(2, 3), "fc.bias": torch.zeros(2)}))
    assert "no recurrent module" in plain(at.error) and not at.exception
    ok(upload(at, "model.safetensors", model_bytes()))
    at.selectbox(key="cfg_task").set_value("sine").run()  # x_t of width 1, the model reads 3
    assert "input_size=3" in plain(at.error) and not at.exception


def test_initialise_mode_is_untouched():
    at = your_model_page()
    ok(upload(at, "model.safetensors", model_bytes()))
    at.radio(key="weights_mode").set_value("initialise").run()
    ok(at)
    assert not at.number_input(key="cfg_hidden_size").disabled


def test_config_export_records_the_file_and_reading_it_back_says_so():
    from dashboard.export.config_file import config_json, load_config_json
    from engine import Config

    config = Config(cell="lstm", input_size=3, hidden_size=6, num_layers=2, bidirectional=True)
    text = config_json(config, None, {"weights_file": "model.safetensors", "weights_sha256": "ab" * 32})
    loaded, _, warnings = load_config_json(text)
    assert loaded == config
    assert any("your model 'model.safetensors' (SHA-256 abababababab…)" in w for w in warnings)
    assert not load_config_json(config_json(config))[2]


def _train_then_explore():
    import streamlit as st

    from dashboard.screens import explore, train

    st.navigation([st.Page(train.page, title="Train", url_path="train", default=True),
                   st.Page(explore.page, title="Explore", url_path="explore")]).run()


def test_train_download_and_open_in_explore():
    """Train -> download -> Explore: each trained model's .safetensors holds its weights, and one
    click shows it on Explore as "your model", on its task's data."""
    query = {"train_task": "recall", "delay": "5", "hidden_size": "4", "batch": "4", "steps": "6",
             "snapshot_every": "0", "models": "rnn_tanh,lstm"}
    at = ok(run_page(AppTest.from_function(_train_then_explore, default_timeout=TIMEOUT), query))
    at.button(key="tr_run").click()
    ok(at.run())
    data = at.get("download_button")
    assert [d.proto.label for d in data if "safetensors" in d.proto.label] == ["Weights (.safetensors)"] * 2
    from dashboard.screens.train import RESULT

    lstm = at.session_state[RESULT]["results"][1]
    at.button(key="tr_weights_open_1").click()
    ok(at.run())
    assert ("nn.LSTM(input_size=1, hidden_size=4, num_layers=1) at '', head 'readout' (1 outputs)"
            in " ".join(m.value for m in at.markdown))
    assert at.selectbox(key="cfg_task").value == "recall" and at.number_input(key="cfg_seq_len").value == 6
    config, w = config_from_weights(lstm.weights, task="recall", delay=5, seq_len=6, loss="last",
                                    batch_size=4, seed=lstm.config.seed)
    x, y = make_task(config)
    np.testing.assert_allclose(h_row(at), unroll(config, inputs=x, targets=y, weights=w).hidden[0, -1, 0],
                               rtol=1e-6, atol=1e-8)
    from dashboard.ui.weights import safetensors_bytes

    saved = read_weights(safetensors_bytes(lstm.weights))  # what the download button holds
    assert set(saved) == set(lstm.weights)
    for k, v in lstm.weights.items():
        np.testing.assert_array_equal(saved[k], v)


def _compare_script():
    import streamlit as st

    from dashboard.screens import compare

    st.set_page_config(layout="wide")
    compare.page()


def test_compare_trained_vs_initial():
    """Compare: A = the held model, B = the same architecture initialised; same inputs."""
    from dashboard.figures.compare import summary_row
    from dashboard.ui.weights import HELD, read_model

    at = AppTest.from_function(_compare_script, default_timeout=TIMEOUT)
    at.session_state[HELD] = read_model(model_bytes(), "model.safetensors")
    ok(run_page(at, {"a.seq_len": "20"}))
    assert at.number_input(key="cmp_b_hidden_size").value != 6  # not pinned until asked
    at.toggle(key="cmp_weights_own").set_value(True).run()
    ok(at)
    assert "A = model.safetensors" in plain(at.markdown)
    assert "Trained vs initial" in plain(at.info) and "B is a copy of A" not in plain(at.info)
    table = at.dataframe[0].value
    config, w = config_from_weights(read_weights(model_bytes()), seq_len=20)
    x, _ = make_task(config)
    mine = summary_row(unroll(config, inputs=x, weights=w), dict(layer=0, direction=0, sample=0))
    key = "spectral radius of W_hh"
    assert table.loc[key, "A"] == mine[key] and table.loc[key, "B"] != mine[key]
    assert table.loc["cell", "A"] == table.loc["cell", "B"] == "lstm"  # B: the same architecture


def test_your_csv_as_inputs_and_targets():
    """A CSV with one column per input (then the targets) replaces the task's data; a CSV with
    the wrong number of columns is a message and the previous data stays."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(25, 5)).round(6)
    rows = ["x1,x2,x3,y1,y2"] + [",".join(map(str, r)) for r in a]
    at = your_model_page()
    ok(upload(at, "model.safetensors", model_bytes()))
    config, w = config_from_weights(read_weights(model_bytes()), seq_len=25, batch_size=1)
    csv = "\n".join(rows).encode()
    at.file_uploader(key="weights_data_upload").set_value(("mine.csv", csv, "text/csv"))
    ok(at.run())
    tr = unroll(config, inputs=a[:, None, :3], targets=a[:, None, 3:], weights=w)
    np.testing.assert_allclose(h_row(at), tr.hidden[0, -1, 0], rtol=1e-6, atol=1e-8)
    assert f"L = {tr.loss:.4g}" in plain(at.markdown)
    assert "mine.csv, 25 steps; x_t = x1, x2, x3; y_t = y1, y2" in plain(at.caption)
    assert at.number_input(key="cfg_seq_len").disabled and at.selectbox(key="cfg_task").disabled

    before = h_row(at)
    four = "\n".join(r.rsplit(",", 1)[0] for r in rows).encode()  # 4 columns: neither 3 nor 5
    at.file_uploader(key="weights_data_upload").set_value(("four.csv", four, "text/csv"))
    at.run()
    assert "4 numeric column(s)" in plain(at.error) and "expected 3 input columns, or 5" in plain(at.error)
    np.testing.assert_allclose(h_row(at), before)


def test_nan_weights_load_and_are_flagged_and_too_big_is_refused():
    import pytest

    from dashboard.ui.weights import MAX_MB, read_model

    torch.manual_seed(0)
    sd = Model().state_dict()
    sd["encoder.lstm.weight_hh_l0"][0, 0] = float("nan")
    at = your_model_page()
    upload(at, "nan.safetensors", save({k: v.contiguous() for k, v in sd.items()}))
    assert not at.exception and FOUND in " ".join(m.value for m in at.markdown)
    assert "Numerical trouble" in plain(at.error) and "NaN" in plain(at.error)
    with pytest.raises(ValueError, match=f"too big .at most {MAX_MB} MB"):
        read_model(bytes(MAX_MB * 1_000_000 + 1), "huge.safetensors")
