"""Wrong shapes, types and unknown names at the public entry points (data, models, prf, atlas,
surface): each must raise a clear error naming the parameter and what was expected.

One row per case in ``CASES``: (id, call, error type, regex the message must match).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch


# ---------------------------------------------------------------------------------------------
# fixtures: a tiny synthetic NSD folder, a toy atlas

@pytest.fixture(scope="module")
def nsd(tmp_path_factory):
    from neuro_igc.data import NSD, make_nsd_like

    root = tmp_path_factory.mktemp("nsd_entry")
    make_nsd_like(root, subjects=1, sessions=1, seed=0, trials=20, image_size=32,
                  volume_spaces=("func1pt8mm",), volume_shape=(8, 8, 8), progress=False)
    return NSD(root, progress=False)


def _atlas():
    from neuro_igc.atlas import Atlas

    return Atlas({"lh": np.arange(642) % 3, "rh": np.arange(642) % 2}, {1: "V1", 2: "V2"}, name="toy")


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# ---------------------------------------------------------------------------------------------
# data

def _decoding_ds(x=None, y=None, **kw):
    from neuro_igc.data import DecodingDataset

    return DecodingDataset(np.zeros((10, 5)) if x is None else x, np.zeros((10, 2)) if y is None else y, **kw)


def _encoding_ds(images=None, index=None, y=None, **kw):
    from neuro_igc.data import EncodingDataset

    return EncodingDataset(np.zeros((4, 1, 16, 16), np.float32) if images is None else images,
                           np.arange(10) % 4 if index is None else index,
                           np.zeros((10, 3)) if y is None else y, image_stats=False, **kw)


DATA_CASES = [
    ("nsd-root-missing", lambda nsd: __import__("neuro_igc.data", fromlist=["NSD"]).NSD("/nonexistent/nsd"),
     FileNotFoundError, r"/nonexistent/nsd.*not a folder"),
    ("betas-subject-0", lambda nsd: nsd.betas(0), ValueError, r"'subject'.*1\.\.8|'subject'.*got 0"),
    ("betas-subject-9", lambda nsd: nsd.betas(9), ValueError, r"'subject'.*got 9"),
    ("betas-subject-name", lambda nsd: nsd.betas("subj99"), ValueError, r"'subject'.*subj99"),
    ("betas-subject-float", lambda nsd: nsd.betas(1.5), (ValueError, TypeError), r"'subject'.*1\.5"),
    ("betas-subject-none", lambda nsd: nsd.betas(None), (ValueError, TypeError), r"'subject'.*None"),
    ("betas-session-0", lambda nsd: nsd.betas(1, sessions=[0]), ValueError, r"'sessions'.*got 0"),
    ("betas-session-41", lambda nsd: nsd.betas(1, sessions=41), ValueError, r"'sessions'.*got 41"),
    ("betas-session-str", lambda nsd: nsd.betas(1, sessions="1"), (ValueError, TypeError), r"'sessions'.*'1'"),
    ("betas-session-repeat", lambda nsd: nsd.betas(1, sessions=[1, 1]), ValueError, r"'sessions'.*repeat"),
    ("betas-session-absent", lambda nsd: nsd.betas(1, sessions=[2]), FileNotFoundError, r"betas_session02"),
    ("betas-space", lambda nsd: nsd.betas(1, space="MNI"), ValueError, r"'space'.*'fsaverage'.*got 'MNI'"),
    ("betas-version", lambda nsd: nsd.betas(1, version="betas_v2"), ValueError, r"'version'.*got 'betas_v2'"),
    ("betas-nan", lambda nsd: nsd.betas(1, nan="ignore"), ValueError, r"'nan'.*'drop'.*got 'ignore'"),
    ("betas-source", lambda nsd: nsd.betas(1, space="func1pt8mm", source="mat"), ValueError, r"'source'.*got 'mat'"),
    ("betas-density", lambda nsd: nsd.betas(1, density="fsaverage6"), ValueError, r"'density'.*fsaverage6"),
    ("betas-density-volume", lambda nsd: nsd.betas(1, space="func1pt8mm", density="fsaverage5"), ValueError,
     r"'density'.*surface"),
    ("betas-mask-shape", lambda nsd: _quiet(lambda: nsd.betas(1, mask=np.ones(7, bool), nan="drop")), ValueError,
     r"'mask'.*expected \(20484,\).*\(7,\)"),
    ("betas-mask-volume", lambda nsd: _quiet(lambda: nsd.betas(1, space="func1pt8mm", mask=np.ones((2, 2, 2), bool))),
     ValueError, r"'mask'.*\(8, 8, 8\).*\(2, 2, 2\)"),
    ("betas-roi-unknown-atlas", lambda nsd: nsd.betas(1, roi="nosuchatlas"), (ValueError, FileNotFoundError),
     r"nosuchatlas"),
    ("betas-roi-unknown-name", lambda nsd: _quiet(lambda: nsd.betas(1, roi=("prf-visualrois", "V9"), nan="drop")),
     ValueError, r"V9.*prf-visualrois|prf-visualrois.*V9"),
    ("betas-roi-type", lambda nsd: nsd.betas(1, roi=3), ValueError, r"'roi'.*got 3"),
    ("roi-unknown-atlas", lambda nsd: nsd.roi("nosuchatlas"), (ValueError, FileNotFoundError), r"nosuchatlas"),
    ("roi-space", lambda nsd: nsd.roi("streams", space="native"), ValueError, r"'space'.*got 'native'"),
    ("roi-volume-no-subject", lambda nsd: nsd.roi("prf-visualrois", space="func1pt8mm"), ValueError,
     r"'subject'.*got None"),
    ("roi-hemi", lambda nsd: nsd.roi("prf-visualrois", space="func1pt8mm", subject=1, hemi="left"), ValueError,
     r"'hemi'.*got 'left'"),
    ("roi-like-space", lambda nsd: nsd.roi("streams", space="func1pt8mm", subject=1,
                                           like=_quiet(lambda: nsd.betas(1, nan="drop"))), ValueError,
     r"'like'.*fsaverage.*func1pt8mm"),
    ("stimuli-1based", lambda nsd: nsd.stimuli([73000]), ValueError, r"'ids'.*0-based"),
    ("stimuli-negative", lambda nsd: nsd.stimuli([-1]), ValueError, r"'ids'.*0-based"),
    ("stimuli-float", lambda nsd: nsd.stimuli([0.5]), ValueError, r"'ids'.*integer"),
    ("stimuli-2d", lambda nsd: nsd.stimuli([[0, 1]]), ValueError, r"'ids'.*1-D"),
    ("stimuli-size", lambda nsd: nsd.stimuli([0], size=0), ValueError, r"'size'.*got \(0, 0\)"),
    ("stimuli-chunk", lambda nsd: nsd.stimuli([0], chunk=0), ValueError, r"'chunk'.*got 0"),
    ("responses-subject", lambda nsd: nsd.responses(12), ValueError, r"'subject'.*got 12"),
    ("ncsnr-space", lambda nsd: nsd.ncsnr(1, space="mni"), ValueError, r"'space'.*got 'mni'"),
    ("decoding-ds-length", lambda nsd: _decoding_ds(np.zeros((10, 5)), np.zeros((9, 2))), ValueError,
     r"'x'.*'y'|'y'.*'x'|10.*9"),
    ("decoding-ds-ndim", lambda nsd: _decoding_ds(np.zeros((10, 5, 2))), ValueError, r"'x'.*\(n, n_features\)"),
    ("decoding-ds-y-widths", lambda nsd: _decoding_ds([np.zeros((3, 5)), np.zeros((2, 5))],
                                                      [np.zeros((3, 2)), np.zeros((2, 3))]), ValueError, r"'y'.*widths"),
    ("decoding-ds-subjects", lambda nsd: _decoding_ds(subjects=[1, 2]), ValueError, r"'subjects'"),
    ("decoding-ds-nan", lambda nsd: _decoding_ds(np.where(np.eye(10, 5) > 0, np.nan, 0)), ValueError,
     r"'x'.*5 of 10 rows hold NaN.*first: \[0, 1, 2, 3, 4\]"),
    ("decoding-ds-string", lambda nsd: _decoding_ds(np.array([["a"] * 5] * 10)), TypeError, r"'x'.*numeric"),
    ("encoding-ds-length", lambda nsd: _encoding_ds(y=np.zeros((4, 3))), ValueError,
     r"10 rows in 'image_index' but 4 in 'y'"),
    ("encoding-ds-ndim", lambda nsd: _encoding_ds(images=np.zeros((4, 16), np.float32)), ValueError,
     r"'images'.*\(n, H, W\)"),
    ("encoding-ds-index-range", lambda nsd: _encoding_ds(index=np.arange(10)), ValueError, r"'image_index'.*0\.\.3"),
    ("encoding-ds-index-float", lambda nsd: _encoding_ds(index=np.arange(10) / 4), ValueError,
     r"'image_index'.*integer.*float64"),
    ("encoding-ds-y-ndim", lambda nsd: _encoding_ds(y=np.zeros(10)), ValueError, r"'y'.*\(n_trials, n_features\)"),
    ("encoding-ds-nan", lambda nsd: _encoding_ds(images=np.full((4, 1, 16, 16), np.nan, np.float32)), ValueError,
     r"'images'.*4 of 4 rows hold NaN"),
]


# ---------------------------------------------------------------------------------------------
# models

def _mlp(**kw):
    from neuro_igc.models import DecodingMLP

    return DecodingMLP(**{"n_inputs": 20, "hidden": 8, "widths": (4,), **kw})


def _convnext(**kw):
    from neuro_igc.models import EncodingConvNeXt

    return EncodingConvNeXt(**{"n_outputs": 5, "stem_width": 4, "widths": (8, 8, 8, 8), "depth": 1, "hidden": 8, **kw})


def _fit(train, **kw):
    from neuro_igc.models import fit

    return fit(_mlp(n_inputs=5), train, **{"epochs": 1, "progress": False, "device": "cpu", **kw})


def _ridge_fit(X, Y):
    from neuro_igc.models import Ridge

    return Ridge(alphas=1.0).fit(X, Y)


MODEL_CASES = [
    ("mlp-n-inputs-0", lambda: _mlp(n_inputs=0), ValueError, r"'n_inputs'"),
    ("mlp-n-inputs-str", lambda: _mlp(n_inputs="20"), (ValueError, TypeError), r"'n_inputs'"),
    ("mlp-n-inputs-float", lambda: _mlp(n_inputs=20.5), TypeError, r"'n_inputs'.*integer.*20\.5"),
    ("mlp-n-inputs-per-subject", lambda: _mlp(n_inputs=[20, 30], n_subjects=3), ValueError, r"'n_inputs'.*3"),
    ("mlp-n-outputs-0", lambda: _mlp(n_outputs=0), ValueError, r"'n_outputs'.*>= 1"),
    ("mlp-n-outputs-none", lambda: _mlp(n_outputs=None), (ValueError, TypeError), r"'n_outputs'"),
    ("mlp-hidden-str", lambda: _mlp(hidden="big"), (ValueError, TypeError), r"'hidden'"),
    ("mlp-widths-0", lambda: _mlp(widths=(4, 0)), ValueError, r"'widths\[1\]'.*>= 1; got 0"),
    ("mlp-widths-int", lambda: _mlp(widths=4), (ValueError, TypeError), r"'widths'"),
    ("mlp-dropout-1", lambda: _mlp(dropout=1.0), ValueError, r"'dropout'.*\[0, 1\)"),
    ("mlp-dropout-str", lambda: _mlp(dropout="high"), (ValueError, TypeError), r"'dropout'"),
    ("convnext-activation", lambda: _convnext(activation="relu6"), ValueError, r"'activation'.*got 'relu6'"),
    ("convnext-n-outputs-0", lambda: _convnext(n_outputs=0), ValueError, r"'n_outputs'"),
    ("convnext-widths-empty", lambda: _convnext(widths=()), ValueError, r"'widths'.*one or more"),
    ("convnext-input-size", lambda: _convnext(input_size=0), ValueError, r"'input_size'"),
    ("convnext-drop-path", lambda: _convnext(drop_path=1.5), ValueError, r"'drop_path'"),
    ("convnext-depth-str", lambda: _convnext(depth="3"), (ValueError, TypeError), r"'depth'"),
    ("ridge-alphas-negative", lambda: __import__("neuro_igc.models", fromlist=["Ridge"]).Ridge(alphas=-1),
     ValueError, r"'alphas'"),
    ("ridge-cv-1", lambda: __import__("neuro_igc.models", fromlist=["Ridge"]).Ridge(cv=1), ValueError, r"'cv'"),
    ("ridge-fit-mismatch", lambda: _ridge_fit(np.zeros((10, 4)), np.zeros((9, 2))), ValueError,
     r"'X'.*'Y'|'Y'.*'X'|10.*9"),
    ("ridge-fit-nan", lambda: _ridge_fit(np.full((10, 4), np.nan), np.zeros((10, 2))), ValueError,
     r"'X': 10 of 10 samples hold NaN"),
    ("ridge-fit-nan-y", lambda: _ridge_fit(np.zeros((10, 4)), np.where(np.eye(10, 2) > 0, np.inf, 0)), ValueError,
     r"'Y': 2 of 10 samples hold NaN or inf"),
    ("digits-n-classes", lambda: __import__("neuro_igc.models", fromlist=["DigitsClassifier"]).DigitsClassifier(
        n_classes=1), ValueError, r"'n_classes'"),
    ("digits-output", lambda: __import__("neuro_igc.models", fromlist=["DigitsClassifier"]).DigitsClassifier(
        output="softmax2"), ValueError, r"'output'.*softmax2"),
    ("build-model-unknown", lambda: __import__("neuro_igc.models", fromlist=["build_model"]).build_model("resnet"),
     ValueError, r"resnet"),
    ("build-model-bad-kwarg", lambda: __import__("neuro_igc.models", fromlist=["build_model"]).build_model(
        "decoding_mlp", n_inputs=5, n_layers=3), (ValueError, TypeError), r"n_layers"),
    ("fit-features-mismatch", lambda: _fit(_decoding_ds(np.zeros((10, 7)))), ValueError,
     r"'train'.*DecodingMLP expects x of shape \(n_samples, 5\).*got shape \(2, 7\)"),
    ("fit-outputs-mismatch", lambda: _fit(_decoding_ds(y=np.zeros((10, 3)))), ValueError,
     r"'train'.*output has shape \(2, 2\) but the targets have \(2, 3\).*'n_outputs'"),
    ("fit-val-mismatch", lambda: _fit(_decoding_ds(), val=_decoding_ds(np.zeros((10, 6)))), ValueError,
     r"'val'.*got shape \(2, 6\)"),
    ("fit-convnext-channels", lambda: __import__("neuro_igc.models", fromlist=["fit"]).fit(
        _convnext(input_size=32), _encoding_ds(images=np.zeros((4, 3, 32, 32), np.float32), y=np.zeros((10, 5))),
        epochs=1, progress=False, device="cpu"), ValueError,
     r"'train'.*EncodingConvNeXt expects x of shape \(n_samples, 1, 32, 32\); got shape \(2, 3, 32, 32\)"),
    ("fit-items", lambda: _fit(torch.utils.data.TensorDataset(torch.zeros(10, 5))), ValueError,
     r"'train': items must be \(x, y\)"),
    ("fit-loss", lambda: _fit(_decoding_ds(), loss="l3"), ValueError, r"'loss'.*got 'l3'"),
    ("fit-epochs-negative", lambda: _fit(_decoding_ds(), epochs=-1), ValueError, r"'epochs'.*>= 0"),
    ("fit-batch-size-0", lambda: _fit(_decoding_ds(), batch_size=0), ValueError, r"'batch_size'"),
    ("fit-lr-negative", lambda: _fit(_decoding_ds(), lr=-1.0), ValueError, r"'lr'"),
    ("fit-train-array", lambda: _fit(np.zeros((10, 5))), ValueError, r"'train': items must be \(x, y\).*TensorDataset"),
    ("fit-train-int", lambda: _fit(10), TypeError, r"'train'.*Dataset"),
    ("fit-train-empty", lambda: _fit(_decoding_ds(np.zeros((0, 5)), np.zeros((0, 2)))), ValueError,
     r"training dataset needs at least 2 samples; got 0"),
    ("fit-device", lambda: _fit(_decoding_ds(), device="tpu"), ValueError, r"Invalid value for 'device'.*got 'tpu'"),
    ("fit-model-type", lambda: __import__("neuro_igc.models", fromlist=["fit"]).fit("mlp", _decoding_ds(), epochs=1),
     TypeError, r"'model'.*torch.nn.Module.*str"),
    ("evaluate-loss", lambda: __import__("neuro_igc.models", fromlist=["evaluate"]).evaluate(
        _mlp(n_inputs=5), _decoding_ds(), loss="l3"), ValueError, r"'loss'.*got 'l3'"),
    ("predict-array", lambda: __import__("neuro_igc.models", fromlist=["predict"]).predict(
        _mlp(n_inputs=5), np.zeros((4, 5))), ValueError, r"'dataset': items must be \(x, y\)"),
    ("evaluate-model-type", lambda: __import__("neuro_igc.models", fromlist=["evaluate"]).evaluate(
        None, _decoding_ds()), TypeError, r"'model'.*NoneType"),
    ("pearson-shape", lambda: __import__("neuro_igc.models", fromlist=["pearson_r"]).pearson_r(
        np.zeros((10, 2)), np.zeros((9, 2))), ValueError, r"shape|'pred'.*'target'"),
]


# ---------------------------------------------------------------------------------------------
# prf

def _fit_prf(maps, **kw):
    from neuro_igc.prf import fit_prf

    return fit_prf(maps, progress=False, **kw)


PRF_CASES = [
    ("prf-ndim-1", lambda: _fit_prf(np.zeros(16)), ValueError, r"'maps'.*\(n_maps, H, W\)"),
    ("prf-ndim-4", lambda: _fit_prf(np.zeros((2, 1, 16, 16))), ValueError, r"'maps'.*\(n_maps, H, W\)"),
    ("prf-tiny", lambda: _fit_prf(np.zeros((2, 2, 16))), ValueError, r"'maps'.*H, W >= 3"),
    ("prf-nan", lambda: _fit_prf(np.full((2, 8, 8), np.nan)), ValueError, r"'maps'.*NaN"),
    ("prf-inf", lambda: _fit_prf(np.where(np.eye(8)[None] > 0, np.inf, 0.0)), ValueError, r"'maps'.*infinite"),
    ("prf-string", lambda: _fit_prf(np.array([[["a"] * 8] * 8])), (ValueError, TypeError), r"'maps'"),
    ("prf-empty", lambda: _fit_prf(np.zeros((0, 8, 8))), ValueError, r"'maps'.*no maps|'maps'.*empty|n_maps"),
    ("prf-extent-0", lambda: _fit_prf(np.zeros((1, 8, 8)), extent_deg=0), ValueError, r"'extent_deg'"),
    ("prf-extent-nan", lambda: _fit_prf(np.zeros((1, 8, 8)), extent_deg=float("nan")), ValueError, r"'extent_deg'"),
    ("prf-sign", lambda: _fit_prf(np.zeros((1, 8, 8)), sign="negative"), ValueError, r"'sign'.*got 'negative'"),
    ("prf-init", lambda: _fit_prf(np.zeros((1, 8, 8)), init="random"), ValueError, r"'init'.*got 'random'"),
    ("prf-solver", lambda: _fit_prf(np.zeros((1, 8, 8)), solver="adam"), ValueError, r"'solver'.*got 'adam'"),
    ("prf-max-iter", lambda: _fit_prf(np.zeros((1, 8, 8)), max_iter=0), ValueError, r"'max_iter'"),
    ("prf-batch-size", lambda: _fit_prf(np.zeros((1, 8, 8)), batch_size=0), ValueError, r"'batch_size'"),
    ("prf-index", lambda: _fit_prf(np.zeros((2, 8, 8)), index=[1, 2, 3]), ValueError, r"'index'.*3.*2"),
    ("prf-dtype", lambda: _fit_prf(np.zeros((1, 8, 8)), dtype=torch.int64), (ValueError, TypeError), r"'dtype'"),
    ("gaussian-maps-shape", lambda: __import__("neuro_igc.prf", fromlist=["gaussian_maps"]).gaussian_maps(
        [0.0, 1.0], [0.0, 1.0, 2.0], [1.0]), ValueError, r"'x', 'y', 'sigma'.*lengths 2, 3, 1"),
    ("gaussian-maps-sigma", lambda: __import__("neuro_igc.prf", fromlist=["gaussian_maps"]).gaussian_maps(
        [0.0], [0.0], [0.0]), ValueError, r"'sigma'.*positive"),
    ("prf-to-surface-length", lambda: __import__("neuro_igc.prf", fromlist=["prf_to_surface"]).prf_to_surface(
        _quiet(lambda: _fit_prf(np.random.default_rng(0).random((3, 8, 8)))), _surface(["lh"] * 2, [0, 1])), ValueError,
     r"'hemi'.*3|3.*'hemi'|rows"),
    ("prf-to-surface-column", lambda: __import__("neuro_igc.prf", fromlist=["prf_to_surface"]).prf_to_surface(
        _quiet(lambda: _fit_prf(np.random.default_rng(0).random((2, 8, 8)))), _surface(["lh"] * 2, [0, 1]),
        columns=("polar",)),
     ValueError, r"polar"),
]


# ---------------------------------------------------------------------------------------------
# atlas

def _surface(hemi, vertex, density="fsaverage3"):
    from neuro_igc.data import SurfaceSpace

    return SurfaceSpace(density, hemi, vertex)


def _volume(ijk, affine=None, shape=(2, 2, 2)):
    from neuro_igc.data import VolumeSpace

    return VolumeSpace(ijk, np.eye(4) if affine is None else affine, shape)


def _roi_sums(att, **kw):
    from neuro_igc.atlas import roi_sums

    return roi_sums(att, _atlas(), **kw)


ATLAS_CASES = [
    ("roi-sums-length", lambda: _roi_sums(np.zeros(5), space=_surface(["lh"] * 4, [0, 1, 2, 3])), ValueError,
     r"'attributions' has 5 features.*has 4"),
    ("roi-sums-hemi-vertex", lambda: _roi_sums(np.zeros(4), space=_surface(["lh"] * 4, [0, 1, 2])), ValueError,
     r"'vertex'.*3.*4|'hemi'.*4.*3"),
    ("roi-sums-hemi-name", lambda: _roi_sums(np.zeros(2), space=_surface(["left", "lh"], [0, 1])), ValueError,
     r"'hemi'.*'left'"),
    ("roi-sums-vertex-range", lambda: _roi_sums(np.zeros(2), space=_surface(["lh", "lh"], [0, 5000])), ValueError,
     r"'vertex'.*5000"),
    ("roi-sums-vertex-negative", lambda: _roi_sums(np.zeros(2), space=_surface(["lh", "lh"], [0, -1])), ValueError,
     r"'vertex'.*-1|negative"),
    ("roi-sums-ndim", lambda: _roi_sums(np.zeros((2, 2, 2)), space=_surface(["lh"] * 2, [0, 1])), ValueError,
     r"'attributions'.*\(n_features,\)"),
    ("roi-sums-outputs", lambda: _roi_sums(np.zeros((2, 2)), space=_surface(["lh"] * 2, [0, 1]), outputs=["a"]),
     ValueError, r"'outputs' has 1 names for 2"),
    ("roi-sums-rois", lambda: _roi_sums(np.zeros(2), space=_surface(["lh"] * 2, [0, 1]), rois=["V9"]), ValueError,
     r"V9"),
    ("roi-sums-hemispheres", lambda: _roi_sums(np.zeros(2), space=_surface(["lh"] * 2, [0, 1]), hemispheres="left"),
     ValueError, r"'hemispheres'.*got 'left'"),
    ("roi-sums-no-features", lambda: _roi_sums(np.zeros(2)), ValueError, r"'hemi'|'vertex'|'ijk'"),
    ("roi-sums-ijk-volume", lambda: _roi_sums(np.zeros(2), space=_volume(np.array([[0, 0, 0], [1, 0, 0]]))), ValueError,
     r"'ijk'|surface"),
    ("atlas-labels-shape", lambda: __import__("neuro_igc.atlas", fromlist=["Atlas"]).Atlas(
        {"lh": np.zeros(642, int), "rh": np.zeros(162, int)}, {1: "V1"}), ValueError, r"equal length"),
    ("atlas-labels-hemi", lambda: __import__("neuro_igc.atlas", fromlist=["Atlas"]).Atlas(
        {"left": np.zeros(642, int)}, {1: "V1"}), ValueError, r"'lh' and/or 'rh'.*left"),
    ("atlas-table-type", lambda: __import__("neuro_igc.atlas", fromlist=["Atlas"]).Atlas(
        {"lh": np.zeros(642, int), "rh": np.zeros(642, int)}, ["V1"]), TypeError, r"'table'.*mapping.*list"),
    ("atlas-merge-unknown", lambda: _atlas().merge({"V": ["V1", "V9"]}), ValueError, r"V9"),
    ("group-summary-columns", lambda: __import__("neuro_igc.atlas", fromlist=["group_summary"]).group_summary(
        __import__("pandas").DataFrame({"x": [1]})), ValueError, r"'table' lacks column"),
]


# ---------------------------------------------------------------------------------------------
# surface

def _surf(name):
    import neuro_igc.surface as S

    return getattr(S, name)


SURFACE_CASES = [
    ("to-hemi-length", lambda: _surf("to_hemispheres")(np.zeros(3), _surface(["lh", "lh"], [0, 1])),
     ValueError,
     r"'values'.*3.*2|'hemi'.*2.*3"),
    ("to-hemi-hemi-vertex", lambda: _surf("to_hemispheres")(np.zeros(2), _surface(["lh", "lh"], [0, 1, 2])),
     ValueError,
     r"'vertex'.*3.*2|'hemi'.*2.*3"),
    ("to-hemi-hemi-name", lambda: _surf("to_hemispheres")(np.zeros(2), _surface(["lh", "left"], [0, 1])),
     ValueError,
     r"'hemi'.*'left'"),
    ("to-hemi-vertex-negative", lambda: _surf("to_hemispheres")(np.zeros(2), _surface(["lh", "lh"], [0, -3])),
     ValueError,
     r"'vertex'.*-3|'vertex'.*negative"),
    ("to-hemi-vertex-float", lambda: _surf("to_hemispheres")(np.zeros(2), _surface(["lh", "lh"], [0.5, 1.0])),
     ValueError,
     r"'vertex'.*integer"),
    ("to-hemi-density", lambda: _surf("to_hemispheres")(np.zeros(2), _surface(["lh", "lh"], [0, 1], "fsaverage9")),
     ValueError, r"'density'.*fsaverage9"),
    ("to-hemi-density-small", lambda: _surf("to_hemispheres")(np.zeros(2), _surface(["lh", "lh"], [0, 700])),
     ValueError, r"'vertex'.*700"),
    ("to-hemi-ndim", lambda: _surf("to_hemispheres")(np.zeros((2, 2, 2)), _surface(["lh", "lh"], [0, 1])),
     ValueError,
     r"'values'.*\(n_features,\)"),
    ("from-hemi-missing", lambda: _surf("from_hemispheres")({"lh": np.zeros(642)}, _surface(["lh", "rh"], [0, 1])),
     (ValueError, KeyError), r"'rh'|'maps'"),
    ("from-hemi-vertex-range", lambda: _surf("from_hemispheres")({"lh": np.zeros(642), "rh": np.zeros(642)}, _surface(["lh", "rh"], [0, 700])),
     ValueError, r"'vertex'.*700"),
    ("to-volume-shape", lambda: _surf("to_volume")(np.zeros(2), _volume(np.zeros((2, 2), int), np.eye(4), (4, 4, 4))),
     ValueError, r"'ijk'.*\(n, 3\)|'ijk'"),
    ("to-volume-length", lambda: _surf("to_volume")(np.zeros(3), _volume(np.array([[0, 0, 0], [1, 0, 0]]), np.eye(4), (4, 4, 4))),
     ValueError, r"'values'.*3.*2|'ijk'.*2.*3"),
    ("to-volume-range", lambda: _surf("to_volume")(np.zeros(1), _volume(np.array([[9, 0, 0]]), np.eye(4), (4, 4, 4))),
     ValueError, r"'ijk'.*(4, 4, 4)|'ijk'.*9|outside"),
    ("to-volume-affine", lambda: _surf("to_volume")(np.zeros(1), _volume(np.array([[0, 0, 0]]), np.eye(3), (4, 4, 4))),
     ValueError, r"'affine'.*\(4, 4\)"),
    ("from-volume-range", lambda: _surf("from_volume")(__import__("nibabel").Nifti1Image(np.zeros((4, 4, 4)), np.eye(4)),
                                                       _volume(np.array([[0, 9, 0]]), np.eye(4), (4, 4, 4))), ValueError, r"'ijk'"),
    ("n-vertices-unknown", lambda: _surf("n_vertices")("fsaverage9"), ValueError, r"'density'.*fsaverage9"),
    ("decimate-length", lambda: _surf("decimate")(np.zeros(1000)), ValueError, r"1000"),
    ("write-mgz-ndim", lambda: _surf("write_mgz")(np.zeros((2, 2, 2)), "never_written.mgz"), ValueError,
     r"'data'"),
    ("write-gifti-hemi", lambda: _surf("write_gifti")(np.zeros(642), "never_written.gii", hemi="left"),
     ValueError, r"'hemi'.*'left'"),
    ("to-hemi-duplicate", lambda: _surf("to_hemispheres")(np.arange(3.0), _surface(["lh", "lh", "lh"], [0, 1, 1])),
     ValueError,
     r"Duplicate vertex indices in lh: \[1\]"),
    ("from-hemi-duplicate", lambda: _surf("from_hemispheres")({"lh": np.zeros(642), "rh": np.zeros(642)},
                                                               _surface(["lh", "lh"], [0, 0])), ValueError,
     r"Duplicate vertex indices in lh: \[0\]"),
    ("write-surface-maps-mismatch", lambda: _surf("write_surface_maps")(
        {"lh": np.zeros(642), "rh": np.zeros(2562)}, "never_written_dir", "x"), ValueError,
     r"different vertex counts \(lh: 642, rh: 2562\)"),
    ("write-annot-colors", lambda: _surf("write_annot")(np.zeros(642, int), {1: "V1"}, "never.annot",
                                                        colors={1: (1, 2)}), ValueError, r"'colors\[1\]'.*\(r, g, b\)"),
    ("write-annot-float", lambda: _surf("write_annot")(np.full(642, 1.5), {1: "V1"}, "never.annot"), ValueError,
     r"'labels' must be a 1-D integer array"),
    ("upsample-flat", lambda: _surf("upsample")(np.zeros(100)), ValueError, r"'data' must be a dict"),
    ("write-surface-maps-format", lambda: _surf("write_surface_maps")(
        {"lh": np.zeros(642), "rh": np.zeros(642)}, "never_written_dir", "x", formats=("png",)), ValueError,
     r"'formats'.*png"),
]


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("case", DATA_CASES, ids=_ids(DATA_CASES))
def test_data(nsd, case):
    _, call, exc, pattern = case
    with pytest.raises(exc, match=pattern):
        call(nsd)


@pytest.mark.parametrize("case", MODEL_CASES + PRF_CASES + ATLAS_CASES + SURFACE_CASES,
                         ids=_ids(MODEL_CASES + PRF_CASES + ATLAS_CASES + SURFACE_CASES))
def test_entry_point(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # writers given relative paths write nothing outside tmp_path
    _, call, exc, pattern = case
    with pytest.raises(exc, match=pattern):
        call()
