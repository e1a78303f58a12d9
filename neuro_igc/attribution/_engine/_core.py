"""The engine: a prepared run that streams samples through the plan's parts and sums in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from neuro_igc import _distributed as dist
from neuro_igc.attribution._checks import check_finite_outputs, check_finite_paths, coupling_probe, first_forward
from neuro_igc.attribution._data import Baselines, DataSource, check_output_idx
from neuro_igc._utils import check_option
from neuro_igc.attribution._engine._batches import ACCUMULATOR_BUDGET, BaselineBatch, baseline_batch, sample_groups
from neuro_igc.attribution._engine._generic import IDGIRule, generic_switches, integrate_generic, layer_units
from neuro_igc.attribution._engine._integral import integrate_paths
from neuro_igc.attribution._layer import CONDUCTANCE_FORMS, resolve_layer
from neuro_igc.attribution._paths import make_path
from neuro_igc.attribution._rules import cell_bounds
from neuro_igc.attribution._engine._plan import make_plan
from neuro_igc.attribution._engine._reduce import Sums, WeightedSums, output_integrals, path_totals, per_sample_ig
from neuro_igc.attribution._engine._rule import QuadratureRule
from neuro_igc.attribution._model import ModelFunction, model_dtype

__all__ = ["Engine"]


class Engine:
    """A prepared attribution run: the model function, baselines, path, rule, space and targets.

    Use inside :func:`prepared_model`. After construction ``n_outputs`` (the model's) and
    ``output_idx`` / ``n_attributed`` (those attributed) are known; :meth:`predict` and
    :meth:`run` do the work.

    Parameters
    ----------
    model : nn.Module
    source : DataSource
    baselines : Baselines
    settings : AttributionSettings
        Valid settings (checked where they were built); ``n_steps="auto"`` starts at
        ``auto_start`` (see :meth:`set_steps`).
    output_transform : None, callable or a name of ``OUTPUT_TRANSFORMS``
        ``settings.output_transform`` with its "auto" resolved by the calling function.
    device : torch.device
    progress : bool
        A progress bar (False on the ranks other than 0).
    desc : str
        The progress bar's label.
    distributed : bool
        Shard the samples over the ranks of the process group and all-reduce the sums.
    """

    def __init__(self, model, source: DataSource, baselines: Baselines, *, settings, output_transform=None,
                 device: torch.device, progress: bool = True, desc: str = "IG", distributed: bool = False,
                 layer=None, conductance: str = "quadrature", region=None):
        self.source, self.baselines, self.device = source, baselines, device
        self.distributed = bool(distributed)
        self.progress, self.desc = progress, desc
        data_dtype = source.x.dtype if source.x is not None else None
        self.dtype = model_dtype(model, data_dtype)
        self.fn = ModelFunction(model, device=device, dtype=self.dtype, model_kwargs=settings.model_kwargs,
                                output_selector=settings.output_selector,
                                output_transform=output_transform)
        self.shared_baselines = (None if baselines.tensor is None
                                 else baselines.tensor.to(device=device, dtype=self.dtype))
        self.path = make_path(settings.path)
        self.n_baselines = baselines.K if self.path.uses_baselines else 1  # blur: the blurred input is the start
        self.n_inputs = int(np.prod(source.input_shape))
        self.attr_shape, self.n_components = tuple(source.input_shape), self.n_inputs
        self.batch_size = settings.batch_size
        self.layer = None if layer is None else resolve_layer(model, layer)
        self.conductance = check_option("conductance", conductance, CONDUCTANCE_FORMS)
        self.region = None if region is None else self._check_region(region, source.input_shape, device)
        if self.layer is not None and settings.rule != "quadrature":
            raise ValueError(f"Invalid value for 'rule': a layer's conductance uses rule='quadrature'; got {settings.rule!r}.")
        # any path, rule or layer but IG's own: the plain path integral (see ._generic)
        self.generic = self.layer is not None or self.path.name != "straight" or settings.rule != "quadrature"
        n_steps = settings.auto_start if settings.n_steps == "auto" else settings.n_steps
        self._rule_name = settings.rule
        self.set_steps(n_steps, settings.method)
        first = source.get_x(np.arange(min(4, source.n))).to(device=device, dtype=self.dtype)
        extra0 = {k: v[: first.shape[0]].to(device) for k, v in source.extra.items()}
        out0 = first_forward(self.fn, first, extra0, source.input_shape)
        self.n_outputs = out0.shape[1]
        self.output_idx = check_output_idx(settings.output_idx, self.n_outputs)
        self.fn.select_outputs(self.output_idx)
        if settings.check_coupling:
            coupling_probe(self.fn, first, extra0, out0)
        changes, off = generic_switches(settings, self.path, self._rule_name, self.layer)
        plan_settings = settings.replace(**changes) if changes else settings
        self.plan = make_plan(self.fn, source, self.shared_baselines, plan_settings, self.path, self.rule,
                              self.n_baselines * self.rule.n_steps, first, extra0, device)
        self.plan.factorization.reasons.update(off)
        if self.layer is not None:
            self.attr_shape = layer_units(self.plan.targets, self.layer, first, extra0)
            self.n_components = int(np.prod(self.attr_shape))
        self.reduction = WeightedSums(self.plan.space, source, self.shared_baselines, self.n_attributed,
                                      self.n_baselines, device)
        self.reduction.n_inputs = self.n_components  # the maps' components: the inputs, or the layer's units
        self._baseline_output_cache: torch.Tensor | None = None
        self.fx: torch.Tensor | None = None

    # ------------------------------------------------------------------ what the callers read
    @property
    def n_attributed(self) -> int:
        return len(self.output_idx)

    @property
    def factorization(self):
        return self.plan.factorization

    def set_steps(self, n_steps: int, method: str | None = None) -> None:
        """Use ``n_steps`` nodes of the same quadrature method from now on (``n_steps="auto"``)."""
        quad = QuadratureRule(method or self.rule.method, n_steps, device=self.device, dtype=self.dtype)
        self.rule = IDGIRule(quad) if self._rule_name == "idgi" else quad
        self.bounds = cell_bounds(quad.weights.cpu().numpy())

    @staticmethod
    def _check_region(region, input_shape, device) -> torch.Tensor:
        r = torch.as_tensor(region)
        if r.dtype != torch.bool or tuple(r.shape) != tuple(input_shape):
            raise ValueError(
                f"Invalid value for 'region': expected a boolean mask of the input shape {tuple(input_shape)}; "
                f"got {r.dtype} of shape {tuple(r.shape)}."
            )
        return r.to(device)

    def baseline_info(self, baselines: Baselines) -> dict:
        """The baselines' description for the result's settings."""
        if self.path.uses_baselines:
            return baselines.info
        return {"baselines": f"{self.path.name} start", "n_baselines": 1, "baseline_mode": "per-sample"}

    # ------------------------------------------------------------------ data and forward passes
    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, dict]:
        """The inputs of samples ``idx`` on the device, and their per-sample keyword inputs."""
        x = self.source.get_x(idx).to(device=self.device, dtype=self.dtype)
        kw = {k: v[torch.as_tensor(idx)].to(self.device) for k, v in self.source.extra.items()}
        return x, kw

    def baselines_for(self, idx: np.ndarray):
        """The :class:`~._batches.BaselineBatch` of samples ``idx``."""
        if not self.path.uses_baselines:  # the path's own start (the blurred input), one per sample
            return BaselineBatch(idx, None, lambda: self.path.start(self.batch(idx)[0]).unsqueeze(1))
        return baseline_batch(self.baselines, self.shared_baselines, self.source, idx, self.device, self.dtype)

    def forward_rows(self, xs: torch.Tensor, per_row: dict | None) -> torch.Tensor:
        """Attributed outputs ``(r, n_attributed)`` float64 of rows of inputs, no gradients."""
        return self.fn.forward_rows(xs, per_row, self.batch_size)

    def predict(self) -> torch.Tensor:
        """``f(x)`` of every sample, ``(n, n_attributed)`` float64 on the device (kept as ``fx``)."""
        out = torch.zeros(self.source.n, self.n_attributed, dtype=torch.float64, device=self.device)
        step = self.fn.rows_per_call(self.n_inputs, self.batch_size)
        failure = None
        try:
            for _, gidx in sample_groups(self.source, self.plan.group_key):
                gidx = dist.shard(gidx, active=self.distributed)
                for s in range(0, gidx.size, step):
                    idx = gidx[s:s + step]
                    x, kw = self.batch(idx)
                    out[torch.as_tensor(idx, device=self.device)] = self.forward_rows(x, kw)
        except Exception as exc:
            if not self.distributed:
                raise
            failure = exc
        if self.distributed:  # each rank filled its own rows, the others are zeros
            out = dist.all_reduce_sums({"fx": out}, failure=failure, what="model predictions")["fx"]
        check_finite_outputs(out, self.output_idx, "the model's outputs f(x)")
        self.fx = out
        return out

    def baseline_outputs(self, baselines, kw: dict) -> torch.Tensor:
        """``f(b_ik)`` evaluated with each sample's extra inputs, ``(nb, K, n_attributed)`` float64."""
        nb, K = baselines.samples.size, self.n_baselines
        if not kw and self.path.uses_baselines:
            if baselines.indices is not None:  # baselines are data samples: their outputs are known
                return self.fx[torch.as_tensor(baselines.indices, device=self.device)]
            if self._baseline_output_cache is None:
                self._baseline_output_cache = self.forward_rows(self.shared_baselines, None)
            return self._baseline_output_cache[None].expand(nb, -1, -1)
        bx = baselines.inputs()
        rows = {n: v.repeat_interleave(K, 0) for n, v in kw.items()}
        return self.forward_rows(bx.reshape(nb * K, *bx.shape[2:]), rows).reshape(nb, K, self.n_attributed)

    # ------------------------------------------------------------------ the run
    def run(self, weights: torch.Tensor | None = None, per_sample: Callable | None = None,
            subset=None, desc: str | None = None) -> dict:
        """Stream over samples; return the weighted sum and the completeness diagnostics.

        Parameters
        ----------
        weights : (n, n_attributed) float64 tensor, optional
            ``S[o] = sum_i weights[i, o] * IG_io`` is accumulated, shape ``(n_attributed, m)``.
        per_sample : callable, optional
            Called as ``per_sample(idx, ig)`` with ``ig`` of shape ``(len(idx), n_attributed, m)``
            float64.
        subset : index array, optional
            Only these samples (the probe of ``n_steps="auto"``, or this process's share).

        Returns
        -------
        dict
            ``S`` (the weighted sum or None), ``ig_error``, ``ig_error_relative``, ``cw`` (the
            weighted baseline outputs ``sum_i w_io c_io``) and ``sums`` (the :class:`Sums`).
        """
        from neuro_igc._utils import progress_bar as tqdm

        plan, dev = self.plan, self.device
        groups = [(g, dist.shard(gidx, active=self.distributed))
                  for g, gidx in sample_groups(self.source, plan.group_key, subset)]
        sums = self.reduction.new_sums(weights is not None, [g for g, _ in sample_groups(self.source, plan.group_key)],
                                       self.baselines.per_sample)
        # an adaptive path (guided) is walked one step at a time: a forward pass holds one point per path
        steps_per_pass = 1 if getattr(self.path, "adaptive", False) else self.rule.n_steps
        per_batch = plan.samples_per_batch(self.source.n, self.n_baselines * steps_per_pass, self.n_baselines,
                                           self.n_components)
        total = sum(g[1].size for g in groups)
        bar = tqdm(total=total, desc=desc or self.desc, disable=not self.progress, unit="sample", leave=False)
        failure = None
        with torch.no_grad():  # gradients are taken inside the path integrals only
            try:
                for group, gidx in groups:
                    for s in range(0, gidx.size, per_batch):
                        idx = gidx[s:s + per_batch]
                        self._add_batch(sums, group, idx, weights, per_sample)
                        bar.update(idx.size)
                        if self.progress:
                            bar.set_postfix(ig_error=f"{float((sums.completeness_gap / sums.n_samples).max()):.2e}")
            except Exception as exc:
                if not self.distributed:
                    raise
                failure = exc
            finally:
                bar.close()
        if self.distributed:  # every float64 sum of this rank's samples, summed over the ranks
            parts = sums.tensors()
            summed = dist.all_reduce_sums({str(i): t for i, t in enumerate(parts)}, failure=failure,
                                          what=desc or self.desc)
            for i, t in enumerate(parts):
                t.copy_(summed[str(i)].to(device=t.device, dtype=t.dtype).reshape(t.shape))
        return self.finish(sums)

    def _add_batch(self, sums: Sums, group, idx: np.ndarray, weights, per_sample) -> None:
        plan, dev = self.plan, self.device
        kw = {k: v[torch.as_tensor(idx)].to(dev) for k, v in self.source.extra.items()}
        kept: list = []

        def inputs() -> torch.Tensor:  # read only where needed (not for input-linear data rows)
            if not kept:
                kept.append(self.source.get_x(idx).to(device=dev, dtype=self.dtype))
            return kept[0]

        baselines = self.baselines_for(idx)
        ends, starts = plan.space.endpoints(inputs, baselines, group)
        if self.generic:
            integrals = integrate_generic(self, ends, starts, kw, plan.chunk_points(), ACCUMULATOR_BUDGET)
        else:
            integrals = integrate_paths(self.path, self.rule, plan.targets, plan.vjp, ends, starts, kw,
                                        plan.chunk_points(), plan.space.factorized)
        mixing = plan.targets.mixing(group)
        grads = output_integrals(integrals, mixing) if plan.space.factorized else None
        totals = path_totals(integrals, ends, starts, mixing, grads)
        check_finite_paths(totals, idx, self.output_idx)
        it = torch.as_tensor(idx, device=dev)
        fx = self.fx[it]
        c = self.baseline_outputs(baselines, kw).mean(1)
        sums.completeness_gap += (totals.mean(1) - (fx - c)).abs().sum(0)
        sums.output_change += (fx - c).abs().sum(0)
        sums.n_samples += idx.size
        if weights is not None:
            wb = weights[it]
            sums.weighted_baseline_output += (c * wb).sum(0)
            self.reduction.add(sums, group, integrals, grads, mixing, inputs, baselines, wb)
        if per_sample is not None:
            per_sample(idx, per_sample_ig(plan.space, integrals, grads, mixing, inputs(), baselines.inputs(), group))

    def finish(self, sums: Sums) -> dict:
        """Maps and errors from the (possibly process-summed) sums."""
        n = sums.n_samples.clamp_min(1)
        return {"S": self.reduction.finish(sums), "ig_error": (sums.completeness_gap / n).cpu().numpy(),
                "ig_error_relative": (sums.completeness_gap / sums.output_change.clamp_min(1e-300)).cpu().numpy(),
                "cw": sums.weighted_baseline_output, "sums": sums}

    # ------------------------------------------------------------------ settings
    def describe(self) -> dict:
        plan, fac = self.plan, self.plan.factorization
        layer = {} if self.layer is None else {
            "layer": self.layer[0], "unit_shape": list(self.attr_shape), "conductance": self.conductance,
            "region_size": None if self.region is None else int(self.region.sum())}
        return {
            "method": self.rule.method,
            "n_steps": self.rule.n_steps,
            "rule": self.rule.name,
            **self.path.describe(),
            **layer,
            "input_linear": fac.uses_input_linear,
            "readout": fac.uses_readout,
            "vjp": plan.vjp,
            "factorization_source": fac.source,
            "factorizations": fac.report(),
            "n_targets": plan.targets.count,
            "attribution_space_size": plan.space.size,
            "group_key": plan.group_key,
            "device": str(self.device),
            "model_dtype": str(self.dtype).replace("torch.", ""),
            "world_size": dist.world_size() if self.distributed else 1,
        }
