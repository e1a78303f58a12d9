"""Tiny float64 models and data shared by the attribution tests."""
from __future__ import annotations
import numpy as np
import pytest
import torch

from attribution_nets import SubjectNet, mish_mlp, tiny_cnn  # noqa: F401


@pytest.fixture
def regression_data():
    """x (120, 6) float64 and y (120, 3): a noisy nonlinear function of the first components."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6))
    y = np.stack([np.tanh(x[:, 0]) + x[:, 1], x[:, 2] ** 2 - x[:, 0], x[:, 3]], axis=1) + 0.3 * rng.normal(size=(120, 3))
    return torch.tensor(x), torch.tensor(y)


@pytest.fixture
def subject_data():
    """x (60, 7), y (60, 10) and mixed subjects 0..2."""
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(60, 7)))
    y = torch.tensor(rng.normal(size=(60, 10))) + x[:, :1]
    subject = torch.tensor(rng.integers(0, 3, size=60))
    return x, y, subject


@pytest.fixture
def image_data():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=(16, 1, 8, 8)))
    y = torch.tensor(rng.normal(size=(16, 12))) + x.mean((1, 2, 3))[:, None]
    return x, y


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one intra-op thread avoids thread hand-off costs on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
