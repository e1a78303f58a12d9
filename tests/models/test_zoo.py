"""Every zoo model: forward/backward on each device, the factorization protocol, configs, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuro_igc.models import (
    MODELS,
    DecodingMLP,
    DigitsClassifier,
    EncodingConvNeXt,
    PerSubjectLinear,
    Ridge,
    build_model,
)



SMALL_NAMES = ["decoding_mlp", "digits_classifier", "encoding_convnext"]


def _ridge(device):
    x = torch.randn(40, 2, 3, 3)
    return Ridge(alphas=[0.1, 1.0], cv=2).fit(x, torch.randn(40, 4)), (2, 3, 3), {}


def _instance(name, device, small):
    if name == "ridge":
        return _ridge(device)
    kwargs, shape, extra = small[name]
    return build_model(name, seed=0, **kwargs), shape, extra


ALL = sorted(MODELS)


def test_registry_lists_every_model(small_models):
    assert set(MODELS) == {"decoding_mlp", "encoding_convnext", "ridge", "digits_classifier"}
    assert set(small_models) == set(SMALL_NAMES)


@pytest.mark.parametrize("name", ALL)
def test_forward_backward(name, device, small_models):
    model, shape, extra = _instance(name, device, small_models)
    model = model.to(device).train()
    extra = {k: v.to(device) if torch.is_tensor(v) else v for k, v in extra.items()}
    x = torch.randn(6, *shape, device=device, requires_grad=True)
    out = model(x, **extra)
    assert out.shape[0] == 6 and out.device.type == device
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    missing = {n for n, p in model.named_parameters() if p.requires_grad and p.grad is None}
    # only the readout of the subject that is not in the batch gets no gradient
    assert missing == ({"readout.weights.0", "readout.biases.0"} if name == "encoding_convnext" else set())


@pytest.mark.parametrize("name", ALL)
def test_protocol_reproduces_forward(name, small_models):
    model, shape, extra = _instance(name, "cpu", small_models)
    if name == "digits_classifier":
        model = build_model(name, output="logits", **small_models[name][0])
    model.eval()
    # in the parameters' dtype, as the attribution engine calls the layers (Ridge: float64)
    x = torch.randn(6, *shape, dtype=next(model.parameters()).dtype)
    with torch.no_grad():
        ref = model(x, **extra)
        found = 0
        if hasattr(model, "igc_readout"):
            readout = model.igc_readout
            assert isinstance(readout, (nn.Linear, PerSubjectLinear))
            h = model.forward_features(x, **extra)
            out = readout(h, **extra) if isinstance(readout, PerSubjectLinear) else readout(h)
            torch.testing.assert_close(out, ref, rtol=0, atol=0)
            found += 1
        if hasattr(model, "igc_input_linear"):
            lin = model.igc_input_linear
            z = lin(x.flatten(1), **extra) if isinstance(lin, PerSubjectLinear) else lin(x.flatten(1))
            torch.testing.assert_close(model.forward_from_input_linear(z, **extra), ref, rtol=0, atol=0)
            found += 1
    assert found >= 1


def test_readout_is_called_once_inside_forward_from_input_linear(small_models):
    """When a model declares both shortcuts, the engine reads the readout's input while running
    forward_from_input_linear: the readout must be called there exactly once."""
    both = []
    for name in ALL:
        model, shape, extra = _instance(name, "cpu", small_models)
        if not (hasattr(model, "igc_input_linear") and hasattr(model, "igc_readout")):
            continue
        both.append(name)
        model.eval()
        calls = []
        handle = model.igc_readout.register_forward_hook(lambda *a: calls.append(1))
        z = model.igc_input_linear(torch.randn(6, *shape).flatten(1), **extra)
        model.forward_from_input_linear(z, **extra)
        handle.remove()
        assert len(calls) == 1, name
    assert both == ["decoding_mlp"]


def test_protocol_declarations():
    assert isinstance(build_model("decoding_mlp", n_inputs=5).igc_input_linear, PerSubjectLinear)
    assert not hasattr(build_model("encoding_convnext", n_outputs=3, input_size=16, stem_width=4,
                                   widths=(8, 8), depth=1), "igc_input_linear")
    assert not hasattr(DigitsClassifier(output="log_softmax"), "igc_readout")
    assert isinstance(DigitsClassifier(output="logits").igc_readout, nn.Linear)


def test_digits_log_softmax_output_sums_to_one():
    model = DigitsClassifier().eval()
    torch.testing.assert_close(model(torch.randn(5, 8, 8)).exp().sum(1), torch.ones(5))


@pytest.mark.parametrize("name", SMALL_NAMES)
def test_config_round_trip(name, small_models):
    kwargs = small_models[name][0]
    model = build_model(name, seed=3, **kwargs)
    clone = build_model(model.config, seed=3)
    assert clone.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), clone.state_dict().items()):
        assert torch.equal(a, b), k
    other = build_model(model.config, seed=4)
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))


def test_build_model_seed_leaves_global_rng():
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    build_model("decoding_mlp", n_inputs=4, seed=0)
    torch.testing.assert_close(torch.rand(3), expected)


def test_paper_sizes():
    enc = EncodingConvNeXt(n_outputs=[100, 120], n_subjects=2)  # 64x64, 32-64-128-256-512
    assert enc.n_flat == 512 * 2 * 2
    assert len(enc.stages) == 4 and all(len(s) == 2 + 3 for s in enc.stages)
    rates = [b.drop_path.p for s in enc.stages for b in list(s)[2:]]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.5) and rates == sorted(rates)
    dec = DecodingMLP(n_inputs=300, n_subjects=8)
    widths = [m.out_features for m in dec.shared if isinstance(m, nn.Linear)]
    assert widths == [64, 32, 16, 8] and dec.readout.out_features == 2 and dec.readout.bias is not None
    assert all(m.bias is None for m in dec.shared if isinstance(m, nn.Linear))
    drops = [m.p for m in dec.modules() if isinstance(m, nn.Dropout)]
    assert drops == [0.25] * 5  # input, per-subject layer, after 64, 32, 16 (not after 8)


def test_initialisation_follows_the_paper():
    torch.manual_seed(0)
    dec = DecodingMLP(n_inputs=2000, n_subjects=2, hidden=500)
    w = dec.input_linear.weight_for(1)
    assert w.std().item() == pytest.approx((2 / 2000) ** 0.5, rel=0.05)  # Kaiming (Mish follows)
    out = dec.readout.weight
    assert out.std().item() == pytest.approx((2 / (8 + 2)) ** 0.5, rel=0.5)  # Xavier
    lin = nn.Linear(1000, 400)
    from neuro_igc.models import init_xavier_

    init_xavier_(lin)
    assert lin.weight.std().item() == pytest.approx((2 / 1400) ** 0.5, rel=0.05)
    assert torch.count_nonzero(lin.bias) == 0


def test_per_subject_input_sizes():
    model = DecodingMLP(n_inputs=[10, 14], n_subjects=2, hidden=8, widths=(4,)).eval()
    assert model(torch.randn(3, 10), subject=0).shape == (3, 2)
    assert model(torch.randn(3, 14), subject=1).shape == (3, 2)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 14\) for subject 1"):
        model(torch.randn(3, 10), subject=1)
    with pytest.raises(ValueError, match="different 'n_inputs' cannot share a batch"):
        model(torch.randn(2, 10), subject=torch.tensor([0, 1]))


def test_drop_path_is_off_in_eval_and_active_in_training():
    model = EncodingConvNeXt(4, input_size=8, stem_width=4, widths=(4,), depth=2, drop_path=0.9,
                             layer_scale=1.0, dropout=0.0)
    block = model.stages[0][-1]
    x = torch.randn(64, 4, 2, 2)
    block.eval()
    torch.testing.assert_close(block(x), block(x))
    block.train()
    torch.manual_seed(0)
    diff = (block(x) - x).flatten(1).abs().sum(1)
    assert (diff == 0).any() and (diff > 0).any()  # some samples dropped, some kept


def test_errors():
    with pytest.raises(ValueError, match="Invalid value for 'name': allowed are 'decoding_mlp'"):
        build_model("resnet")
    with pytest.raises(TypeError, match=r"Unknown argument\(s\) \['n_input'\] for model 'decoding_mlp'"):
        build_model("decoding_mlp", n_input=3)
    with pytest.raises(TypeError, match=r"needs the argument\(s\) \['n_inputs'\]"):
        build_model("decoding_mlp")
    with pytest.raises(ValueError, match="needs a 'name' key"):
        build_model({"n_inputs": 3})
    with pytest.raises(ValueError, match="Invalid value for 'input_size'.*multiple of 32"):
        EncodingConvNeXt(3, input_size=48)
    with pytest.raises(ValueError, match="Invalid value for 'activation'"):
        EncodingConvNeXt(3, activation="relu")
    with pytest.raises(ValueError, match="Invalid value for 'output'"):
        DigitsClassifier(output="softmax")
    with pytest.raises(ValueError, match="Invalid value for 'dropout'"):
        DecodingMLP(5, dropout=1.5)
    with pytest.raises(ValueError, match="Invalid value for 'n_inputs': expected one int or one size per subject"):
        DecodingMLP([5, 6, 7], n_subjects=2)
    with pytest.raises(ValueError, match=r"Invalid value for 'n_outputs\[1\]': must be >= 1; got 0"):
        EncodingConvNeXt([5, 0], n_subjects=2)
    mlp = DecodingMLP(5, n_subjects=2).eval()
    with pytest.raises(ValueError, match=r"Invalid value for 'subject': index 2 is outside 0..1"):
        mlp(torch.randn(3, 5), subject=2)
    with pytest.raises(ValueError, match=r"Invalid value for 'subject': index 3 is outside 0..1"):
        mlp(torch.randn(3, 5), subject=torch.tensor([0, 3, 1]))
    with pytest.raises(ValueError, match=r"expects x of shape \(n_samples, 5\)"):
        mlp(torch.randn(3, 6))
    enc = EncodingConvNeXt(3, input_size=8, stem_width=4, widths=(4,), depth=1).eval()
    with pytest.raises(ValueError, match=r"expects x of shape \(n_samples, 1, 8, 8\)"):
        enc(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"Invalid value for 'subject': index 1 is outside 0..0"):
        enc(torch.randn(2, 1, 8, 8), subject=1)
    with pytest.raises(ValueError, match=r"DigitsClassifier expects x of shape"):
        DigitsClassifier()(torch.randn(2, 28, 28))
