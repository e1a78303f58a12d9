"""Nested fsaverage densities: decimation picks the shared vertices, upsampling their nearest parents."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from neuro_igc.data import SurfaceSpace
from neuro_igc.surface import decimate, decimate_features, load_sphere, to_hemispheres, upsample


def test_nested_meshes_first_vertices_are_the_coarse_mesh():
    """Every fsaverage5 vertex beyond the first 2562 is the (projected) midpoint of two of them.

    This is the property decimation relies on: the first n vertices of a denser template form
    the coarser one.
    """
    sphere = load_sphere("lh", "fsaverage5")
    coarse, fine = sphere[:2562], sphere[2562:]
    _, idx = cKDTree(coarse).query(fine, k=2)
    mid = coarse[idx[:, 0]] + coarse[idx[:, 1]]
    mid *= np.linalg.norm(fine, axis=1, keepdims=True) / np.linalg.norm(mid, axis=1, keepdims=True)
    assert np.abs(mid - fine).max() < 0.05  # mm on a 100 mm sphere (coordinates stored as float32)


def test_decimate_keeps_the_first_vertices():
    rng = np.random.default_rng(0)
    full = {"lh": rng.standard_normal((2, 163842)), "rh": rng.standard_normal((2, 163842))}
    small = decimate(full, "fsaverage5")
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(small[h], full[h][:, :10242])


def test_decimate_features_matches_decimated_maps():
    rng = np.random.default_rng(1)
    vertex = np.concatenate([rng.choice(163842, 500, replace=False), rng.choice(163842, 400, replace=False)])
    vertex[:5] = np.arange(5)  # make sure some survive
    hemi = np.array(["lh"] * 500 + ["rh"] * 400)
    values = rng.standard_normal(len(vertex))
    keep = decimate_features(SurfaceSpace("fsaverage", hemi, vertex), "fsaverage5")
    np.testing.assert_array_equal(keep, vertex < 10242)
    full = to_hemispheres(values, SurfaceSpace("fsaverage", hemi, vertex))
    small = to_hemispheres(values[keep], SurfaceSpace("fsaverage5", hemi[keep], vertex[keep]))
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(decimate(full[h]), small[h])


def test_upsample_nearest_parent_on_fsaverage5():
    rng = np.random.default_rng(2)
    coarse = {"lh": rng.standard_normal(2562), "rh": rng.standard_normal(2562)}
    up = upsample(coarse, "fsaverage5")
    for h in ("lh", "rh"):
        sphere = load_sphere(h, "fsaverage5")
        np.testing.assert_array_equal(up[h][:2562], coarse[h])
        # each new vertex carries the value of one of its two nearest coarse vertices (its parents)
        _, idx = cKDTree(sphere[:2562]).query(sphere[2562:], k=2)
        ok = (up[h][2562:] == coarse[h][idx[:, 0]]) | (up[h][2562:] == coarse[h][idx[:, 1]])
        assert ok.all()
    np.testing.assert_array_equal(decimate(up, "fsaverage4")["lh"], coarse["lh"])


def test_decimation_errors():
    with pytest.raises(ValueError, match="not an fsaverage density"):
        decimate(np.zeros(1000))
    with pytest.raises(ValueError, match="denser 'fsaverage'"):
        decimate(np.zeros(10242), "fsaverage")
    with pytest.raises(ValueError, match="not available offline"):
        upsample({"lh": np.zeros(10242)}, "fsaverage")
    with pytest.raises(FileNotFoundError, match="Cannot read sphere /nonexistent/lh.sphere: no such file"):
        upsample({"lh": np.zeros(10242)}, "fsaverage", sphere={"lh": "/nonexistent/lh.sphere"})
