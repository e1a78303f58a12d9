"""The experiment's side of an NSD folder: the design, the behavioural responses, the stimulus
table, and the trial table that goes with each session of betas."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from neuro_igc._read import read_table
from neuro_igc.data import _layout as L
from neuro_igc.data._betas import Betas
from neuro_igc.data._expdesign import ExpDesign
from neuro_igc.data._sanity import drop_flagged_sessions

__all__ = ["DesignReader"]


class DesignReader:
    """Design, responses and stimulus table of one NSD folder (a part of :class:`~neuro_igc.data.NSD`)."""

    def __init__(self, root: Path):
        self.root = root

    def _file(self, rel: Path, what: str) -> Path:
        return L.require_file(self.root, rel, what)

    @cached_property
    def expdesign(self) -> ExpDesign:
        """``nsd_expdesign.mat``, 0-based, read once."""
        return ExpDesign.from_mat(self._file(L.expdesign_path(), "experiment design"))

    def responses(self, subject):
        """``responses.tsv`` of a subject with 0-based ``image_id`` and ``image_10k`` (see :meth:`NSD.responses`)."""
        s = L.subject_id(subject)
        path = self._file(L.responses_path(s), f"behavioural responses of {L.subject_name(s)}")
        df = read_table(path, "behavioural responses", sep="\t", columns=L.RESPONSES_COLUMNS)
        df["image_id"] = df["73KID"].astype(np.int64) - 1
        df["image_10k"] = df["10KID"].astype(np.int64) - 1
        return df

    def stim_info(self):
        """``nsd_stim_info_merged.csv`` as a DataFrame."""
        return read_table(self._file(L.stim_info_path(), "stimulus information table"), "stimulus information table",
                          index_col=0)

    def trial_meta(self, s: int, session: int, n_trials: int, path) -> dict:
        """Image ids and session/trial numbers of the first ``n_trials`` trials of a session (read from ``path``)."""
        if n_trials > L.TRIALS_PER_SESSION:
            raise ValueError(f"Wrong shape in {path}: at most {L.TRIALS_PER_SESSION} trials per session; got {n_trials}.")
        g = self.expdesign.session_trials(session, n_trials)
        return {
            "image_ids": self.expdesign.image_ids(s, g),
            "session": np.full(n_trials, session, dtype=np.int64),
            "trial": np.arange(1, n_trials + 1, dtype=np.int64),
            "global_trial": g + 1,
        }

    @staticmethod
    def assemble(s, parts, feature_space, version) -> Betas:
        """``Betas`` from ``(data, trial tables, flagged sessions)``; constant sessions dropped with a warning."""
        data, metas, flags = parts
        meta = {k: np.concatenate([m[k] for m in metas]) for k in metas[0]}
        out = Betas(data, subject=s, feature_space=feature_space, info={"version": version}, **meta)
        return drop_flagged_sessions(out, flags, f"{L.subject_name(s)} ({feature_space.name})")
