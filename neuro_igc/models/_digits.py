"""A small categorical classifier for scikit-learn's bundled 8x8 digits (offline MNIST stand-in)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from neuro_igc._utils import Interval, check_option, check_param
from neuro_igc.models._base import ZooModel, check_fraction, check_int, check_ints
from neuro_igc.models._layers import init_kaiming_, init_xavier_

__all__ = ["DigitsClassifier", "load_digits_datasets", "DIGITS_OUTPUTS"]

#: what the classifier returns: log-probabilities (train with loss="nll") or raw logits
#: (train with loss="cross_entropy")
DIGITS_OUTPUTS = ("log_softmax", "logits")


class DigitsClassifier(ZooModel):
    """Two convolutions and five fully connected layers for 8x8 one-channel digit images.

    Layers: 2 x [Conv 3x3 (padding 1, no bias) + BatchNorm + Mish]; flatten; for each width in
    ``widths``: Linear (no bias) + BatchNorm + Mish + dropout; Linear(-> ``n_classes``, bias);
    then ``log_softmax`` (default, as the paper's categorical model; train with ``loss="nll"``)
    or nothing (``output="logits"``; train with ``loss="cross_entropy"``).

    Parameters
    ----------
    n_classes : int, default=10
    channels : sequence of 2 int, default=(16, 32)
    widths : sequence of 4 int, default=(128, 64, 32, 16)
        Hidden fully connected widths (with the output layer: 5 fully connected layers).
    dropout : float, default=0.25
    input_size : int, default=8
    output : {"log_softmax", "logits"}, default="log_softmax"

    Notes
    -----
    With ``output="logits"`` the model ends with its output Linear and exposes ``igc_readout``
    and ``forward_features``; with ``"log_softmax"`` the last operation is not linear and no
    readout is declared (``hasattr(model, "igc_readout")`` is False).

    Examples
    --------
    >>> model = DigitsClassifier().eval()
    >>> model(torch.zeros(5, 8, 8)).shape
    torch.Size([5, 10])
    """

    name = "digits_classifier"

    def __init__(
        self,
        n_classes: int = 10,
        channels: Sequence[int] = (16, 32),
        widths: Sequence[int] = (128, 64, 32, 16),
        dropout: float = 0.25,
        input_size: int = 8,
        output: str = "log_softmax",
    ):
        super().__init__()
        check_option("output", output, DIGITS_OUTPUTS)
        channels = check_ints("channels", channels)
        widths = check_ints("widths", widths)
        check_int("input_size", input_size)
        check_fraction("dropout", dropout)
        if len(channels) != 2:
            raise ValueError(f"Invalid value for 'channels': two channel counts >= 1 are needed; got {channels!r}.")
        if not widths:
            raise ValueError(f"Invalid value for 'widths': one or more widths >= 1 are needed; got {widths!r}.")
        check_int("n_classes", n_classes, 2)
        self._store_config(n_classes=n_classes, channels=channels, widths=widths, dropout=dropout,
                           input_size=input_size, output=output)
        self.input_size = int(input_size)
        self.output = output
        convs: list[nn.Module] = []
        prev = 1
        for c in channels:
            conv = nn.Conv2d(prev, c, kernel_size=3, padding=1, bias=False)
            init_kaiming_(conv)
            convs += [conv, nn.BatchNorm2d(c), nn.Mish()]
            prev = c
        self.convs = nn.Sequential(*convs)
        layers: list[nn.Module] = []
        prev = prev * self.input_size**2
        for w in widths:
            lin = nn.Linear(prev, w, bias=False)
            init_kaiming_(lin)
            layers += [lin, nn.BatchNorm1d(w), nn.Mish(), nn.Dropout(float(dropout))]
            prev = w
        self.fc = nn.Sequential(*layers)
        self.classifier = nn.Linear(prev, int(n_classes))
        init_xavier_(self.classifier)

    def __getattr__(self, name):
        if name == "igc_readout":
            if self.output == "logits":
                return self.classifier
            raise AttributeError(
                "DigitsClassifier(output='log_softmax') has no linear readout (log_softmax comes last)."
            )
        return super().__getattr__(name)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Everything before the output Linear: (n, 8, 8) or (n, 1, 8, 8) -> (n, widths[-1])."""
        if x.ndim == 3:
            x = x.unsqueeze(1)
        side = self.input_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, side, side):
            raise ValueError(
                f"DigitsClassifier expects x of shape (n_samples, 1, {side}, {side}) or "
                f"(n_samples, {side}, {side}); got shape {tuple(x.shape)}."
            )
        return self.fc(self.convs(x).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> (n, n_classes) log-probabilities (or logits with ``output="logits"``)."""
        logits = self.classifier(self.forward_features(x))
        return torch.log_softmax(logits, dim=1) if self.output == "log_softmax" else logits


def load_digits_datasets(val_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's bundled 8x8 digits as standardised train/validation TensorDatasets.

    Pixels are standardised globally (one mean and SD over all training pixels, as the paper's
    images). No download: the data ship with scikit-learn.

    Parameters
    ----------
    val_fraction : float, default=0.2
    seed : int, default=0
        Seed of the random split.

    Returns
    -------
    train, val : torch.utils.data.TensorDataset
        Items ``(x (1, 8, 8) float32, y int64 class)``.
    """
    from neuro_igc._utils import soft_import

    datasets = soft_import("sklearn.datasets", "load_digits_datasets", package="scikit-learn")
    check_param("val_fraction", val_fraction, Interval(numbers.Real, 0, 1, closed="neither"))
    digits = datasets.load_digits()
    x = digits.images.astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(len(y) * float(val_fraction)))
    val_idx, train_idx = order[:n_val], order[n_val:]
    mean, sd = x[train_idx].mean(), x[train_idx].std()
    x = (x - mean) / sd
    xt = torch.from_numpy(x).unsqueeze(1)
    yt = torch.from_numpy(y)
    return (
        torch.utils.data.TensorDataset(xt[train_idx], yt[train_idx]),
        torch.utils.data.TensorDataset(xt[val_idx], yt[val_idx]),
    )
