"""Batched pRF fits: isotropic 2-D Gaussians fitted to thousands of image-space maps at once.

The solver is a projected Levenberg-Marquardt on ``(x0, y0, sigma, amplitude, offset)`` in pixel
units, run on all maps of a batch together in torch. Its normal equations are built in one of two
ways (``PRF_SOLVERS``):

``"lm"`` (default)
    Separable: the Gaussian factors into a row and a column profile, so ``J^T J`` and the cost
    need only per-axis inner products and ``J^T r`` needs the 4 x 4 matrix ``V^T Y U`` per map
    (see ``_model.PAIRS``). One pass over the data per iteration, ``O(H W)`` work with a small
    constant, no ``(n, H W, 5)`` Jacobian in memory.
``"lm-dense"``
    The plain definition: model, residual and explicit Jacobian ``(n, H W, 5)``. Same iterates up
    to rounding; kept as the reference the separable one is tested against.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pandas as pd
import torch

from neuro_igc._utils import POSITIVE_INT, Options, check_params, resolve_device

from ._model import PAIRS, deg_per_pixel, flush_tiny, pixels_to_degrees

__all__ = ["fit_prf", "PRF_SOLVERS", "PRF_INITS", "PRF_SIGNS"]

logger = logging.getLogger(__name__)

PRF_SIGNS = {
    "positive": "fit the positive part max(map, 0); amplitude >= 0",
    "abs": "fit |map|; amplitude >= 0",
    "signed": "fit the map as is; the amplitude may be negative (a negative pRF)",
}

# ---------------------------------------------------------------------------------------------
# normal equations: (cost, J^T J, J^T r) at parameters p for data y
# ---------------------------------------------------------------------------------------------
def _axis_profiles(rows, cols, centres, inv2s2):
    """Per-axis profiles ``[g, g d, g d^2]`` of columns (x) and rows (y), shape (n, 2, 3, L).

    Rows and columns share one set of ops when H == W; otherwise each axis is padded with zeros
    to the longer length (zeros add nothing to the sums below).
    """
    length = max(rows.numel(), cols.numel())
    if rows.numel() == cols.numel():
        coords = cols[None, None, :]
    else:
        coords = torch.zeros((1, 2, length), dtype=cols.dtype, device=cols.device)
        coords[0, 0, : cols.numel()] = cols
        coords[0, 1, : rows.numel()] = rows
    d = coords - centres[:, :, None]  # (n, 2, L)
    g = flush_tiny(torch.exp(-(d * d) * inv2s2[:, None, None]))
    if rows.numel() != cols.numel():
        g[:, 0, cols.numel():] = 0
        g[:, 1, rows.numel():] = 0
    gd = g * d
    return torch.stack([g, gd, gd * d], dim=2), g, d


def _axis_moments(g, d, profiles, lengths):
    """Per axis: [sum g^2 d^k for k = 0..4, sum g d^k for k = 0..2, L] -> (n, 2, 9).

    These are the entries of the Gram matrix of ``[g, g d, g d^2, 1]`` (see ``_GRAM9``).
    """
    sums = []
    term = g * g
    for k in range(5):
        if k:
            term = term * d
        sums.append(term.sum(-1))
    m = torch.stack(sums, dim=2)  # (n, 2, 5)
    return torch.cat([m, profiles.sum(-1), lengths.expand(g.shape[0], 2, 1)], dim=2)


def _normal_separable(p, y, ystats, rows, cols):
    """Normal equations from per-axis factors (see ``_model.PAIRS``); one pass over ``y``.

    ``y`` keeps its own precision for the one product that reads it (float32 maps are not copied
    to float64); everything else is computed in the dtype of ``p``.
    """
    n = p.shape[0]
    x0, y0, s, a, b = p.unbind(1)
    prof, g, d = _axis_profiles(rows, cols, p[:, :2], 0.5 / (s * s))
    h, w = rows.numel(), cols.numel()
    u_t = prof[:, 0, :, :w]  # (n, 3, W) column profiles
    v_t = prof[:, 1, :, :h]  # (n, 3, H) row profiles
    # (Y U)^T = U^T Y^T: the one product that reads the maps
    yu_t = torch.bmm(u_t.to(y.dtype), y.transpose(1, 2)).to(p.dtype)  # (n, 3, H)
    t = (yu_t @ v_t.transpose(1, 2)).reshape(n, 9)  # t[j, i] = <Y, v_i (x) u_j>
    t6 = torch.cat([t[:, _T_IDX.to(p.device)], ystats[:, 1:2]], dim=1)  # the six PAIRS
    lengths = torch.tensor([[[float(w)], [float(h)]]], dtype=p.dtype, device=p.device)
    mom = _axis_moments(g, d, prof, lengths)  # (n, 2, 9)
    k6 = (mom[:, 1, _K_V.to(p.device)] * mom[:, 0, _K_U.to(p.device)]).reshape(n, 6, 6)  # Gram of the products
    km = a[:, None] * k6[:, :, 0] + b[:, None] * k6[:, :, 5]  # <P_k, model>, model = a P0 + b P5
    cost = ystats[:, 0] - 2 * (a * t6[:, 0] + b * t6[:, 5]) + a * km[:, 0] + b * km[:, 5]
    # Jacobian columns = scale * (R @ products): x0 -> (0,1); y0 -> (1,0); sigma -> (0,2) + (2,0);
    # amplitude -> (0,0); offset -> (3,3), with scale = (a/s^2, a/s^2, a/s^3, 1, 1)
    rt = _R.to(device=p.device, dtype=p.dtype).T  # (6, 5); products with it are plain GEMMs
    jtj = (k6.reshape(n * 6, 6) @ rt).reshape(n, 6, 5).transpose(1, 2).reshape(n * 5, 6) @ rt
    one = torch.ones_like(a)
    a_s2 = a / (s * s)
    scale = torch.stack([a_s2, a_s2, a_s2 / s, one, one], dim=1)
    jtj = jtj.reshape(n, 5, 5) * (scale[:, :, None] * scale[:, None, :])
    jtr = ((t6 - km) @ rt) * scale
    return cost.clamp_min(0), jtj, jtr


# t is flattened (j, i) with j the column profile: PAIRS (0,0) (0,1) (1,0) (0,2) (2,0) as (i, j)
_T_IDX = torch.tensor([3 * j + i for i, j in PAIRS[:5]])
# Gram of [g, g d, g d^2, 1] from the 9 moments: entry (k, l) -> index into _axis_moments' output
_GRAM9 = [[0, 1, 2, 5], [1, 2, 3, 6], [2, 3, 4, 7], [5, 6, 7, 8]]
_K_V = torch.tensor([_GRAM9[pk[0]][pl[0]] for pk in PAIRS for pl in PAIRS])
_K_U = torch.tensor([_GRAM9[pk[1]][pl[1]] for pk in PAIRS for pl in PAIRS])
_R = torch.tensor(
    [
        [0, 1, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 1, 0],
        [1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 1],
    ],
    dtype=torch.float64,
)
def _model_and_jacobian(p, rows, cols):
    """Dense model (n, H, W) and Jacobian (n, H, W, 5), straight from the formula."""
    x0, y0, s, a, b = (p[:, i, None, None] for i in range(5))
    dx = cols[None, None, :] - x0
    dy = rows[None, :, None] - y0
    g = flush_tiny(torch.exp(-(dx * dx + dy * dy) / (2 * s * s)))
    model = b + a * g
    jac = torch.stack(
        [a * g * dx / s**2, a * g * dy / s**2, a * g * (dx * dx + dy * dy) / s**3, g, torch.ones_like(g)],
        dim=-1,
    )
    return model, jac


def _normal_dense(p, y, ystats, rows, cols):
    model, jac = _model_and_jacobian(p, rows, cols)
    r = (y - model).flatten(1)
    j = jac.flatten(1, 2)  # (n, HW, 5)
    return (r * r).sum(1), j.transpose(1, 2) @ j, (j.transpose(1, 2) @ r.unsqueeze(-1)).squeeze(-1)


PRF_SOLVERS = {"lm": _normal_separable, "lm-dense": _normal_dense}


# ---------------------------------------------------------------------------------------------
# initialisation
# ---------------------------------------------------------------------------------------------
def _init_grid(y, rows, cols, positive, n_centres=8, n_sigmas=4):
    """Best of a coarse (x0, y0, sigma) grid, amplitude and offset by linear least squares.

    Every candidate's score ``cov(Y, g)^2 / var(g)`` needs ``<Y, g>``, which factors as
    ``gy^T Y gx``: one matrix product for all column profiles, then one small product per size.
    """
    n, h, w = y.shape
    npix = h * w
    rows, cols = rows.to(y.dtype), cols.to(y.dtype)
    cx = torch.linspace(0, w - 1, n_centres, dtype=y.dtype, device=y.device)
    cy = torch.linspace(0, h - 1, n_centres, dtype=y.dtype, device=y.device)
    sig = torch.logspace(0, math.log10(max(h, w) / 4), n_sigmas, dtype=y.dtype, device=y.device)
    gx = flush_tiny(torch.exp(-((cols[None, :, None] - cx[None, None, :]) ** 2) / (2 * sig[:, None, None] ** 2)))  # (S, W, C)
    gy = flush_tiny(torch.exp(-((rows[None, :, None] - cy[None, None, :]) ** 2) / (2 * sig[:, None, None] ** 2)))  # (S, H, C)
    z = (y.reshape(n * h, w) @ gx.permute(1, 0, 2).reshape(w, -1)).reshape(n, h, n_sigmas, n_centres)
    q = torch.stack([z[:, :, k].transpose(1, 2) @ gy[k] for k in range(n_sigmas)], dim=1)  # (n, S, Cx, Cy)
    sum_g = gx.sum(1)[:, :, None] * gy.sum(1)[:, None, :]  # (S, Cx, Cy)
    sq_g = (gx * gx).sum(1)[:, :, None] * (gy * gy).sum(1)[:, None, :]
    sum_y = y.sum((1, 2))
    cov = q - sum_y[:, None, None, None] * sum_g / npix
    var_g = (sq_g - sum_g**2 / npix).clamp_min(1e-12)
    score = (cov.clamp_min(0) if positive else cov) ** 2 / var_g
    best = score.flatten(1).argmax(1)
    si, rem = best // (n_centres * n_centres), best % (n_centres * n_centres)
    ki, mi = rem // n_centres, rem % n_centres
    a = cov.flatten(1).gather(1, best[:, None])[:, 0] / var_g.flatten()[best]
    if positive:
        a = a.clamp_min(0)
    b = (sum_y - a * sum_g.flatten()[best]) / npix
    return torch.stack([cx[ki], cy[mi], sig[si], a, b], dim=1)


def _init_moments(y, rows, cols, positive):
    """Centre and spread from the first and second moments of the map above its median."""
    n, h, w = y.shape
    med = y.flatten(1).median(1).values
    yc = y - med[:, None, None]
    if not positive:  # follow the stronger extremum
        flip = yc.flatten(1).amin(1).abs() > yc.flatten(1).amax(1)
        yc = torch.where(flip[:, None, None], -yc, yc)
    else:
        flip = torch.zeros(n, dtype=torch.bool, device=y.device)
    wgt = yc.clamp_min(0)
    tot = wgt.sum((1, 2)).clamp_min(1e-30)
    x0 = (wgt.sum(1) * cols).sum(1) / tot
    y0 = (wgt.sum(2) * rows).sum(1) / tot
    var = ((wgt.sum(1) * (cols[None] - x0[:, None]) ** 2).sum(1) + (wgt.sum(2) * (rows[None] - y0[:, None]) ** 2).sum(1)) / (2 * tot)
    sigma = var.sqrt().clamp(1.0, max(h, w) / 2)
    amp = yc.flatten(1).amax(1)
    amp = torch.where(flip, -amp, amp)
    return torch.stack([x0, y0, sigma, amp, med], dim=1)


PRF_INITS = {"grid": _init_grid, "moments": _init_moments}

#: the declared constraints of :func:`fit_prf`'s options and sizes
FIT_PRF_CONSTRAINTS = {
    "sign": (Options(*PRF_SIGNS),),
    "init": (Options(*PRF_INITS),),
    "solver": (Options(*PRF_SOLVERS),),
    "max_iter": (POSITIVE_INT,),
    "batch_size": (POSITIVE_INT,),
    "dtype": (Options(torch.float64, torch.float32, torch.float16, torch.bfloat16),),
}


# ---------------------------------------------------------------------------------------------
# Levenberg-Marquardt on a batch
# ---------------------------------------------------------------------------------------------
_LM_START, _LM_DOWN, _LM_UP = 1e-3, 0.2, 10.0  # damping: start, after an accepted step, after a rejected one
# The separable cost is ``sum y^2 - 2 <y, model> + <model, model>``: three terms of about
# ``sum y^2`` each that cancel at a good fit, every one a sum over the pixels. Its rounding error
# is therefore a few ``eps * sum y^2``, growing like ``sqrt(H W)`` with the summation (measured:
# at most 2.5 eps * sum y^2 on 20x20 and 32x32 exact Gaussians, float32 and float64). Below
# ``_FLOOR * sqrt(H W) * eps * sum y^2`` a cost is rounding: whether a step "improves" on it is
# decided by the last bits, so a fit that reaches it is exact to the working precision.
_FLOOR = 8.0


def _levenberg_marquardt(normal, p, y, rows, cols, lo, hi, max_iter, ftol, xtol):
    n = p.shape[0]
    flat = y.flatten(1)
    ystats = torch.stack(  # (n, 2): sum of squares and sum, accumulated in the solver's dtype
        [torch.linalg.vector_norm(flat, dim=1, dtype=p.dtype) ** 2, flat.sum(1, dtype=p.dtype)], dim=1
    )
    cost, jtj, jtr = normal(p, y, ystats, rows, cols)
    # the cost's rounding level per map (see _FLOOR); 0 for an all-zero map
    floor = _FLOOR * math.sqrt(rows.numel() * cols.numel()) * torch.finfo(p.dtype).eps * ystats[:, 0]
    lam = torch.full((n,), _LM_START, dtype=p.dtype, device=p.device)
    n_iter = torch.zeros(n, dtype=torch.long, device=p.device)
    done = torch.zeros(n, dtype=torch.bool, device=p.device)
    # The loop works on compact copies of the state of the maps in ``work``; ``act`` marks those
    # still iterating. Finished maps are written back and dropped only when they are the
    # majority of the working set (each compaction copies the working data once).
    p_out, cost_out = p.clone(), cost.clone()
    work = torch.arange(n, device=p.device)
    act = torch.ones(n, dtype=torch.bool, device=p.device)
    wy, wst, wfl = y, ystats, floor
    for _ in range(max_iter):
        n_act = int(act.sum())
        if n_act == 0:
            break
        if n_act < 0.6 * work.numel():
            p_out[work], cost_out[work] = p, cost
            work, wy, wst, wfl = work[act], wy[act], wst[act], wfl[act]
            p, cost, jtj, jtr, lam = p[act], cost[act], jtj[act], jtr[act], lam[act]
            act = act[act]
        diag = torch.diagonal(jtj, dim1=1, dim2=2)
        damp = diag.clamp_min(1e-12 * diag.amax(1, keepdim=True).clamp_min(1e-30))
        step, _ = torch.linalg.solve_ex(jtj + torch.diag_embed(lam[:, None] * damp), jtr)
        new = torch.minimum(torch.maximum(p + torch.nan_to_num(step), lo), hi)
        nc, na, ng = normal(new, wy, wst, rows, cols)
        better = act & torch.isfinite(nc) & (nc <= cost)
        small_step = ((new - p).abs() <= xtol * (p.abs() + xtol)).all(1)
        # a gain within the cost's rounding is no gain: at zero residual every step ends here
        small_gain = (cost - nc) <= ftol * cost + wfl
        # a rejected step at the floor: nothing is left to improve (an exact fit), not a failure
        conv = (better & (small_step | small_gain)) | (act & ~better & (cost <= wfl))
        stuck = act & ~better & (lam > 1e12)
        keep = better[:, None]
        p = torch.where(keep, new, p)
        cost = torch.where(better, nc, cost)
        jtj = torch.where(keep[:, :, None], na, jtj)
        jtr = torch.where(keep, ng, jtr)
        lam = torch.where(better, lam * _LM_DOWN, torch.where(act, lam * _LM_UP, lam))
        n_iter.index_add_(0, work, act.long())
        done[work[conv]] = True
        act = act & ~(conv | stuck)
    p_out[work], cost_out[work] = p, cost
    return p_out, cost_out, done, n_iter, ystats


def _bounds(h, w, signed, dtype, device):
    inf = math.inf
    lo = torch.tensor([-w / 2, -h / 2, 0.25, -inf if signed else 0.0, -inf], dtype=dtype, device=device)
    hi = torch.tensor([1.5 * w - 1, 1.5 * h - 1, 2.0 * max(h, w), inf, inf], dtype=dtype, device=device)
    return lo, hi


def fit_prf(
    maps,
    extent_deg: float = 8.4,
    *,
    sign: str = "positive",
    init: str = "grid",
    solver: str = "lm",
    max_iter: int = 100,
    ftol: float = 1e-10,
    xtol: float = 1e-8,
    batch_size: int = 8192,
    device=None,
    dtype: torch.dtype = torch.float64,
    index=None,
    progress: bool = True,
) -> pd.DataFrame:
    """Fit an isotropic 2-D Gaussian pRF to every image-space map, all maps at once.

    Model per map: ``offset + amplitude * exp(-((X - x)^2 + (Y - y)^2) / (2 sigma^2))``, least
    squares over the pixels, solved by a batched projected Levenberg-Marquardt in torch.

    Parameters
    ----------
    maps : (n_maps, H, W) or (H, W) array-like or tensor
        Image-space maps (e.g. IGC attributions of one vertex per map). Row 0 is the image top.
    extent_deg : float, default 8.4
        Visual angle spanned by the image's larger side (NSD images: 8.4 deg).
    sign : {"positive", "abs", "signed"}, default "positive"
        Which part of a signed map is fitted (see ``PRF_SIGNS``).
    init : {"grid", "moments"}, default "grid"
        Starting point: best of a coarse 8 x 8 x 4 grid of centres and sizes (robust), or the
        map's moments (fast, sensitive to noise and offset).
    solver : {"lm", "lm-dense"}, default "lm"
        Separable or dense normal equations (same iterates; see module docstring).
    max_iter : int, default 100
    ftol, xtol : float, default 1e-10 and 1e-8
        A map stops when an accepted step lowers the cost by at most ``ftol`` (relative) or moves
        every parameter by at most ``xtol`` (relative). A cost at the rounding level of the data
        (about ``sqrt(H W) * eps * sum(map^2)``, an exact fit) counts as converged whatever the
        rounding of the last step: gains below that level are not gains.
    batch_size : int, default 8192
        Maps per batch (memory: about ``batch_size * H * W`` values, times ``5`` for "lm-dense").
    device : str or torch.device, optional
        ``None``/"auto": CUDA when available, else CPU.
    dtype : torch.dtype, default torch.float64
        Precision of the whole fit (maps are converted to it batch by batch).
    index : array-like, optional
        Row labels of the result (e.g. vertex ids); default ``0..n_maps-1``.
    progress : bool, default True
        tqdm bar over batches.

    Returns
    -------
    params : pandas.DataFrame, one row per map
        ``x, y`` centre in degrees (image centre 0, +x right, **+y up**); ``sigma`` in degrees;
        ``angle`` polar angle in degrees 0-360 (0 = right horizontal meridian, 90 = upper
        vertical meridian, NSD convention); ``eccentricity`` = hypot(x, y) in degrees; ``size``
        in degrees, equal to ``sigma`` (NSD/analyzePRF define size as sigma / sqrt(n) for a
        compressive exponent n; this linear Gaussian has n = 1); ``r2`` coefficient of
        determination on the fitted (sign-processed) map; ``amplitude``, ``offset`` in map units;
        ``converged`` and ``n_iter``. A map with nothing to fit (constant after the ``sign`` step,
        e.g. all zero, or whose best Gaussian has zero amplitude) has NaN ``x`` to ``r2``,
        ``converged=False``, amplitude 0 and its mean as offset, and raises a RuntimeWarning: it has
        no centre or size.

    Notes
    -----
    Cost: one pass over the maps per iteration (about 6 on average from the grid start) plus
    the grid search. On CPU the work is spread over torch's intra-op threads; on a machine whose
    cores are already busy, ``torch.set_num_threads(1)`` is usually faster than oversubscribing.
    ``r2`` is computed from the running sums (sum of squares, sum) in ``dtype``.

    Examples
    --------
    >>> from neuro_igc.prf import gaussian_maps
    >>> maps = gaussian_maps([1.0, -2.0], [2.0, 0.5], [0.8, 1.2], shape=(32, 32), extent_deg=8.4)
    >>> p = fit_prf(maps, extent_deg=8.4, progress=False)
    >>> p[["x", "y", "sigma"]].round(3).values.tolist()
    [[1.0, 2.0, 0.8], [-2.0, 0.5, 1.2]]
    >>> round(float(p.loc[0, "angle"]), 1)   # upper right quadrant
    63.4
    """
    check_params(FIT_PRF_CONSTRAINTS, locals())
    dev = resolve_device(device)
    if isinstance(maps, torch.Tensor):
        from neuro_igc._utils import check_not_meta

        check_not_meta(maps, "maps")
        data = maps.detach()
    else:
        arr = np.asarray(maps)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(arr):
            raise TypeError(f"Invalid type for 'maps': expected real numbers (n_maps, H, W); got dtype {arr.dtype}.")
        data = torch.as_tensor(arr)
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or min(data.shape[1:]) < 3:
        raise ValueError(
            f"Invalid shape for 'maps': expected (n_maps, H, W) with H, W >= 3; got {tuple(data.shape)}."
        )
    if data.shape[0] == 0:
        raise ValueError(f"Invalid shape for 'maps': it holds no maps (shape {tuple(data.shape)}); give n_maps >= 1.")
    n, h, w = data.shape
    # a non-finite value makes its map's sum non-finite (cheap); confirm on those maps only
    suspect = torch.nonzero(~torch.isfinite(data.reshape(n, -1).sum(1, dtype=torch.float64)))[:, 0]
    bad = torch.zeros(n, dtype=torch.bool)
    if len(suspect):
        bad[suspect] = ~torch.isfinite(data.reshape(n, -1)[suspect]).all(1).cpu()
    if bad.any():
        idx = torch.nonzero(bad)[:5, 0].tolist()
        raise ValueError(
            f"'maps' has NaN or infinite values in {int(bad.sum())} map(s) (first: {idx}); replace "
            "them (e.g. numpy.nan_to_num) or drop those maps before fitting."
        )
    deg_per_pixel((h, w), extent_deg)  # validates extent_deg
    if index is not None and len(index) != n:
        raise ValueError(f"'index' has {len(index)} labels for {n} maps; give one label per map.")

    rows = torch.arange(h, dtype=dtype, device=dev)
    cols = torch.arange(w, dtype=dtype, device=dev)
    lo, hi = _bounds(h, w, sign == "signed", dtype, dev)
    normal, initialise = PRF_SOLVERS[solver], PRF_INITS[init]
    out_p = np.empty((n, 5))
    out_cost = np.empty(n)
    out_sst = np.empty(n)
    out_ss = np.empty(n)
    out_sum = np.empty(n)
    out_done = np.empty(n, dtype=bool)
    out_iter = np.empty(n, dtype=np.int64)

    from neuro_igc._utils import progress_bar as tqdm

    starts = range(0, n, batch_size)
    for start in tqdm(starts, desc="pRF fits", unit="batch", disable=not progress or len(starts) < 2):
        stop = min(start + batch_size, n)
        raw = data[start:stop].to(device=dev)
        if sign == "positive":
            raw = raw.clamp_min(0)
        elif sign == "abs":
            raw = raw.abs()
        y = raw.to(dtype)
        # the starting point only picks the basin: float32 is enough for the grid search
        p0 = initialise(raw.float(), rows, cols, sign != "signed")
        p0 = torch.minimum(torch.maximum(p0.to(dtype), lo), hi)
        p, cost, done, n_it, ystats = _levenberg_marquardt(normal, p0, y, rows, cols, lo, hi, max_iter, ftol, xtol)
        out_p[start:stop] = p.cpu().numpy()
        out_cost[start:stop] = cost.cpu().numpy()
        out_sst[start:stop] = (ystats[:, 0] - ystats[:, 1] ** 2 / (h * w)).clamp_min(0).cpu().numpy()
        out_ss[start:stop] = ystats[:, 0].cpu().numpy()
        out_sum[start:stop] = ystats[:, 1].cpu().numpy()
        out_done[start:stop] = done.cpu().numpy()
        out_iter[start:stop] = n_it.cpu().numpy()
    flat = _flag_flat(out_p, out_sst, out_ss, h * w, sign, index)
    out_done &= ~flat
    if (~out_done & ~flat).any():
        logger.info("pRF fit: %d of %d maps did not meet the tolerance in %d iterations",
                    int((~out_done & ~flat).sum()), n, max_iter)
    frame = _to_frame(out_p, out_cost, out_sst, out_done, out_iter, (h, w), extent_deg, index)
    if flat.any():
        frame.loc[flat, list(_UNDEFINED)] = np.nan
        # the least-squares answer for a constant: no Gaussian, the mean as offset (the solver
        # stops once the cost is at its rounding level, leaving a rounding-sized amplitude)
        frame.loc[flat, "amplitude"] = 0.0
        frame.loc[flat, "offset"] = out_sum[flat] / (h * w)
    return frame


#: columns that no Gaussian defines on a flat map (the offset and a zero amplitude remain)
_UNDEFINED = ("x", "y", "sigma", "angle", "eccentricity", "size", "r2")


def _flag_flat(p, sst, ss, npix, sign, index) -> np.ndarray:
    """Maps with nothing to fit: constant after the ``sign`` step (e.g. all zero), or whose best
    Gaussian has zero amplitude. Their centre and size are undefined; warn and return the mask."""
    rms = np.sqrt(ss / npix)
    flat = (sst <= 1e-12 * ss) | (np.abs(p[:, 3]) <= 1e-12 * rms)
    if flat.any():
        labels = np.flatnonzero(flat)[:5] if index is None else np.asarray(index)[flat][:5]
        extra = (" With sign='positive' a map that is negative everywhere is all zero: fit it with "
                 "sign='signed' or 'abs'." if sign == "positive" else "")
        warnings.warn(
            f"fit_prf: {int(flat.sum())} of {len(flat)} map(s) are constant (e.g. all zero) or hold no "
            f"Gaussian of the fitted sign (first: {labels.tolist()}); their x, y, sigma, angle, "
            f"eccentricity, size and r2 are NaN and 'converged' is False.{extra}",
            RuntimeWarning,
            stacklevel=3,
        )
    return flat


def _to_frame(p, cost, sst, done, n_iter, shape, extent_deg, index) -> pd.DataFrame:
    x, y = pixels_to_degrees(p[:, 0], p[:, 1], shape, extent_deg)
    sigma = p[:, 2] * deg_per_pixel(shape, extent_deg)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - cost / sst, np.nan)
    angle = np.mod(np.degrees(np.arctan2(y, x)), 360.0)
    angle[angle >= 360.0] = 0.0  # -0.0 and tiny negatives round up to 360
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "sigma": sigma,
            "angle": angle,
            "eccentricity": np.hypot(x, y),
            "size": sigma,
            "r2": r2,
            "amplitude": p[:, 3],
            "offset": p[:, 4],
            "converged": done,
            "n_iter": n_iter,
        },
        index=pd.Index(index if index is not None else np.arange(len(x)), name="map"),
    )
