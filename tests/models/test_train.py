"""Training: a planted relation is learned, per-subject routing, checkpoints, resume, ensembles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import r2_score as sk_r2
from torch.utils.data import Dataset, TensorDataset

from neuro_igc.models import (
    DecodingMLP,
    EncodingConvNeXt,
    build_model,
    evaluate,
    fit,
    fit_ensemble,
    load_checkpoint,
    predict,
    read_checkpoint,
)


class SubjectDataset(Dataset):
    """Items (x, y, subject) with outputs whose size depends on the subject, as the data layer's."""

    def __init__(self, xs, ys):
        self.items = [(x, y, torch.tensor(s)) for s, (xx, yy) in enumerate(zip(xs, ys)) for x, y in zip(xx, yy)]
        self.subject_index = np.array([int(it[2]) for it in self.items])
        self.seen = []

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        self.seen.append(int(i))
        return self.items[i]


def _planted(n=400, d=20, n_subjects=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, 2, generator=g)
    s = torch.arange(n) % n_subjects
    y = x @ w
    y = (y - y.mean(0)) / y.std(0)
    return TensorDataset(x, y, s)


def test_planted_linear_relation_is_learned():
    data = _planted(n=600, seed=0).tensors
    val = TensorDataset(*(t[:200] for t in data))
    train = TensorDataset(*(t[200:] for t in data))
    model = build_model("decoding_mlp", n_inputs=20, n_subjects=2, seed=0)
    res = fit(model, train, val, epochs=25, batch_size=32, lr=3e-3, progress=False, device="cpu")
    assert res.score > 0.9, res.history[-1]
    assert np.all(res.metrics["r"] > 0.9)
    assert len(res.history) == 25 and res.history[-1]["val_score"] == res.score


def test_only_the_batch_subjects_weights_change():
    x = torch.randn(16, 10)
    ds = TensorDataset(x, torch.randn(16, 2), torch.full((16,), 1))
    model = DecodingMLP(10, n_subjects=3, hidden=8, widths=(4,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit(model, ds, epochs=1, batch_size=16, lr=1e-2, progress=False, device="cpu")
    after = model.state_dict()
    for s in range(3):
        changed = not torch.equal(before[f"input_linear.weights.{s}"], after[f"input_linear.weights.{s}"])
        assert changed == (s == 1)
        changed = not torch.equal(before[f"input_norm.norms.{s}.weight"], after[f"input_norm.norms.{s}.weight"])
        assert changed == (s == 1)
        moved = not torch.equal(before[f"input_norm.norms.{s}.running_mean"], after[f"input_norm.norms.{s}.running_mean"])
        assert moved == (s == 1)
    assert not torch.equal(before["readout.weight"], after["readout.weight"])  # shared layers train


def test_grouped_batches_for_subject_specific_outputs():
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(12, 1, 8, 8, generator=g), torch.randn(10, 1, 8, 8, generator=g)]
    ys = [torch.randn(12, 3, generator=g), torch.randn(10, 5, generator=g)]
    ds = SubjectDataset(xs, ys)
    model = EncodingConvNeXt([3, 5], n_subjects=2, input_size=8, stem_width=4, widths=(4,), depth=1, hidden=8)
    before = [w.clone() for w in model.readout.weights]
    fit(model, ds, epochs=1, batch_size=4, progress=False, device="cpu")
    assert all(not torch.equal(b, w) for b, w in zip(before, model.readout.weights))
    res = evaluate(model, ds)
    assert set(res["subjects"]) == {0, 1} and res["r"].shape == (8,)
    assert res["subjects"][1]["r"].shape == (5,) and res["n_samples"] == 22
    out = predict(model, ds)
    idx, pred = out[1]
    np.testing.assert_array_equal(idx, np.arange(12, 22))
    with torch.no_grad():
        ref = model(torch.stack([ds[i][0] for i in idx]), subject=1)
    np.testing.assert_allclose(pred, ref.double().numpy(), rtol=1e-6, atol=1e-6)


def test_evaluate_matches_scipy_and_sklearn():
    ds = _planted(n=50)
    model = DecodingMLP(20, n_subjects=2, hidden=8, widths=(4,)).eval()
    res = evaluate(model, ds, batch_size=7, group_by_subject=False)
    with torch.no_grad():
        pred = model(ds.tensors[0], subject=ds.tensors[2]).double().numpy()
    y = ds.tensors[1].double().numpy()
    np.testing.assert_allclose(res["r"], [pearsonr(pred[:, k], y[:, k])[0] for k in range(2)], rtol=1e-6)
    np.testing.assert_allclose(res["r2"], sk_r2(y, pred, multioutput="raw_values"), rtol=1e-6)
    assert res["loss"] == pytest.approx(((pred - y) ** 2).mean(), rel=1e-6)
    np.testing.assert_allclose(predict(model, ds, group_by_subject=False), pred, rtol=1e-6)
    # per-subject batches give the same pooled scores, plus a breakdown per subject
    grouped = evaluate(model, ds, batch_size=7)
    np.testing.assert_allclose(grouped["r"], res["r"], rtol=1e-6)
    s = ds.tensors[2].numpy()
    for k in (0, 1):
        np.testing.assert_allclose(grouped["subjects"][k]["r2"], sk_r2(y[s == k], pred[s == k], multioutput="raw_values"),
                                   rtol=1e-6)


def test_checkpoint_round_trip(tmp_path):
    ds = _planted(n=64)
    model = build_model("decoding_mlp", n_inputs=20, n_subjects=2, hidden=8, widths=(4,), seed=0)
    res = fit(model, ds, ds, epochs=2, progress=False, checkpoint=tmp_path / "m.pt", device="cpu")
    clone = load_checkpoint(tmp_path / "m.pt")
    assert clone.config == model.config and not clone.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, clone.state_dict()[k]), k
    x = ds.tensors[0][:5]
    torch.testing.assert_close(clone(x, subject=1), model(x, subject=1), rtol=0, atol=0)
    assert clone.checkpoint_info_["epoch"] == 2
    assert clone.checkpoint_info_["history"] == res.history
    state = read_checkpoint(tmp_path / "m.pt")
    assert {"optimizer", "scheduler", "rng", "metrics", "fit_args"} <= set(state)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary file


