"""The streaming IG engine shared by ig, igc, igac and naive_ig.

For every sample ``x_i`` and baseline ``b_k`` it integrates the gradient of a set of *targets*
along the straight path ``b_k + t (x_i - b_k)`` with a quadrature rule, in an *attribution space*,
and hands the result to a consumer that either sums it over samples with weights (IGC) or turns
it into per-sample IG. The exact shortcuts:

- targets are the selected outputs, or the ``U`` bottleneck units before a linear readout
  ``f = W h + b`` (*readout factorization*): the IG of output ``o`` is ``sum_u W_ou IG(h_u)``;
- the space is the input ``x``, or ``z = A x + c`` after a first linear map (*input-linear
  factorization*): the path in ``x`` is a straight path in ``z``, so
  ``IG_x = (x - b) * (A^T G)`` with ``G = integral of grad_z`` -- ``A^T`` is applied once per
  (sample, baseline), and for weighted sums once per sample plus once per baseline;
- one forward pass per chunk of path points, then all targets' vector-Jacobian products, batched
  (``is_grads_batched``) or in a loop; parameters frozen; float64 accumulators on the device.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from neuro_igc import _distributed as dist
from neuro_igc._utils import check_option
from neuro_igc.attribution._data import DataSource, check_output_idx, groups_by
from neuro_igc.attribution._factorize import SWITCHES, find_factorization, linear_params, subject_key
from neuro_igc.attribution._quadrature import quadrature

__all__ = ["Engine", "VJP_MODES", "OUTPUT_TRANSFORMS", "prepared_model"]

logger = logging.getLogger(__name__)

#: how the vector-Jacobian products of the targets are taken after one forward pass
VJP_MODES = ("auto", "batched", "loop")

#: transforms applied to the model's outputs before attribution (e.g. logits -> probabilities)
OUTPUT_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "softmax": lambda out: torch.softmax(out, dim=1),
    "exp": torch.exp,
    "sigmoid": torch.sigmoid,
}

_POINT_BUDGET = 2**21  # input-space elements per chunk of path points (default batch_size)
_ACC_BUDGET = 2**25  # float64 elements of the per-batch gradient accumulator


@contextlib.contextmanager
def prepared_model(model: nn.Module, device: torch.device, freeze: bool):
    """Eval mode, frozen parameters (when asked) and the device; everything restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    tensors = list(model.parameters()) + list(model.buffers())
    home = tensors[0].device if tensors else device
    try:
        model.eval()
        if freeze:
            for p, _ in flags:
                p.requires_grad_(False)
        if home != device:
            model.to(device)
        yield
    finally:
        if home != device:
            model.to(home)
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, mode in modes:
            m.training = mode


def _switch(name: str, value) -> object:
    if value not in SWITCHES or (value != "auto" and not isinstance(value, bool)):
        raise ValueError(f"Invalid value for {name!r}: allowed are True, False, 'auto'; got {value!r}.")
    return value


