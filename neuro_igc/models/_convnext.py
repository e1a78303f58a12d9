"""The fMRI encoding ConvNeXt of the paper (appendices A.5/A.6): images -> brain activity."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from neuro_igc._utils import check_option
from neuro_igc.models._base import ZooModel, check_fraction, check_int, check_ints, check_sizes
from neuro_igc.models._layers import (
    DropPath,
    LayerNorm2d,
    PerSubjectLinear,
    init_kaiming_,
    init_xavier_,
)

__all__ = ["EncodingConvNeXt", "ConvNeXtBlock"]

#: activations allowed inside the ConvNeXt blocks (the paper keeps ConvNeXt's GELU)
BLOCK_ACTIVATIONS = {"gelu": nn.GELU, "mish": nn.Mish}


class ConvNeXtBlock(nn.Module):
    """One ConvNeXt block (Liu et al. 2022): depthwise 7x7 conv, LayerNorm, pointwise MLP (4x),
    activation, layer scale, stochastic depth, residual connection.

    Parameters
    ----------
    dim : int
        Channels.
    drop_path : float, default=0.0
    layer_scale : float, default=1e-6
        Initial value of the per-channel scale of the residual branch.
    activation : {"gelu", "mish"}, default="gelu"
    """

    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale: float = 1e-6, activation: str = "gelu"):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = BLOCK_ACTIVATIONS[activation]()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))
        self.drop_path = DropPath(drop_path)
        init_xavier_(self.dwconv)
        (init_kaiming_ if activation == "mish" else init_xavier_)(self.pwconv1)
        init_xavier_(self.pwconv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).permute(0, 2, 3, 1)  # (n, H, W, C)
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        h = (self.gamma * h).permute(0, 3, 1, 2)
        return x + self.drop_path(h)


class EncodingConvNeXt(ZooModel):
    """Encoding ConvNeXt with a per-subject readout (the paper's fMRI encoding model).

    Layers: stem (Conv ``kernel 2, stride 2`` -> ``stem_width`` channels + channels-first
    LayerNorm); for each width in ``widths`` a stage = downsampling (LayerNorm + Conv kernel 2,
    stride 2 -> width) and ``depth`` :class:`ConvNeXtBlock`; flatten; Linear(-> ``hidden``, no
    bias) + BatchNorm + Mish + dropout; per-subject readout
    ``PerSubjectLinear(n_subjects, hidden -> n_outputs[s], bias=True)``. The drop-path rate grows
    linearly from 0 to ``drop_path`` over the blocks; it is off in eval mode. The paper's model:
    64x64 luminance input, ``stem_width=32``, ``widths=(64, 128, 256, 512)``, ``depth=3``,
    ``drop_path=0.5``; each stride-2 layer halves the image, so the flattened map is
    ``widths[-1] * (input_size / 2**(1 + len(widths)))**2``.

    Parameters
    ----------
    n_outputs : int or sequence of int
        Number of vertices (voxels) predicted, the same for every subject or one per subject.
    n_subjects : int, default=1
    in_channels : int, default=1
    input_size : int, default=64
        Height = width of the input image; must be divisible by ``2**(1 + len(widths))``.
    stem_width : int, default=32
    widths : sequence of int, default=(64, 128, 256, 512)
    depth : int, default=3
        ConvNeXt blocks per stage.
    drop_path : float, default=0.5
    hidden : int, default=256
    dropout : float, default=0.25
    activation : {"gelu", "mish"}, default="gelu"
        Activation inside the ConvNeXt blocks (the paper keeps ConvNeXt's definition: GELU).
    layer_scale : float, default=1e-6

    Notes
    -----
    ``forward(x, subject=0)``: x ``(n, in_channels, H, W)`` (or ``(n, H, W)`` when
    ``in_channels == 1``) -> ``(n, n_outputs[subject])``. ``subject`` is an int, or a per-sample
    LongTensor when every subject has the same number of outputs. Factorization protocol:
    ``igc_readout`` is the per-subject readout and ``forward_features(x)`` the ``(n, hidden)``
    features before it (the features do not depend on the subject).

    Examples
    --------
    >>> model = EncodingConvNeXt([30, 40], n_subjects=2, input_size=16, stem_width=4,
    ...                          widths=(8, 16), depth=1).eval()
    >>> model(torch.randn(3, 1, 16, 16), subject=1).shape
    torch.Size([3, 40])
    """

    name = "encoding_convnext"

    def __init__(
        self,
        n_outputs: int | Sequence[int],
        n_subjects: int = 1,
        in_channels: int = 1,
        input_size: int = 64,
        stem_width: int = 32,
        widths: Sequence[int] = (64, 128, 256, 512),
        depth: int = 3,
        drop_path: float = 0.5,
        hidden: int = 256,
        dropout: float = 0.25,
        activation: str = "gelu",
        layer_scale: float = 1e-6,
    ):
        super().__init__()
        check_option("activation", activation, BLOCK_ACTIVATIONS)
        widths = check_ints("widths", widths)
        for pname, value in (("n_subjects", n_subjects), ("in_channels", in_channels), ("input_size", input_size),
                             ("stem_width", stem_width), ("depth", depth), ("hidden", hidden)):
            check_int(pname, value)
        check_sizes("n_outputs", n_outputs, n_subjects)
        if not widths:
            raise ValueError(f"Invalid value for 'widths': one or more widths >= 1 are needed; got {widths!r}.")
        factor = 2 ** (1 + len(widths))
        if int(input_size) < factor or int(input_size) % factor:
            raise ValueError(
                f"Invalid value for 'input_size': with {len(widths)} stages the image is halved "
                f"{1 + len(widths)} times, so it must be a multiple of {factor}; got {input_size!r}. "
                "Resize the images or use fewer 'widths'."
            )
        check_fraction("drop_path", drop_path)
        check_fraction("dropout", dropout)
        self._store_config(
            n_outputs=n_outputs, n_subjects=n_subjects, in_channels=in_channels,
            input_size=input_size, stem_width=stem_width, widths=widths, depth=depth,
            drop_path=drop_path, hidden=hidden, dropout=dropout, activation=activation,
            layer_scale=layer_scale,
        )
        self.n_subjects = int(n_subjects)
        self.in_channels = int(in_channels)
        self.input_size = int(input_size)
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, int(stem_width), kernel_size=2, stride=2),
            LayerNorm2d(int(stem_width)),
        )
        init_xavier_(self.stem[0])
        rates = torch.linspace(0, float(drop_path), len(widths) * int(depth)).tolist()
        stages = []
        prev = int(stem_width)
        for i, w in enumerate(widths):
            down = nn.Conv2d(prev, w, kernel_size=2, stride=2)
            init_xavier_(down)
            blocks = [
                ConvNeXtBlock(w, rates[i * int(depth) + j], float(layer_scale), activation)
                for j in range(int(depth))
            ]
            stages.append(nn.Sequential(LayerNorm2d(prev), down, *blocks))
            prev = w
        self.stages = nn.Sequential(*stages)
        side = self.input_size // factor
        self.n_flat = prev * side * side
        self.head = nn.Sequential(
            nn.Linear(self.n_flat, int(hidden), bias=False),
            nn.BatchNorm1d(int(hidden)),
            nn.Mish(),
            nn.Dropout(float(dropout)),
        )
        init_kaiming_(self.head[0])
        self.readout = PerSubjectLinear(self.n_subjects, int(hidden), n_outputs, bias=True)
        init_xavier_(self.readout)
        self.n_outputs_per_subject = self.readout.out_features_per_subject

    @property
    def igc_readout(self) -> PerSubjectLinear:
        """The per-subject readout (``f = W_s h + b_s``)."""
        return self.readout

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3 and self.in_channels == 1:
            x = x.unsqueeze(1)
        expected = (self.in_channels, self.input_size, self.input_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"EncodingConvNeXt expects x of shape (n_samples, {expected[0]}, {expected[1]}, "
                f"{expected[2]}); got shape {tuple(x.shape)}. Set 'in_channels'/'input_size' to "
                "match the images."
            )
        return x

    def forward_features(self, x: torch.Tensor, subject=0) -> torch.Tensor:
        """Everything before the readout: images -> (n, hidden). ``subject`` is not used."""
        x = self._check_input(x)
        return self.head(self.stages(self.stem(x)).flatten(1))

    def forward(self, x: torch.Tensor, subject=0) -> torch.Tensor:
        """Images (n, C, H, W) -> (n, n_outputs[subject])."""
        return self.readout(self.forward_features(x), subject=subject)
