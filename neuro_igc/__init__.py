"""neuro_igc: Integrated Gradient Correlation for fMRI decoding and encoding models.

Subpackages
-----------
data         NSD loaders, image features, torch Datasets, synthetic NSD-like folders
models       model zoo (decoding MLP, encoding ConvNeXt, ridge, digits classifier), training
attribution  IG, IGC, IGaC, categorical IGC, naive aggregations, Baseline-Shapley correlation
surface      feature vectors back to fsaverage / volumes, export for freeview, plots
atlas        ROI atlases and ROI summaries
prf          vectorized 2-D Gaussian pRF fits of image-space maps
benchmark    the paper's synthetic benchmark (Exp. A-D)
pipeline     config-driven BIDS-App style runs and reports
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