class Engine:
    """Prepared attribution run: model functions, baselines, quadrature, batching.

    Use inside :func:`prepared_model`. ``n_outputs`` and ``output_idx`` are known after
    construction; :meth:`predict`, :meth:`run` do the work.
    """

    def __init__(self, model, src: DataSource, baselines: torch.Tensor, *, method: str, n_steps: int,
                 output_idx, device, batch_size, model_kwargs, output_transform, input_linear,
                 readout, vjp, progress: bool, desc: str = "IG", distributed: bool = False):
        self.model, self.src, self.device = model, src, device
        self.dist = bool(distributed)  # shard samples over the ranks, all-reduce the sums
        self.model_kwargs = dict(model_kwargs or {})
        self.progress, self.desc = progress, desc
        data_dtype = src.x.dtype if src.x is not None and src.x.is_floating_point() else torch.get_default_dtype()
        self.dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), data_dtype)
        self.base = baselines.to(device=device, dtype=self.dtype)
        self.K = self.base.shape[0]
        self.m = int(np.prod(src.input_shape))
        self.transform = self._check_transform(output_transform)
        self.set_steps(method, n_steps)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"Invalid value for 'batch_size': expected a positive int or None; got {batch_size!r}.")
        self.batch_size = batch_size
        check_option("vjp", vjp, VJP_MODES)
        _switch("input_linear", input_linear)
        _switch("readout", readout)
        first = self.src.get_x(np.arange(min(4, src.n))).to(device=device, dtype=self.dtype)
        extra0 = {k: v[: first.shape[0]].to(device) for k, v in src.extra.items()}
        with torch.no_grad():
            out0 = self._raw(self.model(first, **self._kwargs(extra0)))
        self.n_outputs = out0.shape[1]
        self.idx = check_output_idx(output_idx, self.n_outputs)
        self.O = len(self.idx)
        self._plan(input_linear, readout, vjp)
        self._validate(first, extra0)
        self._fb_cache: dict = {}
        self._zb_cache: dict = {}

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _check_transform(value):
        if value is None or callable(value):
            return value
        return OUTPUT_TRANSFORMS[check_option("output_transform", value, [None, *OUTPUT_TRANSFORMS])]

    def set_steps(self, method: str, n_steps: int) -> None:
        alphas, weights = quadrature(method, n_steps)
        self.method, self.n_steps = method, int(n_steps)
        self.alphas = torch.tensor(alphas, device=self.device, dtype=self.dtype)
        self.weights = torch.tensor(weights, device=self.device, dtype=torch.float64)

    def _raw(self, out: torch.Tensor) -> torch.Tensor:
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            raise ValueError(
                f"The model must map (n, *input_shape) to (n, n_outputs) or (n,); it returned shape {tuple(out.shape)}."
            )
        return out

    def outputs(self, raw: torch.Tensor) -> torch.Tensor:
        """Selected (and transformed) outputs ``(P, O)`` from a raw model output."""
        out = self._raw(raw)
        if self.transform is not None:
            out = self.transform(out)
        return out[:, self.idx]

    def _kwargs(self, per_sample: dict) -> dict:
        return {**self.model_kwargs, **per_sample}

    def _plan(self, input_linear, readout, vjp) -> None:
        fac = find_factorization(self.model)
        self.fac = fac
        lin = fac.input_linear
        if lin is not None and self._in_features(lin) != self.m:
            lin = None  # the first Linear does not see the whole flattened input
        use_in = input_linear is True or (input_linear == "auto" and lin is not None and self._out_features(lin) < self.m)
        if use_in and lin is None:
            raise ValueError(
                "input_linear=True but the model has no first linear map over the flattened input: declare "
                "igc_input_linear + forward_from_input_linear, or start an nn.Sequential with nn.Linear."
            )
        ro = fac.readout
        if readout is True and (ro is None or self.transform is not None):
            why = "an output_transform follows the readout" if ro is not None else (
                "the model declares no readout: declare igc_readout + forward_features, or end an "
                "nn.Sequential with nn.Linear")
            raise ValueError(f"readout=True cannot be used: {why}.")
        use_ro = readout is True or (
            readout == "auto" and ro is not None and self.transform is None and self._in_features(ro) < self.O
        )
        if use_in and use_ro and fac.features_from_z is None:  # pragma: no cover - both found => composable
            use_ro = False
        self.use_in, self.use_ro = bool(use_in), bool(use_ro)
        self.Q = self._in_features(ro) if self.use_ro else self.O
        self.D = self._out_features(lin) if self.use_in else self.m
        keys = [subject_key(lin) if self.use_in else None, subject_key(ro) if self.use_ro else None]
        self.group_key = next((k for k in keys if k is not None and k in self.src.extra), None)
        if vjp == "auto":
            has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in self.model.modules())
            # vmap'd backward of strided convolutions is several times slower than a loop on CPU
            vjp = "loop" if (self.device.type == "cpu" and has_conv and not self.use_in) else "batched"
        self.vjp = vjp
        self.rows_per_point = self.Q if vjp == "batched" else 1

    @staticmethod
    def _in_features(layer) -> int:
        return layer.in_features if isinstance(layer, nn.Linear) else int(layer.in_features_per_subject[0])

    @staticmethod
    def _out_features(layer) -> int:
        return layer.out_features if isinstance(layer, nn.Linear) else int(layer.out_features_per_subject[0])

    def _subject(self, layer, group):
        key = subject_key(layer)
        if key is None:
            return None
        if group is not None and key == self.group_key:
            return group
        value = self.model_kwargs.get(key, 0)
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"Invalid value for 'model_kwargs[{key!r}]': constant keyword arguments must be scalars; "
                    f"pass per-sample values in 'extra'."
                )
            value = value.item()
        return int(value)

    def _head(self) -> Callable:
        """``(points, kwargs) -> (P, Q)`` targets in the attribution space."""
        fac = self.fac
        if self.use_ro:
            feats = fac.features_from_z if self.use_in else fac.features
            return lambda pts, kw: feats(pts, **kw).reshape(pts.shape[0], -1)
        if self.use_in:
            return lambda pts, kw: self.outputs(fac.rest_from_z(pts, **kw))
        return lambda pts, kw: self.outputs(self.model(pts, **kw))

    def _validate(self, x: torch.Tensor, extra: dict) -> None:
        """Check that the factorizations reproduce ``model(x)`` on a few samples."""
        if not (self.use_in or self.use_ro):
            return
        group = None
        if self.group_key is not None:
            keep = extra[self.group_key] == extra[self.group_key][0]
            x, extra = x[keep], {k: v[keep] for k, v in extra.items()}
            group = int(extra[self.group_key][0])
        kw = self._kwargs(extra)
        with torch.no_grad():
            ref = self.outputs(self.model(x, **kw))
            u = self._to_space(x, group)
            got = self._head()(u, kw)
            if self.use_ro:
                W, b = self._readout_params(group)
                got = got.double() @ W.T + (0 if b is None else b)
        scale = float(ref.abs().max()) + 1e-12
        err = float((got.double() - ref.double()).abs().max())
        if not err <= 1e-3 * scale + 1e-6:
            which = " and ".join(n for n, used in (("input-linear", self.use_in), ("readout", self.use_ro)) if used)
            raise ValueError(
                f"The model's {which} factorization does not reproduce model(x) (max difference {err:.3g}): "
                "check igc_input_linear/forward_from_input_linear and igc_readout/forward_features, or pass "
                "input_linear=False / readout=False."
            )

    def _to_space(self, x: torch.Tensor, group) -> torch.Tensor:
        if not self.use_in:
            return x
        A, c = linear_params(self.fac.input_linear, self._subject(self.fac.input_linear, group))
        return F.linear(x.reshape(x.shape[0], -1), A, c)

    def _readout_params(self, group):
        W, b = linear_params(self.fac.readout, self._subject(self.fac.readout, group))
        return W.detach()[self.idx].double(), None if b is None else b.detach()[self.idx].double()

    # ------------------------------------------------------------------ batching
    def groups(self, subset=None) -> list[tuple[object, np.ndarray]]:
        key = self.src.extra.get(self.group_key) if self.group_key else None
        groups = groups_by(key, self.src.n)
        if subset is not None:
            keep = np.zeros(self.src.n, bool)
            keep[np.asarray(subset)] = True
            groups = [(g, idx[keep[idx]]) for g, idx in groups]
        return [(g, idx) for g, idx in groups if idx.size]

    def chunk_points(self) -> int:
        rows = self.batch_size or max(self.rows_per_point, _POINT_BUDGET // max(self.D, 1))
        return max(1, rows // self.rows_per_point)

    def samples_per_batch(self) -> int:
        per_sample = self.K * self.n_steps
        by_rows = max(1, self.chunk_points() // per_sample)
        per_sample_acc = self.Q * self.D * (self.K if self.use_in else 1)
        by_acc = max(1, _ACC_BUDGET // per_sample_acc)
        return max(1, min(self.src.n, by_rows, by_acc))

    def _batch_inputs(self, idx: np.ndarray):
        x = self.src.get_x(idx).to(device=self.device, dtype=self.dtype)
        kw = {k: v[torch.as_tensor(idx)].to(self.device) for k, v in self.src.extra.items()}
        return x, kw

    # ------------------------------------------------------------------ forward passes
    def predict(self) -> torch.Tensor:
        """``f(x)`` of every sample, ``(n, O)`` float64 on the device (kept as ``self.fx``)."""
        out = torch.zeros(self.src.n, self.O, dtype=torch.float64, device=self.device)
        step = max(1, _POINT_BUDGET // self.m) if self.batch_size is None else max(1, self.batch_size)
        failure = None
        with torch.no_grad():
            try:
                for _, gidx in self.groups():
                    gidx = self._mine(gidx)
                    for s in range(0, gidx.size, step):
                        idx = gidx[s:s + step]
                        x, kw = self._batch_inputs(idx)
                        out[torch.as_tensor(idx, device=self.device)] = self.outputs(self.model(x, **self._kwargs(kw))).double()
            except Exception as exc:
                if not self.dist:
                    raise
                failure = exc
        if self.dist:  # distributed: each rank filled its own rows, the others are zeros
            out = dist.all_reduce_sums({"fx": out}, failure=failure, what="model predictions")["fx"]
        self.fx = out
        return out

    def _mine(self, gidx: np.ndarray) -> np.ndarray:
        """Distributed: this rank's contiguous block of a group's samples (all of them otherwise)."""
        return dist.shard(gidx, active=self.dist)

    def _baseline_outputs(self, kw: dict, nb: int, group) -> torch.Tensor:
        """``f(b_k)`` evaluated with each sample's extra inputs, ``(nb, K, O)`` float64."""
        if not kw:
            if None not in self._fb_cache:
                with torch.no_grad():
                    self._fb_cache[None] = self.outputs(self.model(self.base, **self.model_kwargs)).double()
            return self._fb_cache[None][None].expand(nb, -1, -1)
        i = torch.arange(nb, device=self.device).repeat_interleave(self.K)
        k = torch.arange(self.K, device=self.device).repeat(nb)
        out = torch.empty(nb * self.K, self.O, dtype=torch.float64, device=self.device)
        step = self.chunk_points() * self.rows_per_point
        with torch.no_grad():
            for s in range(0, i.numel(), step):
                sl = slice(s, s + step)
                kws = self._kwargs({n: v[i[sl]] for n, v in kw.items()})
                out[sl] = self.outputs(self.model(self.base[k[sl]], **kws)).double()
        return out.reshape(nb, self.K, self.O)

    def _integrate(self, ux: torch.Tensor, ub: torch.Tensor, kw: dict) -> dict:
        """Integrate the targets' gradients along every (sample, baseline) path.

        In the ``z`` space (input-linear factorization) returns ``G`` (Q, nb, K, d): the
        weighted sum of gradients per path. In the input space returns ``IG`` (Q, nb, m):
        ``sum_k (x_i - b_k) * G_ik`` accumulated on the fly (K times less memory), and ``comp``
        (nb, K, Q): ``sum_j`` of each path's IG (the completeness check).
        """
        nb, K, S = ux.shape[0], ub.shape[0], self.n_steps
        lead = (1,) * (ux.ndim - 1)
        dev = self.device
        keep_paths = self.use_in
        if keep_paths:
            G = torch.zeros(self.Q, nb * K, self.D, dtype=torch.float64, device=dev)
        else:
            IG = torch.zeros(self.Q, nb, self.D, dtype=torch.float64, device=dev)
            comp = torch.zeros(self.Q, nb * K, dtype=torch.float64, device=dev)
        head = self._head()
        total, chunk = nb * K * S, self.chunk_points()
        for start in range(0, total, chunk):
            flat = torch.arange(start, min(total, start + chunk), device=dev)
            pair, step = flat // S, flat % S
            i, k = pair // K, pair % K
            diff = ux[i] - ub[k]
            pts = (ub[k] + self.alphas[step].view(-1, *lead) * diff).detach().requires_grad_(True)
            kws = self._kwargs({n: v[i] for n, v in kw.items()})
            w = self.weights[step].view(-1, 1)
            if keep_paths:
                def add(g, rows=slice(None)):  # g: (q, P, D) float64 gradients of some targets
                    G[rows].index_add_(1, pair, g * w)
            else:
                wd = diff.reshape(diff.shape[0], -1).double().mul_(w)  # w_s (x_i - b_k) per point

                def add(g, rows=slice(None)):
                    contrib = g * wd  # out of place: g may alias an autograd seed
                    IG[rows].index_add_(1, i, contrib)
                    comp[rows].index_add_(1, pair, contrib.sum(-1))
            with torch.enable_grad():
                out = head(pts, kws)
                self._vjp(out, pts, add)
        if keep_paths:
            return {"G": G.reshape(self.Q, nb, K, self.D)}
        return {"IG": IG, "comp": comp.reshape(self.Q, nb, K).permute(1, 2, 0)}

    def _vjp(self, out: torch.Tensor, pts: torch.Tensor, add: Callable) -> None:
        """Gradients of every target w.r.t. the points, handed to ``add`` as float64 (q, P, D)."""
        P = pts.shape[0]
        if out.shape != (P, self.Q):
            raise ValueError(f"Internal shape mismatch: targets {tuple(out.shape)}, expected {(P, self.Q)}.")
        if self.vjp == "batched" and self.Q > 1:
            # a contiguous seed: an expanded (stride-0) one makes the batched backward far slower
            eye = torch.eye(self.Q, dtype=out.dtype, device=out.device)[:, None, :].repeat(1, P, 1)
            (g,) = torch.autograd.grad(out, pts, eye, is_grads_batched=True, allow_unused=True)
            if g is not None:
                add(g.reshape(self.Q, P, -1).double())
            return
        for q in range(self.Q):
            (g,) = torch.autograd.grad(out[:, q].sum(), pts, retain_graph=q < self.Q - 1, allow_unused=True)
            if g is not None:
                add(g.reshape(1, P, -1).double(), slice(q, q + 1))

    # ------------------------------------------------------------------ the run
    def run(self, weights: torch.Tensor | None = None, per_sample: Callable | None = None,
            subset=None, desc: str | None = None) -> dict:
        """Stream over samples; return the weighted sum and the completeness diagnostics.

        Parameters
        ----------
        weights : (n, O) float64 tensor, optional
            ``S[o] = sum_i weights[i, o] * IG_io`` is accumulated, shape ``(O, m)``.
        per_sample : callable, optional
            Called as ``per_sample(idx, ig)`` with ``ig`` of shape ``(len(idx), O, m)`` float64.
        subset : index array, optional
            Only these samples (the probe of ``n_steps="auto"``).
        """
        from tqdm.auto import tqdm

        O, K, m, dev = self.O, self.K, self.m, self.device
        S = torch.zeros(O, m, dtype=torch.float64, device=dev) if weights is not None else None
        R: dict = {}
        num = torch.zeros(O, dtype=torch.float64, device=dev)
        den = torch.zeros_like(num)
        cw = torch.zeros_like(num)
        groups = [(g, self._mine(gidx)) for g, gidx in self.groups(subset)]
        nb_max = self.samples_per_batch()
        total = sum(g[1].size for g in groups)
        bar = tqdm(total=total, desc=desc or self.desc, disable=not self.progress, unit="sample", leave=False)
        failure = None
        with torch.no_grad():  # gradients are taken inside _integrate only
            try:
                for group, gidx in groups:
                    base_flat = self.base.reshape(K, -1).double()
                    for s in range(0, gidx.size, nb_max):
                        idx = gidx[s:s + nb_max]
                        x, kw = self._batch_inputs(idx)
                        nb = idx.size
                        ux = self._to_space(x, group)
                        ub = self._space_baselines(group)
                        paths = self._integrate(ux, ub, kw)
                        if self.use_in:
                            delta = ux.double().reshape(nb, 1, -1) - ub.double().reshape(1, K, -1)
                            comp = torch.einsum("qikd,ikd->ikq", paths["G"], delta)
                        else:
                            comp = paths["comp"]
                        W = None
                        if self.use_ro:
                            W, _ = self._readout_params(group)
                            comp = comp @ W.T
                        fx = self.fx[torch.as_tensor(idx, device=dev)]
                        fb = self._baseline_outputs(kw, nb, group)
                        c = fb.mean(1)
                        num += (comp.mean(1) - (fx - c)).abs().sum(0)
                        den += (fx - c).abs().sum(0)
                        xf = x.reshape(nb, -1).double()
                        if weights is not None:
                            wb = weights[torch.as_tensor(idx, device=dev)]
                            cw += (c * wb).sum(0)
                            self._weighted(S, R, group, paths, xf, wb, W)
                        if per_sample is not None:
                            per_sample(idx, self._per_sample(paths, xf, base_flat, W, group))
                        bar.update(nb)
                        if self.progress:
                            bar.set_postfix(ig_error=f"{float((num / den.clamp_min(1e-300)).max()):.2e}")
                if S is not None and self.use_in:
                    self._subtract_baseline_terms(S, R)
            except Exception as exc:
                if not self.dist:
                    raise
                failure = exc
            finally:
                bar.close()
        if self.dist:  # distributed: every float64 sum of this rank's samples, summed over the ranks
            sums = dist.all_reduce_sums({"S": S, "num": num, "den": den, "cw": cw}, failure=failure,
                                        what=desc or self.desc)
            S, num, den, cw = sums["S"], sums["num"], sums["den"], sums["cw"]
        return {"S": S, "ig_error": (num / den.clamp_min(1e-300)).cpu().numpy(), "cw": cw}

    def _space_baselines(self, group) -> torch.Tensor:
        if not self.use_in:
            return self.base
        if group not in self._zb_cache:
            with torch.no_grad():
                self._zb_cache[group] = self._to_space(self.base, group)
        return self._zb_cache[group]

    def _A64(self, group) -> torch.Tensor:
        A, _ = linear_params(self.fac.input_linear, self._subject(self.fac.input_linear, group))
        return A.detach().double()

    def _weighted(self, S, R, group, paths, xf, wb, W) -> None:
        """``S[o] += sum_i wb[i, o] IG_io`` without forming per-output per-sample maps."""
        nb, Q, K = wb.shape[0], self.Q, self.K
        if not self.use_in:
            ig_q = paths["IG"].permute(1, 0, 2) / K  # (nb, Q, m): IG of the targets
            if W is None:
                S += torch.einsum("io,iom->om", wb, ig_q)
            else:  # IG_io = sum_q W_oq IG_iq, summed with weights: one GEMM
                coef = wb[:, :, None] * W[None]  # (nb, O, Q)
                S += coef.permute(1, 0, 2).reshape(self.O, nb * Q) @ ig_q.reshape(nb * Q, -1)
            return
        # IG_x = (x_i - b_k) * A^T G_ik: the x_i part once per sample, the b_k part once per baseline
        G = paths["G"]
        A = self._A64(group)
        Gm = G.mean(2)  # (Q, nb, d)
        step = max(1, _ACC_BUDGET // (Q * self.m))
        for s in range(0, nb, step):
            sl = slice(s, s + step)
            X = (Gm[:, sl] @ A) * xf[sl][None]  # (Q, b, m)
            if W is None:
                S += torch.einsum("io,oim->om", wb[sl], X)
            else:
                coef = wb[sl][:, :, None] * W[None]  # (b, O, Q)
                S += coef.permute(1, 0, 2).reshape(self.O, -1) @ X.permute(1, 0, 2).reshape(-1, self.m)
        if W is None:
            Rg = torch.einsum("io,oikd->okd", wb, G) / K
        else:
            Rg = torch.einsum("io,oq,qikd->okd", wb, W, G) / K
        R[group] = R.get(group, 0) + Rg  # (O, K, d), applied to the baselines at the end

    def _subtract_baseline_terms(self, S, R) -> None:
        base = self.base.reshape(self.K, -1).double()
        step = max(1, _ACC_BUDGET // (self.K * self.m))
        for group, Rg in R.items():
            A = self._A64(group)
            for s in range(0, self.O, step):
                B = (Rg[s:s + step].reshape(-1, self.D) @ A).reshape(-1, self.K, self.m)
                S[s:s + step] -= torch.einsum("okm,km->om", B, base)

    def _per_sample(self, paths, xf, base_flat, W, group) -> torch.Tensor:
        """Per-sample IG of the outputs, ``(nb, O, m)`` float64."""
        K = self.K
        if not self.use_in:
            ig_q = paths["IG"].permute(1, 0, 2) / K
        else:
            G = paths["G"]
            A = self._A64(group)
            ig_q = torch.empty(xf.shape[0], self.Q, self.m, dtype=torch.float64, device=self.device)
            for i in range(xf.shape[0]):
                T = (G[:, i].reshape(-1, self.D) @ A).reshape(self.Q, K, self.m)
                ig_q[i] = torch.einsum("qkm,km->qm", T, xf[i][None] - base_flat) / K
        if W is not None:
            return torch.einsum("oq,iqm->iom", W, ig_q)
        return ig_q

    # ------------------------------------------------------------------ settings
    def describe(self) -> dict:
        return {
            "method": self.method,
            "n_steps": self.n_steps,
            "input_linear": self.use_in,
            "readout": self.use_ro,
            "vjp": self.vjp,
            "factorization_source": self.fac.source,
            "n_targets": self.Q,
            "attribution_space_size": self.D,
            "group_key": self.group_key,
            "device": str(self.device),
            "model_dtype": str(self.dtype).replace("torch.", ""),
            "world_size": dist.world_size() if self.dist else 1,
        }

