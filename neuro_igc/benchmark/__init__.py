"""The paper's synthetic attribution benchmark (Section 4): 1/f images, Exp. A-D, scores.

Public names
------------
run_benchmark, METHODS, DEFAULT_SETTINGS, PAPER_SETTINGS, TABLE_COLUMNS : every method on every
    experiment, scored against the ground truth (a pandas DataFrame).
make_images, spectral_slope, radial_amplitude_spectrum : 1/f random images and their spectrum.
ExperimentA .. ExperimentD, EXPERIMENTS, make_experiment, BenchmarkData : the true differentiable
    statistics, their samplers, ground truths and regions.
truth_correlation, sign_agreement, overlap_ratio, unreliable_ratio, score_map, PAPER_VALUES :
    recovery scores and the paper's numbers.
plot_benchmark, write_tables, table_to_markdown : the Fig. 1 layout figure and the score tables.
digits_igc, plot_digits_igc, DigitsIGC : per-class IGC of the digits classifier (Fig. 6 analogue).

Matplotlib is imported only inside the plotting functions.
"""

from neuro_igc.benchmark._digits import DigitsIGC, digits_igc, plot_digits_igc
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
from neuro_igc.benchmark._report import plot_benchmark, table_to_markdown, write_tables
from neuro_igc.benchmark._run import DEFAULT_SETTINGS, METHODS, PAPER_SETTINGS, TABLE_COLUMNS, run_benchmark
from neuro_igc.benchmark._scoring import (
    PAPER_VALUES,
    overlap_ratio,
    score_map,
    sign_agreement,
    truth_correlation,
    unreliable_ratio,
)

__all__ = [
    "run_benchmark",
    "METHODS",
    "DEFAULT_SETTINGS",
    "PAPER_SETTINGS",
    "TABLE_COLUMNS",
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
    "plot_benchmark",
    "table_to_markdown",
    "write_tables",
    "DigitsIGC",
    "digits_igc",
    "plot_digits_igc",
]
