"""One set of attribution settings shared by ig, igc, igac, igc_categorical, naive_ig and bsc.

Every public function takes the data positionally and everything else as keywords, resolved here
into one :class:`AttributionSettings`, so the options and their defaults cannot drift between the
functions, and a misspelt keyword is reported with the public function's name and the closest
valid option. The settings are checked once, when the object is built (a pipeline's YAML block,
``AttributionSettings(...)``, or a function's keywords), and the engine receives the object.
What needs the data or the model (the number of baselines against the samples, ``output_idx``
against the outputs, a named module) is checked where those are known.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from neuro_igc._utils import check_option

__all__ = ["AttributionSettings", "resolve_settings", "BASELINE_MODES", "VJP_MODES"]

#: how an int ``baselines`` is drawn: afresh for every sample (the paper's Eq. 2) or one shared set
BASELINE_MODES = ("per-sample", "shared")

#: how the vector-Jacobian products of the targets are taken after one forward pass
VJP_MODES = ("auto", "batched", "loop")


def _positive_int(name: str, value, minimum: int = 1, what: str = "an int >= 1") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"Invalid value for {name!r}: expected {what}; got {value!r}.")


@dataclasses.dataclass(frozen=True)
class AttributionSettings:
    """Settings of an attribution run (see :func:`neuro_igc.attribution.igc` for each one).

    Build one to reuse the same options across functions, or use :class:`IGC`::

        settings = AttributionSettings(baselines=12, n_steps=32)
        igc(model, x, y, settings=settings)
        ig(model, x, settings=settings, output_idx=0)   # keywords override the object
    """

    baselines: Any = 8
    baseline_mode: str = "per-sample"
    n_steps: int | str = 16
    method: str = "gauss-legendre"
    seed: int = 0
    batch_size: int | None = None
    device: Any = None
    output_idx: Any = None
    output_selector: Any = None
    output_transform: str | Callable | None = "auto"
    extra: Mapping | None = None
    model_kwargs: Mapping | None = None
    reference: Any = None
    progress: bool = True
    input_linear: Any = "auto"
    readout: Any = "auto"
    vjp: str = "auto"
    freeze: bool = True
    warn: bool = True
    check_coupling: bool = True
    distributed: Any = "auto"
    auto_tol: float = 0.01
    auto_max_steps: int = 512
    auto_start: int = 8
    probe_size: int = 32
    n_permutations: int = 16
    rule: str = "quadrature"
    path: Any = "straight"

    def __post_init__(self):
        self._check()

    def _check(self, names=None) -> None:
        """Raise a ValueError naming the first invalid setting among ``names`` (default: all)."""
        from neuro_igc.attribution._factorize import check_switch
        from neuro_igc.attribution._model import OUTPUT_TRANSFORMS
        from neuro_igc.attribution._quadrature import check_method, check_steps

        names = set(_FIELDS if names is None else names)
        if "method" in names:
            check_method(self.method)
            names.add("n_steps")  # the steps a rule needs depend on it
        if "n_steps" in names and not (isinstance(self.n_steps, str) and self.n_steps == "auto"):
            check_steps(self.n_steps, self.method)
        if "baseline_mode" in names:
            check_option("baseline_mode", self.baseline_mode, BASELINE_MODES)
        if "batch_size" in names and self.batch_size is not None:
            _positive_int("batch_size", self.batch_size, what="a positive int or None")
        if "vjp" in names:
            check_option("vjp", self.vjp, VJP_MODES)
        for name in ("input_linear", "readout"):
            if name in names:
                check_switch(name, getattr(self, name))
        if "rule" in names:
            from neuro_igc.attribution._rules import check_rule

            check_rule(self.rule)
        if "path" in names:
            from neuro_igc.attribution._paths import make_path

            make_path(self.path)
        for name in ("freeze", "progress", "warn", "check_coupling"):
            if name in names and getattr(self, name) not in (True, False):
                raise ValueError(f"Invalid value for {name!r}: allowed are True, False; got {getattr(self, name)!r}.")
        transform = self.output_transform
        if "output_transform" in names and not (transform is None or callable(transform)
                                                or (isinstance(transform, str) and transform == "auto")):
            check_option("output_transform", transform, [None, *OUTPUT_TRANSFORMS])
        tol = self.auto_tol
        if "auto_tol" in names and (isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating))
                                    or not 0 < tol < 1):
            raise ValueError(f"Invalid value for 'auto_tol': expected a number in (0, 1); got {tol!r}.")
        for name in ("auto_max_steps", "auto_start", "probe_size", "n_permutations"):
            if name in names:
                _positive_int(name, getattr(self, name))

    def replace(self, **changes) -> AttributionSettings:
        """A copy with some settings changed (unknown names raise a TypeError)."""
        return resolve_settings("AttributionSettings.replace", changes, base=self)


_FIELDS = tuple(f.name for f in dataclasses.fields(AttributionSettings))


def resolve_settings(fn_name: str, options: Mapping[str, Any], base: AttributionSettings | None = None,
                     defaults: Mapping[str, Any] | None = None) -> AttributionSettings:
    """Merge ``defaults`` < ``base`` < ``options`` into one settings object.

    ``defaults`` are the function's own defaults (e.g. a softmax for categorical IGC), used
    where neither ``base`` nor ``options`` set a value.
    """
    unknown = [k for k in options if k not in _FIELDS]
    if unknown:
        k = unknown[0]
        close = difflib.get_close_matches(k, _FIELDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid options are {', '.join(_FIELDS)}."
        raise TypeError(f"{fn_name}() got an unexpected keyword argument {k!r}{hint}")
    if base is not None and not isinstance(base, AttributionSettings):
        raise TypeError(
            f"Invalid value for 'settings' in {fn_name}(): expected an AttributionSettings; got {type(base).__name__}."
        )
    given = dict(options)
    start = AttributionSettings() if defaults else None
    for key, value in (defaults or {}).items():
        if key not in given and (base is None or getattr(base, key) == getattr(start, key)):
            given[key] = value
    if base is None:
        return AttributionSettings(**given)
    # the base was checked when it was built: only the changed settings are checked
    out = copy.copy(base)  # no deep copy of tensors
    for key, value in given.items():
        object.__setattr__(out, key, value)
    out._check(given)
    return out
