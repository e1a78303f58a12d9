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
# # Decode image statistics with your own MLP, and ask where it finds them (the paper's Section 5.1)
#
# You have betas from the Natural Scenes Dataset (NSD) and your own PyTorch model. This notebook
# goes from the NSD folder to IGC maps on the cortical surface with the package's public API:
#
# 1. `NSD.betas`: single-trial betas of the visual cortex on fsaverage, z-scored per session;
# 2. the targets: luminance contrast and 1/f spectral slope of each image the subject saw;
# 3. **your own** `torch.nn.Module`, trained with a plain PyTorch loop;
# 4. `igc`: one map per decoded statistic, one value per vertex, that adds up to the model's
#    correlation with the truth (less a *baseline term*, explained below);
# 5. the maps back on the two hemispheres, plotted with nilearn, and summed over NSD's ROIs.
#
# It runs on a synthetic NSD-like folder (same layout and formats, and a planted answer: the
# vertices of EBA carry the luminance contrast, those of PPA the 1/f slope). Point `NSD_ROOT` at a
# real NSD folder to run it on NSD. The command-line pipeline `decoding_image_stats` does the same
# for several subjects, with a report (`neuro-igc NSD_ROOT OUT participant --config
# decoding_image_stats`).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from neuro_igc.attribution import igc
from neuro_igc.data import NSD, load_truth, make_nsd_like, train_val_split
from neuro_igc.data.features import image_statistics

SMALL = os.environ.get("NEURO_IGC_NOTEBOOK_SMALL") == "1"  # the test run uses small settings
WORKDIR = Path(os.environ.get("NEURO_IGC_WORKDIR", "notebook_output"))
NSD_ROOT = Path(os.environ.get("NEURO_IGC_NSD_ROOT", WORKDIR / "nsd_synthetic"))
EPOCHS = 30 if SMALL else 60
BASELINES = 24 if SMALL else 64  # more baselines per image: a smaller baseline term (see below)
torch.manual_seed(0)

# %% [markdown]
# ## The betas
# A synthetic folder is written when `NSD_ROOT` does not exist (two subjects, two sessions).
# `NSD.betas` reads one subject's betas in percent signal change; here the vertices of the
# `nsdgeneral` visual-cortex ROI on fsaverage, decimated to fsaverage5 (10,242 vertices per
# hemisphere), z-scored per session and vertex with statistics that leave out the shared images
# (they are the validation set).

# %%
if not NSD_ROOT.exists():
    make_nsd_like(NSD_ROOT, subjects=2, sessions=2, seed=0, volume_spaces=(), progress=False)
nsd = NSD(NSD_ROOT, progress=False)
betas = nsd.betas(1, space="fsaverage", roi="nsdgeneral", density="fsaverage5", zscore=True,
                  zscore_exclude=nsd.shared_ids)
print(betas.data.shape, betas.data.dtype, "(trials, vertices)")
print("first trials show images", betas.image_ids[:5], "(0-based 73k ids)")
print("each column is a vertex of one hemisphere:", dict(zip(*np.unique(betas.hemi, return_counts=True))))

# %% [markdown]
# Training on single trials, validation on the shared images averaged over their repeats (as in
# the paper):

# %%
train, val = train_val_split(betas, nsd.shared_ids)
print(f"{train.n_trials} training trials, {val.n_trials} validation images")

# %% [markdown]
# ## The targets
# Two statistics of each image's luminance, z-scored with the training images' mean and SD.

# %%
targets = ["luminance_contrast", "spectral_slope"]
ids = np.unique(np.concatenate([train.image_ids, val.image_ids]))
stats = image_statistics(nsd.stimuli(ids, luminance=True), targets).set_index(ids)
mean, sd = stats.loc[train.image_ids].mean(), stats.loc[train.image_ids].std()
stats = (stats - mean) / sd
x_train = torch.tensor(train.data)
y_train = torch.tensor(stats.loc[train.image_ids].to_numpy(), dtype=torch.float32)
x_val = torch.tensor(val.data)
y_val = torch.tensor(stats.loc[val.image_ids].to_numpy(), dtype=torch.float32)
print("inputs", tuple(x_train.shape), "targets", tuple(y_train.shape))


# %% [markdown]
# ## Your own model
# Any `nn.Module` mapping `(n, n_vertices)` to `(n, n_outputs)` works. Smooth activations (GELU,
# Mish, Softplus) suit the Gauss-Legendre quadrature IGC uses by default; with ReLU, raise
# `n_steps`. IGC finds the model's first linear layer and its last one on its own and uses them to
# integrate in a small space (the exact factorizations): the result says which it used.

# %%
class MyDecoder(nn.Module):
    def __init__(self, n_inputs: int, n_outputs: int, hidden: int = 64):
        super().__init__()
        self.encode = nn.Sequential(nn.Dropout(0.25), nn.Linear(n_inputs, hidden), nn.GELU(), nn.Dropout(0.25))
        self.body = nn.Sequential(nn.Linear(hidden, 32), nn.GELU(), nn.Linear(32, 16), nn.GELU())
        self.head = nn.Linear(16, n_outputs)

    def forward(self, x):
        return self.head(self.body(self.encode(x)))


