"""The *path*: where between a start point and the input the gradients are taken.

Today the straight line ``gamma(t) = b + t (x - b)`` from a baseline ``b`` to the input ``x``
(:class:`neuro_igc.attribution._paths.StraightPath`). The engine evaluates a path in its
attribution space (:mod:`._space`): a straight line in ``x`` is a straight line in ``z = A x + c``,
so the same path object serves both spaces.

Interface used by the path integral (:mod:`._integral`), that of the path classes of
:mod:`neuro_igc.attribution._paths`:

- ``points(end, start, t)``: ``(R, T, *shape)`` points of ``R`` paths at the times ``t``;
- ``velocity(end, start, t)``: ``(R, T or 1, *shape)`` the derivative ``gamma'(t)``;
- ``constant_velocity``: ``gamma'`` does not depend on ``t`` (the straight line): the rule's sum
  of gradients is taken first and multiplied by the velocity once per path, and a linear map of
  the input (the input-linear factorization) keeps the path straight. A path with a varying
  velocity (a blur) multiplies per node and works in the input space only;
- ``uses_baselines``: the path starts at baselines drawn from the data.
"""

from __future__ import annotations

from neuro_igc.attribution._paths import StraightPath

__all__ = ["make_engine_path", "has_constant_velocity"]


def has_constant_velocity(path) -> bool:
    """True when ``gamma'(t)`` is the same at every ``t`` (the straight line)."""
    return bool(getattr(path, "constant_velocity", isinstance(path, StraightPath)))


def make_engine_path(name="straight"):
    """The path object of ``name`` or a path object (straight, blur, guided; see ``_paths``).

    Only the straight path goes through :func:`._integral.integrate_paths`; the others through
    :mod:`._generic`.
    """
    from neuro_igc.attribution._paths import make_path

    return make_path(name)
