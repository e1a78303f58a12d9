"""Random images with a natural-image amplitude spectrum (the paper's appendix A.3).

A gain map ``|f| ** -slope`` on the FFT frequency grid (``fftfreq`` on both axes, cycles per
pixel; slope 1.2, the log-log slope of natural images' amplitude spectra, Tolhurst et al. 1992)
scales complex white noise (independent standard normal real and imaginary parts); the real part
of the orthonormal inverse 2-D FFT is the image. As in the authors' code:

* the zero frequency is not left out: its ``|f|`` is set to half the lowest non-zero frequency,
  ``0.5 / size``, so every image carries a random global offset (about a quarter of each pixel's
  variance at 64 x 64);
* the gain is scaled so that ``mean(gain ** 2) = 1``, which makes every pixel N(0, 1) in
  distribution (the images are a stationary, periodic Gaussian field of unit variance).
"""

from __future__ import annotations

import numpy as np
import torch

_CHUNK = 1024  # images per FFT call

__all__ = ["make_images", "spectrum_gain", "radial_amplitude_spectrum", "spectral_slope"]


def _check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or int(size) < 4:
        raise ValueError(f"Invalid value for 'size': an image side >= 4 pixels is needed; got {size!r}.")
    return int(size)


def spectrum_gain(size: int = 64, slope: float = 1.2) -> torch.Tensor:
    """Gain map ``|f| ** -slope`` on the FFT frequency grid, scaled to ``mean(gain ** 2) = 1``.

    The zero frequency's ``|f|`` is taken as ``0.5 / size`` (half the lowest non-zero one).

    Parameters
    ----------
    size : int, default=64
        Image side in pixels.
    slope : float, default=1.2
        Exponent of the amplitude fall-off.

    Returns
    -------
    gain : (size, size) float64 tensor

    Examples
    --------
    >>> g = spectrum_gain(8)
    >>> round(float((g ** 2).mean()), 12)
    1.0
    """
    size = _check_size(size)
    f = torch.fft.fftfreq(size, dtype=torch.float64)
    radius = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    radius[0, 0] = 0.5 / size
    gain = radius ** (-float(slope))
    return gain / torch.sqrt((gain**2).mean())


def make_images(
    n: int,
    size: int = 64,
    slope: float = 1.2,
    seed: int | None = 0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Draw ``n`` random images with an amplitude spectrum falling as ``|f| ** -slope``.

    Parameters
    ----------
    n : int
        Number of images.
    size : int, default=64
        Image side in pixels.
    slope : float, default=1.2
        Spectral slope (positive; the amplitude falls as ``|f| ** -slope``).
    seed : int or None, default=0
        Seed of the generator (``None``: torch's global generator).
    dtype : torch dtype, default=torch.float32

    Notes
    -----
    Images are drawn in chunks of 1024, each from its own generator seeded from ``(seed, chunk)``,
    which bounds the memory used by the FFTs.

    Returns
    -------
    images : (n, 1, size, size) tensor
        Images whose every pixel is N(0, 1) in distribution.

    Examples
    --------
    >>> x = make_images(8, size=32, seed=0)
    >>> tuple(x.shape)
    (8, 1, 32, 32)
    """
    if not isinstance(n, (int, np.integer)) or int(n) < 1:
        raise ValueError(f"Invalid value for 'n': the number of images must be an int >= 1; got {n!r}.")
    size = _check_size(size)
    if not np.isfinite(slope) or slope < 0:
        raise ValueError(f"Invalid value for 'slope': a finite number >= 0 is needed; got {slope!r}.")
    gain = spectrum_gain(size, slope)
    out = torch.empty((int(n), 1, size, size), dtype=dtype)
    for chunk, start in enumerate(range(0, int(n), _CHUNK)):
        stop = min(int(n), start + _CHUNK)
        gen = None
        if seed is not None:
            state = np.random.SeedSequence([int(seed), chunk]).generate_state(1)[0]
            gen = torch.Generator().manual_seed(int(state))
        z = torch.randn((stop - start, size, size, 2), generator=gen, dtype=torch.float64)
        field = torch.fft.ifft2(gain * torch.view_as_complex(z), norm="ortho").real
        out[start:stop, 0] = field.to(dtype)
    return out


def radial_amplitude_spectrum(images, n_bins: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Mean FFT amplitude of images in logarithmic radial frequency bins.

    Parameters
    ----------
    images : (n, [1,] size, size) array-like
    n_bins : int, default=24

    Returns
    -------
    freq : (n_kept,) ndarray
        Bin centres (cycles per pixel), empty bins dropped.
    amplitude : (n_kept,) ndarray
        Mean amplitude in each bin.
    """
    x = torch.as_tensor(np.asarray(images), dtype=torch.float64)
    x = x.reshape(-1, x.shape[-2], x.shape[-1])
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"Invalid value for 'images': square images are needed; got shape {tuple(x.shape)}.")
    size = x.shape[-1]
    amp = torch.fft.fft2(x).abs().mean(0).numpy()
    f = np.fft.fftfreq(size)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    edges = np.geomspace(1.0 / size, radius.max() * 1.0001, n_bins + 1)
    which = np.digitize(radius, edges) - 1
    freq, amplitude = [], []
    for b in range(n_bins):
        sel = (which == b) & (radius > 0)
        if sel.any():
            freq.append(radius[sel].mean())
            amplitude.append(amp[sel].mean())
    return np.asarray(freq), np.asarray(amplitude)


def spectral_slope(images, n_bins: int = 24) -> float:
    """Slope of a straight-line fit of log amplitude against log radial frequency.

    Natural images give about -1.2; images from :func:`make_images` give ``-slope``. The zero
    frequency is left out of the fit.

    Parameters
    ----------
    images : (n, [1,] size, size) array-like
    n_bins : int, default=24

    Returns
    -------
    float
    """
    freq, amplitude = radial_amplitude_spectrum(images, n_bins=n_bins)
    return float(np.polyfit(np.log(freq), np.log(amplitude), 1)[0])
