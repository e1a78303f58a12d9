"""The streaming IG engine shared by ig, igc, igac, igc_categorical and naive_ig.

For every sample ``x_i`` and each of its baselines ``b_ik`` it integrates the gradient of a set
of *targets* along the straight path ``b_ik + t (x_i - b_ik)`` with a quadrature rule, in an
*attribution space*, and either sums the result over samples with weights (IGC) or hands out
per-sample IG. The exact shortcuts:

- targets are the selected outputs, or the ``U`` bottleneck units before a linear readout
  ``f = W h + b`` (*readout factorization*): the IG of output ``o`` is ``sum_u W_ou IG(h_u)``;
- the space is the input ``x``, or ``z = A x + c`` after a first linear map (*input-linear
  factorization*): the path in ``x`` is a straight path in ``z``, so
  ``IG_x = (x - b) * (A^T G)`` with ``G = integral of grad_z``. For weighted sums ``A`` is
  applied once at the end: ``sum_i w_i IG_i = sum_d A_d * (sum_r C_rd x_r)`` with float64
  coefficients ``C`` on the data rows (samples and baselines);
- one forward pass per chunk of path points, then all targets' vector-Jacobian products, batched
  (``is_grads_batched``) or in a loop; parameters frozen. The quadrature sum over the steps of
  a path is taken in the model's dtype; everything summed over samples is float64.

All sums over samples live in one :class:`Sums` object. A run split over processes (each one
attributing a subset of the samples, every sample keeping its own seeded baselines) gives the
single-process result once each tensor of :meth:`Sums.tensors` is summed over the processes,
before :meth:`Engine.finish`: inside a ``torch.distributed`` group (``distributed=True``) each
rank takes its block of every group of samples and the sums are all-reduced once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from neuro_igc import _distributed as dist
from neuro_igc._utils import check_option
from neuro_igc.attribution._data import Baselines, DataSource, check_output_idx, groups_by
from neuro_igc.attribution._factorize import Factorization, plan_factorizations
from neuro_igc.attribution._layer import CONDUCTANCE_FORMS, resolve_layer
from neuro_igc.attribution._paths import make_path, path_integral
from neuro_igc.attribution._quadrature import quadrature
from neuro_igc.attribution._rules import cell_bounds, check_rule

__all__ = ["Engine", "Sums", "VJP_MODES", "OUTPUT_TRANSFORMS", "prepared_model"]

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
_ACC_BUDGET = 2**25  # float64 elements of a per-batch accumulator
_COEF_BUDGET = 2**24  # float64 elements of the kept data-row coefficients (input-linear IGC)
_MANY_OUTPUTS = 16  # info log above this many outputs attributed without a readout factorization


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


@dataclass
class Sums:
    """Every float64 sum over samples of a run (the state to add up across processes).

    ``S`` (O, m): ``sum_i w_io IG_io`` in the input space; ``coef[g]`` (n, O, D) and
    ``coef_base[g]`` (K, O, D): input-linear coefficients on the data rows and on a shared
    baseline set, per group of the subject key; ``gap`` / ``scale`` (O,): ``sum_i |sum_j IG_ij -
    (f(x_i) - c_i)|`` and ``sum_i |f(x_i) - c_i|`` with ``c_i = mean_k f(b_ik)``; ``cw`` (O,):
    ``sum_i w_io c_io``; ``count``: samples seen.
    """

    gap: torch.Tensor
    scale: torch.Tensor
    cw: torch.Tensor
    count: torch.Tensor
    S: torch.Tensor | None = None
    coef: dict = field(default_factory=dict)
    coef_base: dict = field(default_factory=dict)

    def tensors(self) -> list[torch.Tensor]:
        """All sums, in a fixed order (identical on every process of a split run)."""
        out = [self.gap, self.scale, self.cw, self.count]
        if self.S is not None:
            out.append(self.S)
        for d in (self.coef, self.coef_base):
            out += [d[g] for g in sorted(d, key=lambda g: (g is None, g))]
        return out


def _switch(name: str, value) -> object:
    if isinstance(value, (str, bool)) and value in (True, False, "auto"):
        return value
    if isinstance(value, (nn.Module, str)):
        return value
    raise ValueError(
        f"Invalid value for {name!r}: allowed are True, False, 'auto', a module of the model or its "
        f"attribute name; got {value!r}."
    )


def select_output(out, selector):
    """Apply ``output_selector`` (index, key or callable) to a model's raw output."""
    if selector is None:
        return out
    if callable(selector):
        return selector(out)
    try:
        return out[selector]
    except (IndexError, KeyError, TypeError) as exc:
        raise ValueError(
            f"Invalid value for 'output_selector': {selector!r} does not select from the model's output "
            f"({type(out).__name__}): {exc}"
        ) from exc


