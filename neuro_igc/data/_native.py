"""NSD's native <-> fsaverage index maps (``nsddata/ppdata/subjAA/transforms``), read once each.

NSD's ``transforms/{lh,rh}.white-to-fsaverage.mgz`` holds, for each of the 163,842 fsaverage
vertices, the **1-based** native vertex to take (``fsavg = native[map - 1]``);
``{lh,rh}.fsaverage-to-white.mgz`` holds, for each native vertex, the 1-based fsaverage vertex.
Subject-drawn atlases (prf-visualrois, floc-*, ...) exist only on the native surface and in the
volumes: on fsaverage they are the native labels mapped through ``white-to-fsaverage``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuro_igc._read import image_data, load_image
from neuro_igc._utils import check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._spaces import HEMIS

__all__ = ["Transforms", "FSAVERAGE_N"]

FSAVERAGE_N = L.N_VERTICES["fsaverage"]


class Transforms:
    """The transforms of one NSD folder, each file read once (the maps of :class:`~neuro_igc.data.NSD`)."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[tuple, np.ndarray] = {}

    def has(self, s: int, kind: str) -> bool:
        """Whether the folder holds the ``kind`` transform of subject ``s`` (lh)."""
        return (self.root / L.transform_path(s, "lh", kind)).is_file()

    def transform(self, subject, hemi: str, kind: str = "white-to-fsaverage") -> np.ndarray:
        """0-based index map of one hemisphere (see :meth:`NSD.transform`), read-only."""
        s = L.subject_id(subject)
        check_option("hemi", hemi, HEMIS)
        check_option("kind", kind, L.TRANSFORMS)
        key = (s, hemi, kind)
        if key in self._cache:
            return self._cache[key]
        path = L.require_file(self.root, L.transform_path(s, hemi, kind), f"{kind} transform of {L.subject_name(s)} {hemi}")
        what = f"{kind} transform"
        arr = image_data(load_image(path, what), what=what)
        if arr.ndim > 1 and any(d != 1 for d in arr.shape[1:]):
            raise ValueError(f"Wrong shape in {path}: NSD transforms are (N, 1, 1); got {arr.shape}.")
        arr = arr.reshape(-1)
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.rint(arr)):
            raise ValueError(f"Wrong values in {path}: a transform holds integer vertex indices (1-based).")
        idx = np.rint(arr).astype(np.int64)
        if kind == "white-to-fsaverage":
            if idx.size != FSAVERAGE_N:
                raise ValueError(f"Wrong shape in {path}: white-to-fsaverage has one entry per fsaverage vertex "
                                 f"({FSAVERAGE_N}); got {idx.size}.")
            top = None
        else:
            top = FSAVERAGE_N
        if idx.size and idx.min() < 1:
            raise ValueError(
                f"Wrong values in {path}: NSD transforms are 1-based (smallest index 1); got {int(idx.min())}. "
                "A 0-based file would shift every vertex by one."
            )
        if top is not None and idx.max() > top:
            raise ValueError(f"Wrong values in {path}: indices go up to {int(idx.max())}, beyond fsaverage's {top}.")
        out = idx - 1
        out.setflags(write=False)
        self._cache[key] = out
        return out

    def native_vertices(self, subject, hemi: str) -> int:
        """Vertex count of a subject's native hemisphere (length of ``fsaverage-to-white``)."""
        return int(self.transform(subject, hemi, "fsaverage-to-white").size)

    def native_counts(self, s: int) -> dict[str, int]:
        """Native vertex count of both hemispheres of subject ``s``."""
        return {h: self.native_vertices(s, h) for h in HEMIS}

    def to_fsaverage(self, values, subject, hemi: str | None = None, *, density: str = "fsaverage"):
        """Native values on fsaverage (see :meth:`NSD.to_fsaverage`)."""
        if hemi is None:
            if not isinstance(values, dict):
                raise ValueError("Invalid value for 'hemi': give 'lh' or 'rh', or pass values as {'lh': ..., 'rh': ...}.")
            return {h: self.to_fsaverage(values[h], subject, h, density=density) for h in HEMIS}
        n = L.N_VERTICES[check_option("density", density, L.DENSITIES)]
        values = np.asarray(values)
        fmap = self.transform(subject, hemi, "white-to-fsaverage")
        p = self.root / L.transform_path(L.subject_id(subject), hemi, "fsaverage-to-white")
        n_native = self.native_vertices(subject, hemi) if p.is_file() else None
        if values.ndim == 0 or (n_native is not None and values.shape[-1] != n_native):
            raise ValueError(
                f"Invalid shape for 'values': {L.subject_name(L.subject_id(subject))} {hemi} has {n_native} native "
                f"vertices; got {values.shape} (last axis = vertices)."
            )
        if fmap.max() >= values.shape[-1]:
            raise ValueError(f"Invalid shape for 'values': the {hemi} transform indexes native vertex {int(fmap.max())}; "
                             f"values have {values.shape[-1]}.")
        return values[..., fmap[:n]]

    def to_native(self, values, subject, hemi: str | None = None):
        """fsaverage values on the native surface (see :meth:`NSD.to_native`)."""
        if hemi is None:
            if not isinstance(values, dict):
                raise ValueError("Invalid value for 'hemi': give 'lh' or 'rh', or pass values as {'lh': ..., 'rh': ...}.")
            return {h: self.to_native(values[h], subject, h) for h in HEMIS}
        values = np.asarray(values)
        if values.ndim == 0 or values.shape[-1] != FSAVERAGE_N:
            got = values.shape[-1] if values.ndim else None
            hint = (" (fsaverage5 values cannot reach native vertices mapped beyond its 10242; "
                    "use full-density data)" if got == L.N_VERTICES["fsaverage5"] else "")
            raise ValueError(f"Invalid shape for 'values': to_native needs full fsaverage hemispheres "
                             f"({FSAVERAGE_N} vertices on the last axis); got {values.shape}{hint}.")
        return values[..., self.transform(subject, hemi, "fsaverage-to-white")]
