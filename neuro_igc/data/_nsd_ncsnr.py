"""NSD's noise-ceiling SNR (``ncsnr``) aligned with the betas' features, and the noise ceiling from it.

NSD ships ncsnr per beta version on fsaverage (``{lh,rh}.ncsnr.mgh``) and in the volumes
(``ncsnr.nii.gz``), not on the native surface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuro_igc._read import image_data, load_image
from neuro_igc._utils import POSITIVE_INT, check_param
from neuro_igc.data import _layout as L
from neuro_igc.data._io import read_mgh
from neuro_igc.data._readers import read_surface_rows
from neuro_igc.data._spaces import HEMIS, SurfaceSpace

__all__ = ["noise_ceiling", "read_ncsnr"]


def noise_ceiling(ncsnr, n: int = 1) -> np.ndarray:
    """Noise ceiling (percent of variance) from NSD's ncsnr for responses averaged over ``n`` trials:
    ``NC = 100 * ncsnr**2 / (ncsnr**2 + 1 / n)``.

    Examples
    --------
    >>> noise_ceiling([0.0, 1.0], n=1).tolist(), float(noise_ceiling(1.0, n=3))
    ([0.0, 50.0], 75.0)
    """
    check_param("n", n, POSITIVE_INT, hint="It is the number of averaged trials.")
    snr2 = np.square(np.asarray(ncsnr, dtype=np.float64))
    return 100.0 * snr2 / (snr2 + 1.0 / int(n))


def read_ncsnr(root: Path, surface, volume, subject, space: str, version: str, roi, mask, density, like) -> np.ndarray:
    """ncsnr per feature, float32 (see :meth:`NSD.ncsnr`); ``surface`` and ``volume`` are the betas
    readers whose feature selection (``roi``/``mask``) it follows."""
    s = L.subject_id(subject)
    if like is not None:
        if like.subject != s:
            raise ValueError(f"Invalid value for 'like': betas of subject {like.subject}, ncsnr asked for {s}.")
        space = like.space
    L.check_space(space)
    if space == "nativesurface":
        raise ValueError("Invalid value for 'space': NSD ships ncsnr on fsaverage and in the volumes, not on the "
                         "native surface; map the fsaverage ncsnr with NSD.to_native.")
    if space == "fsaverage":
        imgs = {}
        for h in HEMIS:
            path = L.require_file(root, L.ncsnr_surface_path(s, h, version), f"ncsnr of {L.subject_name(s)}")
            imgs[h] = (read_mgh(path), path)
        file_dens = L.density_of(imgs["lh"][0].shape[0], imgs["lh"][1])
        if like is not None:
            L.check_density("density", file_dens, like.density, imgs["lh"][1])
            rows = {h: like.feature_space.indices(h) for h in HEMIS}
        else:
            rows = surface.keep(s, SurfaceSpace.full(L.check_density("density", file_dens, density, imgs["lh"][1])),
                                roi, mask)
        return np.concatenate([read_surface_rows(imgs[h][0], rows[h])[0] for h in HEMIS]).astype(np.float32)
    ijk = like.ijk if like is not None else volume.selection(s, space, roi, mask)[0]
    path = L.require_file(root, L.ncsnr_volume_path(s, space, version), f"ncsnr of {L.subject_name(s)}")
    return image_data(load_image(path, "ncsnr"), dtype=np.float32, what="ncsnr")[tuple(ijk.T)]
