"""pRF parameters on the surface and written for freeview."""

import nibabel as nib
import numpy as np
import pytest
from nilearn.surface import load_surf_data

from neuro_igc.data import SurfaceSpace
from neuro_igc.prf import fit_prf, gaussian_maps, prf_to_surface, write_prf_maps


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    n = 12
    x, y, s = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n), rng.uniform(0.5, 1.2, n)
    maps = gaussian_maps(x, y, s, shape=(24, 24), extent_deg=8.4) + 0.02 * rng.standard_normal((n, 24, 24))
    hemi = np.array(["lh"] * 7 + ["rh"] * 5)
    vertex = np.concatenate([rng.choice(10242, 7, replace=False), rng.choice(10242, 5, replace=False)])
    return fit_prf(maps, 8.4, progress=False), hemi, vertex


def test_prf_to_surface_places_parameters(fitted):
    params, hemi, vertex = fitted
    space = SurfaceSpace("fsaverage5", hemi, vertex)
    maps = prf_to_surface(params, space)
    assert set(maps) == {"angle", "eccentricity", "size", "r2"}
    for i, (h, v) in enumerate(zip(hemi, vertex)):
        assert maps["angle"][h][v] == params["angle"].iloc[i]
    assert np.isnan(maps["size"]["lh"]).sum() == 10242 - 7
    cut = prf_to_surface(params, space, columns=["angle", "r2"], min_r2=1.1)  # nothing passes
    assert np.isnan(cut["angle"]["lh"]).all() and np.isfinite(cut["r2"]["lh"][vertex[:7]]).all()
    with pytest.raises(ValueError, match=r"'params' lacks column\(s\) \['polar'\]"):
        prf_to_surface(params, space, columns=["polar"])
    with pytest.raises(ValueError, match="'params' has 12 rows but 'hemi'/'vertex' describe 3"):
        prf_to_surface(params, space.select(np.arange(3)))


def test_write_prf_maps_reads_back(fitted, tmp_path):
    params, hemi, vertex = fitted
    out = write_prf_maps(params, SurfaceSpace("fsaverage5", hemi, vertex), tmp_path, subject=1)
    lh = np.asarray(nib.load(out["angle"]["lh.mgz"]).dataobj).ravel()
    np.testing.assert_allclose(lh[vertex[:7]], params["angle"].iloc[:7], rtol=1e-6)
    gii = load_surf_data(str(out["eccentricity"]["rh.gifti"]))
    np.testing.assert_allclose(gii[vertex[7:]], params["eccentricity"].iloc[7:], rtol=1e-6)
    assert out["angle"]["rh.gifti"].name == "sub-01_hemi-R_space-fsaverage_den-10k_desc-prfangle_stat.func.gii"
    assert "lh.prfangle.mgz" in out["angle"]["freeview"].read_text()


@pytest.mark.slow
def test_planted_prfs_of_the_synthetic_folder_are_recovered_with_their_angles(tmp_path):
    """The synthetic NSD-like folder's planted pRFs (its own angle convention) rendered as maps
    and fitted back: the same x, y, sigma, angle and eccentricity."""
    synthetic = pytest.importorskip("neuro_igc.data.synthetic")
    truth = synthetic.make_nsd_like(tmp_path, subjects=1, sessions=1, trials=8, image_size=64,
                                    volume_spaces=(), progress=False)
    a = truth.arrays
    sel = np.flatnonzero(a["subj01_prf_sigma"] > 0.3)[:400]
    x, y, s = a["subj01_prf_x"][sel], a["subj01_prf_y"][sel], a["subj01_prf_sigma"][sel]
    maps = gaussian_maps(x, y, s, shape=(64, 64), extent_deg=8.4)
    p = fit_prf(maps, 8.4, progress=False)
    inside = (np.abs(x) < 3.5) & (np.abs(y) < 3.5)
    np.testing.assert_allclose(p["x"][inside], x[inside], atol=1e-3)
    np.testing.assert_allclose(p["y"][inside], y[inside], atol=1e-3)
    np.testing.assert_allclose(p["eccentricity"][inside], a["subj01_prf_eccentricity"][sel][inside], atol=1e-3)
    far = inside & (a["subj01_prf_eccentricity"][sel] > 0.5)
    diff = (p["angle"][far] - a["subj01_prf_angle"][sel][far] + 180) % 360 - 180
    np.testing.assert_allclose(diff, 0, atol=0.5)
