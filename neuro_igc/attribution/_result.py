"""The result of an attribution run: maps, diagnostics, settings, save/load and ROI sums."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from neuro_igc._utils import atomic_path

__all__ = ["AttributionResult", "NaiveIG", "AttributionAccuracyWarning"]

_ARRAYS = ("attributions", "correlation", "ig_error", "igc_error", "baseline_term", "ig_error_relative",
           "reference_correlation")
_FORMAT = "neuro_igc.attribution/1"


class AttributionAccuracyWarning(UserWarning):
    """The quadrature or sample size leaves an error above the paper's advice (0.01)."""


class AttributionResult:
    """Attribution maps with their diagnostics and the settings that produced them.

    Parameters
    ----------
    attributions : (n_outputs, *input_shape) ndarray
        Dataset-wise maps (IGC, IGaC, naive IG, data maps), or ``(n_samples, n_outputs,
        *input_shape)`` for per-sample IG (``settings["kind"] == "ig"``).
    correlation : (n_outputs,) ndarray or None
        ``corr(f(x), y)`` per output on the same samples (1 for IGaC).
    ig_error : (n_outputs,) ndarray or None
        The mean absolute completeness gap ``mean_i |sum_j IG_ij - (f(x_i) - mean_k f(b_ik))|``
        (the paper's Section 3.4), in the units of the outputs.
    igc_error : (n_outputs,) ndarray or None
        ``|sum_j attributions_j - correlation|``, or against ``reference_correlation`` when a
        reference set was given. It includes the ``baseline_term``.
    settings : dict
        What was used (method, steps actually used, baselines, factorizations, ...).
    baseline_term : (n_outputs,) ndarray or None
        ``cov(c, y) / (sd(f) sd(y))`` with ``c_i = mean_k f(b_ik)`` (sample i's baselines,
        evaluated with its extra inputs): ``sum_j attributions_j + baseline_term = correlation``
        up to the quadrature error. Zero for a shared baseline set without per-sample extras.
    ig_error_relative : (n_outputs,) ndarray or None
        ``ig_error / mean_i |f(x_i) - mean_k f(b_ik)|``.
    reference_correlation : (n_outputs,) ndarray or None
        ``corr(f(x), y)`` on the reference set, when one was given.
    extras : dict of str to ndarray, optional
        Further arrays (e.g. ``p_values`` of a t-test map).
    """

    def __init__(
        self,
        attributions: np.ndarray,
        correlation: np.ndarray | None = None,
        ig_error: np.ndarray | None = None,
        igc_error: np.ndarray | None = None,
        settings: Mapping[str, Any] | None = None,
        baseline_term: np.ndarray | None = None,
        extras: Mapping[str, np.ndarray] | None = None,
        ig_error_relative: np.ndarray | None = None,
        reference_correlation: np.ndarray | None = None,
    ):
        self.attributions = np.asarray(attributions)
        self.correlation = None if correlation is None else np.asarray(correlation)
        self.ig_error = None if ig_error is None else np.asarray(ig_error)
        self.igc_error = None if igc_error is None else np.asarray(igc_error)
        self.baseline_term = None if baseline_term is None else np.asarray(baseline_term)
        self.ig_error_relative = None if ig_error_relative is None else np.asarray(ig_error_relative)
        self.reference_correlation = None if reference_correlation is None else np.asarray(reference_correlation)
        self.settings = dict(settings or {})
        self.extras = {k: np.asarray(v) for k, v in (extras or {}).items()}

    # ------------------------------------------------------------------ properties
    @property
    def kind(self) -> str:
        """What the maps are: "igc", "igac", "igc-categorical", "ig", "ig-mean", ..."""
        return str(self.settings.get("kind", "igc"))

    @property
    def per_sample(self) -> bool:
        """True for per-sample IG, whose attributions start with a sample axis."""
        return self.kind == "ig"

    @property
    def output_idx(self) -> list[int]:
        """The model output index of each map."""
        n_out = self.attributions.shape[1 if self.per_sample else 0]
        return list(self.settings.get("output_idx") or range(n_out))

    def __repr__(self) -> str:
        corr = "" if self.correlation is None else f", correlation={_brief(self.correlation)}"
        err = "" if self.igc_error is None else f", max igc_error={float(np.nanmax(self.igc_error)):.3g}"
        return f"AttributionResult(kind={self.kind!r}, attributions{tuple(self.attributions.shape)}{corr}{err})"

    # ------------------------------------------------------------------ ROI sums
    def roi_sum(self, labels, names: Mapping[int, str] | Sequence[str] | None = None):
        """Sum the attributions over a labelled partition of the input components.

        Parameters
        ----------
        labels : ROILabels, or (*input_shape) or (n_components,) int array-like
            ROI labels of the input features with their lookup table (``nsd.roi(..., like=betas)``):
            the result is the ROI table of :func:`neuro_igc.atlas.roi_sums`. Or one label per input
            component (any input shape, e.g. image pixels); every distinct value is one group
            (label 0 included, drop it from the table if it means "unlabelled").
        names : mapping label -> name, or sequence indexed by label, optional
            Names of plain labels (ROI labels carry their own).

        Returns
        -------
        pandas.DataFrame
            With ROI labels: the ROI table, columns ``subject, output, roi, value, n_features``
            (``neuro_igc.atlas.ROI_TABLE_COLUMNS``), one row per (output, ROI) plus ``"(other)"``
            for the unlabelled features (label 0), outputs named by :attr:`output_idx`.
            With plain labels: one row per (output, label) with columns ``output``, ``label``,
            ``name``, ``n_components`` and ``attribution``. Per-sample IG adds a leading
            ``sample`` column. Because the maps are additive, the rows of one output sum to the
            map's total.

        Examples
        --------
        >>> res = AttributionResult(np.array([[1.0, 2.0, 3.0]]), settings={"output_idx": [0]})
        >>> res.roi_sum([1, 1, 2], names={1: "V1", 2: "V2"})[["name", "attribution"]].values.tolist()
        [['V1', 3.0], ['V2', 3.0]]
        """
        import pandas as pd

        lead = 2 if self.per_sample else 1
        maps = self.attributions.reshape(*self.attributions.shape[:lead], -1)
        roi = labels if hasattr(labels, "feature_space") and hasattr(labels, "table") else None
        labels = np.asarray(roi.labels if roi is not None else labels)
        if labels.size != maps.shape[-1]:
            raise ValueError(
                f"Invalid value for 'labels': expected one label per input component "
                f"({maps.shape[-1]}, input shape {tuple(self.attributions.shape[lead:])}); "
                f"got shape {labels.shape}."
            )
        labels = labels.reshape(-1)
        if roi is not None:
            return self._roi_table(maps, labels, roi, names)
        uniq, inverse = np.unique(labels, return_inverse=True)
        onehot = np.zeros((labels.size, uniq.size))
        onehot[np.arange(labels.size), inverse] = 1.0
        sums = maps @ onehot  # (..., n_outputs, n_labels)
        counts = onehot.sum(0).astype(int)

        def name_of(lab):
            if names is None:
                return str(lab)
            try:
                return str(names[lab])
            except (KeyError, IndexError, TypeError):
                return str(lab)

        outputs = self.output_idx
        rows = []
        samples = range(sums.shape[0]) if self.per_sample else [None]
        for s in samples:
            block = sums[s] if s is not None else sums
            for o, out in enumerate(outputs):
                for li, lab in enumerate(uniq.tolist()):
                    row = {"output": out, "label": lab, "name": name_of(lab),
                           "n_components": int(counts[li]), "attribution": float(block[o, li])}
                    if s is not None:
                        row = {"sample": s, **row}
                    rows.append(row)
        return pd.DataFrame(rows)

    def _roi_table(self, maps, labels, roi, names):
        """The ROI table of ROI labels (``labels``: theirs, flattened)."""
        import pandas as pd

        from neuro_igc._roi_table import roi_names_of, roi_table

        if names is not None:
            raise ValueError("Invalid value for 'names': ROI labels carry their lookup table; leave 'names' out.")
        rois = roi_names_of(labels, roi.table)
        if not self.per_sample:
            return roi_table(maps, labels, rois, outputs=self.output_idx)
        parts = []
        for s, block in enumerate(maps):
            part = roi_table(block, labels, rois, outputs=self.output_idx)
            part.insert(0, "sample", s)
            parts.append(part)
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------------ surface images
    def to_surface_image(self, space, *, output=None, what: str = "attributions", **kwargs):
        """The maps (or a per-output value) on the cortical surface as a nilearn ``SurfaceImage``.

        Parameters
        ----------
        space : SurfaceSpace, vertex table or object with ``feature_space``
            Where the features live: for ``what="attributions"`` the model's inputs (decoding:
            ``betas.feature_space``, or the ``_vertices.tsv`` a pipeline wrote beside the result);
            for a per-output value the model's outputs (encoding: one output per vertex).
        output : int, optional
            Position of one map among :attr:`output_idx` (a 1-D image); default every map
            (data ``(n_vertices, n_maps)`` per hemisphere).
        what : str, default "attributions"
            ``"attributions"`` (maps over the inputs), or a per-output array: ``"correlation"``,
            ``"ig_error"``, ``"igc_error"``, ``"ig_error_relative"``, ``"baseline_term"``,
            ``"reference_correlation"`` or an ``extras`` key.
        **kwargs
            ``density``, ``mesh``, ``surf_dir``, ``fill`` of
            :func:`neuro_igc.surface.to_surface_image`.

        Returns
        -------
        nilearn.surface.SurfaceImage

        Examples
        --------
        >>> from neuro_igc.data import SurfaceSpace
        >>> res = AttributionResult(np.array([[0.1, 0.2, 0.3]]), settings={"output_idx": [0]})
        >>> img = res.to_surface_image(SurfaceSpace("fsaverage5", ["lh", "lh", "rh"], [0, 1, 2]), output=0)
        >>> img.shape, float(img.data.parts["right"][2])
        ((20484,), 0.3)
        """
        from neuro_igc.surface import to_surface_image

        if what == "attributions":
            if self.per_sample:
                raise ValueError("Per-sample IG has one map per sample; aggregate it first (naive_ig) or pick "
                                 "samples: AttributionResult(res.attributions[i]).to_surface_image(...).")
            values = self.attributions
            if values.ndim != 2:
                raise ValueError(
                    f"The attributions have input shape {tuple(values.shape[1:])}, not one value per vertex: they are "
                    "maps over images. Put a per-output value on the surface instead (what='correlation', "
                    "one output per vertex for an encoding model)."
                )
            if output is not None:
                n = values.shape[0]
                if not isinstance(output, (int, np.integer)) or not -n <= output < n:
                    raise ValueError(f"Invalid value for 'output': a position among the {n} maps "
                                     f"(model outputs {self.output_idx}); got {output!r}.")
                values = values[int(output)]
        else:
            if output is not None:
                raise ValueError(f"'output' selects a map of the attributions; what={what!r} is one value per output.")
            values = self.extras.get(what) if what in self.extras else (
                getattr(self, what, None) if what in _ARRAYS else None)
            if values is None:
                have = [k for k in _ARRAYS if getattr(self, k) is not None and k != "attributions"] + list(self.extras)
                raise ValueError(f"Invalid value for 'what': 'attributions' or a per-output array of this result "
                                 f"({', '.join(have) or 'none'}); got {what!r}.")
            values = np.asarray(values, dtype=np.float64).reshape(-1)
        return to_surface_image(values, space, **kwargs)

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike) -> Path:
        """Write the result to one ``.npz`` file (arrays + settings as JSON), atomically.

        A ``.npz`` suffix is added when missing; the written path is returned.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {k: getattr(self, k) for k in _ARRAYS if getattr(self, k) is not None}
        arrays.update({f"extra__{k}": v for k, v in self.extras.items()})
        meta = json.dumps({"format": _FORMAT, "settings": self.settings}, default=_jsonable)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, __meta__=np.array(meta), **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> AttributionResult:
        """Read a result written by :meth:`save`."""
        path = Path(path)
        if not path.exists() and path.with_name(path.name + ".npz").exists():
            path = path.with_name(path.name + ".npz")
        from neuro_igc._read import file_error, read_npz

        data = read_npz(path, "attribution result")
        if "__meta__" not in data:
            raise file_error(path, "not an attribution result written by AttributionResult.save (no '__meta__')",
                             "attribution result", hint="Give a file written by AttributionResult.save.")
        meta = json.loads(str(data["__meta__"]))
        arrays = {k: data[k] for k in _ARRAYS if k in data}
        extras = {k[len("extra__"):]: data[k] for k in data if k.startswith("extra__")}
        return cls(settings=meta.get("settings", {}), extras=extras, **arrays)


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


class NaiveIG(NamedTuple):
    """Naive dataset-wise aggregations of per-sample IG: the mean and the SD over samples."""

    mean: AttributionResult
    sd: AttributionResult


#: at most this many values are listed in a repr; more are summarised
REPR_MAX_VALUES = 8


def _brief(values) -> str:
    """A few values as a list; many as their count, median and range (a repr stays one line)."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size <= REPR_MAX_VALUES:
        return str(np.round(v, 4).tolist())
    if not np.isfinite(v).any():
        return f"<{v.size} values, all NaN>"
    return (f"<{v.size} values: median {np.nanmedian(v):.4g}, min {np.nanmin(v):.4g}, "
            f"max {np.nanmax(v):.4g}>")
