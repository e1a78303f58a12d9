"""1/f images: the authors' gain (zero frequency included), unit pixel variance, DC share."""

import numpy as np
import pytest
import torch

from neuro_igc.benchmark import make_images, radial_amplitude_spectrum, spectral_slope
from neuro_igc.benchmark._images import spectrum_gain


def _numpy_gain(size, slope=1.2):
    f = np.fft.fftfreq(size)
    r = np.hypot(f[:, None], f[None, :])
    r[0, 0] = 0.5 * f[1]  # half the lowest non-zero frequency
    g = r**-slope
    return g / np.sqrt((g**2).mean())


def test_gain_matches_an_independent_numpy_construction():
    for size in (16, 64):
        np.testing.assert_allclose(spectrum_gain(size).numpy(), _numpy_gain(size), rtol=1e-12)
    assert spectrum_gain(64)[0, 0] > spectrum_gain(64)[0, 1]  # the DC bin carries the largest gain


def test_dc_share_of_the_pixel_variance_is_about_a_quarter():
    # analytic: with the orthonormal inverse FFT the DC term of an image is z_00 * g_00 / N, so
    # it carries g_00**2 / N**2 of the (unit) pixel variance; measured on the image means
    g = _numpy_gain(64)
    share = g[0, 0] ** 2 / 64**2
    assert share == pytest.approx(0.25, abs=0.02)
    x = make_images(4000, seed=11).double()
    assert x.mean(dim=(1, 2, 3)).var().item() == pytest.approx(share, rel=0.08)
    assert x.var(0).mean().item() == pytest.approx(1.0, abs=0.03)


def test_pixel_covariance_follows_the_power_spectrum():
    x = make_images(6000, size=32, seed=3).double()
    # Wiener-Khinchin: corr(x_p, x_{p+d}) = mean(g^2 cos(2 pi f.d)) with mean(g^2) = 1
    g2 = _numpy_gain(32) ** 2
    f = np.fft.fftfreq(32)
    for dc in (1, 4, 16):
        expected = (g2 * np.cos(2 * np.pi * f[None, :] * dc)).mean()
        measured = torch.corrcoef(torch.stack([x[:, 0, 16, 8], x[:, 0, 16, 8 + dc]]))[0, 1].item()
        assert measured == pytest.approx(expected, abs=0.03)


def test_spectral_slope_is_minus_1_2():
    assert spectral_slope(make_images(400, seed=1)) == pytest.approx(-1.2, abs=0.05)


@pytest.mark.parametrize("slope", [0.0, 2.0])
def test_other_slopes_are_recovered(slope):
    assert spectral_slope(make_images(200, size=32, slope=slope, seed=2)) == pytest.approx(-slope, abs=0.07)


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