@pytest.mark.parametrize("name", ["decoding_mlp", "encoding_convnext"])
def test_resume_equals_uninterrupted_run(tmp_path, name, small_models):
    kwargs, shape, _ = small_models[name]
    g = torch.Generator().manual_seed(1)
    n = 40
    x = torch.randn(n, *shape, generator=g)
    n_out = 2 if name == "decoding_mlp" else 7
    ds = TensorDataset(x, torch.randn(n, n_out, generator=g), torch.arange(n) % 2)
    opts = dict(batch_size=8, lr=1e-2, seed=5, progress=False, device="cpu", patience=0)
    full_res = fit(build_model(name, seed=0, **kwargs), ds, ds, epochs=4, **opts)
    full = full_res.model
    ckpt = tmp_path / "run.pt"
    fit(build_model(name, seed=0, **kwargs), ds, ds, epochs=2, checkpoint=ckpt, **opts)
    assert read_checkpoint(ckpt)["epoch"] == 2
    res = fit(build_model(name, seed=9, **kwargs), ds, ds, epochs=4, checkpoint=ckpt, resume=True, **opts)
    for k, v in full.state_dict().items():
        assert torch.equal(v, res.model.state_dict()[k]), k
    assert res.history == full_res.history  # losses, scores and learning rates (scheduler state)
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]


def test_ensemble_keeps_best_by_validation_score(tmp_path):
    ds = _planted(n=120)
    config = dict(name="decoding_mlp", n_inputs=20, n_subjects=2, hidden=8, widths=(4,))
    res = fit_ensemble(config, ds, ds, n_models=3, keep=2, epochs=2, progress=False, device="cpu",
                       checkpoint_dir=tmp_path)
    assert res.scores.shape == (3,) and len(res.models) == 2
    assert list(res.selected) == list(np.argsort(-res.scores)[:2])
    for model, i in zip(res.models, res.selected):
        assert evaluate(model, ds)["score"] == pytest.approx(res.scores[i], rel=1e-6)
    assert len(list(tmp_path.glob("member_*.pt"))) == 3
    ens = res.ensemble()
    x, s = ds.tensors[0][:4], ds.tensors[2][:4]
    with torch.no_grad():
        torch.testing.assert_close(ens(x, subject=s), (res.models[0](x, subject=s) + res.models[1](x, subject=s)) / 2)


def test_digits_classifier_learns_offline_digits():
    from neuro_igc.models import load_digits_datasets

    train, val = load_digits_datasets(seed=0)
    model = build_model("digits_classifier", seed=0)
    res = fit(model, train, val, loss="nll", epochs=4, batch_size=64, lr=3e-3, progress=False, device="cpu")
    assert res.metrics["accuracy"] > 0.85
    assert res.score == res.metrics["accuracy"]


def test_fit_on_device(device):
    ds = _planted(n=32)
    model = build_model("decoding_mlp", n_inputs=20, n_subjects=2, hidden=8, widths=(4,), seed=0)
    res = fit(model, ds, ds, epochs=1, progress=False, device=device)
    assert next(res.model.parameters()).device.type == device and np.isfinite(res.score)


