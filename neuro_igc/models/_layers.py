"""Layers shared by the zoo, and the protocols the attribution engine reads.

Per-subject linear layers (public protocol)
-------------------------------------------
A layer with one weight matrix per subject, chosen by a keyword argument of the model, is
recognised by ``neuro_igc.attribution`` as a linear map (for its exact input-linear and readout
factorizations) when it has, duck-typed (see :class:`SubjectLinear`):

``subject_key`` : str
    The keyword that carries the subject index, in the layer's ``forward`` and in the model's
    (``extra={subject_key: LongTensor (n,)}`` or ``model_kwargs={subject_key: int}`` when
    attributing). Default name: ``"subject"``.
``weight_for(subject: int) -> Tensor (out, in)`` and ``bias_for(subject: int) -> Tensor (out,) | None``
    The affine map of one subject: ``forward(h, subject=s) == h @ weight_for(s).T + bias_for(s)``.

:class:`PerSubjectLinear` implements it. Nothing else is needed: the engine finds such a layer
(or an ``nn.Linear``) as the model's readout or first layer by observing a forward pass, and
checks it on probe points before using it.

Declaring the factorizations (optional)
---------------------------------------
A model can also name the two maps itself, duck-typed; the engine then uses these (verified
the same way) instead of looking:

``igc_input_linear`` : ``nn.Linear`` or a per-subject linear layer (attribute or property)
    The first map of the model, applied to the flattened input: ``z = A x + c``.
``forward_from_input_linear(z, **extra)``
    The rest of the model, so that ``model(x, **extra) == forward_from_input_linear(
    igc_input_linear(x.flatten(1)[, subject]), **extra)`` in eval mode.
``igc_readout`` : ``nn.Linear`` or a per-subject linear layer (attribute or property)
    The last map of the model: ``f = W h + b``.
``forward_features(x, **extra)``
    Everything before the readout: ``model(x, **extra) == igc_readout(forward_features(x,
    **extra)[, subject])``.

Or pass the layer (or its attribute name) when attributing: ``igc(..., readout="readout")``.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from neuro_igc._utils import FRACTION, POSITIVE_INT, check_param

__all__ = [
    "SubjectLinear",
    "PerSubjectLinear",
    "PerSubjectBatchNorm1d",
    "DropPath",
    "LayerNorm2d",
    "init_kaiming_",
    "init_xavier_",
]


@runtime_checkable
class SubjectLinear(Protocol):
    """The per-subject linear layer protocol (see the module docstring).

    Examples
    --------
    >>> isinstance(PerSubjectLinear(2, 5, 3), SubjectLinear)
    True
    >>> isinstance(nn.Linear(5, 3), SubjectLinear)
    False
    """

    subject_key: str

    def weight_for(self, subject: int) -> torch.Tensor:
        """The ``(out, in)`` weight of one subject."""
        ...

    def bias_for(self, subject: int) -> torch.Tensor | None:
        """The ``(out,)`` bias of one subject, or None."""
        ...


class PerSubjectLinear(nn.Module):
    """A linear layer with one weight matrix per subject, chosen by a subject index.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (weight sets).
    in_features : int or sequence of int
        Input size, the same for every subject, or one per subject.
    out_features : int or sequence of int
        Output size, the same for every subject, or one per subject (a per-subject readout onto
        each subject's own vertices). With sizes that differ between subjects, ``subject`` must
        be one int for the whole batch.
    bias : bool, default=True

    Examples
    --------
    >>> layer = PerSubjectLinear(2, 5, 3)
    >>> layer(torch.zeros(4, 5), subject=torch.tensor([0, 1, 1, 0])).shape
    torch.Size([4, 3])
    """

    subject_key = "subject"

    def __init__(self, n_subjects: int, in_features, out_features, bias: bool = True):
        super().__init__()
        self.n_subjects = int(check_param("n_subjects", n_subjects, POSITIVE_INT))
        ins = self._per_subject("in_features", in_features)
        outs = self._per_subject("out_features", out_features)
        self.in_features_per_subject = ins
        self.out_features_per_subject = outs
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.empty(o, i)) for i, o in zip(ins, outs)]
        )
        self.biases = (
            nn.ParameterList([nn.Parameter(torch.zeros(o)) for o in outs]) if bias else None
        )
        self.reset_parameters()

    def _per_subject(self, name, value):
        if isinstance(value, int):
            return [value] * self.n_subjects
        value = [int(v) for v in value]
        if len(value) != self.n_subjects:
            raise ValueError(
                f"Invalid value for {name!r}: expected one size per subject "
                f"({self.n_subjects}); got {len(value)}."
            )
        return value

    @property
    def uniform(self) -> bool:
        """True when every subject has the same input and output sizes."""
        return len(set(self.in_features_per_subject)) == 1 and len(set(self.out_features_per_subject)) == 1

    def reset_parameters(self) -> None:
        for w in self.weights:
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        if self.biases is not None:
            for b in self.biases:
                nn.init.zeros_(b)

    def weight_for(self, subject: int) -> torch.Tensor:
        """The ``(out, in)`` weight of one subject."""
        return self.weights[_check_subject(self.n_subjects, subject)]

    def bias_for(self, subject: int) -> torch.Tensor | None:
        """The ``(out,)`` bias of one subject, or None."""
        return None if self.biases is None else self.biases[_check_subject(self.n_subjects, subject)]

    def forward(self, x: torch.Tensor, subject=0) -> torch.Tensor:
        if isinstance(subject, torch.Tensor) and subject.ndim > 0:
            subject = subject.reshape(-1)
            if subject.shape[0] != x.shape[0]:
                raise ValueError(
                    f"'subject' has {subject.shape[0]} entries but the batch has {x.shape[0]} samples."
                )
            groups = torch.unique(subject)
            if groups.numel() == 1:
                subject = int(groups.item())
            else:
                if not self.uniform:
                    raise ValueError(
                        "Subjects with different layer sizes cannot share a batch: pass one int 'subject'."
                    )
                out = x.new_empty(x.shape[0], self.out_features_per_subject[0])
                for s in groups.tolist():
                    mask = subject == s
                    out[mask] = nn.functional.linear(x[mask], self.weight_for(s), self.bias_for(s))
                return out
        return nn.functional.linear(x, self.weight_for(subject), self.bias_for(subject))

    def extra_repr(self) -> str:
        return (
            f"n_subjects={self.n_subjects}, in_features={self.in_features_per_subject}, "
            f"out_features={self.out_features_per_subject}, bias={self.biases is not None}"
        )


def _check_subject(n_subjects: int, subject) -> int:
    """``subject`` as an int, checked against the ``n_subjects`` of a per-subject layer."""
    s = int(subject)
    if not 0 <= s < n_subjects:
        raise ValueError(
            f"Invalid value for 'subject': index {s} is outside 0..{n_subjects - 1} "
            f"(this layer has {n_subjects} subjects)."
        )
    return s


def _route(subject, n: int):
    """Normalise ``subject`` to an int, or a ``(n,)`` LongTensor with several distinct values."""
    if isinstance(subject, torch.Tensor) and subject.ndim > 0:
        subject = subject.reshape(-1)
        if subject.shape[0] != n:
            raise ValueError(f"'subject' has {subject.shape[0]} entries but the batch has {n} samples.")
        groups = torch.unique(subject)
        if groups.numel() == 1:
            return int(groups.item()), None
        return subject, groups.tolist()
    return int(subject), None


class PerSubjectBatchNorm1d(nn.Module):
    """One ``BatchNorm1d`` per subject, chosen by a subject index like :class:`PerSubjectLinear`.

    In training mode a batch that mixes subjects normalises each subject's samples with that
    subject's own batch statistics (each group needs at least 2 samples).

    Parameters
    ----------
    n_subjects : int
    num_features : int

    Examples
    --------
    >>> bn = PerSubjectBatchNorm1d(2, 3).eval()
    >>> bn(torch.zeros(4, 3), subject=torch.tensor([0, 1, 1, 0])).shape
    torch.Size([4, 3])
    """

    subject_key = "subject"

    def __init__(self, n_subjects: int, num_features: int):
        super().__init__()
        self.n_subjects = int(check_param("n_subjects", n_subjects, POSITIVE_INT))
        self.norms = nn.ModuleList([nn.BatchNorm1d(int(num_features)) for _ in range(self.n_subjects)])

    def forward(self, x: torch.Tensor, subject=0) -> torch.Tensor:
        subject, groups = _route(subject, x.shape[0])
        if groups is None:
            return self.norms[_check_subject(self.n_subjects, subject)](x)
        out = torch.empty_like(x)
        for s in groups:
            mask = subject == s
            out[mask] = self.norms[_check_subject(self.n_subjects, s)](x[mask])
        return out


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch per sample with probability ``p`` (training only).

    Kept samples are scaled by ``1 / (1 - p)`` so the expectation is unchanged; in eval mode the
    layer is the identity.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        check_param("p", p, FRACTION, hint="(the drop-path rate)")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a ``(n, C, H, W)`` tensor (ConvNeXt's channels-first norm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def init_kaiming_(module: nn.Module) -> None:
    """Kaiming-normal weights and zero biases, for a layer followed by Mish (the paper's rule).

    Works on ``nn.Linear``, ``nn.Conv2d`` and :class:`PerSubjectLinear` (every subject's weight).
    Mish has no entry in ``torch.nn.init.calculate_gain``; the ReLU gain (sqrt 2) is used.
    """
    for w in _weights(module):
        nn.init.kaiming_normal_(w, nonlinearity="relu")
    for b in _biases(module):
        nn.init.zeros_(b)


def init_xavier_(module: nn.Module) -> None:
    """Xavier-normal weights and zero biases, for a layer not followed by Mish (the paper's rule)."""
    for w in _weights(module):
        nn.init.xavier_normal_(w)
    for b in _biases(module):
        nn.init.zeros_(b)


def _weights(module: nn.Module):
    if isinstance(module, PerSubjectLinear):
        return list(module.weights)
    return [module.weight]


def _biases(module: nn.Module):
    if isinstance(module, PerSubjectLinear):
        return [] if module.biases is None else list(module.biases)
    return [] if module.bias is None else [module.bias]
