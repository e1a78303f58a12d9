"""NSD's own mapping code (nsdcode) on the synthetic folder: the same maps as ours native <->
fsaverage (values and subject ROIs, both hemispheres), and volume -> surface through the folder's
func1pt8-to-white transforms, written as .mgz on the folder's FreeSurfer templates.

nsdcode (PyPI, 2021) installs with ``pip install --no-build-isolation --no-deps nsdcode`` and
uses ``np.int``, which numpy removed: the alias is set for these tests only.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from neuro_igc.data import NSD


@pytest.fixture
def nsdcode(monkeypatch):
    monkeypatch.setattr(np, "int", int, raising=False)  # nsdcode calls astype(np.int); numpy >= 1.24 lacks it
    try:
        from nsdcode.nsd_mapdata import NSDmapdata
    except ImportError:
        pytest.skip("nsdcode is not installed (pip install --no-build-isolation --no-deps nsdcode; .ci/run "
                    "installs it)")
    return NSDmapdata


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsdcode") / "nsd"
    truth = make_nsd_like(root, subjects=1, sessions=1, trials=30, image_size=32, seed=3, progress=False)
    return root, truth  # the truth says which native vertex fills which voxel


@pytest.fixture
def root(folder):
    return folder[0]


def test_native_fsaverage_both_ways_values_and_rois(root, nsdcode):
    nsd = NSD(root, progress=False)
    mapper = nsdcode(str(root))
    rng = np.random.default_rng(0)
    for h in ("lh", "rh"):
        native = rng.standard_normal(nsd.native_vertices(1, h))
        theirs = mapper.fit(1, f"{h}.white", "fsaverage", native, interptype="nearest")
        np.testing.assert_array_equal(theirs, nsd.to_fsaverage(native, 1, h))
        fsavg = rng.standard_normal(163842)
        theirs = mapper.fit(1, "fsaverage", f"{h}.white", fsavg, interptype="nearest")
        np.testing.assert_array_equal(theirs, nsd.to_native(fsavg, 1, h))
        # a subject-drawn atlas: native labels through nsdcode == our fsaverage labels
        labels = np.asarray(nib.load(root / f"nsddata/freesurfer/subj01/label/{h}.prf-visualrois.mgz").dataobj)
        theirs = mapper.fit(1, f"{h}.white", "fsaverage", labels.reshape(-1).astype(np.float64),
                            interptype="nearest")
        ours = nsd.roi("prf-visualrois", space="fsaverage", subject=1, density="fsaverage")
        on_fsavg = np.zeros(163842, dtype=np.int64)
        on_fsavg[ours.vertex[ours.hemi == h]] = ours.labels[ours.hemi == h]
        np.testing.assert_array_equal(theirs.astype(np.int64), on_fsavg)


def test_volume_to_surface_and_mgz_outputs(folder, nsdcode, tmp_path):
    root, truth = folder
    mapper = nsdcode(str(root))
    vol = root / "nsddata/ppdata/subj01/func1pt8mm/prf_angle.nii.gz"
    for h in ("lh", "rh"):
        surf_angle = np.asarray(nib.load(root / f"nsddata/freesurfer/subj01/label/{h}.prfangle.mgz").dataobj).reshape(-1)
        out = tmp_path / f"{h}.angle_native.mgz"
        got = mapper.fit(1, "func1pt8", f"{h}.white", str(vol), interptype="nearest", badval=np.nan,
                         outputfile=str(out), fsdir=str(root / "nsddata/freesurfer/subj01"))
        assert got.shape == surf_angle.shape and np.isfinite(got).all()  # every vertex falls inside the volume
        # the voxels carrying a vertex hold that vertex's pRF angle: nsdcode, reading the volume
        # through func1pt8-to-white, gives the surface file's value back at those vertices
        coords = np.asarray(nib.load(root / f"nsddata/ppdata/subj01/transforms/{h}.func1pt8-to-white.mgz").dataobj)
        ijk = np.rint(coords.reshape(-1, 3) - 1).astype(int)
        data = np.asarray(nib.load(vol).dataobj)
        np.testing.assert_array_equal(got, data[tuple(ijk.T)])  # nearest neighbour, 1-based coordinates
        # the vertices whose values filled the volume (one per voxel) get their own value back
        a = truth.arrays
        own = a["subj01_func1pt8mm_native_vertex"][a["subj01_func1pt8mm_hemi"] == h]
        assert own.size > 50
        np.testing.assert_array_equal(got[own], surf_angle[own].astype(np.float32))
        written = np.asarray(nib.load(out).dataobj).reshape(-1)
        np.testing.assert_allclose(written, got)
        # to fsaverage, written on the fsaverage template (orig.avg.area.mgh)
        out_fs = tmp_path / f"{h}.angle_fsaverage.mgz"
        fs = mapper.fit(1, f"{h}.white", "fsaverage", got, interptype="nearest", outputfile=str(out_fs),
                        fsdir=str(root / "nsddata/freesurfer/fsaverage"))
        assert nib.load(out_fs).shape[0] == 163842
        np.testing.assert_allclose(np.asarray(nib.load(out_fs).dataobj).reshape(-1), fs)
