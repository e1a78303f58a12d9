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
# # Decoding image statistics from the visual cortex (the paper's Section 5.1)
#
# A decoding MLP predicts two statistics of the image a subject sees -- luminance contrast and
# the 1/f spectral slope -- from the betas of visual-cortex vertices. IGC then says *where* the
# model finds each statistic, vertex by vertex, and summed over ROIs.
#
# The pipeline `decoding_image_stats` does it all and writes BIDS derivatives; this notebook runs
# it on a synthetic NSD-like folder (whose truth is known) and continues from its outputs.
# Point `NSD_ROOT` at a real NSD folder to run it on NSD.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pandas as pd

from neuro_igc.attribution import AttributionResult
from neuro_igc.data import load_truth, make_nsd_like
from neuro_igc.pipeline import load_config, run_pipeline

SMALL = os.environ.get("NEURO_IGC_NOTEBOOK_SMALL") == "1"  # the test run uses small settings
WORKDIR = Path(os.environ.get("NEURO_IGC_WORKDIR", "notebook_output"))
NSD_ROOT = Path(os.environ.get("NEURO_IGC_NSD_ROOT", WORKDIR / "nsd_synthetic"))
OUTPUT = WORKDIR / "derivatives"

# %% [markdown]
# ## A synthetic NSD-like folder
# Same layout, names and formats as NSD, two subjects, and a planted truth: the vertices of one
# ROI carry the luminance contrast, those of another the 1/f slope.

# %%
if not NSD_ROOT.exists():
    make_nsd_like(NSD_ROOT, subjects=2, sessions=2, seed=0, volume_spaces=(), progress=False)
truth = load_truth(NSD_ROOT)
truth.statistics

# %% [markdown]
# ## The pipeline
# The shipped config, with a few values overridden (the same keys as in the YAML file).

# %%
overrides = {"training.epochs": 3, "attribution.n_steps": 8} if SMALL else {}
config = load_config("decoding_image_stats", overrides=overrides)
print(config.model.name, config.data.targets, config.outputs.roi.atlases)

participant = run_pipeline(NSD_ROOT, OUTPUT, "participant", config, device="cpu", progress=False)
print(participant.summary_text())
group = run_pipeline(NSD_ROOT, OUTPUT, "group", config, device="cpu", progress=False)
print(group.summary_text())

# %% [markdown]
# Running it again skips every step whose settings did not change (`force=True` redoes them).

# %%
again = run_pipeline(NSD_ROOT, OUTPUT, "participant", config, device="cpu", progress=False)
print(sum(r.skipped for r in again.records), "of", len(again.records), "steps skipped")

# %% [markdown]
# ## Continue from the derivatives
# The IGC result of subject 01 (maps, correlation, errors, settings) and its vertex table.

# %%
root = participant.root
res = AttributionResult.load(root / "sub-01" / "func" / "sub-01_desc-imagestats_igc.npz")
vertices = pd.read_csv(root / "sub-01" / "func" / "sub-01_desc-imagestats_vertices.tsv", sep="\t")
print(res)
print("maps sum to the correlation:", np.round(res.attributions.sum(axis=1), 4), np.round(res.correlation, 4))

# %% [markdown]
# ROI sums of each map (one table per atlas, with a JSON sidecar describing the columns), and
# the group mean +/- SD across subjects.

# %%
rois = pd.concat([pd.read_csv(p, sep="\t") for p in sorted((root / "sub-01" / "func").glob("*_roisums.tsv"))])
summary = pd.concat([pd.read_csv(p, sep="\t").assign(atlas=p.name.split("atlas-")[1].split("_")[0])  # atlas-<name>
                     for p in sorted((root / "group").glob("*_roisummary.tsv"))])
best = summary[summary["roi"] != "(other)"].sort_values("mean", ascending=False).groupby("output").head(3)
best[["output", "atlas", "roi", "mean", "sd", "n_subjects"]]

# %% [markdown]
# The surface maps are GIFTI (and .mgz for freeview); nilearn and nibabel read them directly.

# %%
gii = sorted((root / "sub-01" / "func").glob("sub-01_hemi-L_*LuminanceContrast_statmap.func.gii"))[0]
lh = nib.load(gii).darrays[0].data
print(gii.name, lh.shape, "vertices with a value (0 elsewhere, see the _dseg):", int((lh != 0).sum()))
print((root / "sub-01" / "func" / "sub-01_desc-imagestatsLuminanceContrast_freeview.txt").read_text())

# %%
fig, ax = plt.subplots(figsize=(5, 3))
part = rois[(rois["output"] == "luminance_contrast") & (rois["roi"] != "(other)")]
ax.bar(part["roi"], part["value"])
ax.set_ylabel("ROI sum of IGC")
ax.set_title("sub-01: luminance contrast")
ax.tick_params(axis="x", rotation=90)
fig.tight_layout()

# %% [markdown]
# The report of the run (settings, scores, errors, figures, freeview commands):

# %%
print(participant.report)
