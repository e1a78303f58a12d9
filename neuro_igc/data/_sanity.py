"""Load-time checks of beta values that are valid files but wrong data.

A session whose betas are constant (all zero, or one value everywhere) in a hemisphere or volume
holds no response: a file written empty, a failed export, a mixed-up download. Left in, it
changes the z-scoring and the fitted model without any error. The readers flag such blocks
(:func:`constant_value`) as they read them; :func:`drop_flagged_sessions` then drops those
sessions with a warning naming the file, session and hemisphere, or raises when no session is
left.

NaN and infinite betas (outside a subject's coverage in NSD's fsaverage files, or a damaged
file) follow the ``nan=`` policy of :meth:`NSD.betas` (:func:`apply_nan_policy`), before any
z-scoring (which would spread one infinite beta over its whole session).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from neuro_igc.data._layout import subject_name

__all__ = ["constant_value", "drop_flagged_sessions", "Flag", "NAN_POLICIES", "apply_nan_policy"]

logger = logging.getLogger("neuro_igc.data._nsd")  # the checks of the NSD reader log under its name

#: what to do with NaN betas: drop the features NaN in every trial (and raise on partial NaN),
#: drop every feature holding a NaN, keep them, or raise on any NaN
NAN_POLICIES = ("drop", "drop-any", "keep", "raise")

#: one flagged block: (session, hemisphere or None for volumes, file, its constant value)
Flag = tuple[int, "str | None", Path, float]


def constant_value(block: np.ndarray) -> float | None:
    """The one value of ``block`` (NaN and inf ignored) when every finite value is the same and
    there are at least two of them; None otherwise (a block of one value says nothing)."""
    if block.size < 2:
        return None
    block = block.reshape(block.shape[0], -1) if block.ndim > 1 else block[:, None]
    lo, hi, n = np.inf, -np.inf, 0
    for r0 in range(0, block.shape[0], 64):  # rows at a time: real data differs in the first rows
        part = block[r0:r0 + 64]
        finite = np.isfinite(part)
        n += int(finite.sum())
        lo = min(lo, float(np.min(part, where=finite, initial=np.inf)))
        hi = max(hi, float(np.max(part, where=finite, initial=-np.inf)))
        if lo < hi:
            return None
    if n < 2:
        return None  # all NaN/inf, or one value: the nan= policy's business
    return lo


def _where(flag: Flag) -> str:
    ses, hemi, path, value = flag
    part = f"{hemi} " if hemi else ""
    return f"session {ses} ({part}{path}: every beta is {value:g})"


def drop_flagged_sessions(betas, flags: list[Flag], who: str):
    """``betas`` without the sessions in ``flags`` (a warning names each file); a ValueError when
    every loaded session is flagged."""
    if not flags:
        return betas
    bad = sorted({f[0] for f in flags})
    where = "; ".join(_where(f) for f in flags[:4]) + (f"; and {len(flags) - 4} more" if len(flags) > 4 else "")
    loaded = sorted(set(np.unique(betas.session).tolist()))
    if set(bad) >= set(loaded):
        raise ValueError(
            f"Constant betas in {who}: {where}. No loaded session has responses; the files are damaged or "
            "not betas (download them again, or choose other sessions)."
        )
    keep = ~np.isin(betas.session, bad)
    logger.warning(
        "%s: dropped %d of %d session(s) whose betas are constant (no response; a damaged or empty file?): %s. "
        "Download them again, or leave them out with 'sessions'.", who, len(bad), len(loaded), where,
    )
    out = betas.select_trials(keep)
    out.info = {**betas.info, "constant_sessions_dropped": bad}
    return out


def _nan_columns(data: np.ndarray, block: int = 8192):
    """(any non-finite, all non-finite) per column -- NaN and +-inf alike -- a block of
    columns at a time (no full-size temporary)."""
    n = data.shape[1]
    any_, all_ = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for c0 in range(0, n, block):
        m = ~np.isfinite(data[:, c0:c0 + block])
        any_[c0:c0 + block] = m.any(axis=0)
        all_[c0:c0 + block] = m.all(axis=0) if data.shape[0] else False
    return any_, all_


def apply_nan_policy(b, nan: str):
    """``b`` after the ``nan=`` policy (:data:`NAN_POLICIES`), NaN and infinite betas alike."""
    if nan == "keep" or b.n_features == 0:
        return b
    any_nan, all_nan = _nan_columns(b.data)
    if not any_nan.any():
        return b

    def where(idx):
        col = b.data[:, idx]
        kinds = "/".join(k for k, m in (("NaN", np.isnan(col)), ("inf", np.isinf(col))) if m.any())
        rows = np.flatnonzero(~np.isfinite(col))
        ses = sorted(set(b.session[rows].tolist()))
        loc = f"{b.hemi[idx]} vertex {b.vertex[idx]}" if b.hemi is not None else f"voxel {tuple(b.ijk[idx])}"
        return f"{loc}, {kinds} in {rows.size} of {b.n_trials} trials, session(s) {ses[:5]}"

    who = f"{subject_name(b.subject)} ({b.space})"
    partial = any_nan & ~all_nan
    n_inf = int(np.isinf(b.data[:, any_nan]).any(axis=0).sum())
    kind = "NaN or infinite" if n_inf else "NaN"
    if nan == "raise":
        first = int(np.flatnonzero(any_nan)[0])
        raise ValueError(f"{kind} betas in {int(any_nan.sum())} of {b.n_features} features of {who} (first: "
                         f"{where(first)}); pass nan='drop' to drop the features NaN in every trial.")
    if nan == "drop" and partial.any():
        first = int(np.flatnonzero(partial)[0])
        raise ValueError(
            f"{kind} betas in only some trials of {int(partial.sum())} features of {who} (first: {where(first)}); "
            "pass nan='drop-any' to drop them as well, or nan='keep'."
        )
    drop = all_nan if nan == "drop" else any_nan
    logger.info("%s: dropped %d of %d features with %s betas (%s; %d with infinite values)", who, int(drop.sum()),
                b.n_features, kind, "in every trial" if nan == "drop" else "in any trial",
                int(np.isinf(b.data[:, drop]).any(axis=0).sum()) if drop.any() else 0)
    out = b.select_features(~drop)
    out.info = {**b.info, "nan_dropped": int(drop.sum())}
    return out
