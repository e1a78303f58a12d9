"""The path integrals of one batch: path points in chunks, one forward pass per chunk, the targets'
gradients, the rule's sum over steps.

All targets of a path point share one forward pass (:func:`._target.target_gradients`); a chunk
holds ``chunk_points`` points (whole paths when they fit, else part of one path's steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuro_igc.attribution._engine._target import target_gradients

__all__ = ["PathIntegrals", "integrate_paths"]


@dataclass
class PathIntegrals:
    """What the reductions need from a batch of ``nb`` samples with ``K`` paths each.

    In a factorized space (``z``): ``gradient_integrals`` ``(T, nb, K, D)`` float64, each path's
    integral of every target's gradient (the velocity ``z_i - z_b`` is applied by the reduction).
    In the input space: ``ig`` ``(T, nb, m)`` in the model's dtype, ``sum_k`` of each path's IG
    (velocity times integral), and ``path_sums`` ``(nb, K, T)`` float64, the sum over components of
    each path's IG (for the completeness check).
    """

    gradient_integrals: torch.Tensor | None = None
    ig: torch.Tensor | None = None
    path_sums: torch.Tensor | None = None


def integrate_paths(path, rule, targets, vjp: str, ends: torch.Tensor, starts: torch.Tensor, kw: dict,
                    chunk_points: int, factorized: bool) -> PathIntegrals:
    """Integrate every target's gradient along the ``nb * K`` paths from ``starts`` to ``ends``.

    ``ends`` ``(nb, *space)``, ``starts`` ``(nb, K, *space)``, ``kw`` per-sample keyword inputs
    ``(nb, ...)``; ``chunk_points``: path points per forward pass.
    """
    nb, K = ends.shape[0], starts.shape[1]
    n_steps, n_targets = rule.n_steps, targets.count
    dev, dtype = ends.device, ends.dtype
    shape = ends.shape[1:]
    size = int(torch.Size(shape).numel())
    n_paths = nb * K
    paths_per_chunk, steps_per_chunk = ((max(1, chunk_points // n_steps), n_steps) if chunk_points >= n_steps
                                        else (1, chunk_points))
    if factorized:
        integrals = torch.zeros(n_targets, n_paths, size, dtype=torch.float64, device=dev)
    else:
        ig = torch.zeros(n_targets, nb, size, dtype=dtype, device=dev)
        path_sums = torch.zeros(n_targets, n_paths, dtype=torch.float64, device=dev)
    starts_flat = starts.reshape(n_paths, *shape)
    for p0 in range(0, n_paths, paths_per_chunk):
        pairs = torch.arange(p0, min(n_paths, p0 + paths_per_chunk), device=dev)
        n_chunk = pairs.numel()
        sample = pairs // K
        start, end = starts_flat[pairs], ends[sample]
        total = None
        for s0 in range(0, n_steps, steps_per_chunk):
            ns = min(n_steps, s0 + steps_per_chunk) - s0
            t = rule.nodes[s0:s0 + ns]
            pts = path.points(end, start, t).reshape(n_chunk * ns, *shape).detach().requires_grad_(True)
            point_kw = {n: v[sample].repeat_interleave(ns, 0) for n, v in kw.items()}
            with torch.enable_grad():
                values = targets.values(pts, point_kw)
                if values.shape != (pts.shape[0], n_targets):
                    raise ValueError(f"Internal shape mismatch: targets {tuple(values.shape)}, expected "
                                     f"{(pts.shape[0], n_targets)}.")
                part = target_gradients(values, pts, vjp, lambda g, s0=s0: rule.sum_steps(g, s0, n_chunk))
            total = part if total is None else total + part
        if factorized:
            integrals[:, p0:p0 + n_chunk] = total.double()
        else:
            contrib = total * path.velocity(end, start, None).reshape(1, n_chunk, -1)
            ig.index_add_(1, sample, contrib)
            path_sums[:, p0:p0 + n_chunk] = contrib.sum(-1, dtype=torch.float64)
    if factorized:
        return PathIntegrals(gradient_integrals=integrals.reshape(n_targets, nb, K, size))
    return PathIntegrals(ig=ig, path_sums=path_sums.reshape(n_targets, nb, K).permute(1, 2, 0))
