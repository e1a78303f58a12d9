"""Categorical example: per-class IGC of the zoo's digits classifier (the paper's Fig. 6 analogue).

scikit-learn's bundled 8x8 digits stand in for MNIST (no download). The classifier
(``neuro_igc.models.DigitsClassifier``: 2 convolutions, 5 fully connected layers, BatchNorm, Mish,
log-softmax) is trained on 80 % of the digits; IGC is computed on the other 20 % against the
integer labels, one map per class, on the class probabilities (the model's output exponentiated).
The figure overlays each class's mean digit contour at the 80th percentile of its pixel values
(the paper's "level set to 80 % of pixel values CDF").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neuro_igc._utils import new_figure, save_figure, soft_import

__all__ = ["DigitsIGC", "digits_igc", "plot_digits_igc"]


class _Probabilities(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).exp()


@dataclass
class DigitsIGC:
    """What :func:`digits_igc` returns.

    Attributes
    ----------
    maps : (10, 8, 8) ndarray
        IGC map of each class.
    mean_digits : (10, 8, 8) ndarray
        Mean validation image of each class (standardized pixels).
    accuracy : float
        Validation accuracy of the classifier.
    correlation : (10,) ndarray
        Correlation of each class probability with the class indicator (the sum of its map).
    igc_error : (10,) ndarray
    """

    maps: np.ndarray
    mean_digits: np.ndarray
    accuracy: float
    correlation: np.ndarray
    igc_error: np.ndarray


def digits_igc(
    epochs: int = 30,
    baselines: int = 8,
    n_steps: int = 16,
    seed: int = 0,
    device=None,
    progress: bool = True,
) -> DigitsIGC:
    """Train the digits classifier and compute its per-class IGC on the validation digits.

    Parameters
    ----------
    epochs : int, default=30
    baselines : int, default=8
    n_steps : int, default=16
    seed : int, default=0
    device : str or torch.device, optional
    progress : bool, default=True

    Returns
    -------
    DigitsIGC
    """
    if int(epochs) < 1:
        raise ValueError(f"Invalid value for 'epochs': must be >= 1; got {epochs!r}.")
    from neuro_igc.attribution import igc
    from neuro_igc.models import DigitsClassifier, fit, load_digits_datasets

    train, val = load_digits_datasets(val_fraction=0.2, seed=seed)
    torch.manual_seed(seed)
    result = fit(DigitsClassifier(), train, val, loss="nll", epochs=int(epochs), batch_size=64,
                 seed=seed, device=device, progress=progress)
    model = result.model.eval()
    x, y = val.tensors
    res = igc(_Probabilities(model), x, y, baselines=int(baselines), n_steps=int(n_steps), seed=seed,
              device=device, progress=progress)
    maps = np.asarray(res.attributions, dtype=float).reshape(-1, 8, 8)
    xs = x.numpy().reshape(-1, 8, 8)
    ys = y.numpy()
    mean_digits = np.stack([xs[ys == k].mean(0) for k in range(maps.shape[0])])
    with torch.no_grad():
        acc = float((model(x.to(next(model.parameters()).device)).argmax(1).cpu() == y).float().mean())
    return DigitsIGC(
        maps=maps, mean_digits=mean_digits, accuracy=acc,
        correlation=np.asarray(res.correlation, dtype=float), igc_error=np.asarray(res.igc_error, dtype=float),
    )


def plot_digits_igc(result: DigitsIGC, path: str | os.PathLike, level: float = 0.8, dpi: int = 120) -> Path:
    """Draw the ten class maps with each mean digit's contour overlaid (written atomically).

    Parameters
    ----------
    result : DigitsIGC
    path : str or path-like
        Output image (``.png``).
    level : float, default=0.8
        The contour is drawn at this quantile of the mean digit's pixel values.
    dpi : int, default=120

    Returns
    -------
    Path
    """
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"Invalid value for 'level': a quantile in (0, 1) is needed; got {level!r}.")
    n = result.maps.shape[0]
    fig = new_figure("plot_digits_igc", figsize=(1.7 * ((n + 1) // 2), 3.8))
    axes = fig.subplots(2, (n + 1) // 2, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= n:
            ax.set_axis_off()
            continue
        img = result.maps[k]
        vmax = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        digit = result.mean_digits[k]
        ax.contour(digit, levels=[float(np.quantile(digit, level))], colors="k", linestyles="dotted",
                   linewidths=1.0)
        ax.set_title(f"{k}  (r={result.correlation[k]:.2f})", fontsize=8)
    fig.suptitle(f"Per-class IGC, digits classifier (accuracy {result.accuracy:.2f})", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi)
