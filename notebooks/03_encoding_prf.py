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
# # Population receptive fields from your own encoding CNN (the paper's Section 5.2)
#
# An encoding model predicts each vertex's betas from the image the subject saw. The IGC map of
# one vertex *over the image* says where the model looks to predict it: its population receptive
# field (pRF). A 2-D Gaussian fitted to each map gives the pRF's position, polar angle,
# eccentricity and size in degrees of visual angle.
#
# With the package's public API, on your own `torch.nn.Module`:
#
# 1. `NSD.betas` of the early visual ROIs (drawn on the subject's own surface, reaching fsaverage
#    through NSD's transforms) and `NSD.stimuli` as luminance images;
# 2. a small CNN of your own, trained with a plain PyTorch loop;
# 3. `igc`: one image-space map per vertex;
# 4. `fit_prf`: the pRF of every vertex, checked against the synthetic folder's planted pRFs;
# 5. eccentricity and model correlation back on the cortex, plotted with nilearn.
#
# The command-line pipeline `encoding_prf` does the same for several subjects with a report.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from neuro_igc.attribution import igc
from neuro_igc.data import NSD, load_truth, make_nsd_like, train_val_split
from neuro_igc.prf import fit_prf
from neuro_igc.surface import to_surface_image

SMALL = os.environ.get("NEURO_IGC_NOTEBOOK_SMALL") == "1"  # the test run uses small settings
WORKDIR = Path(os.environ.get("NEURO_IGC_WORKDIR", "notebook_output"))
NSD_ROOT = Path(os.environ.get("NEURO_IGC_NSD_ROOT", WORKDIR / "nsd_synthetic"))
SIZE, EPOCHS = (16, 40) if SMALL else (32, 60)
ROIS = ["V1v", "V1d"] if SMALL else ["V1v", "V1d", "V2v", "V2d", "V3v", "V3d"]
EXTENT_DEG = 8.4  # NSD's images span 8.4 degrees of visual angle
torch.manual_seed(0)

# %% [markdown]
# ## Betas and images
# The vertices of V1 (and V2, V3) of subject 01 on fsaverage5; each trial's image as luminance
# (linear CIE Y), block-averaged to `SIZE` x `SIZE` pixels.

# %%
if not NSD_ROOT.exists():
    make_nsd_like(NSD_ROOT, subjects=2, sessions=2, seed=0, volume_spaces=(), progress=False)
nsd = NSD(NSD_ROOT, progress=False)
betas = nsd.betas(1, space="fsaverage", roi=("prf-visualrois", ROIS), density="fsaverage5", zscore=True,
                  zscore_exclude=nsd.shared_ids)
train, val = train_val_split(betas, nsd.shared_ids)
print(f"{betas.n_features} vertices; {train.n_trials} training trials, {val.n_trials} validation images")


def images(ids):
    lum = nsd.stimuli(ids, size=SIZE, luminance=True)
    return torch.tensor((lum - 0.5) / 0.25, dtype=torch.float32)[:, None]  # (n, 1, H, W)


x_train, y_train = images(train.image_ids), torch.tensor(train.data)
x_val, y_val = images(val.image_ids), torch.tensor(val.data)
print("images", tuple(x_train.shape), "betas", tuple(y_train.shape))


# %% [markdown]
# ## Your own CNN
# Convolutions with smooth activations, then one linear readout per vertex. IGC finds the readout
# (the last linear layer) by itself: the IG of every vertex is the readout applied to the IG of
# the few units before it, so attributing thousands of vertices costs little more than one.

# %%
class MyEncoder(nn.Module):
    def __init__(self, n_vertices: int, size: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 5, padding=2), nn.GELU(), nn.AvgPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.GELU(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(16 * (size // 4) ** 2, 64), nn.GELU(),
        )
        self.readout = nn.Linear(64, n_vertices)

    def forward(self, x):
        return self.readout(self.features(x))


model = MyEncoder(betas.n_features, SIZE)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
for epoch in range(EPOCHS):
    model.train()
    for batch in torch.randperm(len(x_train)).split(32):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x_train[batch]), y_train[batch]).backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    pred = model(x_val).numpy()
r = np.array([np.corrcoef(pred[:, v], val.data[:, v])[0, 1] for v in range(betas.n_features)])
print(f"validation r per vertex: median {np.nanmedian(r):.2f}, 90th percentile {np.nanpercentile(r, 90):.2f}")

# %% [markdown]
# ## IGC: one map over the image per vertex
# `res.attributions` has shape `(n_vertices, 1, H, W)`. Each map sums to the vertex's correlation
# with its betas, less the baseline term (the correlation of the baselines' mean prediction with
# the betas: random-draw noise that shrinks with more images and baselines; the notebook on
# decoding explains it). Both gaps are in `igc_error`.

