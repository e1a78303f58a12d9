"""Global image statistics of the paper's Section 5.1, computed on gray linearized images.

``luminance_contrast``
    Standard deviation of the linear CIE Y luminance (values in [0, 1]) over the pixels.
``spectral_slope``
    The 1/f slope: the image's mean luminance is removed, its 2-D amplitude spectrum ``|FFT|``
    is taken, and the *log* amplitude is averaged over rings of integer radius ``k = 1 ..
    floor(min(H, W) / 2)`` (radius in cycles per image along the shorter side; frequencies in
    cycles per pixel, so non-square images stay isotropic). The slope is the least-squares line
    of the ring means of ``log amplitude`` against the ring means of ``log frequency``. An image
    whose amplitude spectrum is exactly ``c / f**a`` gives ``-a`` exactly (both ring means are
    affine images of each other), so natural images give about -1 to -1.5.

Inputs are colour images (n, H, W, 3) in sRGB (uint8, or float in [0, 1]), uint8 gray sRGB
(n, H, W), or float gray (n, H, W) taken as already-linear luminance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuro_igc._utils import check_option
from neuro_igc.data._images import to_luminance

__all__ = ["luminance_contrast", "spectral_slope", "image_statistics", "FEATURES"]


def _as_batch(images) -> np.ndarray:
    lum = to_luminance(images)
    if lum.ndim == 2:
        raise ValueError(
            f"Invalid shape for 'images': a batch is expected, (n, H, W[, 3]); got {np.shape(images)}. "
            "Wrap one image as images[None]."
        )
    if lum.shape[1] < 4 or lum.shape[2] < 4:
        raise ValueError(f"Invalid shape for 'images': images must be at least 4x4; got {lum.shape[1:]}.")
    return lum


def luminance_contrast(images) -> np.ndarray:
    """Luminance contrast: SD over pixels of linear CIE Y luminance (0..1 scale).

    Parameters
    ----------
    images : (n, H, W, 3) uint8/float sRGB, (n, H, W) uint8 sRGB gray or float linear luminance

    Returns
    -------
    contrast : float64 (n,)

    Examples
    --------
    >>> img = np.zeros((1, 8, 8)); img[0, :, :4] = 1.0   # half black, half white
    >>> float(luminance_contrast(img)[0])
    0.5
    """
    lum = _as_batch(images).astype(np.float64)
    return lum.reshape(lum.shape[0], -1).std(axis=1)


def _ring_operator(h: int, w: int):
    """Sparse ring-mean operator on the half-plane (rfft2) bins, and the ring-mean log frequency.

    Averages over the half plane with weights 2 for the columns that stand for two bins of the
    full spectrum (all but column 0 and, for even widths, the Nyquist column) equal averages over
    the full plane, since the amplitude spectrum of a real image is symmetric.
    """
    from scipy import sparse

    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2).ravel()  # cycles per pixel
    weight = np.full((h, fx.size), 2.0)
    weight[:, 0] = 1.0
    if w % 2 == 0:
        weight[:, -1] = 1.0
    weight = weight.ravel()
    n = min(h, w)
    ring = np.rint(f * n).astype(np.int64)
    kmax = n // 2
    inside = np.flatnonzero((ring >= 1) & (ring <= kmax))
    cols = ring[inside] - 1
    totals = np.bincount(cols, weights=weight[inside], minlength=kmax)
    op = sparse.csr_matrix((weight[inside] / totals[cols], (np.arange(inside.size), cols)),
                           shape=(inside.size, kmax))
    logf = op.T @ np.log(f[inside])
    return inside, op, logf


def spectral_slope(images, *, chunk: int = 256) -> np.ndarray:
    """1/f slope: slope of the ring-averaged log amplitude spectrum against log frequency.

    Parameters
    ----------
    images : (n, H, W, 3) uint8/float sRGB, (n, H, W) uint8 sRGB gray or float linear luminance
    chunk : int, default=256
        Images transformed at once (bounds memory).

    Returns
    -------
    slope : float64 (n,); a pure ``1/f**a`` amplitude spectrum gives ``-a``

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> spec = np.fft.fft2(rng.standard_normal((32, 32)))
    >>> f = np.hypot(*np.meshgrid(np.fft.fftfreq(32), np.fft.fftfreq(32)))
    >>> amp = np.divide(1.0, f**1.5, out=np.zeros_like(f), where=f > 0)
    >>> img = np.fft.ifft2(spec / np.abs(spec) * amp).real
    >>> round(float(spectral_slope(img[None])[0]), 6)
    -1.5
    """
    from scipy import fft as sfft

    lum = _as_batch(images)
    n, h, w = lum.shape
    inside, op, logf = _ring_operator(h, w)
    xc = logf - logf.mean()
    out = np.empty(n)
    tiny = np.finfo(np.float64).tiny
    for start in range(0, n, int(chunk)):
        block = lum[start:start + chunk].astype(np.float64)
        block = block - block.mean(axis=(1, 2), keepdims=True)
        amp = np.abs(sfft.rfft2(block, axes=(1, 2))).reshape(block.shape[0], -1)[:, inside]
        loga = np.asarray((op.T @ np.log(np.maximum(amp, tiny)).T).T)  # (b, kmax)
        out[start:start + chunk] = (loga - loga.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    return out


#: name -> function (n images) -> (n,) values; checks and tests loop over it
FEATURES = {"luminance_contrast": luminance_contrast, "spectral_slope": spectral_slope}


def image_statistics(images, names: Sequence[str] = tuple(FEATURES)):
    """Several statistics at once, as a DataFrame with one column per name (rows = images).

    Examples
    --------
    >>> image_statistics(np.full((2, 8, 8), 0.5)).columns.tolist()
    ['luminance_contrast', 'spectral_slope']
    """
    import pandas as pd

    names = [check_option("names", name, FEATURES) for name in names]
    return pd.DataFrame({name: FEATURES[name](images) for name in names})
