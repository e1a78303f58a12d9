"""Dataset-wise attribution: IG, IGC, IGaC, categorical IGC, naive IG, BSC and data-only maps.

Entry points: :func:`ig` (per-sample Integrated Gradients, baselines drawn
afresh for every sample), :func:`igc` (Integrated Gradient Correlation; integer labels give per-class maps, also
:func:`igc_categorical`), :func:`igac` (auto-correlation variant, sums to 1), :func:`naive_ig`
(mean and SD of IG), :func:`bsc` (Baseline-Shapley correlation, a slow reference),
:func:`layer_igc` / :func:`layer_igac` / :func:`layer_conductance` (the same over the units of an
internal layer, from the conductance decomposition of IG),
:func:`correlation_map` and :func:`ttest_map` (no model); :func:`model_outputs` gives the
``f(x)`` they correlate. Results are
:class:`AttributionResult` objects (maps, correlation, IG/IGC errors, settings, save/load,
ROI sums). Every function takes the data positionally and its settings as keywords, all
defined once in :class:`AttributionSettings`; :class:`IGC` keeps a model and one set of settings.

The engine streams over samples with float64 accumulators and uses exact shortcuts (frozen
parameters, batched vector-Jacobian products, readout and input-linear factorizations,
Gauss-Legendre quadrature), each switchable and tested equal to the plain computation. Every
function takes ``rule`` ("quadrature" or "idgi") and ``path`` ("straight", "blur", "guided").
"""

from neuro_igc.attribution._bsc import bsc
from neuro_igc.attribution._model import OUTPUT_TRANSFORMS
from neuro_igc.attribution._settings import VJP_MODES
from neuro_igc.attribution._igc import (IG_ERROR_WARN, IGC, IGC_ERROR_WARN, ig, igac, igc, igc_categorical, model_outputs,
                                        naive_ig)
from neuro_igc.attribution._layer import CONDUCTANCE_FORMS
from neuro_igc.attribution._layer_igc import layer_conductance, layer_igac, layer_igc
from neuro_igc.attribution._maps import correlation_map, ttest_map
from neuro_igc.attribution._quadrature import CAPTUM_METHOD_NAMES, QUADRATURE_RULES, quadrature
from neuro_igc.attribution._paths import PATHS, BlurPath, GuidedPath, StraightPath
from neuro_igc.attribution._result import AttributionAccuracyWarning, AttributionResult, NaiveIG
from neuro_igc.attribution._rules import RULES
from neuro_igc.attribution._settings import BASELINE_MODES, AttributionSettings

__all__ = [
    "ig",
    "igc",
    "igac",
    "igc_categorical",
    "naive_ig",
    "model_outputs",
    "bsc",
    "layer_igc",
    "layer_igac",
    "layer_conductance",
    "CONDUCTANCE_FORMS",
    "RULES",
    "PATHS",
    "StraightPath",
    "BlurPath",
    "GuidedPath",
    "IGC",
    "AttributionSettings",
    "BASELINE_MODES",
    "correlation_map",
    "ttest_map",
    "AttributionResult",
    "NaiveIG",
    "AttributionAccuracyWarning",
    "QUADRATURE_RULES",
    "CAPTUM_METHOD_NAMES",
    "quadrature",
    "VJP_MODES",
    "OUTPUT_TRANSFORMS",
    "IGC_ERROR_WARN",
    "IG_ERROR_WARN",
]
