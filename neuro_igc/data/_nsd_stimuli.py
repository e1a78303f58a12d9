"""NSD's stimulus images (``nsd_stimuli.hdf5``, ``imgBrick``), read lazily by 0-based 73k id."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuro_igc._read import hdf5_dataset, open_hdf5, reading
from neuro_igc.data import _layout as L
from neuro_igc.data._images import resize_images, to_luminance

__all__ = ["read_stimuli"]


def read_stimuli(root: Path, ids, size=None, luminance: bool = False, *, chunk: int = 256,
                 progress: bool = True) -> np.ndarray:
    """Images by 0-based 73k id (see :meth:`NSD.stimuli`): each distinct image read once, ``chunk``
    images at a time."""
    from neuro_igc._utils import POSITIVE_INT, check_param
    from neuro_igc._utils import progress_bar as tqdm

    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"Invalid value for 'ids': expected a 1-D integer array of 0-based 73k ids; got {ids.dtype} {ids.shape}.")
    check_param("chunk", chunk, POSITIVE_INT, hint="It is the number of images read at once.")
    path = L.require_file(root, L.stimuli_path(), "stimulus images")
    with open_hdf5(path, "stimulus images") as f, reading(path, "stimulus images"):
        d = hdf5_dataset(f, "imgBrick", "stimulus images")
        if d.dtype != np.uint8 or d.ndim != 4 or d.shape[3] != 3:
            raise ValueError(f"Wrong shape/dtype in {path}: 'imgBrick' must be uint8 (n, H, W, 3); got {d.dtype} {d.shape}.")
        if ids.size and (ids.min() < 0 or ids.max() >= d.shape[0]):
            raise ValueError(
                f"Invalid value for 'ids': 73k ids are 0-based, 0..{d.shape[0] - 1}; got values "
                f"{int(ids.min())}..{int(ids.max())} (1-based ids from .mat/.tsv files need -1)."
            )
        uniq, inverse = np.unique(ids, return_inverse=True)
        out_size = None if size is None else (size, size) if np.isscalar(size) else tuple(size)
        shape = (out_size or d.shape[1:3])
        out = np.empty((uniq.size, *shape) + (() if luminance else (3,)),
                       dtype=np.float32 if luminance else np.uint8)
        for start in tqdm(range(0, uniq.size, chunk), desc="stimuli", disable=not progress or uniq.size <= chunk):
            block = d[uniq[start:start + chunk]]
            if luminance:
                block = to_luminance(block)
            if out_size is not None:
                block = resize_images(block, out_size)
            out[start:start + chunk] = block
    return out[inverse]
