"""The four synthetic statistics of the paper's benchmark (Section 4, Exp. A-D), as torch modules.

Each experiment is an ``nn.Module`` whose ``forward`` is the *true differentiable statistic*
``f`` that the attribution methods are computed through; ``sample`` draws 1/f images
(:func:`make_images`) and their true outputs ``y`` (with any hidden randomness ``f`` cannot
see), ``ground_truth`` is the map a dataset-wise attribution should recover and ``regions`` the
pixel sets of the paper's ratios. The geometry is the authors' (their public code settles what
the paper leaves open).

Coordinates
    Images are ``size x size`` (64). Pixel (row r, column c) sits at ``x = (c - 31.5) / 64``,
    ``y = -(r - 31.5) / 64``: units of the image width, centre 0, +y up (:func:`pixel_coordinates`).
    ``N(mu, sigma)`` is the isotropic 2-D Gaussian density ``exp(-|p - mu|**2 / (2 sigma**2)) /
    (2 pi sigma**2)`` in those units; a *disc* ``{p : N(mu, sigma)(p) > 1}`` has radius
    ``sqrt(-2 sigma**2 ln(2 pi sigma**2))`` (:func:`disc_radius`).

Exp. A -- weighted sum
    ``w = (-0.5 N(0, 0.1) + 1.0 N(0, 0.18)) / 64**2`` (negative centre, positive surround, net
    positive sum); statistic ``sum_j w_j x_j``. Ground truth: ``w``.
Exp. B -- maximum of three disc means
    Discs of ``sigma = 0.125`` (radius 0.269, 17.2 px) centred at (0, 0.13), (-0.15625,
    -0.140625), (0.15625, -0.140625); statistic ``max_k mean(x[disc_k])``. Ground truth: each
    pixel's probability of contributing, the sum over the discs holding it of the probability that
    this disc is the maximum (Monte Carlo on independent images), so overlaps add up. Regions
    ``a``, ``b``, ``c``: the parts covered by one disc only; ``d``: the part covered by all three.
Exp. C -- maximum of two pair similarities, one pair unreliable
    Four discs of ``sigma = 0.078125`` (radius 0.1995, 12.8 px) centred at (-0.25, 0.21875),
    (0.25, 0.21875), (-0.25, -0.21875), (0.25, -0.21875); pair ``i`` = (disc i, disc i+2): pair 0
    the left column, pair 1 the right one. ``s_i`` is the cosine similarity of the raw pixel
    vectors of the pair's two discs (pixels matched in row-major order, the discs being
    translates). True output: pair ``i`` contributes ``s_i`` with probability ``1 - p_i``
    (``p = (0, 0.5)``, drawn per image) and 0 otherwise, ``y = max``; the statistic ``f`` sees
    every pair (``max(s_0, s_1)``). Ground truth: each pair's probability of setting ``y`` on
    its discs (none when a dropped pair's 0 is the maximum). Regions ``a``, ``b``: pair 0
    (reliable) and pair 1 (unreliable).
Exp. D -- four-way categorical choice with permuted squares
    Five discs of ``sigma = 0.07`` (radius 0.185, 11.8 px) and five squares of side 0.125 (8 px),
    both centred at (0, 0), (-0.28125, 0.28125), (0.28125, 0.28125), (-0.28125, -0.28125),
    (0.28125, -0.28125). Ring ``i`` = disc ``i`` minus square ``i``; the reference is ring 0 then
    square 0 (the whole centre disc); corner ``k = 1..4``'s candidate is ring ``k`` then a corner
    square. In the labels the four corner squares are permuted at random among the corners for
    every image (a corner keeps its own square with probability 1/4) and ``y`` is the argmax of
    the four cosine similarities (classes 0..3 = corners 1..4). The statistic ``f`` computes them
    with every square in place and outputs ``softmax(100 s)``. Maps are those of class 0 (corner 1,
    top left; the paper's "a"); ground truth: 1 on ring 1 and ring 0, 1/4 (the in-place
    probability) on square 1 and square 0. Regions ``square`` (squares 1 and 0) and ``reliable``
    (rings 1 and 0).

Outputs of Exp. A-C are standardized (mean 0, SD 1, both ``f`` and ``y``) with constants measured
once on ``n_standardize`` independent images of the true outputs.
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
    "pixel_coordinates",
    "gaussian_density",
    "density_disc",
    "disc_radius",
    "square_mask",
]

#: seed of the images the output standardization is measured on
_STANDARDIZE_SEED = 20_240_421


@dataclass
class BenchmarkData:
    """Images and true outputs of one experiment.

    Attributes
    ----------
    x : (n, 1, size, size) float tensor
        The observed images, the input of every method.
    y : (n,) tensor
        True outputs: standardized floats for Exp. A-C, int64 class labels for Exp. D.
    info : dict
        Hidden quantities: ``"winner"`` (the disc/pair/class that set ``y``, -1 for none),
        ``"keep"`` in Exp. C (n, n_pairs), ``"permutation"`` and ``"in_place"`` in Exp. D.
    """

    x: torch.Tensor
    y: torch.Tensor
    info: dict = field(default_factory=dict)


def pixel_coordinates(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of every pixel, each ``(size, size)``: image-width units, centre 0, +y up.

    Examples
    --------
    >>> x, y = pixel_coordinates(64)
    >>> float(x[0, 0]), float(y[0, 0])
    (-0.4921875, 0.4921875)
    """
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    half = (size - 1) / 2.0
    return (cols - half) / size, -(rows - half) / size


