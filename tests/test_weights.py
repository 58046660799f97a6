"""Your own model (engine/weights.py): torch.nn RNN/LSTM/GRU state_dicts, saved as .safetensors and
with torch.save, read back, turned into a Config and unrolled: equal to torch.nn's forward and
autograd on the same data. Bad files are refused with a message, and nothing in them runs."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save
from torch import nn

from engine import config_from_weights, read_weights, unroll
from engine.weights import NO_HEAD_NOTE

TOL = dict(rtol=1e-9, atol=1e-11)
RNN = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Encoder(nn.Module):  # prefix "encoder.lstm.", head "fc"
    def __init__(self, rnn, out):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.lstm = rnn
        self.embed_norm = nn.LayerNorm(rnn.input_size)  # another module, not a head: wrong width
        self.fc = nn.Linear(rnn.hidden_size * (2 if rnn.bidirectional else 1), out)

    def parts(self):
        return self.encoder.lstm, self.fc


class Listed(nn.Module):  # prefix "model.0.", head "model.1"
    def __init__(self, rnn, out):
        super().__init__()
        self.model = nn.ModuleList([rnn, nn.Linear(rnn.hidden_size * (2 if rnn.bidirectional else 1), out)])

    def parts(self):
        return self.model[0], self.model[1]


class Bare(nn.Module):  # no prefix, no head: the loss is on o_t itself
    def __init__(self, rnn, out):
        super().__init__()
        self.rnn = rnn

    def state_dict(self, *a, **k):
        return self.rnn.state_dict()

    def parts(self):
        return self.rnn, None


def _save(sd: dict, how: str) -> bytes:
    if how == "safetensors":
        return st_save({k: v.contiguous() for k, v in sd.items()})
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue()


CASES = [  # cell, layers, bidirectional, bias, container, format
    ("rnn", 1, False, True, Encoder, "safetensors"),
    ("rnn", 2, True, False, Listed, "pt"),
    ("rnn", 3, False, True, Bare, "pt"),
    ("lstm", 1, True, True, Encoder, "pt"),
    ("lstm", 2, False, False, Bare, "safetensors"),
    ("lstm", 3, True, True, Listed, "safetensors"),
    ("gru", 1, False, False, Listed, "pt"),
    ("gru", 2, True, True, Bare, "pt"),
    ("gru", 3, True, False, Encoder, "safetensors"),
    ("gru", 1, True, True, Encoder, "pt"),
]


@pytest.mark.parametrize("cell,layers,bidi,bias,container,fmt", CASES,
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_matches_torch_nn(cell, layers, bidi, bias, container, fmt, tmp_path):
    torch.manual_seed(layers * 7 + bidi)
    I, H, O, T, B = 3, 5, 2, 7, 3
    rnn = RNN[cell](I, H, num_layers=layers, bidirectional=bidi, bias=bias).double()
    model = container(rnn, O).double()
    path = tmp_path / f"model.{'safetensors' if fmt == 'safetensors' else 'pt'}"
    path.write_bytes(_save(model.state_dict(), fmt))

    config, w = config_from_weights(read_weights(path), seq_len=T, batch_size=B)
    assert (config.cell, config.input_size, config.hidden_size, config.num_layers,
            config.bidirectional) == (cell, I, H, layers, bidi)
    x = torch.randn(T, B, I, dtype=torch.float64)
    mod, head = model.parts()
    out, _ = mod(x)
    out.retain_grad()
    y_hat = out if head is None else head(out)
    y = torch.randn_like(y_hat)
    loss = ((y_hat - y) ** 2).sum() / B  # the engine's "sum" loss: sum_t mean_b |y_hat_t - y_t|^2
    loss.backward()
    tr = unroll(config, inputs=x, targets=y.detach(), weights=w)

    np.testing.assert_allclose(tr.outputs, y_hat.detach().numpy(), **TOL)
    assert tr.loss == pytest.approx(loss.item(), rel=1e-10)
    D = 2 if bidi else 1
    top = tr.hidden[(layers - 1) * D:]  # (D, T, B, H) -> (T, B, D*H)
    np.testing.assert_allclose(np.concatenate(list(top), axis=-1), out.detach().numpy(), **TOL)
    np.testing.assert_allclose(tr.grad_direct, out.grad.numpy(), **TOL)  # dL/do_t, direct part
    assert np.abs(out.grad.numpy()).max() > 1e-3  # not trivially zero
    for name, p in mod.named_parameters():
        np.testing.assert_allclose(tr.weight_grad[name], p.grad.numpy(), **TOL, err_msg=name)
    if head is None:
        assert NO_HEAD_NOTE in tr.notes and tr.targets.shape[-1] == D * H
    else:
        np.testing.assert_allclose(tr.weight_grad["readout.weight"], head.weight.grad.numpy(), **TOL)
        np.testing.assert_allclose(tr.weight_grad["readout.bias"], head.bias.grad.numpy(), **TOL)
        assert NO_HEAD_NOTE not in tr.notes
    if not bias:  # bias=False: zero biases, and their names are not in torch's state_dict
        assert not any("bias" in n for n, _ in mod.named_parameters())
        assert not w["bias_ih_l0"].any()


def test_found_line_and_defaults():
    rnn = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    config, w = config_from_weights(read_weights(_save(Encoder(rnn, 3).state_dict(), "safetensors")))
    assert w.found == ("nn.LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=True) "
                       "at 'encoder.lstm.', head 'fc' (3 outputs)")
    x = np.random.default_rng(0).normal(size=(6, 1, 3))
    tr = unroll(config, inputs=x, weights=w)  # targets default to zeros of the head's width
    assert tr.targets.shape == (6, 1, 3) and not tr.targets.any()
    c2, _ = config_from_weights(read_weights(_save(nn.RNN(2, 3).state_dict(), "pt")))
    assert c2.activation == "tanh"  # cannot be read from weights
    c3, _ = config_from_weights(read_weights(_save(nn.RNN(2, 3).state_dict(), "pt")), activation="relu")
    assert c3.activation == "relu"


def test_relu_rnn_override_matches_torch():
    torch.manual_seed(1)
    rnn = nn.RNN(2, 4, nonlinearity="relu").double()
    config, w = config_from_weights(read_weights(_save(rnn.state_dict(), "pt")), activation="relu")
    x = torch.randn(9, 1, 2, dtype=torch.float64)
    out, _ = rnn(x)
    np.testing.assert_allclose(unroll(config, inputs=x, weights=w).outputs, out.detach().numpy(), **TOL)


def test_checkpoint_dict_and_head_choice():
    model = Encoder(nn.GRU(2, 3), 2)
    ckpt = {"model": model.state_dict(), "epoch": 4, "optimizer": {"lr": 0.1}}
    _, w = config_from_weights(read_weights(_save(ckpt, "pt")))
    assert "at 'model.encoder.lstm.', head 'model.fc'" in w.found
    sd = {**model.state_dict(), "out.weight": torch.zeros(5, 3), "out.bias": torch.zeros(5)}
    with pytest.raises(ValueError, match="several linear heads fit.*head="):
        config_from_weights(sd)
    _, w = config_from_weights(sd, head="out")
    assert w["readout.weight"].shape == (5, 3)
    _, w = config_from_weights(sd, head=None)
    assert "no head" in w.found


def test_several_recurrent_modules_need_prefix():
    sd = {**{f"enc.{k}": v for k, v in nn.LSTM(2, 3).state_dict().items()},
          **{f"dec.{k}": v for k, v in nn.GRU(3, 4).state_dict().items()}}
    with pytest.raises(ValueError, match=r"several recurrent modules, at 'dec\.', 'enc\.'.*prefix="):
        config_from_weights(sd)
    assert config_from_weights(sd, prefix="dec.")[0].cell == "gru"
    with pytest.raises(ValueError, match="no recurrent module at prefix 'x.'"):
        config_from_weights(sd, prefix="x.")


@pytest.mark.parametrize("sd,message", [
    ({"fc.weight": np.zeros((2, 3)), "fc.bias": np.zeros(2)}, "no recurrent module"),
    (nn.LSTM(2, 4, proj_size=2).state_dict(), "weight_hr_l0 is an LSTM projection"),
    ({**nn.GRU(2, 4, num_layers=2).state_dict(), "weight_hh_l1": torch.zeros(12, 5)},
     r"weight_hh_l1 has shape \(12, 5\), expected \(12, 4\)"),
    ({"weight_hh_l0": np.zeros((10, 5)), "weight_ih_l0": np.zeros((10, 2))}, "expected .H, H., .3H, H."),
    ({k: v for k, v in nn.RNN(2, 3, num_layers=2).state_dict().items() if k != "weight_ih_l1"},
     "weight_ih_l1 is missing"),
])
def test_bad_state_dicts(sd, message):
    with pytest.raises(ValueError, match=message):
        config_from_weights(sd)


def test_overrides_cannot_change_architecture():
    with pytest.raises(ValueError, match="architecture comes from the weights"):
        config_from_weights(nn.LSTM(2, 3).state_dict(), hidden_size=8)


class Payload:
    """A pickle that creates a file when unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_with_code_is_refused_and_never_runs(tmp_path):
    proof = tmp_path / "proof.txt"
    pickle.loads(pickle.dumps(Payload(proof))).close()  # the payload works when unpickled...
    assert proof.exists()
    target = tmp_path / "pwned.txt"
    raw = pickle.dumps({"weight_hh_l0": Payload(target)}, protocol=2)
    buf = io.BytesIO()
    torch.save({"weight_hh_l0": Payload(target)}, buf)
    for data in (raw, buf.getvalue()):
        for source in (data, tmp_path / "model.pt"):
            (tmp_path / "model.pt").write_bytes(data)
            with pytest.raises(ValueError, match="refused: its pickle would call code"):
                read_weights(source)
            assert not target.exists()  # ...but reading it as weights never ran it


