"""Load-time checks of beta values that are valid files but wrong data.

A session whose betas are constant (all zero, or one value everywhere) in a hemisphere or volume
holds no response: a file written empty, a failed export, a mixed-up download. Left in, it
changes the z-scoring and the fitted model without any error. The readers flag such blocks
(:func:`constant_value`) as they read them; :func:`drop_flagged_sessions` then drops those
sessions with a warning naming the file, session and hemisphere, or raises when no session is
left.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["constant_value", "drop_flagged_sessions", "Flag"]

logger = logging.getLogger("neuro_igc.data")

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
