"""The paper's synthetic attribution benchmark (Section 4): 1/f images, Exp. A-D, scores.

Public names
------------
run_benchmark, METHODS, DEFAULT_SETTINGS, PAPER_SETTINGS, TABLE_COLUMNS : every method on every
    experiment, scored against the ground truth (a pandas DataFrame).
make_images, spectral_slope, radial_amplitude_spectrum : 1/f random images and their spectrum.
ExperimentA .. ExperimentD, EXPERIMENTS, make_experiment, BenchmarkData : the true differentiable
    statistics, their samplers, ground truths and regions.
truth_correlation, magnitude, sign_agreement, overlap_ratio, unreliable_ratio, score_map,
paper_comparison, PAPER_VALUES, PAPER_RECOVERY, PAPER_VANISHING : recovery scores, the paper's
    numbers and ours beside them.
pixel_coordinates, gaussian_density, density_disc, disc_radius, square_mask : the geometry.
plot_benchmark, write_tables, table_to_markdown : the Fig. 1 layout figure and the score tables.
digits_igc, plot_digits_igc, DigitsIGC : per-class IGC of the digits classifier (Fig. 6 analogue).
run_step_study, steps_summary, plot_step_study, write_step_report : IG/IGC x paths x rules against the
    number of steps (completeness, convergence, recovery of the planted truth) and its report.

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
    density_disc,
    disc_radius,
    gaussian_density,
    make_experiment,
    pixel_coordinates,
    square_mask,
)
from neuro_igc.benchmark._images import make_images, radial_amplitude_spectrum, spectral_slope
from neuro_igc.benchmark._report import plot_benchmark, table_to_markdown, write_tables
from neuro_igc.benchmark._run import (
    DEFAULT_SETTINGS,
    METHODS,
    PAPER_SETTINGS,
    TABLE_COLUMNS,
    MethodContext,
    run_benchmark,
)
from neuro_igc.benchmark._steps import (
    STEP_STUDY_COLUMNS,
    STEP_STUDY_DEFAULTS,
    plot_step_study,
    run_step_study,
    steps_summary,
    write_step_report,
)
from neuro_igc.benchmark._scoring import (
    PAPER_RECOVERY,
    PAPER_VALUES,
    PAPER_VANISHING,
    magnitude,
    overlap_ratio,
    paper_comparison,
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
    "MethodContext",
    "EXPERIMENTS",
    "BenchmarkData",
    "ExperimentA",
    "ExperimentB",
    "ExperimentC",
    "ExperimentD",
    "make_experiment",
    "pixel_coordinates",
    "gaussian_density",
    "density_disc",
    "disc_radius",
    "square_mask",
    "make_images",
    "radial_amplitude_spectrum",
    "spectral_slope",
    "PAPER_VALUES",
    "PAPER_RECOVERY",
    "PAPER_VANISHING",
    "magnitude",
    "paper_comparison",
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
    "run_step_study",
    "steps_summary",
    "plot_step_study",
    "write_step_report",
    "STEP_STUDY_DEFAULTS",
    "STEP_STUDY_COLUMNS",
]
