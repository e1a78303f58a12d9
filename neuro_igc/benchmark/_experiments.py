"""The four synthetic statistics of the paper's benchmark (Section 4, Exp. A-D), as torch modules.

Each experiment is an ``nn.Module`` whose ``forward`` is the *true differentiable statistic* ``f``
that every attribution method is computed through, with ``sample`` drawing images and true outputs
``y`` (including any hidden randomness that ``f`` cannot see), ``ground_truth`` the map a
dataset-wise attribution should recover, and ``regions`` the pixel sets the paper's own numbers are
measured on. Images are ``(n, 1, 64, 64)`` 1/f images (:func:`make_images`); statistics act on the
flattened pixels. Coordinates are (row, column), 0-based; row 0 is the top of the image.

Choices made where the paper gives only a description (all are constructor arguments):

Exp. A -- centre-surround weighted sum
    ``f(x) = sum_j w_j x_j`` with ``w = g(sigma_center) - g(sigma_surround)``, two unit-sum
    Gaussians centred on the image centre (31.5, 31.5) with sigmas 4 and 8 pixels (the usual 1:2
    ratio), both cut at ``truncate * sigma_surround = 24`` px (a compact mask, like the discs of
    the other experiments; 1.1 % of the surround's mass lies beyond) and renormalised: a balanced
    difference of Gaussians, positive centre, negative surround, zero sum.
    ``y = f(x)``. Ground truth: ``w`` itself (signed). For this linear statistic the exact IGC map
    is ``w * (Sigma w) / (w' Sigma w)`` with ``Sigma`` the pixel covariance of the 1/f images, a
    slightly sharpened ``w``: its correlation with ``w`` is about 0.97.
Exp. B -- maximum of three disc means
    Discs of radius 12 px centred 8 px from (32, 32) at 90, 210 and 330 degrees (rounded to whole
    pixels), so each pair overlaps and the three share a central region. ``f(x) = max_k
    mean(x[disc_k])``, ``y = f(x)``. Ground truth: each pixel's probability of contributing, the sum
    over the discs holding the pixel of the probability that this disc is the maximum (estimated
    on independent images; about 1/3 each), so overlaps add up as the paper asks. Regions ``a``,
    ``b``, ``c``: pixels in exactly one disc; ``d``: pixels in all three.
Exp. C -- maximum of two pair similarities, one pair unreliable
    Two vertical pairs of discs of radius 8 px: pair ``a`` centred at rows 20 and 43 of column 20,
    pair ``b`` at the same rows of column 43. ``s_a`` and ``s_b`` are the cosine similarities of the
    raw pixel vectors of the pair's upper and lower disc (pixels matched by their offset from the
    disc centre). ``f(x) = max(s_a, s_b)``; the true output is ``y = max(s_a, B s_b)`` where ``B``
    is a hidden Bernoulli variable, 0 with probability ``p_drop = 0.5`` (pair ``b``'s similarity is
    set to zero), inaccessible to ``f``. Ground truth: probability of each pixel's pair to set
    ``y`` (pair ``a`` when ``y = s_a``, pair ``b`` when ``B = 1`` and ``s_b > s_a``, none when
    ``y = 0``), estimated on independent images. Regions ``a``, ``b``: the two pairs' discs.
Exp. D -- four-way categorical choice with unreliable squares
    A central disc of radius 8 px at (32, 32) and four corner discs of the same radius at
    (13, 13), (13, 51), (51, 13), (51, 51): classes 0 (top-left, the paper's ``a``), 1 (top-right),
    2 (bottom-left), 3 (bottom-right). ``s_k`` is the cosine similarity of the central disc with
    corner ``k`` (pixels matched by offset). The label is ``y = argmax_k s~_k`` computed on a hidden
    copy of the image in which a 5 x 5 square inside each corner disc (offsets 1..5 px from the disc
    centre towards the image corner) is, independently per corner with probability
    ``p_substitute = 0.5``, replaced by the same square of an independent 1/f image. The
    differentiable statistic sees the observed image: ``f(x) = softmax(s / temperature)`` with
    ``temperature = 0.1``, class probabilities ``(n, 4)``. Ground truth for class 0: 1 on corner
    disc 0 and the central disc, ``1 - p_substitute`` on corner 0's square and on the central
    pixels it is matched with. Regions ``square`` (those two squares) and ``reliable`` (the rest of
    corner disc 0 and of the central disc).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from neuro_igc._utils import check_option
from neuro_igc.benchmark._images import make_images

__all__ = [
    "BenchmarkData",
    "ExperimentA",
    "ExperimentB",
    "ExperimentC",
    "ExperimentD",
    "EXPERIMENTS",
    "make_experiment",
    "disc_offsets",
]


@dataclass
class BenchmarkData:
    """Images and true outputs of one experiment.

    Attributes
    ----------
    x : (n, 1, size, size) float tensor
        The observed images, the input of every method.
    y : (n,) tensor
        True outputs: float for Exp. A-C, int64 class labels for Exp. D.
    info : dict
        Hidden quantities (``"winner"``: the disc/pair that set ``y``; ``"keep"`` in Exp. C;
        ``"substituted"`` in Exp. D).
    """

    x: torch.Tensor
    y: torch.Tensor
    info: dict = field(default_factory=dict)


def disc_offsets(radius: float) -> np.ndarray:
    """Integer (row, column) offsets within ``radius`` of a pixel, in a fixed order.

    Returns
    -------
    offsets : (n_pixels, 2) int ndarray
    """
    r = int(math.floor(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    keep = dy**2 + dx**2 <= radius**2
    return np.stack([dy[keep], dx[keep]], axis=1)


def _flat_index(center, offsets, size: int) -> np.ndarray:
    rows = int(center[0]) + offsets[:, 0]
    cols = int(center[1]) + offsets[:, 1]
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= size or cols.max() >= size:
        raise ValueError(
            f"Invalid geometry: a disc centred at {tuple(center)} does not fit in a {size} x {size} image; "
            "use a larger 'size' or a smaller radius."
        )
    return rows * size + cols


def _mask_from_index(index: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros(size * size, dtype=bool)
    mask[index] = True
    return mask.reshape(size, size)


def _flatten(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-2:] != (size, size):
        raise ValueError(
            f"Invalid value for 'x': images of shape (n, [1,] {size}, {size}) are needed; got {tuple(x.shape)}."
        )
    return x.reshape(x.shape[0], size * size)


def _cosine(u: torch.Tensor, v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    num = (u * v).sum(-1)
    den = torch.sqrt((u * u).sum(-1) * (v * v).sum(-1) + eps)
    return num / den


def _frozen_linear(weight: np.ndarray) -> nn.Linear:
    """A bias-free, frozen ``nn.Linear`` holding ``weight`` (out, in)."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
    layer.weight.requires_grad_(False)
    return layer


