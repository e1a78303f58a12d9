"""One set of attribution settings shared by ig, igc, igac, igc_categorical, naive_ig and bsc.

Every public function takes the data positionally and everything else as keywords, resolved here
into one :class:`AttributionSettings`, so the options and their defaults cannot drift between the
functions, and a misspelt keyword is reported with the public function's name and the closest
valid option.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["AttributionSettings", "resolve_settings", "BASELINE_MODES"]

#: how an int ``baselines`` is drawn: afresh for every sample (the paper's Eq. 2) or one shared set
BASELINE_MODES = ("per-sample", "shared")


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
    values = {} if base is None else {f: getattr(base, f) for f in _FIELDS}  # no deep copy of tensors
    given = dict(options)
    start = AttributionSettings()
    for key, value in (defaults or {}).items():
        if key not in given and (base is None or getattr(base, key) == getattr(start, key)):
            given[key] = value
    values.update(given)
    return AttributionSettings(**values)
