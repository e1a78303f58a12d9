"""Image conversions and statistics against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from neuro_igc.data import (
    image_statistics,
    linear_to_srgb,
    luminance_contrast,
    resize_images,
    rgb_to_luminance,
    spectral_slope,
    srgb_to_linear,
    to_luminance,
)
from neuro_igc.data.features import FEATURES


def _srgb_formula(v):
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _power_law_image(h, w, a, seed=0):
    """Real image whose amplitude spectrum is exactly f**-a (f in cycles/pixel), DC 0."""
    rng = np.random.default_rng(seed)
    spec = np.fft.fft2(rng.standard_normal((h, w)))
    f = np.sqrt(np.fft.fftfreq(w)[None, :] ** 2 + np.fft.fftfreq(h)[:, None] ** 2)
    amp = np.divide(1.0, f**a, out=np.zeros_like(f), where=f > 0)
    return np.fft.ifft2(spec / np.abs(spec) * amp).real


def test_srgb_linearization_matches_the_standard():
    v = np.arange(256, dtype=np.uint8)
    np.testing.assert_allclose(srgb_to_linear(v), _srgb_formula(v / 255.0), rtol=1e-6, atol=1e-7)
    x = np.linspace(0, 1, 101)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-6)
    assert srgb_to_linear(np.array([0.5], np.float32))[0] == pytest.approx(_srgb_formula(0.5), rel=1e-6)


def test_luminance_is_cie_y_d65():
    rgb = np.random.default_rng(0).random((4, 5, 3))
    np.testing.assert_allclose(rgb_to_luminance(rgb), rgb @ np.array([0.2126, 0.7152, 0.0722]), rtol=1e-6)
    img = np.random.default_rng(1).integers(0, 256, (2, 6, 7, 3), dtype=np.uint8)
    expected = _srgb_formula(img / 255.0) @ np.array([0.2126, 0.7152, 0.0722])
    np.testing.assert_allclose(to_luminance(img), expected, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="last axis must hold 3"):
        rgb_to_luminance(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Invalid shape for 'images'"):
        to_luminance(np.zeros((1, 2, 3, 4, 5)))


def test_luminance_contrast_closed_form():
    img = np.random.default_rng(2).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    y = _srgb_formula(img / 255.0) @ np.array([0.2126, 0.7152, 0.0722])
    np.testing.assert_allclose(luminance_contrast(img), y.reshape(3, -1).std(axis=1), rtol=1e-5)
    checker = np.indices((8, 8)).sum(0) % 2 * 1.0
    assert luminance_contrast(checker[None])[0] == pytest.approx(0.5)
    assert luminance_contrast(np.full((1, 8, 8), 0.3))[0] == 0.0


@pytest.mark.parametrize("a", [0.5, 1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("shape", [(64, 64), (48, 64), (33, 40)])
def test_pure_power_law_gives_minus_a(a, shape):
    img = _power_law_image(*shape, a)
    assert spectral_slope(img[None])[0] == pytest.approx(-a, abs=1e-5)  # float round-off only


def test_slope_invariant_to_gain_and_offset_and_batched():
    imgs = np.stack([_power_law_image(32, 32, a, seed=i) for i, a in enumerate([0.8, 1.2, 1.9])])
    s = spectral_slope(imgs, chunk=2)
    np.testing.assert_allclose(s, [-0.8, -1.2, -1.9], atol=1e-5)
    np.testing.assert_allclose(spectral_slope(3.0 * imgs + 7.0), s, atol=1e-5)


def test_image_statistics_table_and_errors():
    imgs = np.random.default_rng(0).random((4, 16, 16))
    table = image_statistics(imgs)
    assert list(table.columns) == list(FEATURES)
    np.testing.assert_allclose(table["spectral_slope"], spectral_slope(imgs))
    with pytest.raises(ValueError, match="Invalid value for 'names'"):
        image_statistics(imgs, names=["entropy"])
    with pytest.raises(ValueError, match="a batch is expected"):
        luminance_contrast(imgs[0])
    with pytest.raises(ValueError, match="at least 4x4"):
        spectral_slope(np.zeros((1, 2, 2)))


def test_resize_block_mean_and_interpolation():
    x = np.random.default_rng(0).random((2, 8, 12)).astype(np.float32)
    np.testing.assert_allclose(resize_images(x, (4, 6)), x.reshape(2, 4, 2, 6, 2).mean((2, 4)), rtol=1e-6)
    rgb = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    out = resize_images(rgb, 4)
    assert out.dtype == np.uint8 and out.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(out, np.rint(rgb.reshape(2, 4, 2, 4, 2, 3).mean((2, 4))).astype(np.uint8))
    assert resize_images(x, 5).shape == (2, 5, 5)
    assert resize_images(x, 16).shape == (2, 16, 16)
    with pytest.raises(ValueError, match="Invalid value for 'size'"):
        resize_images(x, 0)
