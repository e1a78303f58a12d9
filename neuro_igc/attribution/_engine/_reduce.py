"""The *reductions*: from a batch's path integrals to what the caller keeps.

- :func:`path_totals`: each path's IG summed over the input components, per attributed output
  (the completeness check ``sum_j IG_ij = f(x_i) - f(b_ik)``);
- :class:`WeightedSums`: ``sum_i w_io IG_io`` over all samples (IGC and IGaC with ``w`` the centred
  targets), without forming per-output per-sample maps. In the input space one product per
  batch; in ``z`` float64 coefficients on the data rows and ``A`` applied once at the end:
  ``sum_i w_i IG_i = sum_d A_d * (sum_r C_rd x_r)``;
- :func:`per_sample_ig`: per-sample IG of the attributed outputs (IG itself, and the naive mean
  and SD the caller merges batch by batch).

All sums over samples live in one :class:`Sums`: a run split over processes gives the
single-process result once each tensor of :meth:`Sums.tensors` is summed over the processes,
before :meth:`WeightedSums.finish`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from neuro_igc.attribution._model import ROW_BUDGET

__all__ = ["Sums", "WeightedSums", "path_totals", "per_sample_ig"]

_ACC_BUDGET = 2**25  # float64 elements of a per-batch accumulator
_COEF_BUDGET = 2**24  # float64 elements of the kept data-row coefficients (input-linear IGC)


@dataclass
class Sums:
    """Every float64 sum over samples of a run (the state to add up across processes).

    ``completeness_gap`` / ``output_change`` ``(O,)``: ``sum_i |sum_j IG_ij - (f(x_i) - c_i)|`` and
    ``sum_i |f(x_i) - c_i|`` with ``c_i = mean_k f(b_ik)``; ``weighted_baseline_output`` ``(O,)``:
    ``sum_i w_io c_io``; ``n_samples``: samples seen; ``weighted_ig`` ``(O, m)``: ``sum_i w_io IG_io``
    in the input space; ``row_coefficients[g]`` ``(n, O, D)`` and ``shared_baseline_coefficients[g]``
    ``(K, O, D)``: input-linear coefficients on the data rows and on a shared baseline set, per
    group of the subject key.
    """

    completeness_gap: torch.Tensor
    output_change: torch.Tensor
    weighted_baseline_output: torch.Tensor
    n_samples: torch.Tensor
    weighted_ig: torch.Tensor | None = None
    row_coefficients: dict = field(default_factory=dict)
    shared_baseline_coefficients: dict = field(default_factory=dict)

    def tensors(self) -> list[torch.Tensor]:
        """All sums, in a fixed order (identical on every process of a split run)."""
        out = [self.completeness_gap, self.output_change, self.weighted_baseline_output, self.n_samples]
        if self.weighted_ig is not None:
            out.append(self.weighted_ig)
        for d in (self.row_coefficients, self.shared_baseline_coefficients):
            out += [d[g] for g in sorted(d, key=lambda g: (g is None, g))]
        return out


def output_integrals(integrals, mixing: torch.Tensor | None) -> torch.Tensor | None:
    """``(O, nb, K, D)``: the gradient integrals of the attributed outputs (factorized space)."""
    G = integrals.gradient_integrals
    return G if mixing is None else torch.einsum("ot,tikd->oikd", mixing, G)


def path_totals(integrals, ends: torch.Tensor, starts: torch.Tensor, mixing: torch.Tensor | None,
                output_grads: torch.Tensor | None = None) -> torch.Tensor:
    """``(nb, K, O)`` float64: each path's IG summed over the components, per attributed output."""
    if integrals.gradient_integrals is not None:
        dz = ends.double().unsqueeze(1) - starts.double()  # (nb, K, D)
        return torch.einsum("oikd,ikd->iko", output_grads, dz)
    return integrals.path_sums if mixing is None else integrals.path_sums @ mixing.T


