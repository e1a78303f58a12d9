"""Named image splits of NSD (shared1000, special515, the 37-session test set), session presets,
and the noise ceiling from ncsnr."""

from __future__ import annotations

import numpy as np

from neuro_igc._utils import check_option
from neuro_igc.data import _layout as L

__all__ = ["SplitsMixin", "noise_ceiling", "SPLITS"]

#: named image splits (0-based 73k ids) and what they hold
SPLITS = {
    "shared1000": "the 1000 images shown to every subject by design (nsd_expdesign.mat 'sharedix')",
    "special515": "the shared images every subject saw 3 times in its acquired sessions",
    "nsd37-test": "the images that subjects 1, 2, 5 and 7 all saw in their first 37 sessions "
                  "(the test set of pipelines trained on the 37-session release)",
}


def noise_ceiling(ncsnr, n: int = 1) -> np.ndarray:
    """Noise ceiling (percent of variance) from NSD's ncsnr for responses averaged over ``n`` trials:
    ``NC = 100 * ncsnr**2 / (ncsnr**2 + 1 / n)``.

    Examples
    --------
    >>> noise_ceiling([0.0, 1.0], n=1).tolist(), float(noise_ceiling(1.0, n=3))
    ([0.0, 50.0], 75.0)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"Invalid value for 'n': the number of averaged trials, an integer >= 1; got {n!r}.")
    snr2 = np.square(np.asarray(ncsnr, dtype=np.float64))
    return 100.0 * snr2 / (snr2 + 1.0 / int(n))


class SplitsMixin:
    """Part of :class:`~neuro_igc.data.NSD`: session presets and named image splits."""

    def preset_sessions(self, subject, preset: str = "nsd37") -> list[int]:
        """Sessions of a named preset: ``"nsd37"`` = every session but the last 3 (37 37 29 27 37
        29 37 27 for subjects 1-8), the release most published pipelines use."""
        s = L.subject_id(subject)
        check_option("sessions", preset, L.SESSION_PRESETS)
        return list(range(1, L.SESSION_PRESETS[preset][s - 1] + 1))

    def _seen_counts(self, s: int, n_sessions: int) -> np.ndarray:
        """How often subject ``s`` saw each 73k image in its first ``n_sessions`` sessions."""
        trials = np.arange(n_sessions * L.TRIALS_PER_SESSION)
        return np.bincount(self.expdesign.image_ids(s, trials), minlength=L.N_IMAGES_73K)

    def split_ids(self, name: str) -> np.ndarray:
        """0-based 73k ids of a named split (sorted).

        ``"shared1000"``, ``"special515"`` (shared images seen 3 times by every subject) or
        ``"nsd37-test"`` (images seen by all of subjects 1, 2, 5, 7 in their first 37 sessions);
        computed from ``nsd_expdesign.mat`` (see ``SPLITS``).
        """
        check_option("name", name, SPLITS)
        if name == "shared1000":
            return np.sort(self.expdesign.shared_ids)
        if name == "special515":
            ok = np.ones(L.N_IMAGES_73K, dtype=bool)
            for s in range(1, L.N_SUBJECTS + 1):
                ok &= self._seen_counts(s, L.SESSIONS_PER_SUBJECT[s - 1]) >= 3
            return np.sort(np.intersect1d(np.flatnonzero(ok), self.expdesign.shared_ids))
        preset = "nsd37"
        ok = np.ones(L.N_IMAGES_73K, dtype=bool)
        for s in L.PRESET_TEST_SUBJECTS[preset]:
            ok &= self._seen_counts(s, L.SESSION_PRESETS[preset][s - 1]) >= 1
        return np.flatnonzero(ok)
