"""Explore's "Weights: initialise | your model": the uploader of a trained torch.nn RNN / LSTM / GRU
(.safetensors, .pt, .pth), the line saying what it found, and the knobs the file fixes. Thin:
reading and inferring are engine/weights.py (nothing in a file is ever run).

A file lives in the session, never in the link: the link holds the architecture the file fixed
(so it opens that architecture, initialised), and the config export records the file's name and
SHA-256. A file that cannot be used keeps the previous model and says what was wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from dashboard.safe import md
from dashboard.state import explore as S
from dashboard.ui.widgets import key
from engine.weights import Weights, config_from_weights, read_weights

MODES = ("initialise", "your model")
MODE_KEY = "weights_mode"  # the radio
UPLOAD_KEY = "weights_upload"  # the file uploader
HELD = "_own_model"  # session: the OwnModel in use (kept when a later file is refused)
SEEN = "_own_model_seen"  # session: the uploader's file_id last read
PROBLEM = "_own_model_problem"  # session: why the last file was refused
MAX_MB = 50
SUFFIXES = ["safetensors", "pt", "pth"]
ARCHITECTURE = ("cell", "input_size", "hidden_size", "num_layers", "bidirectional")
# What a file fixes: its architecture, the readout (a torch.nn head is linear) and every knob of
# the initialization the file replaces (the seed still draws the data; activation stays: the RNN's
# nonlinearity is not in its weights).
FIXED = frozenset(ARCHITECTURE + ("readout", "init_hh", "init_ih", "sigma", "spectral_radius",
                                  "gain", "forget_bias"))
DATA_KEY = "weights_data_upload"  # the CSV uploader of your data
DATA_HELD = "_own_data"  # session: (file name, SHA-256, x, y or None, caption) of the CSV in use
DATA_PROBLEM = "_own_data_problem"
DATA_SEEN = "_own_data_seen"
INPUT_KNOBS = frozenset(p.name for p in S.PARAMS if p.group == "input")
NOT_IN_LINK = ("A file cannot live in a link: the link in the address bar opens this architecture "
               "with initialised weights; upload the file again to see your model. The config "
               "export records its name and SHA-256.")


@dataclass(frozen=True)
class OwnModel:
    """An uploaded model: file name, SHA-256 of its bytes, what was found, the architecture
    (Config fields) and the weights under the engine's names."""

    name: str
    sha256: str
    found: str
    architecture: dict
    weights: Weights = field(repr=False, compare=False)


def read_model(data: bytes, name: str) -> OwnModel:
    """A file's bytes -> OwnModel, or a ValueError saying what is wrong (engine/weights.py's
    messages, and the page's caps on the sizes it can draw)."""
    if len(data) > MAX_MB * 1_000_000:
        raise ValueError(f"{name}: {len(data) / 1e6:.1f} MB is too big (at most {MAX_MB} MB)")
    if not name.lower().endswith(tuple("." + s for s in SUFFIXES)):
        raise ValueError(f"{name}: not a weights file (.safetensors, .pt or .pth)")
    try:
        config, w = config_from_weights(read_weights(data))
    except ValueError as e:  # the engine's message, about this file by its name
        raise ValueError(str(e).replace("read_weights: the file", name, 1)
                         .replace("config_from_weights:", f"{name}:", 1)) from None
    arch = {k: getattr(config, k) for k in ARCHITECTURE}
    for k in ("input_size", "hidden_size", "num_layers"):
        p = S.PARAM[k]
        if not p.lo <= arch[k] <= p.hi:
            raise ValueError(f"{name}: {w.found}: {k}={arch[k]} is above what this page draws "
                             f"(at most {int(p.hi)}); the Python API (engine.unroll) has no such cap")
    return OwnModel(name, hashlib.sha256(data).hexdigest(), w.found, arch, w)


