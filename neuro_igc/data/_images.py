"""Image conversions: sRGB <-> linear, CIE Y luminance (D65), resizing.

The paper (appendix A.6) rescales pixel values to [0, 1], linearizes them by inverting the sRGB
transfer function and converts colour to luminance with the Y component of CIE XYZ (D65 white).
"""

from __future__ import annotations

import numpy as np

__all__ = ["srgb_to_linear", "linear_to_srgb", "rgb_to_luminance", "to_luminance", "resize_images"]

#: Y row of the sRGB (D65) -> CIE XYZ matrix (IEC 61966-2-1)
Y_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])


def srgb_to_linear(images) -> np.ndarray:
    """Invert the sRGB transfer function.

    Parameters
    ----------
    images : array-like, uint8 (values 0..255) or float (values 0..1), any shape

    Returns
    -------
    linear : float32 array of the same shape, values 0..1

    Examples
    --------
    >>> float(srgb_to_linear(np.array([255], dtype=np.uint8))[0])
    1.0
    """
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return _SRGB_LUT[x]
    else:
        x = x.astype(np.float32, copy=False)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _srgb_lut() -> np.ndarray:
    v = np.arange(256, dtype=np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


_SRGB_LUT = _srgb_lut()  # uint8 -> linear, the same formula tabulated


def linear_to_srgb(linear) -> np.ndarray:
    """Apply the sRGB transfer function to linear values in [0, 1] (clipped); float32 0..1."""
    x = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def rgb_to_luminance(linear_rgb) -> np.ndarray:
    """CIE Y (D65) of linear RGB ``(..., 3)``; float32 ``(...)``."""
    x = np.asarray(linear_rgb, dtype=np.float32)
    if x.shape[-1] != 3:
        raise ValueError(f"Invalid shape for 'linear_rgb': the last axis must hold 3 colours; got {x.shape}.")
    return np.asarray(x @ Y_WEIGHTS.astype(np.float32), dtype=np.float32)


def to_luminance(images) -> np.ndarray:
    """sRGB images -> linear CIE Y luminance in [0, 1].

    ``images`` (n, H, W, 3) are colour images (uint8 sRGB 0..255, or float sRGB 0..1); (n, H, W)
    or (H, W) are gray: uint8 gray is taken as sRGB and linearized, float gray is taken as
    already-linear luminance and passed through. Returns float32 (n, H, W) (or (H, W)).
    """
    x = np.asarray(images)
    if x.ndim == 4:
        return rgb_to_luminance(srgb_to_linear(x))
    if x.ndim not in (2, 3):
        raise ValueError(
            f"Invalid shape for 'images': expected (n, H, W, 3), (n, H, W) or (H, W); got {x.shape}."
        )
    if x.dtype == np.uint8:
        return srgb_to_linear(x)
    return x.astype(np.float32, copy=False)


def resize_images(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize (n, H, W) or (n, H, W, C) images to ``size``.

    Downsampling by an integer factor is an exact block mean; other ratios use torch's area
    interpolation (downsampling) or bilinear interpolation (upsampling). uint8 input is rounded
    back to uint8; float input stays float32.
    """
    import torch
    import torch.nn.functional as F

    x = np.asarray(images)
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"Invalid value for 'size': expected a positive int or (H, W); got {size!r}.")
    if x.ndim not in (3, 4):
        raise ValueError(f"Invalid shape for 'images': expected (n, H, W) or (n, H, W, C); got {x.shape}.")
    h, w = x.shape[1:3]
    if (h, w) == size:
        return x.copy()
    was_uint8 = x.dtype == np.uint8
    xf = x if x.dtype == np.float32 else x.astype(np.float32)
    if h % size[0] == 0 and w % size[1] == 0:
        fh, fw = h // size[0], w // size[1]
        out = np.zeros((x.shape[0], size[0], size[1]) + x.shape[3:], dtype=np.float64 if fh * fw > 16 else np.float32)
        for a in range(fh):
            for b in range(fw):
                out += xf[:, a::fh, b::fw]
        out = (out / (fh * fw)).astype(np.float32)
    else:
        t = torch.from_numpy(xf if x.ndim == 4 else xf[..., None]).permute(0, 3, 1, 2)
        mode = "area" if size[0] <= h and size[1] <= w else "bilinear"
        kw = {} if mode == "area" else {"align_corners": False}
        t = F.interpolate(t, size=size, mode=mode, **kw)
        out = t.permute(0, 2, 3, 1).numpy()
        if x.ndim == 3:
            out = out[..., 0]
    if was_uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(np.float32)