# %%
res = igc(model, x_val, y_val, baselines=8, n_steps=8, seed=0, progress=False, warn=False)
print(res)
print("readout factorization used:", res.settings["factorizations"]["readout"]["used"])
sums = res.attributions.reshape(len(r), -1).sum(axis=1)
print(f"map sums + baseline terms = correlations: max gap "
      f"{np.max(np.abs(sums + res.baseline_term - res.correlation)):.1e} (quadrature error); "
      f"median |baseline term| {np.median(np.abs(res.baseline_term)):.3f}")

# %% [markdown]
# ## pRFs
# A 2-D Gaussian fitted to each vertex's map (the signed map, as the pipeline does): centre
# `x, y`, `sigma`, polar angle (0 = right horizontal meridian, 90 = upper vertical meridian),
# eccentricity and size in degrees, and the fit's R2.

# %%
maps = res.attributions[:, 0]  # (n_vertices, H, W)
params = fit_prf(maps, extent_deg=EXTENT_DEG, sign="signed", progress=False)
params.insert(0, "hemi", betas.hemi)
params.insert(1, "vertex", betas.vertex)
params.head()

# %% [markdown]
# The synthetic folder planted a Gaussian pRF in every visual vertex; compare, for the vertices the
# model predicts well:

# %%
planted = load_truth(NSD_ROOT).prf(1)
m = params.assign(r=r).merge(planted, on=["hemi", "vertex"], suffixes=("", "_true"))
good = m[m["r"] > np.nanpercentile(r, 50)]
error = np.hypot(good["x"] - good["x_true"], good["y"] - good["y_true"])
print(f"{len(good)} well-predicted vertices: median centre error {np.median(error):.2f} deg, "
      f"eccentricity correlation {np.corrcoef(good['eccentricity'], good['eccentricity_true'])[0, 1]:.2f}")

best = np.argsort(-r)[:4]
fig, axes = plt.subplots(1, 5, figsize=(14, 2.9))
half = EXTENT_DEG / 2
for ax, v in zip(axes, best):
    vmax = np.abs(maps[v]).max()
    ax.imshow(maps[v], cmap="RdBu_r", vmin=-vmax, vmax=vmax, extent=(-half, half, -half, half))
    ax.add_patch(plt.Circle((params["x"][v], params["y"][v]), params["sigma"][v], fill=False, color="k"))
    ax.set_title(f"{betas.hemi[v]} vertex {betas.vertex[v]}\nr = {r[v]:.2f}", fontsize=9)
    ax.set_xlabel("deg")
axes[-1].scatter(good["eccentricity_true"], good["eccentricity"], s=6)
axes[-1].plot([0, half], [0, half], color="0.5", lw=0.8)
axes[-1].set(xlabel="planted eccentricity (deg)", ylabel="fitted (deg)")
fig.tight_layout()

# %% [markdown]
# ## Back on the cortex
# Any per-vertex value goes back to the two hemispheres with `to_surface_image` (the betas say
# where each column lives); `res.to_surface_image(betas, what="correlation")` does it for the
# model's correlation per vertex. nilearn plots either (V1 lies along the calcarine sulcus, on the
# medial side).

# %%
from nilearn import datasets, plotting  # noqa: E402

sulc = datasets.load_fsaverage_data("fsaverage5", data_type="sulcal")  # bundled: no download
ecc = params["eccentricity"].where(params["r2"] > 0.2).to_numpy()  # poorly fitted vertices left out
images_on_cortex = {
    "pRF eccentricity (deg)": (to_surface_image(ecc, betas), "viridis", 0.0, half),
    "model correlation r (validation)": (res.to_surface_image(betas, what="correlation"), "magma", 0.0, 0.6),
}
fig, axes = plt.subplots(1, 4, figsize=(13, 3.3), subplot_kw={"projection": "3d"})
for k, (label, (img, cmap, vmin, vmax)) in enumerate(images_on_cortex.items()):
    for j, hemi in enumerate(("left", "right")):
        plotting.plot_surf_stat_map(stat_map=img, bg_map=sulc.data.parts[hemi], hemi=hemi, view="medial",
                                    cmap=cmap, vmin=vmin, vmax=vmax, symmetric_cbar=False, axes=axes[2 * k + j],
                                    figure=fig, colorbar=False, title=f"{hemi}, medial")
    fig.colorbar(plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(vmin, vmax)), ax=list(axes[2 * k:2 * k + 2]),
                 shrink=0.6, label=label)
