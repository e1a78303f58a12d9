"""The model as the attribution code sees it: one function from inputs to the attributed outputs.

:class:`ModelFunction` holds everything between a user's ``nn.Module`` and the ``(n, n_attributed)``
tensor the engine differentiates: constant and per-sample keyword inputs, the item of a tuple or
dict output (``output_selector``), an output transform (e.g. a softmax) and the attributed
outputs (``output_idx``). The checks (:mod:`._checks`), the factorization finder
(:mod:`._factorize`) and the engine (:mod:`._engine`) all call the model through it, never through
each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from neuro_igc._utils import check_option

__all__ = ["ModelFunction", "OUTPUT_TRANSFORMS", "prepared_model", "select_output", "model_dtype"]

#: transforms applied to the model's outputs before attribution (e.g. logits -> probabilities)
OUTPUT_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "softmax": lambda out: torch.softmax(out, dim=1),
    "exp": torch.exp,
    "sigmoid": torch.sigmoid,
}

#: input-space elements evaluated per model call when no batch size is given
ROW_BUDGET = 2**21


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


def model_dtype(model: nn.Module, data_dtype: torch.dtype | None) -> torch.dtype:
    """The dtype the model computes in: its first floating parameter's, else the data's."""
    fallback = data_dtype if data_dtype is not None and data_dtype.is_floating_point else torch.get_default_dtype()
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), fallback)


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


def check_transform(value):
    """``None``, a callable, or the function of a name in :data:`OUTPUT_TRANSFORMS`."""
    if value is None or callable(value):
        return value
    return OUTPUT_TRANSFORMS[check_option("output_transform", value, [None, *OUTPUT_TRANSFORMS])]


class ModelFunction:
    """A model called on inputs with its keyword inputs, giving the attributed outputs.

    Parameters
    ----------
    model : nn.Module
        Already on ``device`` and in eval mode (see :func:`prepared_model`).
    device, dtype
        Where and in which floating dtype inputs are evaluated.
    model_kwargs : mapping, optional
        Constant keyword inputs of every call.
    output_selector : index, key or callable, optional
        Picks one tensor out of a tuple or dict output.
    output_transform : None, callable or a name of :data:`OUTPUT_TRANSFORMS`
        Applied to the (selected) output before the attributed outputs are taken.

    The attributed outputs are all of them until :meth:`select_outputs` is called.
    """

    def __init__(self, model: nn.Module, *, device: torch.device, dtype: torch.dtype, model_kwargs=None,
                 output_selector=None, output_transform=None):
        self.model, self.device, self.dtype = model, device, dtype
        self.constant_kwargs = dict(model_kwargs or {})
        self.selector = output_selector
        self.transform = check_transform(output_transform)
        self.output_idx: list[int] | None = None

    @property
    def n_attributed(self) -> int:
        return len(self.output_idx)

    def select_outputs(self, output_idx: list[int]) -> None:
        """Attribute these columns of the model's (transformed) output from now on."""
        self.output_idx = list(output_idx)

    def kwargs(self, per_sample: Mapping | None = None) -> dict:
        """The keyword inputs of one call: the constant ones, overridden by per-sample tensors."""
        return {**self.constant_kwargs, **(per_sample or {})}

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
        """The attributed outputs ``(P, n_attributed)`` from a raw model output."""
        out = self.raw(raw)
        if self.transform is not None:
            out = self.transform(out)
        return out if self.output_idx is None else out[:, self.output_idx]

    def __call__(self, x: torch.Tensor, per_sample: Mapping | None = None) -> torch.Tensor:
        """The attributed outputs of the model at ``x`` (differentiable)."""
        return self.outputs(self.model(x, **self.kwargs(per_sample)))

    def rows_per_call(self, n_inputs: int, batch_size: int | None) -> int:
        return max(1, ROW_BUDGET // max(n_inputs, 1)) if batch_size is None else max(1, int(batch_size))

    def forward_rows(self, xs: torch.Tensor, per_row: Mapping | None, batch_size: int | None = None) -> torch.Tensor:
        """Attributed outputs ``(r, n_attributed)`` float64 of rows of inputs, with per-row extras, no gradients."""
        n_inputs = int(np.prod(xs.shape[1:])) if xs.ndim > 1 else 1
        step = self.rows_per_call(n_inputs, batch_size)
        out = torch.empty(xs.shape[0], self.n_attributed, dtype=torch.float64, device=self.device)
        with torch.no_grad():
            for s in range(0, xs.shape[0], step):
                rows = {n: v[s:s + step] for n, v in (per_row or {}).items()}
                out[s:s + step] = self(xs[s:s + step], rows).double()
        return out

    def subject(self, key: str | None, group=None) -> int | None:
        """The value of the per-subject keyword ``key``: the batch's ``group`` or a constant kwarg."""
        if key is None:
            return None
        if group is not None:
            return int(group)
        value = self.constant_kwargs.get(key, 0)
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"Invalid value for 'model_kwargs[{key!r}]': constant keyword arguments must be scalars; "
                    f"pass per-sample values in 'extra'."
                )
            value = value.item()
        return int(value)
