"""Supporting paths of IG and IGC: straight, blur and guided, and the plain path integral.

The IGC paper (Section 3.1) lets IGC rest on any path method. A path runs from a start point to
the input ``x``; the completeness of the path method is ``sum_j IG_j = f(x) - f(start)``.

- ``"straight"`` (IG): ``gamma(t) = x' + t (x - x')`` from a baseline ``x'`` drawn from the data.
- ``"blur"`` (BlurIG, Xu et al. 2020): ``gamma(t)`` is ``x`` blurred by a Gaussian of width
  ``sigma(t) = max_sigma (1 - t)`` over the last two (spatial) axes, from a large blur down to the
  image itself; ``gamma'(t) = -max_sigma d blur / d sigma`` in closed form. It has no baseline:
  the start is the blurred image of each sample.
- ``"guided"`` (GuidedIG, Kapishnikov et al. 2021): from the baseline, at every step the
  ``fraction`` of features with the smallest absolute gradient move toward ``x`` first, within
  ``max_dist`` (relative L1 distance) of the straight path; the path depends on the target's
  gradient, so every output has its own path. Each step's gradient is taken at the step's start
  (the point it decides from), so the cells of ``method`` only set the step sizes.

Which keep IGC's sum property: IGC sums to ``corr(f(x), y) - cov(f(start), y) / (sd(f) sd(y))``
(the second term is ``result.baseline_term``). The straight and the guided paths start at
baselines drawn from the data afresh for every sample, so that term is random with mean zero and
shrinks with the number of samples, as for IG. The blur path starts at each sample's own blurred
image, which keeps its mean luminance: ``f(start)`` can covary with ``y`` and the term does not
shrink with the samples. Its maps sum to the correlation minus that reported term.

The blur is a sampled Gaussian normalised over its full support (radius ``size - 1`` on each
axis, zero padding), i.e. ``scipy.ndimage.gaussian_filter(mode="constant")`` with the truncation
at the image size, written as two small matrix products so that it runs on any device and its
derivative in ``sigma`` is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from neuro_igc.attribution._rules import idgi_sum

__all__ = ["PATHS", "StraightPath", "BlurPath", "GuidedPath", "make_path", "gaussian_blur_matrices",
           "blur", "path_integral"]


class StraightPath:
    """The straight line from a baseline to the input (Integrated Gradients).

    Examples
    --------
    >>> p = StraightPath()
    >>> x, b = torch.ones(1, 3), torch.zeros(1, 3)
    >>> p.points(x, b, torch.tensor([0.0, 0.5, 1.0]))[0, :, 0].tolist()
    [0.0, 0.5, 1.0]
    """

    name = "straight"
    adaptive = False
    uses_baselines = True

    def start(self, x: torch.Tensor, baselines: torch.Tensor) -> torch.Tensor:
        return baselines

    def points(self, x: torch.Tensor, start: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``(R, T, *shape)`` points of ``R`` paths at ``T`` times."""
        lead = (1,) * (x.ndim - 1)
        t = t.to(x.dtype).view(1, -1, *lead)
        return start.unsqueeze(1) + t * (x - start).unsqueeze(1)

    def velocity(self, x: torch.Tensor, start: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``(R, 1, *shape)``: the constant ``x - x'``."""
        return (x - start).unsqueeze(1)

    def describe(self) -> dict:
        return {"path": self.name}

    def __repr__(self) -> str:
        return "StraightPath()"


def gaussian_blur_matrices(size: int, sigmas: torch.Tensor, derivative: bool = False):
    """``(T, size, size)`` blur matrices ``M[i, j] = k(i - j) / Z`` of a sampled Gaussian.

    ``k(d) = exp(-d^2 / (2 sigma^2))``, normalised over ``|d| <= size - 1`` (the whole support an
    image of this size can reach); ``sigma = 0`` is the identity. With ``derivative=True`` also
    returns ``dM / d sigma`` (zero at ``sigma = 0``). Computed in float64.
    """
    s = sigmas.detach().to(torch.float64).reshape(-1, 1)
    pos = s > 0
    safe = torch.where(pos, s, torch.ones_like(s))
    d = torch.arange(-(size - 1), size, dtype=torch.float64, device=sigmas.device).view(1, -1)
    k = torch.exp(-(d**2) / (2 * safe**2))
    n = k / k.sum(1, keepdim=True)  # (T, 2 size - 1) normalised kernel
    centre = (d == 0).to(torch.float64).expand_as(n)
    n = torch.where(pos, n, centre)
    idx = torch.arange(size, device=sigmas.device)
    diff = (idx.view(-1, 1) - idx.view(1, -1)) + (size - 1)  # offset i - j into the kernel
    M = n[:, diff]
    if not derivative:
        return M
    d2 = d**2 / safe**3
    dn = n * (d2 - (n * d2).sum(1, keepdim=True))
    dn = torch.where(pos, dn, torch.zeros_like(dn))
    return M, dn[:, diff]


def _check_image(x: torch.Tensor, what: str) -> None:
    if x.ndim < 3:
        raise ValueError(
            f"Invalid value for 'path': {what!r} blurs the last two axes of image inputs (n, H, W) or "
            f"(n, C, H, W); got inputs of shape {tuple(x.shape)}. Use path='straight' or 'guided'."
        )


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``x`` (``..., H, W``) blurred with a Gaussian of width ``sigma`` (pixels), zero padding.

    Examples
    --------
    >>> img = torch.zeros(1, 5, 5, dtype=torch.float64); img[0, 2, 2] = 1.0
    >>> round(float(blur(img, 1.0).sum()), 3) < 1.0   # mass leaves through the zero padding
    True
    """
    s = torch.tensor([float(sigma)], dtype=torch.float64, device=x.device)
    MH = gaussian_blur_matrices(x.shape[-2], s)[0].to(x.dtype)
    MW = gaussian_blur_matrices(x.shape[-1], s)[0].to(x.dtype)
    return MH @ x @ MW.T


class BlurPath:
    """The blur path of BlurIG: from ``x`` blurred with ``max_sigma`` down to ``x``.

    Parameters
    ----------
    max_sigma : float, default=50.0
        Width (pixels) of the Gaussian at the start of the path (the PAIR ``saliency`` default).
    """

    name = "blur"
    adaptive = False
    uses_baselines = False

    def __init__(self, max_sigma: float = 50.0):
        if isinstance(max_sigma, bool) or not isinstance(max_sigma, (int, float)) or not max_sigma > 0:
            raise ValueError(f"Invalid value for 'max_sigma': expected a positive number; got {max_sigma!r}.")
        self.max_sigma = float(max_sigma)

    def _apply(self, x, t, derivative):
        _check_image(x, self.name)
        sig = self.max_sigma * (1 - t.detach().to(torch.float64))
        H, W = x.shape[-2:]
        if derivative:
            MH, dMH = gaussian_blur_matrices(H, sig, True)
            MW, dMW = gaussian_blur_matrices(W, sig, True)
        else:
            MH, MW = gaussian_blur_matrices(H, sig), gaussian_blur_matrices(W, sig)
        xs = x.unsqueeze(1)  # (R, 1, ..., H, W)
        extra = x.ndim - 3  # channel axes between the sample axis and (H, W)
        view = (1, -1) + (1,) * extra + (H, H)
        viewW = (1, -1) + (1,) * extra + (W, W)
        dt = x.dtype
        mh, mw = MH.to(dt).view(view), MW.to(dt).view(viewW)
        if not derivative:
            return mh @ xs @ mw.transpose(-1, -2)
        dmh, dmw = dMH.to(dt).view(view), dMW.to(dt).view(viewW)
        d_sigma = dmh @ xs @ mw.transpose(-1, -2) + mh @ xs @ dmw.transpose(-1, -2)
        return -self.max_sigma * d_sigma  # d gamma / dt = -max_sigma d blur / d sigma

    def start(self, x: torch.Tensor, baselines=None) -> torch.Tensor:
        return self._apply(x, torch.zeros(1, dtype=torch.float64, device=x.device), False)[:, 0]

    def points(self, x: torch.Tensor, start, t: torch.Tensor) -> torch.Tensor:
        return self._apply(x, t, False)

    def velocity(self, x: torch.Tensor, start, t: torch.Tensor) -> torch.Tensor:
        return self._apply(x, t, True)

    def describe(self) -> dict:
        return {"path": self.name, "max_sigma": self.max_sigma}

    def __repr__(self) -> str:
        return f"BlurPath(max_sigma={self.max_sigma})"


class GuidedPath:
    """The adaptive path of GuidedIG: features with the smallest gradients move first.

    Parameters
    ----------
    fraction : float, default=0.25
        Share of the features (smallest absolute gradient) moved at each sub-step.
    max_dist : float, default=0.02
        How far (relative L1 distance, in ``[0, 1]``) a feature may run ahead of or lag behind the
        straight path; 0 is the straight path, 1 lets it go anywhere in the box between baseline
        and input. Both defaults are those of the PAIR ``saliency`` package.
    """

    name = "guided"
    adaptive = True
    uses_baselines = True

    def __init__(self, fraction: float = 0.25, max_dist: float = 0.02):
        for pname, v in (("fraction", fraction), ("max_dist", max_dist)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise ValueError(f"Invalid value for {pname!r}: expected a number in [0, 1]; got {v!r}.")
        if fraction == 0:
            raise ValueError("Invalid value for 'fraction': it must be > 0 (no feature would move); got 0.")
        self.fraction, self.max_dist = float(fraction), float(max_dist)

    def start(self, x: torch.Tensor, baselines: torch.Tensor) -> torch.Tensor:
        return baselines

    def describe(self) -> dict:
        return {"path": self.name, "fraction": self.fraction, "max_dist": self.max_dist}

    def __repr__(self) -> str:
        return f"GuidedPath(fraction={self.fraction}, max_dist={self.max_dist})"

    def walk(self, grad_fn: Callable, x: torch.Tensor, start: torch.Tensor, bounds: np.ndarray, rule: str,
             value_fn: Callable | None = None) -> torch.Tensor:
        """Walk ``R`` guided paths; return their attributions ``(R, m)``.

        ``grad_fn(points (R, m)) -> (values (R,), grads (R, m))`` gives each row's target and its
        gradient; ``bounds`` are the cells' boundaries (the relative L1 distance left after step
        ``s`` is ``1 - bounds[s]``); ``value_fn(points) -> (R,)`` is needed by IDGI for the value
        at the end.
        """
        xin = x.reshape(x.shape[0], -1)
        base = start.reshape(start.shape[0], -1)
        total = xin - base
        l1_total = total.abs().sum(1)
        pt = base.clone()
        attr = torch.zeros_like(xin)
        moving = total != 0
        safe_total = torch.where(moving, total, torch.ones_like(total))
        m = xin.shape[1]
        # the 'lower' quantile of torch.quantile: the element of rank floor(q (m - 1)), the product
        # taken in the data's dtype as torch does; kthvalue selects it without sorting the row
        k = int(torch.floor(torch.tensor(self.fraction, dtype=base.dtype) * max(m - 1, 0))) + 1
        # "at the target" up to the dtype's rounding: a fixed 1e-9 is below float32's resolution
        # and would never be reached there
        tol = 64 * torch.finfo(base.dtype).eps
        inf = torch.full((), math.inf, dtype=xin.dtype, device=xin.device)
        S = len(bounds) - 1
        f_prev = g_prev = None
        for s in range(S):
            f_now, grad = grad_fn(pt)
            if rule == "idgi":
                if g_prev is not None:  # the previous step's change is known now
                    attr += idgi_sum(g_prev.unsqueeze(1), (f_now - f_prev).unsqueeze(1))
                f_prev, g_prev = f_now, grad
            a = float(bounds[s + 1])
            a_min, a_max = max(a - self.max_dist, 0.0), min(a + self.max_dist, 1.0)
            x_min, x_max = base + a_min * total, base + a_max * total
            l1_target = l1_total * (1 - a)
            pt_start = pt  # pt is replaced, never written in place
            grad_abs = grad.abs()
            active = l1_total > 0
            while bool(active.any()):
                # features lagging more than max_dist behind the straight path jump to its edge
                # (a feature with no distance to cover never lags)
                behind = moving & ((pt - base) / safe_total < a_min) & active[:, None]
                pt = torch.where(behind, x_min, pt)
                l1_cur = (pt - xin).abs().sum(1)
                close = (l1_target - l1_cur).abs() <= torch.clamp(tol * torch.maximum(l1_target.abs(), l1_cur.abs()),
                                                                  min=tol)
                active = active & ~close
                if not bool(active.any()):
                    break
                g = torch.where(pt == x_max, inf, grad_abs)
                thr = torch.kthvalue(g, k, dim=1, keepdim=True).values
                # torch.quantile gives NaN for a row holding a NaN: nothing is selected there
                thr = torch.where(torch.isnan(g).any(1, keepdim=True), torch.full_like(thr, math.nan), thr)
                sel = (g <= thr) & (g < inf) & active[:, None]
                l1_s = ((pt - x_max).abs() * sel).sum(1)
                gamma = torch.where(l1_s > 0, (l1_cur - l1_target) / torch.where(l1_s > 0, l1_s, torch.ones_like(l1_s)),
                                    torch.full_like(l1_s, math.inf))
                full = (gamma > 1)[:, None]
                moved = torch.where(full, x_max, pt + gamma.clamp(max=1)[:, None] * (x_max - pt))
                pt = torch.where(sel, moved, pt)
                active = active & (gamma > 1) & (l1_s > 0)  # a row with nothing left to move is done
            if rule != "idgi":
                attr += (pt - pt_start) * grad
        if rule == "idgi" and g_prev is not None:
            attr += idgi_sum(g_prev.unsqueeze(1), (value_fn(pt) - f_prev).unsqueeze(1))
        return attr.reshape(x.shape)


#: path name -> class (built with its defaults when given by name)
PATHS: dict[str, type] = {"straight": StraightPath, "blur": BlurPath, "guided": GuidedPath}


def make_path(path):
    """A path object from a name in ``PATHS`` or an instance of one of the path classes."""
    if isinstance(path, tuple(PATHS.values())):
        return path
    if isinstance(path, str) and path in PATHS:
        return PATHS[path]()
    shown = ", ".join(repr(p) for p in PATHS)
    raise ValueError(
        f"Invalid value for 'path': allowed are {shown} or an instance of StraightPath, BlurPath or "
        f"GuidedPath; got {path!r}."
    )


def rows_caller(fn: Callable, row_kwargs: dict | None, R: int) -> Callable:
    """``call(points (R, T, *shape)) -> fn(points flattened, **per-row keywords repeated T times)``."""
    row_kwargs = row_kwargs or {}

    def call(pts: torch.Tensor) -> torch.Tensor:
        T = pts.shape[1]
        kw = {k: v.repeat_interleave(T, 0) for k, v in row_kwargs.items()}
        return fn(pts.reshape(R * T, *pts.shape[2:]), **kw)

    return call


def path_integral(head: Callable, x: torch.Tensor, start: torch.Tensor, *, path, rule: str, alphas: torch.Tensor,
                  weights: torch.Tensor, bounds: np.ndarray, chunk_points: int = 4096,
                  row_kwargs: dict | None = None) -> torch.Tensor:
    """Attributions ``(Q, R, *shape)`` of ``R`` paths for every target of ``head``.

    The plain path integral, without factorizations: ``head(points (P, *shape), **kw) -> (P, Q)``;
    ``x`` and ``start`` are ``(R, *shape)``; ``row_kwargs`` per-path keyword tensors ``(R, ...)``;
    ``alphas`` / ``weights`` the quadrature's nodes and weights (model dtype), ``bounds`` its
    cells (:func:`cell_bounds`). For the guided path each target walks its own path.
    """
    R, shape = x.shape[0], x.shape[1:]
    m = int(np.prod(shape)) if shape else 1
    path = make_path(path)
    call = rows_caller(head, row_kwargs, R)
    if path.adaptive:
        with torch.no_grad():
            Q = call(x.unsqueeze(1)).shape[1]
        out = torch.empty(Q, R, m, dtype=x.dtype, device=x.device)
        for q in range(Q):
            def grad_fn(pts, q=q):
                p = pts.reshape(R, 1, *shape).detach().requires_grad_(True)
                with torch.enable_grad():
                    val = call(p)[:, q]
                    (g,) = torch.autograd.grad(val.sum(), p, allow_unused=True)
                g = torch.zeros_like(p) if g is None else g
                return val.detach(), g.reshape(R, -1)

            def value_fn(pts, q=q):
                with torch.no_grad():
                    return call(pts.reshape(R, 1, *shape))[:, q]

            out[q] = path.walk(grad_fn, x, start, bounds, rule, value_fn).reshape(R, m)
        return out.reshape(Q, R, *shape)
    S = alphas.numel()
    ns_max = max(1, chunk_points // max(R, 1))
    parts = None
    df = None
    if rule == "idgi":
        with torch.no_grad():
            tb = torch.as_tensor(bounds, dtype=x.dtype, device=x.device)
            fb = torch.cat([call(path.points(x, start, tb[b0:b0 + ns_max])).reshape(R, tb[b0:b0 + ns_max].numel(), -1)
                            for b0 in range(0, S + 1, ns_max)], 1)
        df = fb[:, 1:] - fb[:, :-1]  # (R, S, Q)
    for s0 in range(0, S, ns_max):
        ns = min(S, s0 + ns_max) - s0
        t = alphas[s0:s0 + ns]
        pts = path.points(x, start, t).detach().requires_grad_(True)
        with torch.enable_grad():
            out = call(pts)
            Q = out.shape[1]
            if parts is None:
                parts = torch.zeros(Q, R, m, dtype=x.dtype, device=x.device)
            vel = None if rule == "idgi" else path.velocity(x, start, t).reshape(R, -1, m)
            for q in range(Q):
                (g,) = torch.autograd.grad(out[:, q].sum(), pts, retain_graph=q < Q - 1, allow_unused=True)
                if g is None:
                    continue
                g = g.reshape(R, ns, m)
                if rule == "idgi":
                    parts[q] += idgi_sum(g, df[:, s0:s0 + ns, q])
                else:
                    w = weights[s0:s0 + ns].to(x.dtype).view(1, ns, 1)
                    parts[q] += (w * g * vel).sum(1)
    return parts.reshape(parts.shape[0], R, *shape)
