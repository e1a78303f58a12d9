"""The streaming IG engine shared by ig, igc, igac, igc_categorical, naive_ig (and, for its data
access, bsc), made of named parts that talk through small documented interfaces.

For every sample ``x_i`` and each of its baselines ``b_ik`` the engine integrates the gradients of
the *targets* along a *path*, with a *rule*, in an attribution *space*, and hands each batch's path
integrals to a *reduction*:

======================  ==========================================  =================================
part                    today                                       module (interface in its docstring)
======================  ==========================================  =================================
path                    straight line from a baseline               :mod:`._path`
rule                    quadrature (Gauss-Legendre, Riemann)        :mod:`._rule`
target                  attributed outputs; readout bottleneck      :mod:`._target`
space                   input ``x``; input-linear ``z = A x + c``   :mod:`._space`
reduction               per-sample IG; IGC weighted sums;           :mod:`._reduce`
                        completeness sums
======================  ==========================================  =================================

:mod:`._integral` runs the path integral of a batch (chunks of path points, one forward pass per
chunk for all targets, then their vector-Jacobian products), :mod:`._batches` streams samples
and their baselines, :mod:`._plan` chooses the space and the targets (the exact factorizations,
only when they save work, from :mod:`neuro_igc.attribution._factorize`) and :mod:`._core`'s
:class:`Engine` ties them together. The model is called through
:class:`neuro_igc.attribution._model.ModelFunction` only. Sums over samples are float64 and live
in one :class:`Sums` (added up over processes in a distributed run).

How a new part plugs in:

- a **path** (blur, guided): an object with ``points(end, start, t)``, ``velocity(end, start, t)``
  and ``constant_velocity`` (see :mod:`neuro_igc.attribution._paths`), returned by
  :func:`._path.make_engine_path`. :func:`._integral.integrate_paths` multiplies the rule's
  gradient sum by the velocity once per path when it is constant; a varying velocity must be
  applied per node before the rule's sum (and :mod:`._plan` then keeps the input space). An
  adaptive path (guided) walks its own points per target and replaces the integral call.
- a **rule** (IDGI): an object with ``nodes``, ``n_steps``, ``method``, ``sum_steps(grads, first,
  n_paths)`` and ``linear``; a rule that is not linear in the gradients (``linear = False``)
  turns the factorizations off in :mod:`._plan`.
- a **target** (a layer's units): an object with ``count``, ``values(points, kw)`` and
  ``mixing(group)`` (None, or the matrix to the attributed outputs); :mod:`._plan` builds it.
- a **reduction**: a callable receiving per-sample IG (``Engine.run(per_sample=...)``), or a
  class like :class:`WeightedSums` fed each batch's :class:`~._integral.PathIntegrals`.
"""

from neuro_igc.attribution._engine._core import Engine
from neuro_igc.attribution._engine._reduce import Sums
from neuro_igc.attribution._settings import VJP_MODES
from neuro_igc.attribution._model import OUTPUT_TRANSFORMS, prepared_model, select_output

__all__ = ["Engine", "Sums", "VJP_MODES", "OUTPUT_TRANSFORMS", "prepared_model", "select_output"]
