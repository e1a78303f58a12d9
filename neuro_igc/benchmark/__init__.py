"""The paper's synthetic attribution benchmark (Section 4): 1/f images, Exp. A-D, scores.

Public names
------------
make_images, spectral_slope : 1/f random images and their measured spectral slope.
ExperimentA .. ExperimentD, EXPERIMENTS, make_experiment : the true differentiable statistics,
    their samplers, ground truths and regions.
truth_correlation, sign_agreement, overlap_ratio, unreliable_ratio, score_map : recovery scores.
"""

from neuro_igc.benchmark._experiments import (
    EXPERIMENTS,
    BenchmarkData,
    ExperimentA,
    ExperimentB,
    ExperimentC,
    ExperimentD,
    make_experiment,
)
from neuro_igc.benchmark._images import make_images, radial_amplitude_spectrum, spectral_slope
from neuro_igc.benchmark._scoring import (
    PAPER_VALUES,
    overlap_ratio,
    score_map,
    sign_agreement,
    truth_correlation,
    unreliable_ratio,
)

__all__ = [
    "EXPERIMENTS",
    "BenchmarkData",
    "ExperimentA",
    "ExperimentB",
    "ExperimentC",
    "ExperimentD",
    "make_experiment",
    "make_images",
    "radial_amplitude_spectrum",
    "spectral_slope",
    "PAPER_VALUES",
    "overlap_ratio",
    "score_map",
    "sign_agreement",
    "truth_correlation",
    "unreliable_ratio",
]