def gaussian_density(mu: tuple[float, float], sigma: float, size: int = 64) -> np.ndarray:
    """Isotropic 2-D Gaussian density ``N(mu, sigma)`` at every pixel, ``(size, size)``."""
    x, y = pixel_coordinates(size)
    r2 = (x - mu[0]) ** 2 + (y - mu[1]) ** 2
    return np.exp(-r2 / (2.0 * sigma**2)) / (2.0 * math.pi * sigma**2)


def density_disc(mu: tuple[float, float], sigma: float, size: int = 64) -> np.ndarray:
    """The disc ``{p : N(mu, sigma)(p) > 1}`` as a boolean ``(size, size)`` mask."""
    return gaussian_density(mu, sigma, size) > 1.0


def disc_radius(sigma: float) -> float:
    """Radius (image-width units) of ``{N(mu, sigma) > 1}``: ``sqrt(-2 sigma**2 ln(2 pi sigma**2))``.

    Examples
    --------
    >>> round(disc_radius(0.125) * 64, 1)
    17.2
    """
    inside = 2.0 * math.pi * sigma**2
    if not inside < 1.0:
        raise ValueError(f"Invalid value for 'sigma': the density never exceeds 1 for sigma={sigma!r}.")
    return math.sqrt(-2.0 * sigma**2 * math.log(inside))


def square_mask(center: tuple[float, float], side: float, size: int = 64) -> np.ndarray:
    """Pixels within ``side / 2`` of ``center`` along both axes, boolean ``(size, size)``."""
    x, y = pixel_coordinates(size)
    return (np.abs(x - center[0]) <= side / 2.0) & (np.abs(y - center[1]) <= side / 2.0)


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


def _flat(mask: np.ndarray) -> np.ndarray:
    """Flat indices of a boolean mask, row-major."""
    return np.flatnonzero(np.asarray(mask).reshape(-1))


def _check_translates(masks: list[np.ndarray], what: str) -> None:
    counts = {int(m.sum()) for m in masks}
    if len(counts) != 1:
        raise ValueError(
            f"Invalid geometry: the {what} must have the same number of pixels to be compared pixel by "
            f"pixel; got {sorted(counts)}."
        )


def _frozen_linear(weight: np.ndarray) -> nn.Linear:
    """A bias-free, frozen ``nn.Linear`` holding ``weight`` (out, in)."""
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
    layer.weight.requires_grad_(False)
    return layer


def _selection(index: np.ndarray, size: int) -> np.ndarray:
    """(len(index), size*size) 0/1 matrix picking the flat pixels ``index``."""
    index = np.asarray(index).reshape(-1)
    sel = np.zeros((index.size, size * size), dtype=np.float32)
    sel[np.arange(index.size), index] = 1.0
    return sel


