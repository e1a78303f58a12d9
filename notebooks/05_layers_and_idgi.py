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
# # Inside the model and along other paths: layer IGC and IDGI
#
# Two questions IGC can answer beyond the input map:
#
# 1. **Which units of a layer carry the prediction?** `layer_igc` splits each sample's IG over the
#    units of an internal layer (the *conductance* of Dhamdhere et al., extended to dataset-wise
#    baselines by Lundstrom et al.) and correlates it with the target exactly as IGC does: the map
#    over the layer's units sums to the same correlation as the input map.
# 2. **Does the map depend on the path or the step count?** `rule="idgi"` (Important Direction
#    Gradient Integration) shares each step's change of the output along the gradient, so IG is
#    exactly complete at any number of steps; `path="blur"` / `"guided"` change the path itself.
#
# The model here is a small encoding ConvNeXt from the zoo, trained on 1/f images to predict two
# planted responses: a *local* one (contrast in a small patch, like a V1 vertex with a small pRF)
# and a *global* one (the whole image's contrast, like a category-selective vertex).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from neuro_igc.attribution import igc, layer_igc
from neuro_igc.benchmark import make_experiment, make_images
from neuro_igc.models import EncodingConvNeXt, fit
from neuro_igc.pipeline._layers import layer_profile

SMALL = os.environ.get("NEURO_IGC_NOTEBOOK_SMALL") == "1"  # the test run uses small settings
N_TRAIN, EPOCHS, N_ATTR = (400, 2, 24) if SMALL else (4000, 15, 300)
torch.manual_seed(0)

# %% [markdown]
# ## Images and two planted responses

# %%
size = 32
x = make_images(N_TRAIN + N_ATTR, size=size, seed=0)  # (n, 1, 32, 32)
patch = x[:, 0, 4:10, 20:26]  # a 6x6 patch in the upper right
y = torch.stack([patch.std((1, 2)), x[:, 0].std((1, 2))], 1)
y = (y - y.mean(0)) / y.std(0)
train = torch.utils.data.TensorDataset(x[:N_TRAIN], y[:N_TRAIN])
x_att, y_att = x[N_TRAIN:], y[N_TRAIN:]

model = EncodingConvNeXt(2, input_size=size, stem_width=8, widths=(16, 32), depth=1, hidden=32,
                         drop_path=0.0, dropout=0.0)
fit(model, train, epochs=EPOCHS, batch_size=32, lr=2e-3, progress=False)
model.eval()
with torch.no_grad():
    r = [float(np.corrcoef(model(x_att)[:, k], y_att[:, k])[0, 1]) for k in range(2)]
print("validation r (local, global):", np.round(r, 3))

# %% [markdown]
# ## Input IGC and layer IGC at every stage
# The stem and the two stages are each a layer that all of the computation passes through, so
# each layer's map sums to the same total as the input map (the printed totals agree).

# %%
settings = dict(baselines=4, n_steps=8, progress=False, warn=False)
inp = igc(model, x_att, y_att, **settings)
layers = ["stem", "stages.0", "stages.1"]
lay = {name: layer_igc(model, name, x_att, y_att, **settings) for name in layers}
print("input map totals:", np.round(inp.attributions.reshape(2, -1).sum(1), 4))
for name, res in lay.items():
    print(f"{name:>9} map totals:", np.round(res.attributions.reshape(2, -1).sum(1), 4),
          "units", res.settings["unit_shape"])

# %% [markdown]
# ## Where each response lives in each layer
# For each output, the layer map summed over channels shows *where* in the layer's grid the
# prediction flows; `layer_profile` summarizes how widely it is spread (the pipeline's layer
# block writes the same numbers per ROI). The local response stays in a corner at every depth;
# the global one covers the grid.

# %%
fig, axes = plt.subplots(2, 1 + len(layers), figsize=(3 * (1 + len(layers)), 6))
for k, name_k in enumerate(["local (patch)", "global"]):
    axes[k, 0].imshow(inp.attributions[k, 0], cmap="RdBu_r")
    axes[k, 0].set_title(f"{name_k}: input IGC", fontsize=9)
    for j, name in enumerate(layers):
        m = lay[name].attributions[k]
        prof = layer_profile(m)
        axes[k, j + 1].imshow(np.abs(m).sum(0), cmap="magma")
        axes[k, j + 1].set_title(f"{name}: area50 {prof['area50']:.2f}", fontsize=9)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()

# %% [markdown]
# ## A region's share: which units carry the patch's IGC
# `region=` restricts the question to a set of input pixels: the units' share of that region's
# IGC, at one forward-mode product per step. Its sum equals the input map's sum over the region.

# %%
region = np.zeros((1, size, size), bool)
region[0, 4:10, 20:26] = True
share = layer_igc(model, "stages.0", x_att, y_att, region=region, **settings)
print("region share total:", np.round(share.attributions.reshape(2, -1).sum(1), 4),
      " input IGC over the region:", np.round(inp.attributions[:, region].sum(1), 4))

# %% [markdown]
# ## IDGI against quadrature, on a planted truth
# The benchmark's Exp. B statistic (the mean of one of four discs wins; its ground truth is the
# probability of each disc to win). With few steps the quadrature's completeness error is large;
# IDGI is complete at every step count, but its maps follow the gradient's own direction.

# %%
exp = make_experiment("B", n_standardize=500 if SMALL else 10_000).eval()
data = exp.sample(64 if SMALL else 1000, seed=1)
truth = exp.ground_truth(n_mc=1000 if SMALL else 20_000)
fig, axes = plt.subplots(2, 3, figsize=(9, 6))
for i, rule in enumerate(["quadrature", "idgi"]):
    for j, steps in enumerate([2, 8, 32]):
        res = igc(exp, data.x, data.y, baselines=2, n_steps=steps, rule=rule, progress=False, warn=False)
        m = res.attributions[0, 0]
        rec = float(np.corrcoef(m.ravel(), truth.ravel())[0, 1])
        axes[i, j].imshow(m, cmap="RdBu_r")
        axes[i, j].set_title(f"{rule}, {steps} steps\nIG error {res.ig_error_relative.max():.1e}, truth r {rec:.2f}",
                             fontsize=8)
        axes[i, j].set_xticks([])
        axes[i, j].set_yticks([])
fig.tight_layout()

# %% [markdown]
# The full comparison over paths, rules and steps on Exp. A-C is the benchmark's step study:
# `neuro-igc benchmark --steps-study --out steps/`.