class WeightedSums:
    """``sum_i w_io IG_io`` over the samples, in the attribution space's most economical form.

    Parameters
    ----------
    space : InputSpace or InputLinearSpace
    source : DataSource
        The data rows (input-linear coefficients are kept on them and applied at the end).
    shared_baselines : (K, *input_shape) tensor or None
    n_attributed, n_baselines, device
    """

    def __init__(self, space, source, shared_baselines, n_attributed: int, n_baselines: int, device):
        self.space, self.source, self.shared = space, source, shared_baselines
        self.n_attributed, self.n_baselines, self.device = n_attributed, n_baselines, device
        self.n_inputs = int(np.prod(source.input_shape))
        self.keep_row_coefficients = False

    def new_sums(self, weighted: bool, groups, per_sample_baselines: bool) -> Sums:
        O, dev = self.n_attributed, self.device
        z = lambda *s: torch.zeros(*s, dtype=torch.float64, device=dev)  # noqa: E731
        sums = Sums(completeness_gap=z(O), output_change=z(O), weighted_baseline_output=z(O), n_samples=z(1))
        if weighted:
            sums.weighted_ig = z(O, self.n_inputs)
            if self.space.factorized:
                D = self.space.size
                self.keep_row_coefficients = self.source.n * O * D <= _COEF_BUDGET
                for g in groups:
                    if self.keep_row_coefficients:
                        sums.row_coefficients[g] = z(self.source.n, O, D)
                    if not per_sample_baselines:
                        sums.shared_baseline_coefficients[g] = z(self.n_baselines, O, D)
        return sums

    def add(self, sums: Sums, group, integrals, output_grads, mixing, inputs, baselines,
            weights: torch.Tensor) -> None:
        """``weighted_ig[o] += sum_i weights[i, o] IG_io`` for the batch (``inputs()`` reads its inputs)."""
        nb, K, O = weights.shape[0], self.n_baselines, self.n_attributed
        if not self.space.factorized:
            ig_t = integrals.ig.permute(1, 0, 2).double() / K  # (nb, T, m): IG of the targets
            if mixing is None:
                sums.weighted_ig += torch.einsum("io,iom->om", weights, ig_t)
            else:  # IG_io = sum_t W_ot IG_it, summed with weights: one GEMM
                coef = weights[:, :, None] * mixing[None]  # (nb, O, T)
                sums.weighted_ig += coef.permute(1, 0, 2).reshape(O, -1) @ ig_t.reshape(-1, self.n_inputs)
            return
        # IG_x = (x_i - b_ik) * A^T V_ik: coefficients on the rows x_i and b_ik, A applied at the end
        D = self.space.size
        on_baselines = (weights.T[:, :, None, None] * output_grads / K).permute(1, 2, 0, 3)  # (nb, K, O, D)
        on_inputs = on_baselines.sum(1)  # (nb, O, D)
        keep = self.keep_row_coefficients
        if keep:
            sums.row_coefficients[group].index_add_(0, torch.as_tensor(baselines.samples, device=self.device),
                                                    on_inputs)
        else:
            self._apply(sums.weighted_ig, on_inputs, inputs().reshape(nb, -1), group)
        if baselines.indices is None:
            sums.shared_baseline_coefficients[group] -= on_baselines.sum(0)
        elif keep:
            ib = torch.as_tensor(baselines.indices.reshape(-1), device=self.device)
            sums.row_coefficients[group].index_add_(0, ib, -on_baselines.reshape(nb * K, O, D))
        else:
            self._apply(sums.weighted_ig, -on_baselines.reshape(nb * K, O, D),
                        baselines.inputs().reshape(nb * K, -1), group)

    def finish(self, sums: Sums) -> torch.Tensor | None:
        """``(O, m)`` float64 weighted IG from the (possibly process-summed) sums; they stay as they are."""
        if sums.weighted_ig is None:
            return None
        S = sums.weighted_ig.clone()
        if self.space.factorized:
            rows, shared = sums.row_coefficients, sums.shared_baseline_coefficients
            for group in sorted(set(rows) | set(shared), key=lambda g: (g is None, g)):
                self._map_back(S, group, rows.get(group), shared.get(group))
        return S

    def _output_blocks(self, n_outputs: int) -> range:
        """Blocks of outputs whose ``(o D, m)`` float64 products fit the accumulator budget."""
        return range(0, n_outputs, max(1, _ACC_BUDGET // max(self.space.size * self.n_inputs, 1)))

    def _apply(self, S: torch.Tensor, coef: torch.Tensor, rows: torch.Tensor, group) -> None:
        """``S[o] += sum_d A_d * sum_r coef[r, o, d] rows[r]`` (float64)."""
        r, O, D = coef.shape
        rows = rows.double()
        step = self._output_blocks(O).step
        for o0 in self._output_blocks(O):
            C = coef[:, o0:o0 + step].permute(1, 2, 0).reshape(-1, r) @ rows  # (o D, m)
            self._times_weight(S[o0:o0 + step], C, group)

    def _times_weight(self, S_block: torch.Tensor, C: torch.Tensor, group) -> None:
        """``S_block[o] += sum_d A_d * C[o, d]``: the input-linear map's transpose, applied once."""
        A = self.space.weight(group)  # (D, m)
        D, m = A.shape
        S_block += torch.einsum("odm,dm->om", C.reshape(-1, D, m), A)

    def _map_back(self, S: torch.Tensor, group, row_coef: torch.Tensor | None,
                  shared_coef: torch.Tensor | None) -> None:
        """``S[o] += sum_d A_d * (sum_r C_rod x_r + sum_k C_kod b_k)`` over the data rows with a
        coefficient (read in chunks) and the shared baselines; ``A`` applied once per output block."""
        coefs = [c for c in (row_coef, shared_coef) if c is not None]
        O, D = coefs[0].shape[1], coefs[0].shape[2]
        used = (np.array([], dtype=np.int64) if row_coef is None
                else np.flatnonzero((row_coef.abs().sum((1, 2)) > 0).cpu().numpy()))
        rows_step = max(1, ROW_BUDGET // self.n_inputs)
        step = self._output_blocks(O).step
        for o0 in self._output_blocks(O):
            o = min(O, o0 + step) - o0
            C = torch.zeros(o * D, self.n_inputs, dtype=torch.float64, device=self.device)
            for s in range(0, used.size, rows_step):
                r = used[s:s + rows_step]
                rows = self.source.get_x(r).to(device=self.device).reshape(r.size, -1).double()
                block = row_coef[torch.as_tensor(r, device=self.device), o0:o0 + o]  # (r, o, D)
                C.addmm_(block.permute(1, 2, 0).reshape(-1, r.size), rows)
            if shared_coef is not None:
                rows = self.shared.reshape(self.n_baselines, -1).double()
                C.addmm_(shared_coef[:, o0:o0 + o].permute(1, 2, 0).reshape(-1, self.n_baselines), rows)
            self._times_weight(S[o0:o0 + o], C, group)


def per_sample_ig(space, integrals, output_grads, mixing, x: torch.Tensor, baseline_inputs: torch.Tensor,
                  group) -> torch.Tensor:
    """Per-sample IG of the attributed outputs, ``(nb, O, m)`` float64."""
    K, nb = baseline_inputs.shape[1], x.shape[0]
    if not space.factorized:
        ig_t = integrals.ig.permute(1, 0, 2).double() / K
        return ig_t if mixing is None else torch.einsum("ot,itm->iom", mixing, ig_t)
    V = output_grads  # (O, nb, K, D)
    O, D = V.shape[0], V.shape[-1]
    A = space.weight(group)
    m = A.shape[1]
    delta = (x.reshape(nb, 1, -1) - baseline_inputs.reshape(nb, K, -1)).double()
    out = torch.empty(nb, O, m, dtype=torch.float64, device=x.device)
    for i in range(nb):
        T = (V[:, i].reshape(-1, D) @ A).reshape(O, K, m)
        out[i] = torch.einsum("okm,km->om", T, delta[i]) / K
    return out
