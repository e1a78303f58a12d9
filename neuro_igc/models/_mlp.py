"""The fMRI decoding MLP of the paper (appendix A.6): brain activity -> image statistics."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuro_igc.models._base import ZooModel, check_fraction, check_int, check_ints, check_sizes, check_subject_int
from neuro_igc.models._layers import (
    PerSubjectBatchNorm1d,
    PerSubjectLinear,
    _route,
    init_kaiming_,
    init_xavier_,
)

__all__ = ["DecodingMLP"]


class DecodingMLP(ZooModel):
    """Decoding MLP with a per-subject input layer (the paper's fMRI decoding model).

    Layers: dropout(``input_dropout``) -> per-subject Linear(n_inputs -> ``hidden``, no bias) +
    per-subject BatchNorm + Mish + dropout -> for each width in ``widths``: Linear (no bias) +
    BatchNorm + Mish, followed by dropout except after the last one -> Linear(-> ``n_outputs``,
    with bias). Layers followed by Mish are Kaiming-normal initialised, the output layer
    Xavier-normal.

    Parameters
    ----------
    n_inputs : int or sequence of int
        Number of input features (vertices). One int when every subject shares the feature
        space (fsaverage surface), or one size per subject (native volume spaces); with sizes that
        differ, a batch must come from one subject (``subject`` an int), which
        :func:`neuro_igc.models.fit` arranges.
    n_outputs : int, default=2
        Number of decoded statistics (the paper: luminance contrast and 1/f slope).
    n_subjects : int, default=1
    hidden : int, default=128
        Width of the per-subject layer.
    widths : sequence of int, default=(64, 32, 16, 8)
        Widths of the shared layers.
    dropout : float, default=0.25
    input_dropout : float, default=0.25

    Notes
    -----
    Factorization protocol (see :mod:`neuro_igc.models._layers`): ``igc_input_linear`` is the
    per-subject first layer and ``forward_from_input_linear(z, subject=...)`` the rest;
    ``igc_readout`` is the output Linear and ``forward_features(x, subject=...)`` everything
    before it. Both reproduce ``model(x, subject=...)`` exactly in eval mode (input dropout is
    the identity there).

    Examples
    --------
    >>> model = DecodingMLP(n_inputs=50, n_outputs=2, n_subjects=3).eval()
    >>> model(torch.randn(4, 50), subject=torch.tensor([0, 2, 2, 1])).shape
    torch.Size([4, 2])
    """

    name = "decoding_mlp"

    def __init__(
        self,
        n_inputs: int | Sequence[int],
        n_outputs: int = 2,
        n_subjects: int = 1,
        hidden: int = 128,
        widths: Sequence[int] = (64, 32, 16, 8),
        dropout: float = 0.25,
        input_dropout: float = 0.25,
    ):
        super().__init__()
        for pname, value in (("n_outputs", n_outputs), ("n_subjects", n_subjects), ("hidden", hidden)):
            check_int(pname, value)
        check_sizes("n_inputs", n_inputs, n_subjects)
        widths = check_ints("widths", widths)
        for pname, value in (("dropout", dropout), ("input_dropout", input_dropout)):
            check_fraction(pname, value)
        self._store_config(
            n_inputs=n_inputs, n_outputs=n_outputs, n_subjects=n_subjects, hidden=hidden,
            widths=widths, dropout=dropout, input_dropout=input_dropout,
        )
        self.n_subjects = int(n_subjects)
        self.input_dropout = nn.Dropout(float(input_dropout))
        self.input_linear = PerSubjectLinear(self.n_subjects, n_inputs, int(hidden), bias=False)
        self.n_inputs_per_subject = self.input_linear.in_features_per_subject
        self.input_norm = PerSubjectBatchNorm1d(self.n_subjects, int(hidden))
        self.input_act = nn.Mish()
        self.input_drop = nn.Dropout(float(dropout))
        layers: list[nn.Module] = []
        prev = int(hidden)
        for k, w in enumerate(widths):
            lin = nn.Linear(prev, w, bias=False)
            init_kaiming_(lin)
            layers += [lin, nn.BatchNorm1d(w), nn.Mish()]
            if k < len(widths) - 1:
                layers.append(nn.Dropout(float(dropout)))
            prev = w
        self.shared = nn.Sequential(*layers)
        self.readout = nn.Linear(prev, int(n_outputs), bias=True)
        init_kaiming_(self.input_linear)
        init_xavier_(self.readout)

    # -- factorization protocol -------------------------------------------------------------
    @property
    def igc_input_linear(self) -> PerSubjectLinear:
        """The per-subject first layer (``z = A_s x``)."""
        return self.input_linear

    @property
    def igc_readout(self) -> nn.Linear:
        """The output layer (``f = W h + b``)."""
        return self.readout

    def _check_input(self, x: torch.Tensor, subject) -> torch.Tensor:
        if x.ndim < 2:
            raise ValueError(
                f"DecodingMLP expects x of shape (n_samples, n_inputs); got shape {tuple(x.shape)}."
            )
        x = x.flatten(1)
        s, groups = _route(subject, x.shape[0])
        sizes = self.n_inputs_per_subject
        for g in [s] if groups is None else groups:
            check_subject_int(g, self.n_subjects, "this DecodingMLP")
        if groups is not None and len(set(sizes)) > 1:
            raise ValueError(
                "Subjects with different 'n_inputs' cannot share a batch: pass one int 'subject' "
                f"(n_inputs per subject: {sizes})."
            )
        expected = sizes[s if groups is None else 0]
        if x.shape[1] != expected:
            raise ValueError(
                f"DecodingMLP expects x of shape (n_samples, {expected}) for subject "
                f"{s if groups is None else groups}; got shape {tuple(x.shape)}."
            )
        return x

    def forward_from_input_linear(self, z: torch.Tensor, subject=0) -> torch.Tensor:
        """The model after its first layer: ``z`` (n, hidden) -> outputs (n, n_outputs)."""
        return self.readout(self._features_from_z(z, subject))

    def _features_from_z(self, z: torch.Tensor, subject) -> torch.Tensor:
        h = self.input_drop(self.input_act(self.input_norm(z, subject=subject)))
        return self.shared(h)

    def forward_features(self, x: torch.Tensor, subject=0) -> torch.Tensor:
        """Everything before the readout: x (n, n_inputs) -> (n, widths[-1])."""
        x = self._check_input(x, subject)
        z = self.input_linear(self.input_dropout(x), subject=subject)
        return self._features_from_z(z, subject)

    def forward(self, x: torch.Tensor, subject=0) -> torch.Tensor:
        """x (n, n_inputs) -> (n, n_outputs); ``subject`` an int or a (n,) LongTensor."""
        return self.readout(self.forward_features(x, subject=subject))
