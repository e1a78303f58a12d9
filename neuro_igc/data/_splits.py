"""Named image splits of NSD (shared1000, special515, the 37-session test set) and session presets,
computed from the experiment design."""

from __future__ import annotations

import numpy as np

from neuro_igc._utils import check_option
from neuro_igc.data import _layout as L
from neuro_igc.data._expdesign import ExpDesign

__all__ = ["SPLITS", "preset_sessions", "split_ids"]

#: named image splits (0-based 73k ids) and what they hold
SPLITS = {
    "shared1000": "the 1000 images shown to every subject by design (nsd_expdesign.mat 'sharedix')",
    "special515": "the shared images every subject saw 3 times in its acquired sessions",
    "nsd37-test": "the images that subjects 1, 2, 5 and 7 all saw in their first 37 sessions "
                  "(the test set of pipelines trained on the 37-session release)",
}


def preset_sessions(subject, preset: str = "nsd37") -> list[int]:
    """Sessions of a named preset (see :meth:`NSD.preset_sessions`)."""
    s = L.subject_id(subject)
    check_option("sessions", preset, L.SESSION_PRESETS)
    return list(range(1, L.SESSION_PRESETS[preset][s - 1] + 1))


def _seen_counts(design: ExpDesign, s: int, n_sessions: int) -> np.ndarray:
    """How often subject ``s`` saw each 73k image in its first ``n_sessions`` sessions."""
    trials = np.arange(n_sessions * L.TRIALS_PER_SESSION)
    return np.bincount(design.image_ids(s, trials), minlength=L.N_IMAGES_73K)


def split_ids(design: ExpDesign, name: str) -> np.ndarray:
    """0-based 73k ids of a named split, sorted (see :meth:`NSD.split_ids`)."""
    check_option("name", name, SPLITS)
    if name == "shared1000":
        return np.sort(design.shared_ids)
    if name == "special515":
        ok = np.ones(L.N_IMAGES_73K, dtype=bool)
        for s in range(1, L.N_SUBJECTS + 1):
            ok &= _seen_counts(design, s, L.SESSIONS_PER_SUBJECT[s - 1]) >= 3
        return np.sort(np.intersect1d(np.flatnonzero(ok), design.shared_ids))
    preset = "nsd37"
    ok = np.ones(L.N_IMAGES_73K, dtype=bool)
    for s in L.PRESET_TEST_SUBJECTS[preset]:
        ok &= _seen_counts(design, s, L.SESSION_PRESETS[preset][s - 1]) >= 1
    return np.flatnonzero(ok)
