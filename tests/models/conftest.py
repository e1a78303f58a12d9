"""Small instances of every zoo model, shared by the model tests."""

from __future__ import annotations

import pytest
import torch

#: name -> (constructor kwargs, input shape of one sample, kwargs of forward)
SMALL_MODELS = {
    "decoding_mlp": (dict(n_inputs=20, n_outputs=2, n_subjects=3, hidden=16, widths=(8, 4)),
                     (20,), {"subject": torch.tensor([0, 2, 1, 2, 0, 1])}),
    "encoding_convnext": (dict(n_outputs=[7, 7], n_subjects=2, input_size=16, stem_width=4,
                               widths=(8, 16), depth=2, hidden=12),
                          (1, 16, 16), {"subject": 1}),
    "digits_classifier": (dict(channels=(4, 8), widths=(16, 12, 8, 8)), (1, 8, 8), {}),
}


@pytest.fixture
def small_models():
    """name -> (constructor kwargs, sample shape, forward kwargs) for small zoo models."""
    return SMALL_MODELS


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core machine the thread
    pool's busy waiting can make each small op many times slower; restore afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
