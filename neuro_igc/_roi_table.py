"""The one ROI table: the sums of attribution maps over labelled features, one row per (output, ROI).

Every producer of ROI sums (:func:`neuro_igc.atlas.roi_sums`, ``AttributionResult.roi_sum`` with
ROI labels) builds its table here, and every consumer (group summaries, additivity checks, bar
plots, the pipeline's ``_roisums.tsv``) reads these columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["ROI_TABLE_COLUMNS", "OTHER", "roi_table", "roi_names_of"]

#: Columns of an ROI table, in order: ``subject`` (label given by the caller, may be None),
#: ``output`` (output name or index), ``roi`` (ROI name), ``value`` (sum of the map over the ROI's
#: features), ``n_features`` (how many features the ROI has). Per-sample maps add a leading
#: ``sample`` column.
ROI_TABLE_COLUMNS = ("subject", "output", "roi", "value", "n_features")

#: ROI name of the features outside every listed ROI (label 0, "unlabelled" in NSD's tables), so
#: that the rows of one output partition its features.
OTHER = "(other)"


def roi_names_of(labels: np.ndarray, table: Mapping[int, str]) -> dict[int, str]:
    """``{label: ROI name}`` in label order: the table's ROIs, plus ``"roi<k>"`` for labels > 0
    that occur in ``labels`` but are missing from the table."""
    names = {int(k): str(v) for k, v in table.items() if int(k) > 0}
    present = np.unique(np.asarray(labels))
    for k in present[present > 0].tolist():
        names.setdefault(int(k), f"roi{k}")
    return dict(sorted(names.items()))


def roi_table(
    maps,
    labels,
    names: Mapping[int, str],
    *,
    outputs: Sequence | None = None,
    subject=None,
    include_other: bool = True,
):
    """Sum (n_outputs, n_features) maps over each ROI: a table with :data:`ROI_TABLE_COLUMNS`.

    Parameters
    ----------
    maps : (n_features,) or (n_outputs, n_features) array-like
    labels : (n_features,) int array
        ROI label of each feature; labels not in ``names`` (0 among them) go to the
        :data:`OTHER` row.
    names : mapping {label: ROI name}
        The ROIs reported, in row order.
    outputs : sequence, optional
        One name per output (default ``0..n_outputs-1``).
    subject : label, optional
        Stored in the ``subject`` column.
    include_other : bool, default True
        Add the :data:`OTHER` row, so that the rows of one output add up to the map's total.
    """
    import pandas as pd

    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 1:
        maps = maps[None]
    n_out = maps.shape[0]
    outputs = list(range(n_out)) if outputs is None else list(outputs)
    ids = list(names)
    rows = [str(names[i]) for i in ids]
    # one matrix product: (n_outputs, n_features) @ (n_features, n_rois) indicator
    onehot = np.asarray(labels)[:, None] == np.asarray(ids, dtype=np.int64)[None, :]
    if include_other:
        onehot = np.column_stack([onehot, ~onehot.any(1)])
        rows = rows + [OTHER]
    sums = maps @ onehot.astype(np.float64)
    counts = onehot.sum(0)
    return pd.DataFrame(
        {
            "subject": [subject] * (n_out * len(rows)),
            "output": np.repeat(np.asarray(outputs, dtype=object), len(rows)),
            "roi": rows * n_out,
            "value": sums.ravel(),
            "n_features": np.tile(counts, n_out),
        },
        columns=list(ROI_TABLE_COLUMNS),
    )