class Engine:
    """Prepared attribution run: model functions, baselines, quadrature, batching.

    Use inside :func:`prepared_model`. ``n_outputs`` and ``output_idx`` are known after
    construction; :meth:`predict`, :meth:`run` do the work.
    """

    def __init__(self, model, src: DataSource, baselines: Baselines, *, method: str, n_steps: int,
                 output_idx, device, batch_size, model_kwargs, output_transform, input_linear,
                 readout, vjp, progress: bool, output_selector=None, check_coupling: bool = True,
                 desc: str = "IG", distributed: bool = False, path="straight", rule: str = "quadrature",
                 layer=None, conductance: str = "quadrature", region=None):
        from neuro_igc.attribution._checks import coupling_probe, first_forward

        self.model, self.src, self.device = model, src, device
        self.dist = bool(distributed)  # shard samples over the ranks, all-reduce the sums
        self.model_kwargs = dict(model_kwargs or {})
        self.progress, self.desc = progress, desc
        self.selector = output_selector
        data_dtype = src.x.dtype if src.x is not None and src.x.is_floating_point() else torch.get_default_dtype()
        self.dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), data_dtype)
        self.bl = baselines
        self.base = None if baselines.tensor is None else baselines.tensor.to(device=device, dtype=self.dtype)
        self.path, self.rule = make_path(path), check_rule(rule)
        self.K = baselines.K if self.path.uses_baselines else 1  # the blur path starts at the blurred input
        self.m = self.m_in = int(np.prod(src.input_shape))
        self.attr_shape = tuple(src.input_shape)
        self.layer = None if layer is None else resolve_layer(model, layer)
        self.conductance = check_option("conductance", conductance, CONDUCTANCE_FORMS)
        self.region = region
        if self.layer is not None and self.rule != "quadrature":
            raise ValueError(f"Invalid value for 'rule': a layer's conductance uses rule='quadrature'; got {rule!r}.")
        # any path, rule or layer but IG's own: the plain path integral (see _paths, _layer)
        self.generic = self.layer is not None or self.path.name != "straight" or self.rule != "quadrature"
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
        out0 = first_forward(self, first, extra0)
        self.n_outputs = out0.shape[1]
        self.idx = check_output_idx(output_idx, self.n_outputs)
        self.O = len(self.idx)
        if check_coupling:
            coupling_probe(self, first, extra0, out0)
        input_linear, readout, off = self._generic_switches(input_linear, readout)
        self._plan(input_linear, readout, vjp, first, extra0)
        self.fac.reasons.update(off)
        if self.layer is not None:
            self._layer_shape(first, extra0)
        self._fb_cache: dict = {}
        self._z_cache: dict = {}
        self.reduce: Callable[[Sums], None] | None = None  # sums over processes, set by a split run

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _check_transform(value):
        if value is None or callable(value):
            return value
        return OUTPUT_TRANSFORMS[check_option("output_transform", value, [None, *OUTPUT_TRANSFORMS])]

    def _generic_switches(self, input_linear, readout):
        """Factorizations a path, rule or layer rules out: switched off, with the reason."""
        off = {}
        if not self.generic:
            return input_linear, readout, off
        what = (f"layer {self.layer[0]!r}" if self.layer is not None else
                f"path={self.path.name!r}" if self.path.name != "straight" else f"rule={self.rule!r}")
        reasons = {"input_linear": f"{what} integrates in the input space"}
        if self.rule == "idgi" or self.path.adaptive:
            reasons["readout"] = (f"{what} is not linear in the gradient: every output needs its own"
                                  if self.rule == "idgi" else f"{what} walks one path per output")
        values = {"input_linear": input_linear, "readout": readout}
        for key, why in reasons.items():
            v = values[key]
            if v is True or (isinstance(v, (str, nn.Module)) and v != "auto"):
                raise ValueError(f"Invalid value for {key!r}: the factorization cannot be used, {why}; pass {key}='auto' or False.")
            if v is not False:
                off[key] = why
            values[key] = False
        return values["input_linear"], values["readout"], off

    def _layer_shape(self, first, extra0) -> None:
        """The layer's unit shape, and a check that all of the computation passes through it."""
        from neuro_igc.attribution._layer import LayerTap, check_cut

        name, module = self.layer
        tap = LayerTap(module, name)
        kw = self._kwargs(extra0)
        fn = lambda p: self.head(p, kw)  # noqa: E731
        with torch.no_grad(), tap:
            tap.run(fn, first)
        check_cut(fn, tap, first)
        self.attr_shape = tuple(tap.h.shape[1:])
        self.m = int(np.prod(self.attr_shape))
        if self.region is not None:
            r = torch.as_tensor(self.region)
            if r.dtype != torch.bool or tuple(r.shape) != tuple(self.src.input_shape):
                raise ValueError(
                    f"Invalid value for 'region': expected a boolean mask of the input shape {tuple(self.src.input_shape)}; "
                    f"got {r.dtype} of shape {tuple(r.shape)}."
                )
            self.region = r.to(self.device)

    def set_steps(self, method: str, n_steps: int) -> None:
        alphas, weights = quadrature(method, n_steps)
        self.method, self.n_steps = method, int(n_steps)
        self.bounds = cell_bounds(weights)
        self.alphas = torch.tensor(alphas, device=self.device, dtype=self.dtype)
        self.weights = torch.tensor(weights, device=self.device, dtype=torch.float64)
        self.weights_m = self.weights.to(self.dtype)

    def raw(self, out) -> torch.Tensor:
        """The model's output as a 2-D tensor (after ``output_selector``)."""
        out = select_output(out, self.selector)
        if not isinstance(out, torch.Tensor):
            from neuro_igc.attribution._checks import not_a_tensor

            not_a_tensor(out)
        if out.ndim == 1:
            out = out[:, None]
        if out.ndim != 2:
            raise ValueError(
                f"The model must map (n, *input_shape) to (n, n_outputs) or (n,); it returned shape {tuple(out.shape)}."
            )
        return out

    def outputs(self, raw) -> torch.Tensor:
        """Selected (and transformed) outputs ``(P, O)`` from a raw model output."""
        out = self.raw(raw)
        if self.transform is not None:
            out = self.transform(out)
        return out[:, self.idx]

    def _kwargs(self, per_sample: dict) -> dict:
        return {**self.model_kwargs, **per_sample}

    def _plan(self, input_linear, readout, vjp, first, extra0) -> None:
        fac: Factorization = plan_factorizations(self, input_linear, readout, first, extra0)
        self.fac = fac
        self.use_in, self.use_ro = fac.use_in, fac.use_ro
        self.Q = fac.in_features(fac.readout) if self.use_ro else self.O
        self.D = fac.out_features(fac.input_linear) if self.use_in else self.m
        keys = [fac.subject_key(fac.input_linear) if self.use_in else None,
                fac.subject_key(fac.readout) if self.use_ro else None]
        self.group_key = next((k for k in keys if k is not None and k in self.src.extra), None)
        if vjp == "auto":
            has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in self.model.modules())
            # vmap'd backward of strided convolutions is several times slower than a loop on CPU
            vjp = "loop" if (self.device.type == "cpu" and has_conv and not self.use_in) else "batched"
        self.vjp = vjp
        self.rows_per_point = self.Q if vjp == "batched" else 1
        if not self.use_ro and self.O > _MANY_OUTPUTS:
            logger.info(
                "Attributing %d outputs without a readout factorization (%s): every output costs one "
                "backward pass. Pass readout=<the final nn.Linear or its attribute name> if the model "
                "ends with one.", self.O, fac.reasons.get("readout", "not found"))

    def _subject(self, layer, group):
        key = Factorization.subject_key(layer)
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

    def head(self, pts: torch.Tensor, kw: dict) -> torch.Tensor:
        """``(P, Q)`` targets at points of the attribution space."""
        fac = self.fac
        if self.use_ro:
            feats = fac.features_from_z if self.use_in else fac.features
            return feats(pts, **kw).reshape(pts.shape[0], -1)
        if self.use_in:
            return self.outputs(fac.rest_from_z(pts, **kw))
        return self.outputs(self.model(pts, **kw))

    def to_space(self, x: torch.Tensor, group) -> torch.Tensor:
        if not self.use_in:
            return x
        A, c = self.fac.linear_params(self.fac.input_linear, self._subject(self.fac.input_linear, group))
        return F.linear(x.reshape(x.shape[0], -1).to(A.dtype), A, c)

    def readout_params(self, group):
        W, b = self.fac.linear_params(self.fac.readout, self._subject(self.fac.readout, group))
        return W.detach()[self.idx].double(), None if b is None else b.detach()[self.idx].double()

    def _A64(self, group) -> torch.Tensor:
        A, _ = self.fac.linear_params(self.fac.input_linear, self._subject(self.fac.input_linear, group))
        return A.detach().double()

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
        per_sample_acc = self.Q * (self.D * self.K if self.use_in else self.m)
        by_acc = max(1, _ACC_BUDGET // max(per_sample_acc, 1))
        return max(1, min(self.src.n, by_rows, by_acc))

    def _batch_inputs(self, idx: np.ndarray):
        x = self.src.get_x(idx).to(device=self.device, dtype=self.dtype)
        kw = {k: v[torch.as_tensor(idx)].to(self.device) for k, v in self.src.extra.items()}
        return x, kw

    def _forward_rows(self, xs: torch.Tensor, kw_rows: dict | None) -> torch.Tensor:
        """Outputs ``(r, O)`` float64 of rows of inputs, with per-row extras, no gradients."""
        out = torch.empty(xs.shape[0], self.O, dtype=torch.float64, device=self.device)
        step = max(1, _POINT_BUDGET // self.m_in) if self.batch_size is None else max(1, self.batch_size)
        with torch.no_grad():
            for s in range(0, xs.shape[0], step):
                kws = self._kwargs({n: v[s:s + step] for n, v in (kw_rows or {}).items()})
                out[s:s + step] = self.outputs(self.model(xs[s:s + step], **kws)).double()
        return out

    # ------------------------------------------------------------------ forward passes
    def predict(self) -> torch.Tensor:
        """``f(x)`` of every sample, ``(n, O)`` float64 on the device (kept as ``self.fx``)."""
        from neuro_igc.attribution._checks import check_finite_outputs

        out = torch.zeros(self.src.n, self.O, dtype=torch.float64, device=self.device)
        step = max(1, _POINT_BUDGET // self.m_in) if self.batch_size is None else max(1, self.batch_size)
        failure = None
        try:
            for _, gidx in self.groups():
                gidx = self._mine(gidx)
                for s in range(0, gidx.size, step):
                    idx = gidx[s:s + step]
                    x, kw = self._batch_inputs(idx)
                    out[torch.as_tensor(idx, device=self.device)] = self._forward_rows(x, kw)
        except Exception as exc:
            if not self.dist:
                raise
            failure = exc
        if self.dist:  # distributed: each rank filled its own rows, the others are zeros
            out = dist.all_reduce_sums({"fx": out}, failure=failure, what="model predictions")["fx"]
        check_finite_outputs(out, self.idx, "the model's outputs f(x)")
        self.fx = out
        return out

    def _mine(self, gidx: np.ndarray) -> np.ndarray:
        """Distributed: this rank's contiguous block of a group's samples (all of them otherwise)."""
        return dist.shard(gidx, active=self.dist)

    def _baselines_of(self, idx: np.ndarray):
        """Data indices ``(nb, K)`` of a batch's baselines (per-sample mode), and a getter of their inputs."""
        nb = idx.size
        if not self.path.uses_baselines:  # the path's own start (the blurred input), one per sample
            starts = []

            def start():
                if not starts:
                    x = self.src.get_x(idx).to(device=self.device, dtype=self.dtype)
                    starts.append(self.path.start(x).unsqueeze(1))
                return starts[0]

            return None, start
        if not self.bl.per_sample:
            return None, lambda: self.base.unsqueeze(0).expand(nb, *self.base.shape)
        bidx = self.bl.indices(idx)
        cache = []

        def get():
            if not cache:
                bx = self.src.get_x(bidx.reshape(-1)).to(device=self.device, dtype=self.dtype)
                cache.append(bx.reshape(nb, self.K, *self.src.input_shape))
            return cache[0]

        return bidx, get

    def _z_data(self, group) -> torch.Tensor:
        """``z = A x + c`` of every sample under ``group``'s weights, ``(n, D)`` (kept)."""
        if group not in self._z_cache:
            n = self.src.n
            step = max(1, _POINT_BUDGET // self.m_in)
            Z = torch.empty(n, self.D, dtype=self.dtype, device=self.device)
            for s in range(0, n, step):
                r = np.arange(s, min(n, s + step))
                Z[s:s + r.size] = self.to_space(self.src.get_x(r).to(device=self.device, dtype=self.dtype), group)
            self._z_cache[group] = Z
        return self._z_cache[group]

    def _baseline_outputs(self, get_bx, bidx, kw: dict, nb: int) -> torch.Tensor:
        """``f(b_ik)`` evaluated with each sample's extra inputs, ``(nb, K, O)`` float64."""
        if not kw and self.path.uses_baselines:
            if bidx is not None:  # baselines are data samples: their outputs are known
                return self.fx[torch.as_tensor(bidx, device=self.device)]
            if None not in self._fb_cache:
                self._fb_cache[None] = self._forward_rows(self.base, None)
            return self._fb_cache[None][None].expand(nb, -1, -1)
        bx = get_bx()
        rows = {n: v.repeat_interleave(self.K, 0) for n, v in kw.items()}
        return self._forward_rows(bx.reshape(nb * self.K, *bx.shape[2:]), rows).reshape(nb, self.K, self.O)

    def _space_of(self, x, get_bx, idx, bidx, group):
        """The batch's inputs ``(nb, *space)`` and baselines ``(nb, K, *space)`` in the attribution space."""
        if not self.use_in:
            return x, get_bx()
        nb = x.shape[0]
        if bidx is None:
            if ("base", group) not in self._z_cache:
                self._z_cache[("base", group)] = self.to_space(self.base, group)
            return self.to_space(x, group), self._z_cache[("base", group)].unsqueeze(0).expand(nb, -1, -1)
        Z = self._z_data(group)
        return Z[torch.as_tensor(idx, device=self.device)], Z[torch.as_tensor(bidx, device=self.device)]

    # ------------------------------------------------------------------ path integrals
    def integrate(self, ux: torch.Tensor, ub: torch.Tensor, kw: dict) -> dict:
        """Integrate the targets' gradients along every (sample, baseline) path.

        ``ux`` (nb, *space), ``ub`` (nb, K, *space). In the ``z`` space (input-linear
        factorization) returns ``G`` (Q, nb, K, D) float64: each path's integral of the gradient.
        In the input space returns ``IG`` (Q, nb, m) in the model's dtype: ``sum_k (x_i - b_ik) *
        G_ik``, and ``comp`` (nb, K, Q) float64: ``sum_j`` of each path's IG (completeness).
        """
        if self.generic:
            return self._integrate_generic(ux, ub, kw)
        nb, K, S, Q = ux.shape[0], self.K, self.n_steps, self.Q
        dev, D = self.device, self.D
        sp = ux.shape[1:]
        lead = (1,) * len(sp)
        n_pairs = nb * K
        cp = self.chunk_points()
        pp, ss = (max(1, cp // S), S) if cp >= S else (1, cp)
        if self.use_in:
            G = torch.zeros(Q, n_pairs, D, dtype=torch.float64, device=dev)
        else:
            IG = torch.zeros(Q, nb, D, dtype=self.dtype, device=dev)
            comp = torch.zeros(Q, n_pairs, dtype=torch.float64, device=dev)
        ub_flat = ub.reshape(n_pairs, *sp)
        for p0 in range(0, n_pairs, pp):
            pairs = torch.arange(p0, min(n_pairs, p0 + pp), device=dev)
            npr = pairs.numel()
            i = pairs // K
            bp = ub_flat[pairs]
            diff = ux[i] - bp
            Gp = None
            for s0 in range(0, S, ss):
                ns = min(S, s0 + ss) - s0
                al = self.alphas[s0:s0 + ns].view(1, ns, *lead)
                pts = (bp.unsqueeze(1) + al * diff.unsqueeze(1)).reshape(npr * ns, *sp)
                pts = pts.detach().requires_grad_(True)
                kws = self._kwargs({n: v[i].repeat_interleave(ns, 0) for n, v in kw.items()})
                w = self.weights_m[s0:s0 + ns]
                with torch.enable_grad():
                    out = self.head(pts, kws)
                    part = self._vjp(out, pts, npr, ns, w)
                Gp = part if Gp is None else Gp + part
            if self.use_in:
                G[:, p0:p0 + npr] = Gp.double()
            else:
                contrib = Gp * diff.reshape(1, npr, -1)
                IG.index_add_(1, i, contrib)
                comp[:, p0:p0 + npr] = contrib.sum(-1, dtype=torch.float64)
        if self.use_in:
            return {"G": G.reshape(Q, nb, K, D)}
        return {"IG": IG, "comp": comp.reshape(Q, nb, K).permute(1, 2, 0)}

    def _integrate_generic(self, ux: torch.Tensor, ub: torch.Tensor, kw: dict) -> dict:
        """:meth:`integrate` for any path, rule or layer: the plain path integral of each target.

        Returns ``IG`` (Q, nb, m) (``m`` the layer's units for a layer) and ``comp`` (nb, K, Q).
        """
        from neuro_igc.attribution._layer import conductance_rows

        nb, K, S, Q = ux.shape[0], self.K, self.n_steps, self.Q
        dev = self.device
        sp = ux.shape[1:]
        n_pairs = nb * K
        IG = torch.zeros(Q, nb, self.m, dtype=self.dtype, device=dev)
        comp = torch.zeros(Q, n_pairs, dtype=torch.float64, device=dev)
        ub_flat = ub.reshape(n_pairs, *sp)
        cp = self.chunk_points()
        # paths per chunk: the integrators take the steps in chunks of cp points; (Q, pp, m) partial sums
        pp = max(1, min(cp, _ACC_BUDGET // max(Q * self.m, 1)))

        def fn(p, **k):
            return self.head(p, self._kwargs(k))

        for p0 in range(0, n_pairs, pp):
            pairs = torch.arange(p0, min(n_pairs, p0 + pp), device=dev)
            npr = pairs.numel()
            i = pairs // K
            common = dict(alphas=self.alphas, weights=self.weights, bounds=self.bounds, chunk_points=cp,
                          row_kwargs={n: v[i] for n, v in kw.items()})
            if self.layer is not None:
                part = conductance_rows(fn, self.layer[1], ux[i], ub_flat[pairs], path=self.path,
                                        form=self.conductance, region=self.region, name=self.layer[0], **common)
            else:
                part = path_integral(fn, ux[i], ub_flat[pairs], path=self.path, rule=self.rule, **common)
            part = part.reshape(Q, npr, -1)
            IG.index_add_(1, i, part)
            comp[:, p0:p0 + npr] = part.sum(-1, dtype=torch.float64)
        return {"IG": IG, "comp": comp.reshape(Q, nb, K).permute(1, 2, 0)}

    def _vjp(self, out: torch.Tensor, pts: torch.Tensor, npr: int, ns: int, w: torch.Tensor) -> torch.Tensor:
        """``(Q, npr, D)``: the quadrature-weighted sum over each path's steps of every target's gradient."""
        P = pts.shape[0]
        Q = self.Q
        if out.shape != (P, Q):
            raise ValueError(f"Internal shape mismatch: targets {tuple(out.shape)}, expected {(P, Q)}.")
        wrow = w.view(1, 1, ns)

        def steps_sum(g, q):  # g: (q, P, ...) -> (q, npr, D)
            return torch.matmul(wrow, g.reshape(q * npr, ns, -1)).reshape(q, npr, -1)

        if self.vjp == "batched" and Q > 1:
            # a contiguous seed: an expanded (stride-0) one makes the batched backward far slower
            eye = torch.eye(Q, dtype=out.dtype, device=out.device)[:, None, :].repeat(1, P, 1)
            (g,) = torch.autograd.grad(out, pts, eye, is_grads_batched=True, allow_unused=True)
            if g is None:
                return torch.zeros(Q, npr, self.D, dtype=self.dtype, device=self.device)
            return steps_sum(g, Q)
        res = torch.empty(Q, npr, self.D, dtype=self.dtype, device=self.device)
        for q in range(Q):
            (g,) = torch.autograd.grad(out[:, q].sum(), pts, retain_graph=q < Q - 1, allow_unused=True)
            if g is None:
                res[q] = 0
            else:
                res[q] = steps_sum(g.unsqueeze(0), 1)[0]
        return res

    # ------------------------------------------------------------------ the run
    def new_sums(self, weighted: bool) -> Sums:
        O, dev = self.O, self.device
        z = lambda *s: torch.zeros(*s, dtype=torch.float64, device=dev)  # noqa: E731
        sums = Sums(gap=z(O), scale=z(O), cw=z(O), count=z(1))
        if weighted:
            sums.S = z(O, self.m)
            if self.use_in:
                keep = self.src.n * O * self.D <= _COEF_BUDGET
                for g, _ in self.groups():
                    if self.bl.per_sample:
                        if keep:
                            sums.coef[g] = z(self.src.n, O, self.D)
                    else:
                        sums.coef_base[g] = z(self.K, O, self.D)
                self._keep_coef = keep
        return sums

    def run(self, weights: torch.Tensor | None = None, per_sample: Callable | None = None,
            subset=None, desc: str | None = None, samples=None) -> dict:
        """Stream over samples; return the weighted sum and the completeness diagnostics.

        Parameters
        ----------
        weights : (n, O) float64 tensor, optional
            ``S[o] = sum_i weights[i, o] * IG_io`` is accumulated, shape ``(O, m)``.
        per_sample : callable, optional
            Called as ``per_sample(idx, ig)`` with ``ig`` of shape ``(len(idx), O, m)`` float64.
        subset : index array, optional
            Only these samples (the probe of ``n_steps="auto"``, or this process's share).
        """
        from neuro_igc._utils import progress_bar as tqdm

        from neuro_igc.attribution._checks import check_finite_paths

        dev = self.device
        sums = self.new_sums(weights is not None)
        groups = [(g, self._mine(gidx)) for g, gidx in self.groups(subset)]
        nb_max = self.samples_per_batch()
        total = sum(g[1].size for g in groups)
        bar = tqdm(total=total, desc=desc or self.desc, disable=not self.progress, unit="sample", leave=False)
        failure = None
        with torch.no_grad():  # gradients are taken inside integrate only
            try:
                for group, gidx in groups:
                    for s in range(0, gidx.size, nb_max):
                        idx = gidx[s:s + nb_max]
                        x, kw = self._batch_inputs(idx)
                        bidx, get_bx = self._baselines_of(idx)
                        ux, ub = self._space_of(x, get_bx, idx, bidx, group)
                        paths = self.integrate(ux, ub, kw)
                        W = self.readout_params(group)[0] if self.use_ro else None
                        if self.use_in:
                            G = paths["G"]
                            V = G if W is None else torch.einsum("oq,qikd->oikd", W, G)
                            dz = ux.double().unsqueeze(1) - ub.double()  # (nb, K, D)
                            comp = torch.einsum("oikd,ikd->iko", V, dz)
                            paths["V"] = V
                        else:
                            comp = paths["comp"] if W is None else paths["comp"] @ W.T
                        check_finite_paths(comp, idx, self.idx)
                        it = torch.as_tensor(idx, device=dev)
                        fx = self.fx[it]
                        c = self._baseline_outputs(get_bx, bidx, kw, idx.size).mean(1)
                        sums.gap += (comp.mean(1) - (fx - c)).abs().sum(0)
                        sums.scale += (fx - c).abs().sum(0)
                        sums.count += idx.size
                        if weights is not None:
                            wb = weights[it]
                            sums.cw += (c * wb).sum(0)
                            self._weighted(sums, group, paths, x, get_bx, idx, bidx, wb, W)
                        if per_sample is not None:
                            per_sample(idx, self._per_sample(paths, x, get_bx(), W, group))
                        bar.update(idx.size)
                        if self.progress:
                            bar.set_postfix(ig_error=f"{float((sums.gap / sums.count).max()):.2e}")
            except Exception as exc:
                if not self.dist:
                    raise
                failure = exc
            finally:
                bar.close()
        if self.dist:  # distributed: every float64 sum of this rank's samples, summed over the ranks
            parts = sums.tensors()
            summed = dist.all_reduce_sums({str(i): t for i, t in enumerate(parts)}, failure=failure,
                                          what=desc or self.desc)
            for i, t in enumerate(parts):
                t.copy_(summed[str(i)].to(device=t.device, dtype=t.dtype).reshape(t.shape))
        if self.reduce is not None:
            self.reduce(sums)
        return self.finish(sums)

    def finish(self, sums: Sums) -> dict:
        """Maps and errors from the (possibly process-summed) sums."""
        S = None if sums.S is None else sums.S.clone()  # the sums stay as they are (they may be added up)
        if S is not None and self.use_in:
            for group, coef in sums.coef.items():
                self._apply_data_coef(S, coef, group)
            for group, coef in sums.coef_base.items():
                self._apply_rows_coef(S, coef, self.base.reshape(self.K, -1), group)
        n = sums.count.clamp_min(1)
        return {"S": S, "ig_error": (sums.gap / n).cpu().numpy(),
                "ig_error_relative": (sums.gap / sums.scale.clamp_min(1e-300)).cpu().numpy(),
                "cw": sums.cw, "sums": sums}

    def _weighted(self, sums: Sums, group, paths, x, get_bx, idx, bidx, wb, W) -> None:
        """``S[o] += sum_i wb[i, o] IG_io`` without forming per-output per-sample maps."""
        nb, Q, K = wb.shape[0], self.Q, self.K
        if not self.use_in:
            ig_q = paths["IG"].permute(1, 0, 2).double() / K  # (nb, Q, m): IG of the targets
            if W is None:
                sums.S += torch.einsum("io,iom->om", wb, ig_q)
            else:  # IG_io = sum_q W_oq IG_iq, summed with weights: one GEMM
                coef = wb[:, :, None] * W[None]  # (nb, O, Q)
                sums.S += coef.permute(1, 0, 2).reshape(self.O, nb * Q) @ ig_q.reshape(nb * Q, -1)
            return
        # IG_x = (x_i - b_ik) * A^T V_ik: coefficients on the rows x_i and b_ik, A applied at the end
        V = paths["V"]  # (O, nb, K, D)
        Mb = (wb.T[:, :, None, None] * V / K).permute(1, 2, 0, 3)  # (nb, K, O, D)
        Mx = Mb.sum(1)  # (nb, O, D)
        if bidx is None:
            sums.coef_base[group] -= Mb.sum(0)
            rows = x.reshape(nb, -1)
            self._apply_rows_coef(sums.S, Mx, rows, group)
            return
        it = torch.as_tensor(idx, device=self.device)
        ib = torch.as_tensor(bidx.reshape(-1), device=self.device)
        if self._keep_coef:
            coef = sums.coef[group]
            coef.index_add_(0, it, Mx)
            coef.index_add_(0, ib, -Mb.reshape(nb * K, self.O, self.D))
            return
        rows = torch.cat([x.reshape(nb, -1), get_bx().reshape(nb * K, -1)])
        self._apply_rows_coef(sums.S, torch.cat([Mx, -Mb.reshape(nb * K, self.O, self.D)]), rows, group)

    def _apply_rows_coef(self, S, coef, rows, group) -> None:
        """``S[o] += sum_d A_d * sum_r coef[r, o, d] rows[r]`` (float64)."""
        A = self._A64(group)  # (D, m)
        r, O, D = coef.shape
        step = max(1, _ACC_BUDGET // max(D * self.m, 1))
        rows = rows.double()
        for o0 in range(0, O, step):
            cs = coef[:, o0:o0 + step]  # (r, o, D)
            C = cs.permute(1, 2, 0).reshape(-1, r) @ rows  # (o D, m)
            S[o0:o0 + step] += (C.reshape(-1, D, self.m) * A[None]).sum(1)

    def _apply_data_coef(self, S, coef, group) -> None:
        used = np.flatnonzero((coef.abs().sum((1, 2)) > 0).cpu().numpy())
        step = max(1, min(_POINT_BUDGET // self.m, _ACC_BUDGET // max(self.m, 1)))
        for s in range(0, used.size, step):
            r = used[s:s + step]
            rows = self.src.get_x(r).to(device=self.device).reshape(r.size, -1)
            self._apply_rows_coef(S, coef[torch.as_tensor(r, device=self.device)], rows, group)

    def _per_sample(self, paths, x, bx, W, group) -> torch.Tensor:
        """Per-sample IG of the outputs, ``(nb, O, m)`` float64."""
        K, nb = self.K, x.shape[0]
        if not self.use_in:
            ig_q = paths["IG"].permute(1, 0, 2).double() / K
            return ig_q if W is None else torch.einsum("oq,iqm->iom", W, ig_q)
        V = paths["V"]  # (O, nb, K, D)
        A = self._A64(group)
        delta = (x.reshape(nb, 1, -1) - bx.reshape(nb, K, -1)).double()
        out = torch.empty(nb, self.O, self.m, dtype=torch.float64, device=self.device)
        for i in range(nb):
            T = (V[:, i].reshape(-1, self.D) @ A).reshape(self.O, K, self.m)
            out[i] = torch.einsum("okm,km->om", T, delta[i]) / K
        return out

    # ------------------------------------------------------------------ settings
    def describe(self) -> dict:
        layer = {} if self.layer is None else {
            "layer": self.layer[0], "unit_shape": list(self.attr_shape), "conductance": self.conductance,
            "region_size": None if self.region is None else int(self.region.sum())}
        return {
            "method": self.method,
            "n_steps": self.n_steps,
            "rule": self.rule,
            **self.path.describe(),
            **layer,
            "input_linear": self.use_in,
            "readout": self.use_ro,
            "vjp": self.vjp,
            "factorization_source": self.fac.source,
            "factorizations": self.fac.report(),
            "n_targets": self.Q,
            "attribution_space_size": self.D,
            "group_key": self.group_key,
            "device": str(self.device),
            "model_dtype": str(self.dtype).replace("torch.", ""),
            "world_size": dist.world_size() if self.dist else 1,
        }
