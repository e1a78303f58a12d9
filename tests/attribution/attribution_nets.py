"""Tiny float64 models and data shared by the attribution tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neuro_igc.models._layers import PerSubjectLinear


def mish_mlp(n_in: int = 6, n_out: int = 3, hidden: int = 16, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.Mish(), nn.Linear(hidden, 8), nn.BatchNorm1d(8), nn.Mish(), nn.Linear(8, n_out)
    ).double()


class SubjectNet(nn.Module):
    """Per-subject input layer and per-subject readout, declared through the protocol."""

    def __init__(self, n_in=7, n_out=10, n_subjects=3, hidden=5, bottleneck=4, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.inp = PerSubjectLinear(n_subjects, n_in, hidden)
        for b in self.inp.biases:
            nn.init.normal_(b, std=0.3)
        self.body = nn.Sequential(nn.Mish(), nn.Linear(hidden, bottleneck), nn.BatchNorm1d(bottleneck), nn.Mish())
        self.out = PerSubjectLinear(n_subjects, bottleneck, n_out)
        for b in self.out.biases:
            nn.init.normal_(b, std=0.3)
        self.double()

    @property
    def igc_input_linear(self):
        return self.inp

    @property
    def igc_readout(self):
        return self.out

    def forward_from_input_linear(self, z, subject=0):
        return self.out(self.body(z), subject=subject)

    def forward_features(self, x, subject=0):
        return self.body(self.inp(x.flatten(1), subject=subject))

    def forward(self, x, subject=0):
        return self.forward_from_input_linear(self.inp(x.flatten(1), subject=subject), subject=subject)


def tiny_cnn(n_out: int = 12, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 3, 2, stride=2), nn.GELU(), nn.Conv2d(3, 4, 3, padding=1, groups=1), nn.Mish(),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 5), nn.Mish(), nn.Linear(5, n_out),
    ).double()
