# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Population receptive fields from an encoding model (the paper's Section 5.2)
#
# A ConvNeXt predicts the betas of early visual vertices from the images. The IGC map of each
# vertex over the image is where the model looks to predict it: its population receptive field
# (pRF). A 2-D Gaussian fitted to it gives the pRF's polar angle, eccentricity and size.
#
# The pipeline `encoding_prf` trains the encoder, computes the maps, fits the pRFs and writes
# angle/eccentricity/size maps for freeview. On the synthetic folder the planted pRFs are known.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from neuro_igc.attribution import AttributionResult
from neuro_igc.data import load_truth, make_nsd_like
from neuro_igc.pipeline import load_config, run_pipeline
from neuro_igc.prf import fit_prf

SMALL = os.environ.get("NEURO_IGC_NOTEBOOK_SMALL") == "1"  # the test run uses small settings
WORKDIR = Path(os.environ.get("NEURO_IGC_WORKDIR", "notebook_output"))
NSD_ROOT = Path(os.environ.get("NEURO_IGC_NSD_ROOT", WORKDIR / "nsd_synthetic"))
OUTPUT = WORKDIR / "derivatives"

# %%
if not NSD_ROOT.exists():
    make_nsd_like(NSD_ROOT, subjects=2, sessions=2, seed=0, volume_spaces=(), progress=False)

overrides = {}
if SMALL:  # a tiny encoder on V1 only, a few samples: checks the wiring, not the science
    overrides = {"training.epochs": 2, "data.roi_labels": ["V1v", "V1d"], "data.image_size": 16,
                 "model.params.hidden": 8, "model.params.stem_width": 4, "model.params.widths": [8],
                 "attribution.n_samples": 8, "attribution.baselines": 2, "attribution.n_steps": 4,
                 "outputs.figures": False}
config = load_config("encoding_prf", overrides=overrides)
result = run_pipeline(NSD_ROOT, OUTPUT, "participant", config, participants=["01"], device="cpu",
                      progress=False)
print(result.summary_text())

# %% [markdown]
# ## The fitted pRFs
# One row per vertex: centre (x, y), sigma, polar angle (0 = right horizontal meridian, 90 =
# upper vertical meridian), eccentricity and size in degrees, fit R2, and the model's
# correlation with the vertex's betas.

# %%
root = result.root
params = pd.read_csv(root / "sub-01" / "func" / "sub-01_desc-prf_prf.tsv", sep="\t")
params.head()

# %% [markdown]
# ## Against the planted truth

# %%
planted = load_truth(NSD_ROOT).prf(1)
m = params.merge(planted, on=["hemi", "vertex"], suffixes=("", "_true"))
v1 = m[m["roi_name"].isin(["V1v", "V1d"])]
error = np.hypot(v1["x"] - v1["x_true"], v1["y"] - v1["y_true"])
print(f"V1: {len(v1)} vertices, median centre error {np.median(error):.2f} deg, "
      f"size correlation {np.corrcoef(v1['size'], v1['sigma_true'])[0, 1]:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
axes[0].scatter(v1["x_true"], v1["y_true"], s=4, c="C7", label="planted")
axes[0].scatter(v1["x"], v1["y"], s=4, c="C3", label="fitted")
axes[0].set_aspect("equal")
axes[0].set_title("V1 pRF centres (deg)")
axes[0].legend(fontsize=7)
axes[1].scatter(v1["sigma_true"], v1["size"], s=4)
axes[1].set_xlabel("planted sigma (deg)")
axes[1].set_ylabel("fitted size (deg)")
fig.tight_layout()

# %% [markdown]
# ## Refit from the saved IGC maps
# The maps are kept (``_igc.npz``, one image-space map per vertex): fit them again with other
# settings, e.g. the signed map instead of its positive part.

# %%
res = AttributionResult.load(root / "sub-01" / "func" / "sub-01_desc-prf_igc.npz")
maps = res.attributions.sum(axis=1)  # (n_vertices, H, W)
signed = fit_prf(maps[:50], extent_deg=8.4, sign="signed", progress=False)
signed[["x", "y", "sigma", "r2"]].describe()
