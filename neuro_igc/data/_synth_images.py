"""1/f natural-like colour images for the synthetic NSD folder, and the planted contrast energy.

Each image: a random-phase texture with amplitude spectrum ``1 / f**a`` (``a`` drawn per image),
multiplied by a smooth random envelope (so local contrast varies across the image, as in natural
scenes), scaled to a drawn RMS contrast around a drawn mean luminance, slightly tinted per colour
channel, sRGB-encoded and stored as uint8.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft
from scipy.ndimage import gaussian_filter

from neuro_igc.data._images import linear_to_srgb, resize_images, to_luminance

__all__ = ["render_images", "contrast_energy", "DRIVE_SIZE", "HIGHPASS_SIGMA_PX"]

#: resolution (pixels) at which the planted pRF drive is computed
DRIVE_SIZE = 64
#: SD (pixels at DRIVE_SIZE) of the Gaussian blur subtracted for the high-pass
HIGHPASS_SIGMA_PX = 1.0

#: ranges of the drawn image parameters
EXPONENT_RANGE = (0.8, 2.0)  # amplitude ~ 1/f**a
CONTRAST_RANGE = (0.15, 0.7)  # RMS of the texture relative to the mean luminance
MEAN_RANGE = (0.18, 0.4)  # mean linear luminance
ENVELOPE_DEPTH = 0.9  # SD of the log envelope


def _encode_table(n: int = 65536) -> np.ndarray:
    """Linear value (n steps over [0, 1]) -> uint8 sRGB, the sRGB formula tabulated."""
    return np.rint(linear_to_srgb(np.linspace(0.0, 1.0, n)) * 255.0).astype(np.uint8)


_ENCODE = _encode_table()


def _noise_fields(rng, n, size, exponent) -> np.ndarray:
    """Unit-SD Gaussian fields with power-law amplitude ``1/f**exponent``, float32 (n, size, size)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    logf = np.log(np.where((fx == 0) & (fy == 0), 1.0, np.hypot(fx, fy))).astype(np.float32)
    shape = (n, size, size // 2 + 1)
    amp = np.exp(-np.asarray(exponent, dtype=np.float32)[:, None, None] * logf[None])
    amp[:, 0, 0] = 0.0
    spec = (rng.standard_normal(shape, dtype=np.float32) + 1j * rng.standard_normal(shape, dtype=np.float32)) * amp
    field = sfft.irfft2(spec, s=(size, size), axes=(1, 2))
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True) + 1e-12
    return field.astype(np.float32)


def _smooth_fields(rng, n, size, exponent) -> np.ndarray:
    """Low-frequency fields drawn at 32 px and upsampled (bilinear) to ``size``."""
    small = _noise_fields(rng, n, min(size, 32), np.full(n, exponent))
    return small if size <= 32 else resize_images(small, size)


def render_images(rng: np.random.Generator, n: int, size: int, chunk: int = 256):
    """Draw ``n`` images of ``size`` x ``size``.

    Returns
    -------
    images : uint8 (n, size, size, 3) sRGB
    params : dict of float64 (n,) arrays: ``exponent`` (a), ``contrast`` (relative RMS),
        ``mean_luminance``
    """
    exponent = rng.uniform(*EXPONENT_RANGE, n)
    contrast = rng.uniform(*CONTRAST_RANGE, n)
    mean_lum = rng.uniform(*MEAN_RANGE, n)
    tint = (1.0 + 0.08 * rng.standard_normal((n, 3))).astype(np.float32)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    opponent = np.array([1.0, -0.5, -0.5], dtype=np.float32)
    for s in range(0, n, chunk):
        e = slice(s, min(n, s + chunk))
        m = e.stop - e.start
        tex = _noise_fields(rng, m, size, exponent[e]) * np.exp(ENVELOPE_DEPTH * _smooth_fields(rng, m, size, 3.0))
        tex /= tex.std(axis=(1, 2), keepdims=True) + 1e-12
        lum = (mean_lum[e, None, None] * (1.0 + contrast[e, None, None] * tex)).astype(np.float32)
        chroma = 0.05 * _smooth_fields(rng, m, size, 2.0)
        rgb = lum[..., None] * tint[e, None, None, :] * (1.0 + chroma[..., None] * opponent)
        out[e] = _ENCODE[np.clip(rgb * (_ENCODE.size - 1) + 0.5, 0, _ENCODE.size - 1).astype(np.int32)]
    return out, {"exponent": exponent, "contrast": contrast, "mean_luminance": mean_lum}


def contrast_energy(images: np.ndarray, size: int = DRIVE_SIZE) -> np.ndarray:
    """Local contrast energy (n, size*size), float32: the planted pRF input.

    ``L`` = linear CIE Y luminance of the stored uint8 sRGB images (or the float luminance
    given), block-averaged to ``size``;
    ``CE = (L - gaussian_blur(L, HIGHPASS_SIGMA_PX))**2`` (scipy ``gaussian_filter``, mode
    ``"reflect"``), flattened row-major (row 0 = top of the image).
    """
    lum = resize_images(to_luminance(images), size)
    hp = lum - gaussian_filter(lum, sigma=(0, HIGHPASS_SIGMA_PX, HIGHPASS_SIGMA_PX), mode="reflect")
    return (hp.astype(np.float32) ** 2).reshape(len(lum), -1)