def sidebar() -> None:
    """The weights choice and, for 'your model', the uploader and what it found. Call before the
    knobs are drawn: it pins the architecture knobs to the file's."""
    ss = st.session_state
    ss.setdefault(MODE_KEY, MODES[0])
    box = st.sidebar.container(border=True)
    box.radio("Weights", MODES, key=MODE_KEY, horizontal=True,
              help="'initialise': the knobs below draw the weights. 'your model': the weights of "
                   "a trained torch.nn RNN, LSTM or GRU (its state_dict), with its linear head.")
    if ss[MODE_KEY] != "your model":
        return
    up = box.file_uploader(f"Your model (.safetensors, .pt, .pth; at most {MAX_MB} MB)",
                           type=SUFFIXES, key=UPLOAD_KEY, max_upload_size=MAX_MB,
                           help="torch.save(model.state_dict(), 'model.pt') or safetensors' "
                                "save_file(model.state_dict(), 'model.safetensors'). Read "
                                "without running anything in the file.")
    if up is not None and up.file_id != ss.get(SEEN):
        ss[SEEN] = up.file_id
        try:
            ss[HELD], ss[PROBLEM] = read_model(up.getvalue(), up.name), None
            ss.pop(DATA_SEEN, None)  # a new model: your CSV is read again against it
            ss.pop(DATA_HELD, None)
        except ValueError as e:
            ss[PROBLEM] = str(e)
    if ss.get(PROBLEM):
        kept = " (the previous model is still shown)" if ss.get(HELD) else ""
        box.error(md(ss[PROBLEM] + kept), icon=":material/error:")
    model = ss.get(HELD)
    if model is None:
        box.caption("Upload a state_dict to see its gradient through time.")
        return
    box.markdown(f"**{md(model.name)}**: `{model.found}`")
    box.caption(NOT_IN_LINK)
    for name, value in model.architecture.items():
        ss[key(name)] = value
    ss[key("readout")] = "linear"
    data_ui(box, model)


def data_ui(box, model: OwnModel) -> None:
    """Your data: a CSV with one column per input (then, optionally, one per output), read
    instead of the task; a file that does not fit the model keeps the previous data and says why."""
    from dashboard import uploads as U
    from dashboard.ui.series import read

    ss = st.session_state
    up = box.file_uploader("Your data (optional CSV: one column per input, then targets)",
                           type=["csv", "txt"], key=DATA_KEY,
                           max_upload_size=U.MAX_BYTES // 1_000_000,
                           help=f"A header row; the first {model.architecture['input_size']} "
                                "numeric columns are x_t, any further ones the targets y_t (as "
                                "many as the model's outputs). Rows with a missing cell are "
                                "dropped. Without a file the task below makes the inputs.")
    if up is None:
        ss.pop(DATA_HELD, None)
        ss.pop(DATA_SEEN, None)
        ss.pop(DATA_PROBLEM, None)
        return
    if up.file_id != ss.get(DATA_SEEN):
        ss[DATA_SEEN] = up.file_id
        try:
            table, sha = read(up.getvalue(), up.name)
            x, y, caption = csv_data(table, model.architecture["input_size"],
                                     len(model.weights["readout.weight"]))
            ss[DATA_HELD], ss[DATA_PROBLEM] = (up.name, sha, x, y, caption), None
        except ValueError as e:  # UploadError is one
            ss[DATA_PROBLEM] = str(e)
    if ss.get(DATA_PROBLEM):
        box.error(md(ss[DATA_PROBLEM]), icon=":material/error:")
    held = ss.get(DATA_HELD)
    if held is not None:
        box.caption(md(held[4]))
        ss[key("seq_len")], ss[key("batch_size")] = held[2].shape[0], 1


def csv_data(table, input_size: int, outputs: int) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(x (T, 1, I), y (T, 1, O) or None, a caption) from a parsed CSV (dashboard/uploads.Table):
    the first I numeric columns are x_t, the next O the targets; rows with a missing cell are
    dropped. A ValueError says what does not fit."""
    names = list(table.columns)
    k = len(names)
    if k not in (input_size, input_size + outputs):
        raise ValueError(f"{table.name}: {k} numeric column(s) ({', '.join(names[:8])}); your "
                         f"model reads input_size={input_size} and gives {outputs} output(s): "
                         f"expected {input_size} input columns, or {input_size + outputs} with "
                         "the targets after them")
    a = np.stack([table.columns[n] for n in names], axis=1)  # (rows, k)
    keep = np.isfinite(a).all(axis=1)
    a = a[keep]
    cap = int(S.PARAM["seq_len"].hi)
    if not 2 <= len(a) <= cap:
        raise ValueError(f"{table.name}: {len(a)} complete rows; this page unrolls 2 to {cap} steps")
    x = a[:, None, :input_size]
    y = a[:, None, input_size:] if k > input_size else None
    dropped = int((~keep).sum())
    caption = (f"Your data: {table.name}, {len(a)} steps; x_t = {', '.join(names[:input_size])}"
               + (f"; y_t = {', '.join(names[input_size:])}" if y is not None else "; no targets")
               + (f"; {dropped} row(s) with a missing cell dropped" if dropped else "") + ".")
    return x, y, caption


def own_trace(config, model: OwnModel, heavy: tuple, series=None):
    """compute.own_trace for Explore: on your CSV when one is held, else on the task's data."""
    from dashboard.ui import compute

    held = st.session_state.get(DATA_HELD)
    if held is None:
        return compute.own_trace(config, model.sha256, model.weights, *heavy, series)
    return compute.own_trace(config, model.sha256, model.weights, *heavy, None, held[1],
                             (held[2], held[3]))


