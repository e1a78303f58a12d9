"""Base class of the zoo models: a config that rebuilds the model, and shared input checks."""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from neuro_igc._utils import FRACTION, Interval, check_param

__all__ = ["ZooModel"]


class ZooModel(nn.Module):
    """An ``nn.Module`` that remembers the keyword arguments it was built with.

    Subclasses call ``self._store_config(...)`` in ``__init__`` with their (JSON-like) arguments;
    ``model.config`` then returns ``{"name": <registry name>, **arguments}``, which
    :func:`neuro_igc.models.build_model` turns back into the same architecture (checkpoints
    store it).
    """

    #: the name under which the class is registered in ``neuro_igc.models.MODELS``
    name: str = ""

    def _store_config(self, **kwargs: Any) -> None:
        self._config = {k: _plain(v) for k, v in kwargs.items()}

    @property
    def config(self) -> dict:
        """``{"name": ..., **init_kwargs}``: enough to rebuild the architecture."""
        return {"name": self.name, **copy.deepcopy(self._config)}


def _plain(value):
    """Tuples and numpy scalars to plain lists/ints/floats (safe for ``torch.load(weights_only)``)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _plain(value.tolist())
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def check_subject_int(subject, n_subjects: int, what: str) -> int:
    """An int subject index in range, or a clear ValueError."""
    s = int(subject)
    if not 0 <= s < n_subjects:
        raise ValueError(
            f"Invalid value for 'subject': index {s} is outside 0..{n_subjects - 1} "
            f"({what} has {n_subjects} subjects)."
        )
    return s


def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; an error naming ``name`` otherwise (strings, floats,
    booleans and None are refused, not coerced)."""
    return int(check_param(name, value, Interval(numbers.Integral, minimum)))


def check_ints(name: str, values, minimum: int = 1) -> list[int]:
    """A sequence of ints >= ``minimum`` (see :func:`check_int`), e.g. layer widths."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        check_param(name, values, list, tuple)  # raises: a sequence of integers is needed
    return [check_int(f"{name}[{i}]", v, minimum) for i, v in enumerate(values)]


def check_fraction(name: str, value) -> float:
    """A float in [0, 1) (dropout rates), or a clear error naming ``name``."""
    return float(check_param(name, value, FRACTION))


def check_sizes(name: str, value, n_subjects: int) -> None:
    """An int >= 1, or one int >= 1 per subject, or a clear ValueError naming ``name``."""
    if isinstance(value, numbers.Number) or value is None or isinstance(value, (str, bytes)):
        check_int(name, value)
        return
    sizes = check_ints(name, value)
    if len(sizes) != int(n_subjects):
        raise ValueError(
            f"Invalid value for {name!r}: expected one int or one size per subject "
            f"(n_subjects={n_subjects}); got {len(sizes)} sizes."
        )