def test_legacy_torch_save_reads():
    buf = io.BytesIO()
    torch.save(nn.GRU(2, 3).state_dict(), buf, _use_new_zipfile_serialization=False)
    assert config_from_weights(read_weights(buf.getvalue()))[0].cell == "gru"


def test_whole_pickled_module_is_refused():
    buf = io.BytesIO()
    torch.save(nn.GRU(2, 3), buf)
    with pytest.raises(ValueError, match=r"save model\.state_dict\(\)"):
        read_weights(buf.getvalue())


def test_bad_files(tmp_path):
    good_st = _save(nn.GRU(2, 3).state_dict(), "safetensors")
    good_pt = _save(nn.GRU(2, 3).state_dict(), "pt")
    (tmp_path / "w.npz").write_bytes(good_st)
    cases = [
        (tmp_path / "w.npz", "not a weights file: expected one of .safetensors, .pt, .pth"),
        (tmp_path / "missing.pt", "cannot read 'missing.pt'"),
        (b"", "is empty"),
        (b"hello, world: a text file", "not a weights file"),
        (good_st[: len(good_st) // 2], "truncated"),
        (good_st[:40], "truncated"),
        (good_pt[: len(good_pt) // 2], "truncated or damaged"),
        (_save([torch.zeros(2)], "pt"), "holds a list, not a state_dict"),
        (_save(torch.zeros(2), "pt"), "holds a single tensor"),
        (_save({}, "safetensors"), "holds no tensors"),
        (3.5, "expected a path or bytes"),
        (_zipped(good_pt), "has compressed members"),
    ]
    for source, message in cases:
        with pytest.raises(ValueError, match=message):
            read_weights(source)


def _zipped(data: bytes) -> bytes:
    """The same archive with every member deflated (a torch.save never is)."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return out.getvalue()


def test_read_dtypes_and_nan_flags():
    sd = nn.RNN(2, 3).state_dict()
    sd["weight_hh_l0"] = torch.full((3, 3), float("nan"))
    w = read_weights(_save({k: v.to(torch.bfloat16) for k, v in sd.items()}, "safetensors"))
    assert all(v.dtype == np.float64 for v in w.values())
    config, ew = config_from_weights(w)
    tr = unroll(config, inputs=np.ones((5, 1, 2)), weights=ew)  # loads; flagged, not raised
    assert tr.flags["hidden"]["nan"] is not None
