"""Feature vectors <-> hemispheres and volumes."""

import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data import SurfaceSpace, VolumeSpace
from neuro_igc.surface import DENSITIES, from_hemispheres, from_volume, to_hemispheres, to_volume


def _features(rng, density="fsaverage5", n_lh=300, n_rh=200):
    nv = DENSITIES[density]
    v_lh = np.sort(rng.choice(nv, n_lh, replace=False))
    v_rh = np.sort(rng.choice(nv, n_rh, replace=False))
    hemi = np.array(["lh"] * n_lh + ["rh"] * n_rh)
    return hemi, np.concatenate([v_lh, v_rh])


def test_to_hemispheres_places_each_value_and_fills_outside():
    rng = np.random.default_rng(0)
    hemi, vertex = _features(rng)
    values = rng.standard_normal(len(hemi))
    space = SurfaceSpace("fsaverage5", hemi, vertex)
    maps = to_hemispheres(values, space)
    for h in ("lh", "rh"):
        assert maps[h].shape == (10242,)
        sel = hemi == h
        np.testing.assert_array_equal(maps[h][vertex[sel]], values[sel])
        outside = np.setdiff1d(np.arange(10242), vertex[sel])
        assert np.isnan(maps[h][outside]).all()
    zero = to_hemispheres(values, space, fill=0.0)
    assert np.nansum(maps["lh"]) + np.nansum(maps["rh"]) == pytest.approx(zero["lh"].sum() + zero["rh"].sum())
    np.testing.assert_array_equal(from_hemispheres(maps, space), values)


def test_to_hemispheres_many_maps_and_inferred_density():
    rng = np.random.default_rng(1)
    hemi, vertex = _features(rng, "fsaverage", 50, 40)
    vertex[0] = 163841  # forces fsaverage
    values = rng.standard_normal((3, len(hemi))).astype(np.float32)
    space = SurfaceSpace("fsaverage", hemi, vertex)
    maps = to_hemispheres(values, space)
    assert maps["lh"].shape == (3, 163842) and maps["lh"].dtype == np.float32
    np.testing.assert_array_equal(from_hemispheres(maps, space), values)


def test_to_hemispheres_errors():
    with pytest.raises(ValueError, match="'values' has 3 features"):
        to_hemispheres([1.0, 2.0, 3.0], SurfaceSpace("fsaverage5", ["lh", "rh"], [0, 1]))
    with pytest.raises(ValueError, match="Invalid value in 'hemi'"):
        to_hemispheres([1.0], SurfaceSpace("fsaverage5", ["left"], [0]))
    with pytest.raises(ValueError, match="density 'fsaverage5' has 10242 vertices"):
        to_hemispheres([1.0], SurfaceSpace("fsaverage5", ["lh"], [20000]))
    with pytest.raises(ValueError, match="Invalid value for 'density'"):
        to_hemispheres([1.0], SurfaceSpace("fsavg", ["lh"], [0]))


def test_to_volume_affine_and_values(tmp_path):
    rng = np.random.default_rng(2)
    shape = (5, 6, 7)
    affine = np.array([[1.8, 0, 0, -10], [0, 1.8, 0, -20], [0, 0, 1.8, 5], [0, 0, 0, 1]])
    flat = rng.choice(np.prod(shape), 40, replace=False)
    ijk = np.column_stack(np.unravel_index(flat, shape))
    values = rng.standard_normal((2, 40))
    space = VolumeSpace(ijk, affine, shape)
    img = to_volume(values, space)
    nib.save(img, tmp_path / "v.nii.gz")
    back = nib.load(tmp_path / "v.nii.gz")
    np.testing.assert_allclose(back.affine, affine)
    assert back.shape == shape + (2,)
    np.testing.assert_allclose(back.get_fdata()[ijk[:, 0], ijk[:, 1], ijk[:, 2]].T, values, rtol=1e-6)
    np.testing.assert_allclose(from_volume(tmp_path / "v.nii.gz", space), values, rtol=1e-6)
    # world coordinates of a voxel follow the affine
    i, j, k = ijk[0]
    np.testing.assert_allclose(nib.affines.apply_affine(back.affine, [i, j, k]), affine[:3, :3] @ [i, j, k] + affine[:3, 3])
    with pytest.raises(ValueError, match="outside the volume shape"):
        to_volume([1.0], VolumeSpace([[9, 0, 0]], affine, shape))


def test_feature_locations_come_as_a_space():
    # loose hemi/vertex or ijk arrays are refused with the way to build the space
    with pytest.raises(ValueError, match=r"expected a SurfaceSpace.*SurfaceSpace\(density, hemi, vertex\)"):
        to_hemispheres([1.0], np.array(["lh"]))
    volume = VolumeSpace([[0, 0, 0]], np.eye(4), (2, 2, 2))
    with pytest.raises(ValueError, match=r"expected a surface space.*got a volume space"):
        from_hemispheres({"lh": np.zeros(642), "rh": np.zeros(642)}, volume)
    with pytest.raises(ValueError, match=r"expected a volume space.*VolumeSpace\(ijk, affine, shape\)"):
        to_volume([1.0], SurfaceSpace("fsaverage3", ["lh"], [0]))
    with pytest.raises(ValueError, match=r"image's volume \(2, 2, 3\) is not the space's \(2, 2, 2\)"):
        from_volume(nib.Nifti1Image(np.zeros((2, 2, 3), np.float32), np.eye(4)), volume)
