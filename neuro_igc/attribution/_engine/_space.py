"""The *space* the gradients are taken in: the input, or ``z = A x + c`` after a first linear map.

With the *input-linear factorization* the model is ``f(x) = g(A x + c)``. The straight path in
``x`` is the straight path in ``z``, and ``IG_x = (x - b) * (A^T G)`` with ``G`` the integral of
``grad_z g``: the path points are ``D``-dimensional instead of ``m``-dimensional, and ``A`` is
applied once per (sample, baseline) -- for weighted sums over samples once at the very end, on
float64 coefficients of the data rows (see :mod:`._reduce`).

Interface used by the engine:

- ``size``: the number of components a path point has in this space (``m`` or ``D``);
- ``factorized``: True for ``z``; the reduction then maps results back with ``weight``;
- ``endpoints(inputs, baseline_batch, group)``: the batch's inputs ``(nb, *space)`` and baselines
  ``(nb, K, *space)`` in this space (``inputs()`` reads the batch's inputs when they are needed);
- ``weight(group)`` (``z`` only): ``A`` ``(D, m)`` float64 for the subject ``group``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from neuro_igc.attribution._model import ROW_BUDGET

__all__ = ["InputSpace", "InputLinearSpace"]


class InputSpace:
    """Gradients with respect to the model's input itself."""

    name = "input"
    factorized = False

    def __init__(self, n_inputs: int):
        self.size = n_inputs

    def endpoints(self, inputs, baselines, group) -> tuple[torch.Tensor, torch.Tensor]:
        return inputs(), baselines.inputs()


class InputLinearSpace:
    """Gradients with respect to ``z = A x + c``, the output of the model's first linear map.

    Parameters
    ----------
    factorization : Factorization
        Its ``input_linear`` layer gives ``A`` and ``c`` (per subject for a per-subject layer).
    fn : ModelFunction
        For the subject of a constant keyword input.
    source : DataSource
        The data rows (per-sample baselines are data rows: their ``z`` is computed once).
    shared_baselines : (K, *input_shape) tensor or None
    group_key : str or None
        The per-sample keyword whose value selects a per-subject layer's weights.
    """

    name = "input-linear"
    factorized = True

    def __init__(self, factorization, fn, source, shared_baselines, group_key):
        self.layer = factorization.input_linear
        self._params = factorization.linear_params
        self.key = factorization.subject_key(self.layer)
        self.fn, self.source, self.shared = fn, source, shared_baselines
        self.group_key = group_key
        self.size = factorization.out_features(self.layer)
        self._z_rows: dict = {}
        self._z_shared: dict = {}
        self._weights: dict = {}

    def _subject(self, group):
        return self.fn.subject(self.key, group if self.key is not None and self.key == self.group_key else None)

    def weight(self, group) -> torch.Tensor:
        """``A`` ``(D, m)`` float64 (kept per group)."""
        if group not in self._weights:
            self._weights[group] = self._params(self.layer, self._subject(group))[0].detach().double()
        return self._weights[group]

    def map(self, x: torch.Tensor, group) -> torch.Tensor:
        """``z = A x + c`` of inputs ``(r, *input_shape)`` -> ``(r, D)`` in the model's dtype."""
        A, c = self._params(self.layer, self._subject(group))
        return F.linear(x.reshape(x.shape[0], -1).to(A.dtype), A, c)

    def data_rows(self, group) -> torch.Tensor:
        """``z`` of every data row under ``group``'s weights, ``(n, D)`` (computed once)."""
        if group not in self._z_rows:
            n, m = self.source.n, int(np.prod(self.source.input_shape))
            step = max(1, ROW_BUDGET // m)
            Z = torch.empty(n, self.size, dtype=self.fn.dtype, device=self.fn.device)
            for s in range(0, n, step):
                r = np.arange(s, min(n, s + step))
                Z[s:s + r.size] = self.map(self.source.get_x(r).to(device=self.fn.device, dtype=self.fn.dtype), group)
            self._z_rows[group] = Z
        return self._z_rows[group]

    def endpoints(self, inputs, baselines, group) -> tuple[torch.Tensor, torch.Tensor]:
        Z = self.data_rows(group)
        ends = Z[torch.as_tensor(baselines.samples, device=Z.device)]
        if baselines.indices is None:
            if group not in self._z_shared:
                self._z_shared[group] = self.map(self.shared, group)
            return ends, self._z_shared[group].unsqueeze(0).expand(ends.shape[0], -1, -1)
        return ends, Z[torch.as_tensor(baselines.indices, device=Z.device)]
