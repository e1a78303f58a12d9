"""Messages that name the problem: each case used to end in a misleading message (a checkpoint
"truncated or corrupt", torch's "[enforce fail at inline_container.cc]", "batch coupling",
a wrong 'baselines', label files of mismatched hemispheres named by shape only) or in a raw torch
traceback (the 'meta' device), or passed silently (integer targets taken as class labels)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from neuro_igc.errors import InputFileError, OutputFileError


class _Opaque:
    """A custom class: a checkpoint holding one is refused by torch.load(weights_only=True)."""


def test_a_checkpoint_holding_python_objects_is_not_called_corrupt(tmp_path):
    from neuro_igc.models import build_model, load_checkpoint

    model = build_model("decoding_mlp", n_inputs=4, n_outputs=1)
    path = tmp_path / "model.pt"
    torch.save({"model_state": model.state_dict(), "model_config": model.config, "extra": _Opaque()}, path)
    with pytest.raises(InputFileError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "pickled Python objects" in msg and "_Opaque" in msg and "weights_only=False" in msg
    assert "truncated" not in msg and "corrupt" not in msg and "download" not in msg.lower()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)")
def test_a_full_disk_during_a_checkpoint_save_says_so(tmp_path, monkeypatch):
    """torch.save into /dev/full gives torch's own message for a full disk."""
    from neuro_igc.models import _checkpoint, build_model

    real = torch.save
    monkeypatch.setattr(_checkpoint.torch, "save", lambda obj, f, **kw: real(obj, "/dev/full", **kw))
    model = build_model("decoding_mlp", n_inputs=64, n_outputs=8)
    path = tmp_path / "ckpt" / "model.pt"
    with pytest.raises(OutputFileError) as info:
        _checkpoint.save_checkpoint(path, model)
    msg = str(info.value)
    assert msg.startswith(f"Cannot write checkpoint {path}") and "the disk is full" in msg and "MiB free" in msg
    assert "inline_container" not in msg and isinstance(info.value, OSError)
    assert not list(path.parent.iterdir())  # nothing left, not even the temporary file


@pytest.mark.parametrize("overrides, words", [
    ({"attribution.n_samples": 1, "attribution.baselines": 1},
     ["'attribution.n_samples'", "needs at least 2; got 1"]),
    ({"attribution.n_samples": 4, "attribution.baselines": 8},
     ["'attribution.baselines'", "8 baselines are drawn from the attribution.n_samples=4 samples"]),
])
def test_too_few_samples_for_the_baselines_names_n_samples(overrides, words):
    from neuro_igc.pipeline import ConfigError, load_config

    with pytest.raises(ConfigError) as info:
        load_config("decoding_image_stats", overrides=overrides)
    for w in words:
        assert w in str(info.value)


def _data(n=40):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g, dtype=torch.float64)
    return x, x[:, 0] - x[:, 1]


class _FunctionalDropout(torch.nn.Module):
    """F.dropout without training=self.training: active even in eval mode (a common slip)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(6, 16).double(), torch.nn.Linear(16, 1).double()

    def forward(self, x):
        return self.b(torch.nn.functional.dropout(torch.relu(self.a(x)), 0.3))


class _Noisy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(6, 1).double()

    def forward(self, x):
        return self.lin(x) + 0.1 * torch.randn(x.shape[0], 1, dtype=x.dtype)


@pytest.mark.parametrize("model", [_FunctionalDropout, _Noisy])
def test_dropout_left_active_is_named_not_called_batch_coupling(model):
    from neuro_igc.attribution import igc

    x, y = _data()
    with pytest.raises(ValueError) as info:
        igc(model(), x, y, baselines=2, n_steps=2, progress=False)
    msg = str(info.value)
    assert "The model is not deterministic: two evaluations of the same inputs" in msg
    assert "Dropout left active" in msg and "couples" not in msg


def test_integer_targets_are_not_silently_class_labels():
    from neuro_igc.attribution import igc, igc_categorical

    x, _ = _data()
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()  # counts 0..2
    three = torch.nn.Linear(6, 3).double()
    with pytest.warns(UserWarning, match=r"'y' holds integers, taken as class labels of the model's 3 outputs"):
        res = igc(three, x, y, baselines=2, n_steps=2, progress=False, warn=False)
    assert res.settings["kind"] == "igc-categorical"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        igc_categorical(three, x, y, baselines=2, n_steps=2, progress=False, warn=False)
        one = torch.nn.Linear(6, 1).double()  # one output: the integers are numbers to correlate with
        a = igc(one, x, y, baselines=2, n_steps=2, progress=False, warn=False)
    b = igc(one, x, y.double(), baselines=2, n_steps=2, progress=False, warn=False)
    assert a.settings["kind"] == "igc"
    np.testing.assert_array_equal(a.attributions, b.attributions)


def _write_mgz(path: Path, values) -> None:
    nib.save(nib.MGHImage(np.asarray(values, dtype=np.int32).reshape(-1, 1, 1), np.eye(4)), path)


def test_mismatched_hemisphere_label_files_are_named(tmp_path):
    from neuro_igc.atlas import Atlas

    lh, rh = tmp_path / "lh.streams.mgz", tmp_path / "rh.streams.mgz"
    _write_mgz(lh, np.zeros(10242))
    _write_mgz(rh, np.zeros(163842))
    with pytest.raises(ValueError) as info:
        Atlas.from_mgz(lh, rh)
    msg = str(info.value)
    assert f"{lh} (lh) has 10242 vertices (fsaverage5)" in msg and f"{rh} (rh) has 163842 vertices (fsaverage)" in msg


def test_a_label_value_missing_from_the_table_is_named_not_a_new_roi(tmp_path):
    from neuro_igc.atlas import Atlas

    lh, rh = tmp_path / "lh.prf-visualrois.mgz", tmp_path / "rh.prf-visualrois.mgz"
    values = np.arange(10242) % 8
    values[:5] = 99
    _write_mgz(lh, values)
    _write_mgz(rh, np.arange(10242) % 8)
    with pytest.raises(ValueError) as info:
        Atlas.from_mgz(lh, rh)
    msg = str(info.value)
    assert "label value(s) 99 (5 features)" in msg and f"{lh} (lh)" in msg and "roi99" not in msg


def _meta_cases():
    from neuro_igc.attribution import igc
    from neuro_igc.models import fit
    from neuro_igc.prf import fit_prf

    x, y = _data(10)
    ds = torch.utils.data.TensorDataset(x.float(), y.float()[:, None])
    meta_ds = torch.utils.data.TensorDataset(x.float().to("meta"), y.float()[:, None])
    return {
        "igc-model": (lambda: igc(torch.nn.Linear(6, 1, device="meta").double(), x, y, progress=False), "'model'"),
        "igc-x": (lambda: igc(torch.nn.Linear(6, 1).double(), x.to("meta"), y, progress=False), "'x'"),
        "fit-model": (lambda: fit(torch.nn.Linear(6, 1, device="meta"), ds, epochs=1, progress=False), "'model'"),
        "fit-data": (lambda: fit(torch.nn.Linear(6, 1), meta_ds, epochs=1, progress=False), "'train.tensors[0]'"),
        "prf-maps": (lambda: fit_prf(torch.zeros(2, 8, 8, device="meta"), progress=False), "'maps'"),
    }


@pytest.mark.parametrize("case", ["igc-model", "igc-x", "fit-model", "fit-data", "prf-maps"])
def test_the_meta_device_is_named(case):
    call, name = _meta_cases()[case]
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert f"Invalid value for {name}" in msg and "'meta' device" in msg and "no values" in msg
