"""1/f images: spectrum slope, unit pixel variance, determinism, errors."""

import numpy as np
import pytest
import torch

from neuro_igc.benchmark import make_images, radial_amplitude_spectrum, spectral_slope
from neuro_igc.benchmark._images import spectrum_gain


def test_spectral_slope_is_minus_1_2():
    x = make_images(400, seed=1)
    assert spectral_slope(x) == pytest.approx(-1.2, abs=0.05)


@pytest.mark.parametrize("slope", [0.0, 2.0])
def test_other_slopes_are_recovered(slope):
    assert spectral_slope(make_images(200, size=32, slope=slope, seed=2)) == pytest.approx(-slope, abs=0.07)


def test_gain_matches_numpy_frequencies():
    f = np.fft.fftfreq(16)
    r = np.hypot(f[:, None], f[None, :])
    expected = np.zeros_like(r)
    expected[r > 0] = r[r > 0] ** -1.2
    np.testing.assert_allclose(spectrum_gain(16).numpy(), expected, rtol=1e-12)


def test_every_pixel_has_zero_mean_and_unit_variance():
    x = make_images(6000, size=32, seed=3).double()
    per_pixel_var = x.var(0).flatten()
    assert per_pixel_var.mean().item() == pytest.approx(1.0, abs=0.02)
    # each image has mean 0 exactly (no zero-frequency component)
    assert x.mean(dim=(1, 2, 3)).abs().max().item() < 1e-6
    # pixel correlations follow the power spectrum (Wiener-Khinchin): sum g^2 cos(2 pi f.d) / sum g^2
    g2 = spectrum_gain(32).numpy() ** 2
    f = np.fft.fftfreq(32)
    for dc in (1, 4, 16):
        expected = (g2 * np.cos(2 * np.pi * f[None, :] * dc)).sum() / g2.sum()
        measured = torch.corrcoef(torch.stack([x[:, 0, 16, 8], x[:, 0, 16, 8 + dc]]))[0, 1].item()
        assert measured == pytest.approx(expected, abs=0.03)


def test_seeded_generation_is_reproducible():
    a = make_images(1100, size=8, seed=5)  # two chunks
    assert torch.equal(a, make_images(1100, size=8, seed=5))
    assert not torch.equal(a, make_images(1100, size=8, seed=6))
    assert not torch.equal(a[:76], a[1024:1100])  # the two chunks use different draws


def test_radial_spectrum_is_decreasing():
    freq, amp = radial_amplitude_spectrum(make_images(50, seed=0))
    assert np.all(np.diff(freq) > 0)
    assert amp[0] > 10 * amp[-1]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n": 0}, "'n'"), ({"n": 2, "size": 2}, "'size'"), ({"n": 2, "slope": -1.0}, "'slope'")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_images(**kwargs)


def test_non_square_spectrum_error():
    with pytest.raises(ValueError, match="square images"):
        radial_amplitude_spectrum(np.zeros((2, 8, 6)))
