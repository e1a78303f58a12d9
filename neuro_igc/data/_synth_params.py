"""Parameters of the planted truth shared by ``synthetic`` (the public API) and the folder writer."""

from __future__ import annotations

__all__ = ["PLANTED_STATISTICS", "ROI_SNR_FACTOR", "NOISE_SD_RANGE", "OFFSET_SD"]

#: statistic -> (atlas, ROI) whose vertices carry it
PLANTED_STATISTICS = {
    "luminance_contrast": {"atlas": "floc-bodies", "roi": "EBA"},
    "spectral_slope": {"atlas": "floc-places", "roi": "PPA"},
}
ROI_SNR_FACTOR = {1: 1.0, 2: 1.0, 3: 0.9, 4: 0.9, 5: 0.8, 6: 0.8, 7: 0.7}
NOISE_SD_RANGE = (1.5, 2.5)
OFFSET_SD = 0.5