def _selection(index: np.ndarray, size: int) -> np.ndarray:
    """(len(index), size*size) 0/1 matrix picking the flat pixels ``index``."""
    sel = np.zeros((index.size, size * size), dtype=np.float32)
    sel[np.arange(index.size), index.ravel()] = 1.0
    return sel


class _Experiment(nn.Module):
    """Common parts: image size, sampling, Monte-Carlo contribution probabilities.

    Every statistic is written ``f(x) = g(A x)`` with a first linear map ``A`` (a weighting, disc
    means, or a selection of the disc pixels) declared through the factorization protocol of
    ``neuro_igc.models._layers`` (``igc_input_linear`` + ``forward_from_input_linear``), so the
    attribution engine integrates in the small space of ``A x`` -- exactly, and much faster.
    """

    name = "?"
    categorical = False
    n_outputs = 1
    signed_truth = False

    def __init__(self, size: int = 64):
        super().__init__()
        self.size = int(size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The true statistic: ``(n, 1, size, size) -> (n, n_outputs)``."""
        flat = _flatten(x, self.size)
        return self.forward_from_input_linear(self.igc_input_linear(flat.to(self.igc_input_linear.weight.dtype)))

    def forward_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _outputs(self, x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        with torch.no_grad():
            return self.forward(x)[:, 0], {}

    def sample(self, n: int, seed: int = 0) -> BenchmarkData:
        """Draw ``n`` images and their true outputs (hidden randomness included).

        Parameters
        ----------
        n : int
        seed : int, default=0

        Returns
        -------
        BenchmarkData
        """
        x = make_images(n, size=self.size, seed=seed)
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        y, info = self._outputs(x, gen)
        return BenchmarkData(x=x, y=y, info=info)

    def _winner_density(self, n_mc: int, seed: int, masks: list[np.ndarray]) -> np.ndarray:
        counts = np.zeros(len(masks))
        done = 0
        while done < n_mc:
            m = min(4096, n_mc - done)
            data = self.sample(m, seed=seed + done)
            w = data.info["winner"].numpy()
            counts += np.array([(w == k).sum() for k in range(len(masks))])
            done += m
        prob = counts / n_mc
        return sum(p * mk.astype(float) for p, mk in zip(prob, masks))

    def support(self) -> np.ndarray:
        """Flat indices of the pixels the statistic depends on, ``(m_support,)`` int."""
        w = self.igc_input_linear.weight.detach()
        return torch.nonzero((w != 0).any(0)).reshape(-1).numpy()

    def on_support(self) -> nn.Module:
        """The statistic as a function of its support pixels only: ``(n, m_support) -> (n, n_outputs)``.

        Every other pixel is a dummy (zero gradient, zero Shapley value), so attributions computed
        on the support and put back in place, zeros elsewhere, are those of the full statistic.
        Permutation methods (Baseline Shapley) cost ``O(m**2)`` per walk: this is what makes them
        affordable here.
        """
        return _OnSupport(self)

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        """The map a dataset-wise attribution should recover (see the module docstring).

        Returns
        -------
        truth : (size, size) float ndarray
        """
        raise NotImplementedError  # pragma: no cover

    def regions(self) -> dict[str, np.ndarray]:
        """Named boolean (size, size) pixel sets used by the paper's ratios."""
        return {}


class _OnSupport(nn.Module):
    """``g(x_s) = f(x)`` for ``x_s = x.flatten(1)[:, support]`` (see ``_Experiment.on_support``)."""

    def __init__(self, experiment: _Experiment):
        super().__init__()
        self.experiment = experiment
        support = experiment.support()
        self.register_buffer("support_index", torch.as_tensor(support, dtype=torch.long))
        w = experiment.igc_input_linear.weight.detach()[:, support]
        # a selection (each row one 1, each support pixel once) is a reordering: no matmul needed
        selection = bool(((w == 0) | (w == 1)).all() and (w.sum(1) == 1).all() and (w.sum(0) == 1).all())
        self.selection = selection
        if selection:
            self.register_buffer("order", w.argmax(1))
        else:
            self.register_buffer("weight", w.clone())

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        if self.selection:
            z = xs[:, self.order]
        else:
            z = xs.to(self.weight.dtype) @ self.weight.T
        return self.experiment.forward_from_input_linear(z)


class ExperimentA(_Experiment):
    """Exp. A: pixel sum weighted by a difference of two centred Gaussians (see module docstring).

    Examples
    --------
    >>> exp = ExperimentA(size=32, sigma_center=2, sigma_surround=4)
    >>> x = torch.zeros(1, 1, 32, 32); x[0, 0, 15, 15] = 1.0
    >>> bool(torch.isclose(exp(x)[0, 0], exp.weights[15, 15]))
    True
    """

    name = "A"
    signed_truth = True

    def __init__(self, size: int = 64, sigma_center: float = 4.0, sigma_surround: float = 8.0,
                 truncate: float = 3.0):
        super().__init__(size)
        if not 0 < sigma_center < sigma_surround:
            raise ValueError(
                "Invalid values for 'sigma_center'/'sigma_surround': need 0 < sigma_center < "
                f"sigma_surround; got {sigma_center!r} and {sigma_surround!r}."
            )
        if not truncate > 0:
            raise ValueError(f"Invalid value for 'truncate': a number > 0 is needed; got {truncate!r}.")
        c = (self.size - 1) / 2.0
        yy, xx = np.mgrid[: self.size, : self.size] - c
        r2 = yy**2 + xx**2
        inside = r2 <= (truncate * sigma_surround) ** 2
        g1 = np.exp(-r2 / (2 * sigma_center**2)) * inside
        g2 = np.exp(-r2 / (2 * sigma_surround**2)) * inside
        w = g1 / g1.sum() - g2 / g2.sum()
        self.register_buffer("weights", torch.as_tensor(w, dtype=torch.float32))
        self.igc_input_linear = _frozen_linear(w.reshape(1, -1))

    def forward_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, 1) -> (n, 1)``: the weighted sum is the linear map itself."""
        return z

    def _outputs(self, x, gen):
        with torch.no_grad():
            y = self.forward(x)[:, 0]
        return y, {}

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        return self.weights.numpy().astype(float)

    def regions(self) -> dict[str, np.ndarray]:
        w = self.weights.numpy()
        return {"center": w > 0, "surround": w < 0}


class ExperimentB(_Experiment):
    """Exp. B: maximum of the means of three partially overlapping discs.

    Examples
    --------
    >>> exp = ExperimentB()
    >>> x = torch.zeros(1, 1, 64, 64)
    >>> x[0, 0][torch.as_tensor(exp.regions()["a"])] = 1.0
    >>> int(exp.disc_means(x).argmax())
    0
    """

    name = "B"

    def __init__(self, size: int = 64, radius: float = 12.0, distance: float = 8.0,
                 angles: tuple[float, ...] = (90.0, 210.0, 330.0)):
        super().__init__(size)
        c = self.size // 2
        offsets = disc_offsets(radius)
        self.centers = [
            (int(round(c - distance * math.sin(math.radians(a)))), int(round(c + distance * math.cos(math.radians(a)))))
            for a in angles
        ]
        masks = [_mask_from_index(_flat_index(ctr, offsets, self.size), self.size) for ctr in self.centers]
        self.disc_masks = masks
        m = np.stack([mk.reshape(-1) / mk.sum() for mk in masks])
        self.igc_input_linear = _frozen_linear(m)

    def disc_means(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 1, size, size) -> (n, n_discs)``: the mean of each disc."""
        flat = _flatten(x, self.size)
        return self.igc_input_linear(flat.to(self.igc_input_linear.weight.dtype))

    def forward_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, n_discs) -> (n, 1)``: the largest disc mean."""
        return z.amax(dim=1, keepdim=True)

    def _outputs(self, x, gen):
        with torch.no_grad():
            means = self.disc_means(x)
        return means.amax(1), {"winner": means.argmax(1)}

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        return self._winner_density(n_mc, seed, self.disc_masks)

    def regions(self) -> dict[str, np.ndarray]:
        count = sum(mk.astype(int) for mk in self.disc_masks)
        out = {k: mk & (count == 1) for k, mk in zip("abc", self.disc_masks)}
        out["d"] = count == len(self.disc_masks)
        return out


class ExperimentC(_Experiment):
    """Exp. C: maximum of two vertical-pair cosine similarities; pair ``b`` unreliable.

    Examples
    --------
    >>> exp = ExperimentC()
    >>> x = torch.randn(3, 1, 64, 64)
    >>> s = exp.similarities(x)
    >>> bool(torch.allclose(exp(x)[:, 0], s.amax(1)))
    True
    """

    name = "C"

    def __init__(self, size: int = 64, radius: float = 8.0, rows: tuple[int, int] = (20, 43),
                 columns: tuple[int, int] = (20, 43), p_drop: float = 0.5):
        super().__init__(size)
        if not 0.0 <= p_drop <= 1.0:
            raise ValueError(f"Invalid value for 'p_drop': a probability in [0, 1] is needed; got {p_drop!r}.")
        self.p_drop = float(p_drop)
        offsets = disc_offsets(radius)
        idx = []
        for col in columns:
            top = _flat_index((rows[0], col), offsets, self.size)
            bottom = _flat_index((rows[1], col), offsets, self.size)
            idx.append(np.stack([top, bottom]))
        idx = np.stack(idx)  # (pair, top/bottom, n_pix)
        self.register_buffer("pair_index", torch.as_tensor(idx, dtype=torch.long))
        self.n_pix = idx.shape[-1]
        self.pair_masks = [_mask_from_index(np.concatenate([p[0], p[1]]), self.size) for p in idx]
        self.igc_input_linear = _frozen_linear(_selection(idx, self.size))  # z = the 4 discs' pixels

    def similarities(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 1, size, size) -> (n, 2)``: cosine similarity within pair a and pair b."""
        flat = _flatten(x, self.size)
        return self._similarities(flat[:, self.pair_index.reshape(-1)])

    def _similarities(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], 2, 2, self.n_pix)
        return _cosine(z[:, :, 0], z[:, :, 1])

    def forward_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, 4 * n_pix) -> (n, 1)``: the larger of the two pair similarities."""
        return self._similarities(z).amax(dim=1, keepdim=True)

    def _outputs(self, x, gen):
        with torch.no_grad():
            s = self.similarities(x)
        keep = (torch.rand(x.shape[0], generator=gen) >= self.p_drop).to(s.dtype)
        sb = s[:, 1] * keep
        y = torch.maximum(s[:, 0], sb)
        winner = torch.where(s[:, 0] >= sb, torch.zeros_like(keep), torch.ones_like(keep)).long()
        winner[(keep == 0) & (s[:, 0] < 0)] = -1  # y = 0: no pixel sets it
        return y, {"winner": winner, "keep": keep.bool()}

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        return self._winner_density(n_mc, seed, self.pair_masks)

    def regions(self) -> dict[str, np.ndarray]:
        return {"a": self.pair_masks[0], "b": self.pair_masks[1]}


class ExperimentD(_Experiment):
    """Exp. D: argmax over four corner discs of the cosine similarity with a central disc.

    Examples
    --------
    >>> exp = ExperimentD()
    >>> exp(torch.randn(2, 1, 64, 64)).shape
    torch.Size([2, 4])
    """

    name = "D"
    categorical = True
    n_outputs = 4

    def __init__(self, size: int = 64, radius: float = 8.0, center: tuple[int, int] = (32, 32),
                 corner_distance: int = 19, square: int = 5, square_offset: int = 3,
                 p_substitute: float = 0.5, temperature: float = 0.1):
        super().__init__(size)
        if not 0.0 <= p_substitute <= 1.0:
            raise ValueError(
                f"Invalid value for 'p_substitute': a probability in [0, 1] is needed; got {p_substitute!r}."
            )
        if not temperature > 0:
            raise ValueError(f"Invalid value for 'temperature': a number > 0 is needed; got {temperature!r}.")
        self.p_substitute = float(p_substitute)
        self.temperature = float(temperature)
        offsets = disc_offsets(radius)
        r0, c0 = center
        signs = [(-1, -1), (-1, 1), (1, -1), (1, 1)]
        self.corner_centers = [(r0 + sr * corner_distance, c0 + sc * corner_distance) for sr, sc in signs]
        central = _flat_index(center, offsets, self.size)
        corners = np.stack([_flat_index(ctr, offsets, self.size) for ctr in self.corner_centers])
        self.register_buffer("central_index", torch.as_tensor(central, dtype=torch.long))
        self.register_buffer("corner_index", torch.as_tensor(corners, dtype=torch.long))
        # the square of each corner, as positions in the disc's offset list
        half = square // 2
        in_square = []
        for sr, sc in signs:
            dr = offsets[:, 0] * sr
            dc = offsets[:, 1] * sc
            in_square.append((np.abs(dr - square_offset) <= half) & (np.abs(dc - square_offset) <= half))
        in_square = np.stack(in_square)
        if (in_square.sum(1) != square * square).any():
            raise ValueError(
                "Invalid geometry: the substituted squares must lie inside the corner discs; "
                "use a smaller 'square' or 'square_offset'."
            )
        self.register_buffer("square_member", torch.as_tensor(in_square))  # (4, n_pix)
        self.central_mask = _mask_from_index(central, self.size)
        self.corner_masks = [_mask_from_index(ix, self.size) for ix in corners]
        self.n_pix = central.size
        all_index = np.concatenate([central[None], corners])  # (5, n_pix): central, then corners
        self.igc_input_linear = _frozen_linear(_selection(all_index, self.size))

    def similarities(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 1, size, size) -> (n, 4)``: cosine similarity of the central disc with each corner."""
        flat = _flatten(x, self.size)
        return self._similarities(torch.cat([flat[:, self.central_index], flat[:, self.corner_index.reshape(-1)]], 1))

    def _similarities(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], 5, self.n_pix)
        return _cosine(z[:, :1], z[:, 1:])

    def forward_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, 5 * n_pix) -> (n, 4)``: class probabilities ``softmax(s / temperature)``."""
        return torch.softmax(self._similarities(z) / self.temperature, dim=1)

    def _outputs(self, x, gen):
        n = x.shape[0]
        other = make_images(n, size=self.size, seed=int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        substituted = torch.rand(n, 4, generator=gen) < self.p_substitute
        hidden = x.reshape(n, -1).clone()
        other = other.reshape(n, -1)
        for k in range(4):
            pix = self.corner_index[k][self.square_member[k]]
            rows = substituted[:, k].nonzero()[:, 0][:, None]
            hidden[rows, pix[None, :]] = other[rows, pix[None, :]]
        with torch.no_grad():
            s = self.similarities(hidden.reshape(x.shape))
        y = s.argmax(1)
        return y, {"winner": y, "substituted": substituted}

    def square_masks(self, k: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Boolean maps of corner ``k``'s substituted square and of the central pixels matched to it."""
        member = self.square_member[k].numpy()
        corner = _mask_from_index(self.corner_index[k].numpy()[member], self.size)
        central = _mask_from_index(self.central_index.numpy()[member], self.size)
        return corner, central

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        truth = (self.corner_masks[0] | self.central_mask).astype(float)
        corner, central = self.square_masks(0)
        truth[corner | central] = 1.0 - self.p_substitute
        return truth

    def regions(self) -> dict[str, np.ndarray]:
        corner, central = self.square_masks(0)
        square = corner | central
        return {"square": square, "reliable": (self.corner_masks[0] | self.central_mask) & ~square}


EXPERIMENTS: dict[str, type[_Experiment]] = {
    "A": ExperimentA,
    "B": ExperimentB,
    "C": ExperimentC,
    "D": ExperimentD,
}


def make_experiment(name: str, **kwargs) -> _Experiment:
    """Build experiment ``name`` ("A", "B", "C" or "D") with optional geometry arguments.

    Examples
    --------
    >>> make_experiment("B").n_outputs
    1
    """
    check_option("experiment", name, EXPERIMENTS)
    return EXPERIMENTS[name](**kwargs)
