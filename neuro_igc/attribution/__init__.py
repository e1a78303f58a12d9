"""Dataset-wise attribution: IG, IGC, IGaC, categorical IGC, naive IG, BSC and data-only maps.

Entry points (see DESIGN.md): :func:`ig` (per-sample Integrated Gradients over a baseline
set), :func:`igc` (Integrated Gradient Correlation; integer labels give per-class maps, also
:func:`igc_categorical`), :func:`igac` (auto-correlation variant, sums to 1), :func:`naive_ig`
(mean and SD of IG), :func:`bsc` (Baseline-Shapley correlation, a slow reference),
:func:`correlation_map` and :func:`ttest_map` (no model). Results are
:class:`AttributionResult` objects (maps, correlation, IG/IGC errors, settings, save/load,
ROI sums).

The engine streams over samples with float64 accumulators and uses exact shortcuts (frozen
parameters, batched vector-Jacobian products, readout and input-linear factorizations,
Gauss-Legendre quadrature), each switchable and tested equal to the plain computation.
"""

from neuro_igc.attribution._bsc import bsc
from neuro_igc.attribution._engine import OUTPUT_TRANSFORMS, VJP_MODES
from neuro_igc.attribution._igc import IGC_ERROR_WARN, ig, igac, igc, igc_categorical, naive_ig
from neuro_igc.attribution._maps import correlation_map, ttest_map
from neuro_igc.attribution._quadrature import CAPTUM_METHOD_NAMES, QUADRATURE_RULES, quadrature
from neuro_igc.attribution._result import AttributionAccuracyWarning, AttributionResult, NaiveIG

__all__ = [
    "ig",
    "igc",
    "igac",
    "igc_categorical",
    "naive_ig",
    "bsc",
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
]
