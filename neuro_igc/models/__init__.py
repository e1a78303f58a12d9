"""Model zoo, training (:func:`fit` with one :class:`TrainingSettings`), checkpoints and metrics.

Models (by registry name, see :data:`MODELS` and :func:`build_model`):
``decoding_mlp`` (:class:`DecodingMLP`), ``encoding_convnext`` (:class:`EncodingConvNeXt`),
``ridge`` (:class:`Ridge`), ``digits_classifier`` (:class:`DigitsClassifier`). Every model
declares its linear readout / input layer for the attribution engine (the factorization
protocol of :mod:`neuro_igc.models._layers`); any model built with :class:`PerSubjectLinear` or
another layer following the :class:`SubjectLinear` protocol gets them found automatically.

Training: :func:`fit` (Adam + ReduceLROnPlateau, checkpoints, resume), :func:`fit_ensemble`
(n seeds, best k), :func:`evaluate`, :func:`predict`; checkpoints: :func:`save_checkpoint`,
:func:`load_checkpoint`, :func:`read_checkpoint`; scores: :func:`pearson_r`, :func:`r2_score`,
:func:`accuracy`.
"""

from neuro_igc.models._checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from neuro_igc.models._convnext import ConvNeXtBlock, EncodingConvNeXt
from neuro_igc.models._digits import DigitsClassifier, load_digits_datasets
from neuro_igc.models._ensemble import Ensemble, EnsembleResult, fit_ensemble
from neuro_igc.models._layers import (
    DropPath,
    LayerNorm2d,
    PerSubjectBatchNorm1d,
    PerSubjectLinear,
    SubjectLinear,
    init_kaiming_,
    init_xavier_,
)
from neuro_igc.models._metrics import METRICS, accuracy, pearson_r, r2_score
from neuro_igc.models._mlp import DecodingMLP
from neuro_igc.models._registry import MODELS, build_model
from neuro_igc.models._ridge import DEFAULT_ALPHAS, Ridge
from neuro_igc.models._train import GROUPINGS, LOSSES, FitResult, TrainingSettings, evaluate, fit, predict

__all__ = [
    "SubjectLinear",
    "PerSubjectLinear",
    "PerSubjectBatchNorm1d",
    "DropPath",
    "LayerNorm2d",
    "init_kaiming_",
    "init_xavier_",
    "DecodingMLP",
    "EncodingConvNeXt",
    "ConvNeXtBlock",
    "Ridge",
    "DEFAULT_ALPHAS",
    "DigitsClassifier",
    "load_digits_datasets",
    "MODELS",
    "build_model",
    "fit",
    "evaluate",
    "predict",
    "FitResult",
    "TrainingSettings",
    "LOSSES",
    "GROUPINGS",
    "fit_ensemble",
    "Ensemble",
    "EnsembleResult",
    "save_checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "pearson_r",
    "r2_score",
    "accuracy",
    "METRICS",
]
