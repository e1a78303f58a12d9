"""The plan of a run: which space, which targets, how gradients are taken, how much per chunk.

:func:`make_plan` asks :func:`neuro_igc.attribution._factorize.plan_factorizations` which exact
factorizations pay for this model and these settings (checked on probe points, the verdict kept
per model), and builds the parts from the answer: the input or input-linear *space*, the output or
readout-unit *targets*.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from torch import nn

from neuro_igc.attribution._engine._batches import ACCUMULATOR_BUDGET, POINT_BUDGET
from neuro_igc.attribution._engine._path import has_constant_velocity
from neuro_igc.attribution._engine._space import InputLinearSpace, InputSpace
from neuro_igc.attribution._engine._target import OutputTargets, ReadoutTargets
from neuro_igc.attribution._factorize import Factorization, plan_factorizations

__all__ = ["Plan", "make_plan"]

logger = logging.getLogger(__name__)

_MANY_OUTPUTS = 16  # info log above this many outputs attributed without a readout factorization


@dataclass
class Plan:
    """The parts chosen for a run and its chunk sizes."""

    factorization: Factorization
    space: object
    targets: object
    vjp: str
    group_key: str | None
    batch_size: int | None

    @property
    def rows_per_point(self) -> int:
        """Rows of a batched backward pass per path point (one per target when batched)."""
        return self.targets.count if self.vjp == "batched" else 1

    def chunk_points(self) -> int:
        """Path points per forward pass."""
        rows = self.batch_size or max(self.rows_per_point, POINT_BUDGET // max(self.space.size, 1))
        return max(1, rows // self.rows_per_point)

    def samples_per_batch(self, n_samples: int, n_points_per_sample: int, n_baselines: int, n_inputs: int) -> int:
        by_points = max(1, self.chunk_points() // n_points_per_sample)
        per_sample = self.targets.count * (self.space.size * n_baselines if self.space.factorized else n_inputs)
        by_accumulator = max(1, ACCUMULATOR_BUDGET // max(per_sample, 1))
        return max(1, min(n_samples, by_points, by_accumulator))


def make_plan(fn, source, shared_baselines, settings, path, rule, n_points: int, x, extra, device) -> Plan:
    """Choose the factorizations and build the space and targets of a run."""
    input_linear, readout = settings.input_linear, settings.readout
    if not has_constant_velocity(path):  # a linear map of the input keeps only a straight path straight
        input_linear = False
    if not rule.linear:  # the factorizations map integrated gradients afterwards: linear rules only
        input_linear = readout = False
    fac = plan_factorizations(fn, source.input_shape, input_linear, readout, x, extra, n_points)
    keys = [fac.subject_key(fac.input_linear) if fac.uses_input_linear else None,
            fac.subject_key(fac.readout) if fac.uses_readout else None]
    group_key = next((k for k in keys if k is not None and k in source.extra), None)
    if fac.uses_input_linear:
        space = InputLinearSpace(fac, fn, source, shared_baselines, group_key)
    else:
        space = InputSpace(_size(source.input_shape))
    if fac.uses_readout:
        targets = ReadoutTargets(fn, fac, fac.target_function(fac.uses_input_linear, True), group_key)
    else:
        targets = OutputTargets(fn, fac.rest_from_z if fac.uses_input_linear else None)
    vjp = settings.vjp
    if vjp == "auto":
        has_conv = any(isinstance(m, nn.modules.conv._ConvNd) for m in fn.model.modules())
        # vmap'd backward of strided convolutions is several times slower than a loop on CPU
        vjp = "loop" if (device.type == "cpu" and has_conv and not fac.uses_input_linear) else "batched"
    if not fac.uses_readout and fn.n_attributed > _MANY_OUTPUTS:
        logger.info(
            "Attributing %d outputs without a readout factorization (%s): every output costs one "
            "backward pass. Pass readout=<the final nn.Linear or its attribute name> if the model "
            "ends with one.", fn.n_attributed, fac.reasons.get("readout", "not found"))
    return Plan(fac, space, targets, vjp, group_key, settings.batch_size)


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
