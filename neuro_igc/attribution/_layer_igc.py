"""IGC over the units of an internal layer: layer_igc, layer_igac, layer_conductance."""

from __future__ import annotations

from torch import nn

from neuro_igc._utils import check_option
from neuro_igc.attribution._igc import _dataset_wise, _docstring, _ig_run, _settings
from neuro_igc.attribution._layer import CONDUCTANCE_FORMS
from neuro_igc.attribution._result import AttributionResult
from neuro_igc.attribution._settings import AttributionSettings

__all__ = ["layer_igc", "layer_igac", "layer_conductance"]

_LAYER_DOC = """
    layer : nn.Module or str
        A submodule of ``model`` (or its dotted name, e.g. ``"stages.1"``) that every route from
        the input to the outputs passes through (checked); its output must be one tensor. Its
        units (the output's shape without the sample axis) are the components of the maps.
    conductance : {"quadrature", "difference"}, default="quadrature"
        ``"quadrature"``: the layer's velocity along the path by a forward-mode product at each
        node, weighted as ``method`` weights IG: the maps over the units sum exactly to the input
        maps' total at the same settings. ``"difference"``: the layer's change over each cell
        (Captum's ``LayerConductance``; forward passes only below the layer).
    region : boolean array of the input shape, optional
        Lundstrom et al.'s region question: the units' share of the IG (IGC) of these input
        components only (``sum_{i in region} Cond_ik``), at one forward-mode product per step.
        The maps sum to the region's sum of the input maps. Needs ``conductance="quadrature"``.
"""


def _layer_doc(fn):
    fn.__doc__ = fn.__doc__.replace("    {layer}\n", _LAYER_DOC.strip("\n") + "\n")
    return _docstring(fn)


def _options(layer, conductance, region) -> dict:
    if layer is None:
        raise ValueError("Invalid value for 'layer': expected an nn.Module of the model or its name; got None.")
    check_option("conductance", conductance, CONDUCTANCE_FORMS)
    if region is not None and conductance != "quadrature":
        raise ValueError(
            "Invalid value for 'conductance': a region's share needs conductance='quadrature'; "
            f"got {conductance!r}."
        )
    return {"layer": layer, "conductance": conductance, "region": region}


@_layer_doc
def layer_igc(model: nn.Module, layer, x, y=None, *, conductance: str = "quadrature", region=None,
              settings: AttributionSettings | None = None, **options) -> AttributionResult:
    """IGC over the units of an internal layer (Lundstrom et al.'s internal-neuron attributions).

    Per sample ``i`` and baseline, the total conductance of unit ``k`` of the layer ``h``,
    ``Cond_ik = int dF/dh_k dh_k/dt dt`` along the path, splits the sample's IG total over the
    units (``sum_k Cond_ik = sum_j IG_ij``). Correlated with the target exactly as IGC correlates
    IG, ``layerIGC_k = mean_i[Cond_ik (y_i - mean y)] / (sd(f) sd(y))``: the map over the units
    sums to the same correlation as the input IGC, up to the same errors (``ig_error``,
    ``baseline_term``). Integer labels give per-class maps as in :func:`igc`. With a linear
    readout (an encoding model's thousands of vertices) the conductances of the bottleneck units
    are computed once and the readout applied to them: one map of units per output, summable
    over any set of outputs (an ROI).

    Parameters
    ----------
    model : torch.nn.Module
    {layer}
    x : (n_samples, *input_shape) array-like or torch Dataset
    y : (n_samples,) or (n_samples, n_outputs) array-like, optional
    {common}

    Returns
    -------
    AttributionResult
        ``attributions`` of shape ``(n_outputs, *unit_shape)``; ``settings["layer"]``,
        ``settings["unit_shape"]``, ``settings["conductance"]``.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <...>
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()
    >>> x = torch.randn(100, 4, dtype=torch.float64)
    >>> y = model(x).detach()[:, 0] + 0.1 * torch.randn(100, dtype=torch.float64)
    >>> res = layer_igc(model, "1", x, y, baselines=4, n_steps=8, progress=False)
    >>> res.attributions.shape
    (1, 6)
    """
    st = _settings("layer_igc", settings, options)
    return _dataset_wise("igc", model, x, y, st, categorical=False,
                         layer_options=_options(layer, conductance, region))


@_layer_doc
def layer_igac(model: nn.Module, layer, x, *, conductance: str = "quadrature", region=None,
               settings: AttributionSettings | None = None, **options) -> AttributionResult:
    """:func:`layer_igc` with ``y`` replaced by the predictions (the maps sum to 1 per output).

    Parameters
    ----------
    model : torch.nn.Module
    {layer}
    x : (n_samples, *input_shape) array-like or torch Dataset
    {common}

    Returns
    -------
    AttributionResult
        ``attributions`` of shape ``(n_outputs, *unit_shape)``.
    """
    st = _settings("layer_igac", settings, options)
    return _dataset_wise("igac", model, x, None, st, categorical=False,
                         layer_options=_options(layer, conductance, region))


@_layer_doc
def layer_conductance(model: nn.Module, layer, x, *, conductance: str = "quadrature", region=None,
                      settings: AttributionSettings | None = None, **options) -> AttributionResult:
    """Per-sample total conductance of every unit of a layer, averaged over each sample's baselines.

    ``Cond_k`` sums over the units to the sample's IG total (exactly with
    ``conductance="quadrature"``); with ``region`` it is the units' share of that region's IG.

    Parameters
    ----------
    model : torch.nn.Module
    {layer}
    x : (n_samples, *input_shape) array-like or torch Dataset
    {common}

    Returns
    -------
    AttributionResult
        ``attributions`` of shape ``(n_samples, n_outputs, *unit_shape)``.
    """
    st = _settings("layer_conductance", settings, options)
    return _ig_run("layer-conductance", model, x, st, _options(layer, conductance, region))
