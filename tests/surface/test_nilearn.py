"""Maps as nilearn SurfaceImage objects: values at the right vertices, on nilearn's own meshes,
usable by nilearn's maskers, and back through files and write_surface_maps."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn import datasets
from nilearn.surface import SurfaceImage

from neuro_igc.attribution import AttributionResult
from neuro_igc.data import SurfaceSpace, VolumeSpace
from neuro_igc.surface import decimate, from_surface_image, to_hemispheres, to_surface_image, write_surface_maps


@pytest.fixture
def space():
    # a masked feature vector, lh first, as the loaders return it
    return SurfaceSpace.from_indices({"lh": np.arange(3, 10242, 5), "rh": np.arange(0, 10242, 7)}, "fsaverage5")


@pytest.fixture
def values(space):
    return np.random.default_rng(1).standard_normal((3, space.n_features))


def test_features_land_on_nilearns_fsaverage5_mesh(space, values):
    img = to_surface_image(values, space)
    assert isinstance(img, SurfaceImage)
    ref = datasets.load_fsaverage("fsaverage5")["inflated"]
    for part in ("left", "right"):
        np.testing.assert_array_equal(img.mesh.parts[part].coordinates, ref.parts[part].coordinates)
        assert img.data.parts[part].shape == (10242, 3)  # nilearn's layout: vertices first
    lh = img.data.parts["left"]
    np.testing.assert_array_equal(lh[space.indices("lh")], values[:, space.hemi == "lh"].T)
    np.testing.assert_array_equal(img.data.parts["right"][space.indices("rh")], values[:, space.hemi == "rh"].T)
    outside = np.setdiff1d(np.arange(10242), space.indices("lh"))
    assert np.isnan(lh[outside]).all()
    one = to_surface_image(values[1], space, mesh="pial", fill=0.0)
    assert one.shape == (20484,) and (one.data.parts["left"][outside] == 0).all()
    np.testing.assert_array_equal(one.mesh.parts["right"].coordinates, datasets.load_fsaverage()["pial"].parts["right"].coordinates)
    np.testing.assert_array_equal(from_surface_image(img, space), values)
    back = from_surface_image(img)
    np.testing.assert_array_equal(back["rh"], to_hemispheres(values, space)["rh"])


def test_nilearn_masker_reads_the_image(space, values):
    from nilearn.maskers import SurfaceMasker

    img = to_surface_image(values, space, fill=0.0)
    got = SurfaceMasker(standardize=None).fit_transform(img)  # (n_maps, lh vertices then rh vertices)
    full = to_hemispheres(values, space, fill=0.0)
    np.testing.assert_allclose(got, np.concatenate([full["lh"], full["rh"]], axis=1))


def test_vertex_table_path_and_dataframe(tmp_path, space, values):
    table = pd.DataFrame({"index": np.arange(space.n_features), "hemi": space.hemi, "vertex": space.vertex})
    path = tmp_path / "sub-01_desc-x_vertices.tsv"
    table.to_csv(path, sep="\t", index=False)
    path.with_suffix(".json").write_text(json.dumps({"Density": "fsaverage5"}))
    ref = to_surface_image(values, space)
    for given in (path, str(path)):
        np.testing.assert_array_equal(to_surface_image(values, given).data.parts["left"], ref.data.parts["left"])
    np.testing.assert_array_equal(
        to_surface_image(values, table, density="fsaverage5").data.parts["right"], ref.data.parts["right"])
    with pytest.raises(ValueError, match="does not say its density"):
        to_surface_image(values, table)
    with pytest.raises(ValueError, match="lacks the column"):
        to_surface_image(values, table.drop(columns="hemi"), density="fsaverage5")


def test_full_density_decimates_onto_the_bundled_mesh_or_reads_surf_dir(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    full = {h: rng.standard_normal(163842) for h in ("lh", "rh")}
    img = to_surface_image(full, density="fsaverage5")
    np.testing.assert_array_equal(img.data.parts["left"], decimate(full["lh"], "fsaverage5"))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(datasets, "load_fsaverage", offline)
    with pytest.raises(RuntimeError, match="surf_dir=.*density='fsaverage5'"):
        to_surface_image(full)
    monkeypatch.undo()
    # a FreeSurfer surf/ folder is read with nibabel (here nilearn's fsaverage5, written as FreeSurfer files)
    ref = datasets.load_fsaverage("fsaverage5")["inflated"]
    for h, part in (("lh", "left"), ("rh", "right")):
        nib.freesurfer.write_geometry(str(tmp_path / f"{h}.inflated"), ref.parts[part].coordinates, ref.parts[part].faces)
    five = decimate(full, "fsaverage5")
    img = to_surface_image(five, surf_dir=tmp_path)
    np.testing.assert_allclose(img.mesh.parts["right"].coordinates, ref.parts["right"].coordinates, atol=1e-4)
    np.testing.assert_array_equal(img.mesh.parts["left"].faces, ref.parts["left"].faces)
    with pytest.raises(FileNotFoundError, match=r"lh\.pial"):
        to_surface_image(five, surf_dir=tmp_path, mesh="pial")
    with pytest.raises(ValueError, match="mesh has 10242 vertices but the lh maps have 163842"):
        to_surface_image(full, surf_dir=tmp_path)


def test_files_written_by_write_surface_maps_and_surface_image_input(tmp_path, space, values):
    img = to_surface_image(values[0], space)
    paths = write_surface_maps(img, tmp_path / "a", "igc", subject=1)
    maps = to_hemispheres(values[0], space)
    for fmt in ("gifti", "mgz"):
        got = to_surface_image({h: paths[f"{h}.{fmt}"] for h in ("lh", "rh")})
        # one fill value (0) in both formats where the maps have no value
        np.testing.assert_allclose(got.data.parts["left"], np.nan_to_num(maps["lh"]).astype(np.float32))
    from_dict = write_surface_maps(maps, tmp_path / "b", "igc", subject=1)
    assert sorted(p.name for p in from_dict.values()) == sorted(p.name for p in paths.values())
    for key in ("lh.gifti", "rh.mgz"):
        assert paths[key].read_bytes() == from_dict[key].read_bytes()


def test_native_surface_needs_its_mesh(tmp_path):
    nv = {"lh": 500, "rh": 600}
    sp = SurfaceSpace.from_indices({"lh": [0, 4], "rh": [9]}, "native", subject=1, n_vertices=nv)
    with pytest.raises(ValueError, match=r"subj01/surf"):
        to_surface_image([1.0, 2.0, 3.0], sp)
    rng = np.random.default_rng(3)
    for h in ("lh", "rh"):
        n = nv[h]
        nib.freesurfer.write_geometry(str(tmp_path / f"{h}.white"), rng.standard_normal((n, 3)),
                                      np.stack([np.arange(n - 2), np.arange(1, n - 1), np.arange(2, n)], 1))
    img = to_surface_image([1.0, 2.0, 3.0], sp, surf_dir=tmp_path, mesh="white_matter")
    assert img.data.parts["right"].shape == (600,) and img.data.parts["right"][9] == 3.0
    with pytest.raises(ValueError, match="native-surface maps cannot be decimated"):
        to_surface_image([1.0, 2.0, 3.0], sp, surf_dir=tmp_path, density="fsaverage5")


def test_bad_input_names_the_parameter(space, values):
    with pytest.raises(ValueError, match="Missing 'space'"):
        to_surface_image(values)
    with pytest.raises(ValueError, match="volume space has no surface"):
        to_surface_image([1.0], VolumeSpace([[0, 0, 0]], np.eye(4), (2, 2, 2)))
    with pytest.raises(ValueError, match="denser fsaverage6"):
        to_surface_image(values, space, density="fsaverage6")
    with pytest.raises(ValueError, match="'mesh'"):
        to_surface_image(values, space, mesh="veryinflated")
    with pytest.raises(ValueError, match="keys 'lh' and 'rh'"):
        to_surface_image({"lh": np.zeros(10242)})
    with pytest.raises(ValueError, match="'img'"):
        from_surface_image({"lh": np.zeros(3)})


def test_result_to_surface_image(space, values):
    res = AttributionResult(values, correlation=values.sum(1), settings={"output_idx": [4, 5, 6]})
    img = res.to_surface_image(space)
    np.testing.assert_array_equal(from_surface_image(img, space), values)
    one = res.to_surface_image(space, output=2)
    np.testing.assert_array_equal(from_surface_image(one, space), values[2])
    # an encoding model: one output per vertex, image-space maps; its per-output values go on the surface
    sub = space.select(np.arange(3))
    enc = AttributionResult(np.zeros((3, 4, 4)), correlation=[0.1, 0.2, 0.3], extras={"p_values": [0.5, 0.01, 0.02]})
    np.testing.assert_array_equal(from_surface_image(enc.to_surface_image(sub, what="correlation"), sub), [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(from_surface_image(enc.to_surface_image(sub, what="p_values"), sub), [0.5, 0.01, 0.02])
    with pytest.raises(ValueError, match="maps over images"):
        enc.to_surface_image(sub)
    with pytest.raises(ValueError, match="'what'.*correlation, p_values"):
        enc.to_surface_image(sub, what="ig_error")
    with pytest.raises(ValueError, match="'output'"):
        res.to_surface_image(space, output=3)
    with pytest.raises(ValueError, match="aggregate it first"):
        AttributionResult(np.zeros((2, 1, 3)), settings={"kind": "ig"}).to_surface_image(space)