model = MyDecoder(x_train.shape[1], len(targets))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-3)
losses = []
for epoch in range(EPOCHS):
    model.train()
    for batch in torch.randperm(len(x_train)).split(32):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x_train[batch]), y_train[batch])
        loss.backward()
        optimizer.step()
    losses.append(loss.item())
model.eval()
with torch.no_grad():
    pred = model(x_val).numpy()
r = [np.corrcoef(pred[:, k], y_val[:, k])[0, 1] for k in range(len(targets))]
print("validation r:", dict(zip(targets, np.round(r, 3))))

fig, axes = plt.subplots(1, 3, figsize=(11, 3))
axes[0].plot(losses)
axes[0].set(xlabel="epoch", ylabel="training loss (MSE, last batch)")
for ax, k in zip(axes[1:], range(len(targets))):
    ax.scatter(y_val[:, k], pred[:, k], s=8)
    ax.set(xlabel=f"true {targets[k]} (z)", ylabel="predicted (z)", title=f"r = {r[k]:.2f}")
fig.tight_layout()

# %% [markdown]
# ## IGC
# Integrated Gradients of each validation image against `BASELINES` baselines (other validation images,
# drawn afresh for every image, the paper's Eq. 2), 16 Gauss-Legendre nodes per path, turned into
# one correlation map per output.

# %%
# warn=False: the errors are printed below, with what they are made of (igc warns by default)
res = igc(model, x_val, y_val, baselines=BASELINES, n_steps=16, seed=0, progress=False, warn=False)
print(res)
print("factorizations used:", res.settings.get("factorizations"))

# %% [markdown]
# **Why the map's sum is not exactly the correlation.** IG of image $i$ explains
# $f(x_i) - \bar f(b_i)$, the output minus the mean output of *its* baselines. So the map sums to
# the correlation of $f(x) - \bar f(b)$ with $y$, which is the correlation of $f(x)$ with $y$
# minus the **baseline term** $\mathrm{cov}(\bar f(b), y) / (\mathrm{sd}(f)\,\mathrm{sd}(y))$.
# The baselines are drawn at random, so this term is sampling noise: it shrinks with more images
# and more baselines, and is part of `igc_error` (the paper's target: below 0.01), together with
# the quadrature error of the path integral.

# %%
for k, name in enumerate(targets):
    total = res.attributions[k].sum()
    print(f"{name}: sum of the map {total:.4f} + baseline term {res.baseline_term[k]:.4f} = "
          f"{total + res.baseline_term[k]:.4f}; correlation {res.correlation[k]:.4f}; "
          f"IGC error {res.igc_error[k]:.4f}{' (above the target)' if res.igc_error[k] > 0.01 else ''}; "
          f"IG error {res.ig_error[k]:.1e}")

# %% [markdown]
# ## Back on the cortex
# Each column of the betas is a vertex of one hemisphere (`betas.hemi`, `betas.vertex`), and so is
# each value of a map. `res.to_surface_image` puts the maps back on the fsaverage5 mesh as a
# nilearn `SurfaceImage`, left and right hemispheres together; nilearn plots it directly.

# %%
from nilearn import datasets, plotting  # noqa: E402

img = res.to_surface_image(betas, output=0)  # luminance contrast
sulc = datasets.load_fsaverage_data("fsaverage5", data_type="sulcal")  # bundled with nilearn: no download
print(img.mesh.parts["left"].n_vertices, "vertices per hemisphere")
vmax = float(np.nanmax(np.abs(res.attributions[0])))
fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), subplot_kw={"projection": "3d"})
for ax, (hemi, view) in zip(axes, [("left", "medial"), ("left", "ventral"), ("right", "medial"),
                                   ("right", "ventral")]):
    plotting.plot_surf_stat_map(stat_map=img, bg_map=sulc.data.parts[hemi], hemi=hemi, view=view, cmap="RdBu_r", vmax=vmax,
                                threshold=0.05 * vmax, axes=ax, figure=fig, colorbar=False, title=f"{hemi} {view}")
fig.colorbar(plt.cm.ScalarMappable(cmap="RdBu_r", norm=plt.Normalize(-vmax, vmax)), ax=list(axes),
             shrink=0.7, label="IGC of luminance contrast per vertex (units of r)")
fig.suptitle("IGC map of luminance contrast, subject 01");

# %% [markdown]
# ## Summed over ROIs
# IGC maps are additive: the sum over an ROI is that ROI's share of the correlation. `NSD.roi`
# reads an atlas aligned with the betas' vertices (subject atlases such as the floc ROIs are
# drawn on the subject's own surface and reach fsaverage through NSD's transforms).

# %%
import pandas as pd  # noqa: E402

tables = []
for atlas in ("prf-visualrois", "floc-bodies", "floc-places"):
    rois = nsd.roi(atlas, "fsaverage", subject=1, like=betas)
    t = res.roi_sum(rois)  # the ROI table: subject, output, roi, value, n_features
    t["output"] = [targets[o] for o in t["output"]]
    tables.append(t[t["roi"] != "(other)"].assign(atlas=atlas))
roi_sums = pd.concat(tables)
pivot = roi_sums.pivot_table(index=["atlas", "roi"], columns="output", values="value", sort=False)
pivot.round(4)

# %%
print("planted:", {k: v["roi"] for k, v in load_truth(NSD_ROOT).statistics.items()})
print("top ROI per statistic:", pivot.idxmax().map(lambda key: key[1]).to_dict())