class _Experiment(nn.Module):
    """Common parts: standardization, sampling, Monte-Carlo contribution probabilities.

    Every statistic is written ``f(x) = g(A x)`` with a first linear map ``A`` (a weighting, disc
    means, or a selection of the disc pixels) declared through the factorization protocol of
    ``neuro_igc.models._layers`` (``igc_input_linear`` + ``forward_from_input_linear``), so the
    attribution engine integrates in the small space of ``A x`` -- exactly, and much faster.
    """

    name = "?"
    categorical = False
    n_outputs = 1
    signed_truth = False

    def __init__(self, size: int = 64, n_standardize: int = 10_000):
        super().__init__()
        if not isinstance(size, (int, np.integer)) or int(size) < 16:
            raise ValueError(f"Invalid value for 'size': an image side >= 16 pixels is needed; got {size!r}.")
        if not isinstance(n_standardize, (int, np.integer)) or int(n_standardize) < 2:
            raise ValueError(f"Invalid value for 'n_standardize': an int >= 2 is needed; got {n_standardize!r}.")
        self.size = int(size)
        self.n_standardize = int(n_standardize)
        self.register_buffer("y_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("y_sd", torch.ones((), dtype=torch.float64))

    def _standardize(self) -> None:
        """Measure the mean and SD of the raw true outputs on independent images (Exp. A-C)."""
        if self.categorical:
            return
        x = make_images(self.n_standardize, size=self.size, seed=_STANDARDIZE_SEED)
        gen = torch.Generator().manual_seed(_STANDARDIZE_SEED + 1)
        raw, _ = self._raw_outputs(x, gen)
        raw = raw.double()
        self.y_mean.fill_(float(raw.mean()))
        self.y_sd.fill_(float(raw.std()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The true statistic: ``(n, 1, size, size) -> (n, n_outputs)``."""
        flat = _flatten(x, self.size)
        return self.forward_from_input_linear(self.igc_input_linear(flat.to(self.igc_input_linear.weight.dtype)))

    def forward_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """The rest of the statistic after its first linear map (standardized for Exp. A-C)."""
        raw = self.raw_from_input_linear(z)
        if self.categorical:
            return raw
        return (raw - self.y_mean.to(raw.dtype)) / self.y_sd.to(raw.dtype)

    def raw_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _raw_outputs(self, x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        """Raw true outputs ``(n,)`` (before standardization) and hidden quantities."""
        flat = _flatten(x, self.size)
        with torch.no_grad():
            return self.raw_from_input_linear(self.igc_input_linear(flat))[:, 0], {}

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
        raw, info = self._raw_outputs(x, gen)
        if self.categorical:
            y = raw
        else:
            y = ((raw.double() - self.y_mean) / self.y_sd).to(x.dtype)
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
    """Exp. A: pixel sum weighted by ``(-0.5 N(0, 0.1) + N(0, 0.18)) / 64**2`` (see module docstring).

    Examples
    --------
    >>> exp = ExperimentA(n_standardize=100)
    >>> x = torch.zeros(1, 1, 64, 64); x[0, 0, 31, 31] = 1.0
    >>> raw = exp.raw_from_input_linear(exp.igc_input_linear(x.reshape(1, -1)))
    >>> bool(torch.isclose(raw[0, 0], exp.weights[31, 31]))
    True
    """

    name = "A"
    signed_truth = True

    def __init__(self, size: int = 64, sigmas: tuple[float, float] = (0.1, 0.18),
                 amplitudes: tuple[float, float] = (-0.5, 1.0), n_standardize: int = 10_000):
        super().__init__(size, n_standardize)
        if len(sigmas) != len(amplitudes) or not all(s > 0 for s in sigmas):
            raise ValueError(
                "Invalid values for 'sigmas'/'amplitudes': one positive sigma per amplitude is needed; "
                f"got {sigmas!r} and {amplitudes!r}."
            )
        w = sum(a * gaussian_density((0.0, 0.0), s, self.size) for a, s in zip(amplitudes, sigmas)) / self.size**2
        self.register_buffer("weights", torch.as_tensor(w, dtype=torch.float32))
        self.igc_input_linear = _frozen_linear(w.reshape(1, -1))
        self._standardize()

    def raw_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, 1) -> (n, 1)``: the weighted sum is the linear map itself."""
        return z

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        return self.weights.numpy().astype(float)

    def regions(self) -> dict[str, np.ndarray]:
        w = self.weights.numpy()
        return {"center": w < 0, "surround": w > 0}


class ExperimentB(_Experiment):
    """Exp. B: maximum of the means of three partially overlapping discs.

    Examples
    --------
    >>> exp = ExperimentB(n_standardize=100)
    >>> x = torch.zeros(1, 1, 64, 64)
    >>> x[0, 0][torch.as_tensor(exp.regions()["a"])] = 1.0
    >>> int(exp.disc_means(x).argmax())
    0
    """

    name = "B"
    CENTERS = ((0.0, 0.13), (-0.15625, -0.140625), (0.15625, -0.140625))

    def __init__(self, size: int = 64, centers: tuple = CENTERS, sigma: float = 0.125,
                 n_standardize: int = 10_000):
        super().__init__(size, n_standardize)
        self.centers = tuple(tuple(map(float, c)) for c in centers)
        self.disc_masks = [density_disc(c, sigma, self.size) for c in self.centers]
        if any(not m.any() for m in self.disc_masks):
            raise ValueError("Invalid geometry: a disc holds no pixel; use a larger 'size' or 'sigma'.")
        m = np.stack([mk.reshape(-1) / mk.sum() for mk in self.disc_masks])
        self.igc_input_linear = _frozen_linear(m)
        self._standardize()

    def disc_means(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 1, size, size) -> (n, n_discs)``: the mean of each disc."""
        flat = _flatten(x, self.size)
        return self.igc_input_linear(flat.to(self.igc_input_linear.weight.dtype))

    def raw_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, n_discs) -> (n, 1)``: the largest disc mean."""
        return z.amax(dim=1, keepdim=True)

    def _raw_outputs(self, x, gen):
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
    """Exp. C: maximum of two vertical-pair cosine similarities; pair 1 unreliable.

    Examples
    --------
    >>> exp = ExperimentC(n_standardize=100)
    >>> x = torch.randn(3, 1, 64, 64)
    >>> s = exp.similarities(x)
    >>> raw = exp.raw_from_input_linear(exp.igc_input_linear(x.reshape(3, -1)))
    >>> bool(torch.allclose(raw[:, 0], s.amax(1)))
    True
    """

    name = "C"
    CENTERS = ((-0.25, 0.21875), (0.25, 0.21875), (-0.25, -0.21875), (0.25, -0.21875))

    def __init__(self, size: int = 64, centers: tuple = CENTERS, sigma: float = 0.078125,
                 p_drop: tuple[float, ...] = (0.0, 0.5), n_standardize: int = 10_000):
        super().__init__(size, n_standardize)
        if len(centers) % 2 or len(p_drop) != len(centers) // 2:
            raise ValueError(
                f"Invalid values for 'centers'/'p_drop': an even number of discs and one probability per "
                f"pair are needed; got {len(centers)} discs and {len(p_drop)} probabilities."
            )
        if not all(0.0 <= p <= 1.0 for p in p_drop):
            raise ValueError(f"Invalid value for 'p_drop': probabilities in [0, 1] are needed; got {p_drop!r}.")
        self.p_drop = tuple(float(p) for p in p_drop)
        self.centers = tuple(tuple(map(float, c)) for c in centers)
        discs = [density_disc(c, sigma, self.size) for c in self.centers]
        _check_translates(discs, "discs")
        n_pairs = len(discs) // 2
        self.disc_masks = discs
        idx = np.stack([np.stack([_flat(discs[i]), _flat(discs[i + n_pairs])]) for i in range(n_pairs)])
        self.register_buffer("pair_index", torch.as_tensor(idx, dtype=torch.long))  # (pair, 2, n_pix)
        self.n_pairs, self.n_pix = n_pairs, idx.shape[-1]
        self.pair_masks = [discs[i] | discs[i + n_pairs] for i in range(n_pairs)]
        self.igc_input_linear = _frozen_linear(_selection(idx, self.size))  # z = the pairs' pixels
        self._standardize()

    def similarities(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, 1, size, size) -> (n, n_pairs)``: cosine similarity within each pair."""
        flat = _flatten(x, self.size)
        return self._similarities(flat[:, self.pair_index.reshape(-1)])

    def _similarities(self, z: torch.Tensor) -> torch.Tensor:
        z = z.reshape(z.shape[0], self.n_pairs, 2, self.n_pix)
        return _cosine(z[:, :, 0], z[:, :, 1])

    def raw_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, n_pairs * 2 * n_pix) -> (n, 1)``: the largest pair similarity (every pair kept)."""
        return self._similarities(z).amax(dim=1, keepdim=True)

    def _raw_outputs(self, x, gen):
        with torch.no_grad():
            s = self.similarities(x)
        n = x.shape[0]
        keep = torch.rand(n, self.n_pairs, generator=gen, dtype=torch.float64) >= torch.tensor(
            self.p_drop, dtype=torch.float64)
        contrib = torch.where(keep, s, torch.zeros_like(s))
        y, winner = contrib.max(dim=1)
        # a dropped pair's constant 0 being the maximum: no pixel sets y
        winner = torch.where(keep.gather(1, winner[:, None])[:, 0], winner, torch.full_like(winner, -1))
        return y, {"winner": winner, "keep": keep}

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        return self._winner_density(n_mc, seed, self.pair_masks)

    def regions(self) -> dict[str, np.ndarray]:
        return {"a": self.pair_masks[0], "b": self.pair_masks[1]}


class ExperimentD(_Experiment):
    """Exp. D: argmax over four corners of the similarity with the centre disc; squares permuted.

    Examples
    --------
    >>> exp = ExperimentD()
    >>> exp(torch.randn(2, 1, 64, 64)).shape
    torch.Size([2, 4])
    """

    name = "D"
    categorical = True
    n_outputs = 4
    CENTERS = ((0.0, 0.0), (-0.28125, 0.28125), (0.28125, 0.28125), (-0.28125, -0.28125), (0.28125, -0.28125))

    def __init__(self, size: int = 64, centers: tuple = CENTERS, sigma: float = 0.07, square: float = 0.125,
                 temperature: float = 0.01, n_standardize: int = 10_000):
        super().__init__(size, n_standardize)
        if not temperature > 0:
            raise ValueError(f"Invalid value for 'temperature': a number > 0 is needed; got {temperature!r}.")
        self.temperature = float(temperature)
        self.centers = tuple(tuple(map(float, c)) for c in centers)
        discs = [density_disc(c, sigma, self.size) for c in self.centers]
        squares = [square_mask(c, square, self.size) for c in self.centers]
        if any((sq & ~dc).any() or not sq.any() for sq, dc in zip(squares, discs)):
            raise ValueError("Invalid geometry: every square must lie inside its disc; use a smaller 'square'.")
        rings = [dc & ~sq for dc, sq in zip(discs, squares)]
        _check_translates(rings, "rings")
        _check_translates(squares, "squares")
        self.disc_masks, self.square_masks, self.ring_masks = discs, squares, rings
        ring_idx = np.stack([_flat(r) for r in rings])  # (5, n_ring)
        square_idx = np.stack([_flat(s) for s in squares])  # (5, n_square)
        self.register_buffer("ring_index", torch.as_tensor(ring_idx, dtype=torch.long))
        self.register_buffer("square_index", torch.as_tensor(square_idx, dtype=torch.long))
        self.n_ring, self.n_square = ring_idx.shape[1], square_idx.shape[1]
        # z = ring 0..4 pixels, then square 0..4 pixels
        self.igc_input_linear = _frozen_linear(_selection(np.concatenate([ring_idx.ravel(), square_idx.ravel()]),
                                                          self.size))

    def _split(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = z.shape[0]
        rings = z[:, : 5 * self.n_ring].reshape(n, 5, self.n_ring)
        squares = z[:, 5 * self.n_ring:].reshape(n, 5, self.n_square)
        return rings, squares

    @staticmethod
    def _sims(rings: torch.Tensor, squares: torch.Tensor) -> torch.Tensor:
        ref = torch.cat([rings[:, 0], squares[:, 0]], dim=1)[:, None]
        cand = torch.cat([rings[:, 1:], squares[:, 1:]], dim=2)
        return _cosine(ref, cand)

    def similarities(self, x: torch.Tensor, permutation: torch.Tensor | None = None) -> torch.Tensor:
        """``(n, 1, size, size) -> (n, 4)``: similarity of the reference with each corner's candidate.

        ``permutation`` (n, 4) gives, per image, the corner (0..3 for corners 1..4) whose square
        fills each corner's candidate; default: every square in place.
        """
        flat = _flatten(x, self.size)
        rings, squares = self._split(self.igc_input_linear(flat.to(self.igc_input_linear.weight.dtype)))
        if permutation is not None:
            corner = squares[:, 1:].gather(1, permutation[:, :, None].expand(-1, -1, self.n_square))
            squares = torch.cat([squares[:, :1], corner], dim=1)
        return self._sims(rings, squares)

    def raw_from_input_linear(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, 5 * (n_ring + n_square)) -> (n, 4)``: ``softmax(s / temperature)``, squares in place."""
        rings, squares = self._split(z)
        return torch.softmax(self._sims(rings, squares) / self.temperature, dim=1)

    def _raw_outputs(self, x, gen):
        n = x.shape[0]
        permutation = torch.argsort(torch.rand(n, 4, generator=gen), dim=1)
        with torch.no_grad():
            s = self.similarities(x, permutation)
        y = s.argmax(1)
        return y, {"winner": y, "permutation": permutation,
                   "in_place": permutation == torch.arange(4)[None, :]}

    def ground_truth(self, n_mc: int = 20_000, seed: int = 10_000_019) -> np.ndarray:
        regions = self.regions()
        return regions["reliable"].astype(float) + 0.25 * regions["square"]

    def regions(self) -> dict[str, np.ndarray]:
        return {"square": self.square_masks[1] | self.square_masks[0],
                "reliable": self.ring_masks[1] | self.ring_masks[0]}


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
    >>> make_experiment("B", n_standardize=100).n_outputs
    1
    """
    check_option("experiment", name, EXPERIMENTS)
    return EXPERIMENTS[name](**kwargs)