def test_errors(tmp_path):
    ds = _planted(n=16)
    model = DecodingMLP(20, n_subjects=2, hidden=8, widths=(4,))
    with pytest.raises(ValueError, match="Invalid value for 'loss': allowed are 'mse', 'nll', 'cross_entropy'"):
        fit(model, ds, loss="l1", progress=False)
    with pytest.raises(ValueError, match="resume=True needs a 'checkpoint'"):
        fit(model, ds, resume=True, progress=False)
    with pytest.raises(ValueError, match="Invalid value for 'lr'"):
        fit(model, ds, lr=0, progress=False)
    with pytest.raises(ValueError, match="Invalid value for 'group_by_subject'"):
        fit(model, ds, group_by_subject="yes", progress=False)
    with pytest.raises(ValueError, match=r"output has shape \(\d+, 2\) but the targets have \(\d+, 3\)"):
        fit(model, TensorDataset(torch.randn(8, 20), torch.randn(8, 3)), progress=False, device="cpu")
    with pytest.raises(ValueError, match=r"index 2 is outside 0..1"):
        fit(model, TensorDataset(torch.randn(8, 20), torch.randn(8, 2), torch.full((8,), 2)), progress=False,
            device="cpu")
    digits = build_model("digits_classifier")
    with pytest.raises(ValueError, match="takes no 'subject'"):
        fit(digits, TensorDataset(torch.randn(8, 8, 8), torch.zeros(8).long(), torch.ones(8).long()),
            loss="nll", progress=False, device="cpu")
    with pytest.raises(ValueError, match="no trainable parameters"):
        from neuro_igc.models import Ridge

        fit(Ridge(alphas=1.0).fit(torch.randn(8, 20), torch.randn(8, 2)), ds, progress=False)
    ckpt = tmp_path / "a.pt"
    fit(model, ds, epochs=1, checkpoint=ckpt, progress=False, device="cpu")
    other = DecodingMLP(20, n_subjects=2, hidden=16, widths=(4,))
    with pytest.raises(ValueError, match="Cannot resume from .* model config"):
        fit(other, ds, epochs=2, checkpoint=ckpt, resume=True, progress=False, device="cpu")
    with pytest.raises(FileNotFoundError, match="Cannot read checkpoint .*missing.pt: no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="Cannot read checkpoint .*junk.pt: the file is truncated or corrupt"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="needs 'val' data"):
        fit_ensemble("decoding_mlp", ds, None)
    with pytest.raises(ValueError, match="Invalid value for 'keep'"):
        fit_ensemble("decoding_mlp", ds, ds, n_models=2, keep=3)


# -- one settings type ---------------------------------------------------------------------------
def _tiny_regression(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(48, 6, generator=g)
    return TensorDataset(x, x[:, :2].clone())


def test_settings_object_and_keywords_train_the_same_model():
    from neuro_igc.models import TrainingSettings

    ds = _tiny_regression()
    a = fit(build_model("decoding_mlp", n_inputs=6, n_outputs=2, seed=0), ds, ds, epochs=2, lr=3e-3, seed=1,
            progress=False, device="cpu")
    st = TrainingSettings(epochs=2, lr=3e-3, seed=1)
    b = fit(build_model("decoding_mlp", n_inputs=6, n_outputs=2, seed=0), ds, ds, settings=st, progress=False,
            device="cpu")
    assert a.history == b.history
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    # a keyword overrides the settings object
    c = fit(build_model("decoding_mlp", n_inputs=6, n_outputs=2, seed=0), ds, ds, settings=st, epochs=1,
            progress=False, device="cpu")
    assert len(c.history) == 1 and c.history[0] == a.history[0]


def test_training_settings_are_checked_when_built():
    from neuro_igc.models import TrainingSettings

    with pytest.raises(ValueError, match=r"Invalid value for 'patience': must be >= 0; got -1"):
        TrainingSettings(patience=-1)
    with pytest.raises(ValueError, match=r"Invalid value for 'factor': must be in \(0, 1\); got 1"):
        TrainingSettings().replace(factor=1)
    with pytest.raises(TypeError, match=r"fit\(\) got an unexpected keyword argument 'epoch'; did you mean 'epochs'"):
        fit(build_model("decoding_mlp", n_inputs=6, n_outputs=2), _tiny_regression(), epoch=2)
    with pytest.raises(TypeError, match=r"Invalid value for 'settings': expected a TrainingSettings; got \{"):
        fit(build_model("decoding_mlp", n_inputs=6, n_outputs=2), _tiny_regression(), settings={"epochs": 2})
