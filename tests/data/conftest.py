"""Synthetic NSD folders shared by the data tests (built once per test session)."""

from __future__ import annotations

import pytest

from neuro_igc.data import NSD, make_nsd_like


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """2 subjects x 2 sessions x 40 trials, 64 px images, both volume spaces on a small grid."""
    root = tmp_path_factory.mktemp("nsd_tiny")
    truth = make_nsd_like(root, subjects=2, sessions=2, seed=3, trials=40, image_size=64,
                          volume_spaces=("func1pt8mm", "func1mm"), volume_shape=(10, 12, 10),
                          shared_fraction=0.3, progress=False)
    return root, truth


@pytest.fixture(scope="session")
def tiny_nsd(tiny):
    return NSD(tiny[0], progress=False)