def current() -> OwnModel | None:
    """The uploaded model in use, or None (weights initialised by the knobs)."""
    ss = st.session_state
    return ss.get(HELD) if ss.get(MODE_KEY) == "your model" else None


def fixed() -> frozenset:
    """The knobs greyed out because the file fixes them (none when initialising)."""
    if current() is None:
        return frozenset()
    return FIXED | (INPUT_KNOBS if st.session_state.get(DATA_HELD) else frozenset())


def export_source(source: dict | None) -> dict | None:
    """The config export's record of where the data came from, plus the model's file."""
    model = current()
    if model is None:
        return source
    return {**(source or {}), "weights_file": model.name, "weights_sha256": model.sha256}


def trained_models_ui(results: list) -> None:
    """The Train page's trained models: each downloads as .safetensors (torch.nn names plus the
    head, 'readout.weight' / 'readout.bias') and opens in Explore as "your model" with one click,
    on its task's data, so a model trained here can be dissected."""
    st.markdown("**Trained models**: download the weights, or look inside one on Explore.")
    for i, r in enumerate(results):
        if not r.weights:
            continue
        name = f"unrolled_trained_{r.config.cell}_{i}_step{r.steps_done}.safetensors"
        c1, c2, c3 = st.columns([3, 2, 2])
        c1.markdown(f"{md(r.label)}: {r.steps_done} steps, final loss {r.final_loss:.4g}")
        c2.download_button("Weights (.safetensors)", lambda w=r.weights: safetensors_bytes(w),
                           name, "application/octet-stream", key=f"tr_weights_dl_{i}",
                           on_click="ignore", icon=":material/download:", width="stretch")
        linear = getattr(r, "readout", "linear") == "linear"
        if c3.button("Open in Explore", key=f"tr_weights_open_{i}", icon=":material/search:",
                     width="stretch", disabled=not linear,
                     help="Explore's 'your model' with these weights, on the task's data."
                     if linear else "Explore reads a linear head; this model has the attention "
                     "readout (its download holds it under attention.* and readout.*)."):
            open_in_explore(safetensors_bytes(r.weights), name, r.config)


def safetensors_bytes(weights: dict) -> bytes:
    """Weights (name -> array) as a .safetensors file's bytes."""
    from safetensors.numpy import save

    return save({k: np.ascontiguousarray(v) for k, v in weights.items()})


def open_in_explore(data: bytes, name: str, config) -> None:
    """Hold a trained model as Explore's "your model", with its config's task, and go there."""
    from dashboard.screens import explore
    from dashboard.state.schema import View

    model = read_model(data, name)
    ss = st.session_state
    ss[HELD], ss[PROBLEM], ss[MODE_KEY] = model, None, "your model"
    ss.pop(SEEN, None)
    ss["_explore_last"] = (config.replace(dtype="float64", readout="linear"), View(view="gradient"))
    st.switch_page(st.Page(explore.page, title="Explore", icon=":material/search:", url_path="explore",
                           default=True))


COMPARE_KEY = "cmp_weights_own"  # Compare's toggle: A = your model, B = it initialised


def compare_sidebar(a_key, b_key, own: tuple) -> None:
    """Compare's "trained vs initial": with a model held (uploaded on Explore, or opened from
    Train), a toggle makes A that model and B the same architecture initialised by B's knobs,
    on the same inputs. Pins both sides' architecture knobs; call before they are drawn."""
    ss = st.session_state
    model = ss.get(HELD)
    if model is None:
        return
    box = st.sidebar.container(border=True)
    box.toggle("Trained vs initial: A = your model", key=COMPARE_KEY,
               help="A: the weights of your file (Explore's 'your model'). B: the same "
                    "architecture at its initialization (B's knobs: any scheme), on the same "
                    "inputs: how training changed the gradient's reach.")
    if not ss.get(COMPARE_KEY):
        return
    box.markdown(f"**A = {md(model.name)}**: `{model.found}`")
    box.caption("B = the same architecture, initialised by B's knobs. " + NOT_IN_LINK)
    for name, value in {**model.architecture, "readout": "linear"}.items():
        ss[a_key(name)] = value
        if name in own:
            ss[b_key(name)] = value


def compare_model() -> OwnModel | None:
    """Compare's A model when "trained vs initial" is on, else None."""
    ss = st.session_state
    return ss.get(HELD) if ss.get(COMPARE_KEY) else None
