"""One small surface figure (Agg), with ROI outlines."""

import numpy as np
import pytest

from neuro_igc.surface import load_sphere, plot_surface_maps


def test_plot_surface_maps_png_with_outlines(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    maps, rois = {}, {}
    for h in ("lh", "rh"):
        c = load_sphere(h, "fsaverage5")
        maps[h] = np.concatenate([c[:, 1] / 100, np.zeros(163842 - 10242)])  # full density: decimated
        rois[h] = (c[:, 1] < -60).astype(int) + (c[:, 1] < -85).astype(int)
    out = plot_surface_maps(maps, tmp_path / "igc.png", rois=rois, views=("posterior",), title="test")
    img = matplotlib.image.imread(out)
    assert img.ndim == 3 and img.shape[0] > 100
    # signed data -> diverging colormap: both red-ish and blue-ish pixels are drawn
    rgb = img[..., :3]
    assert ((rgb[..., 0] - rgb[..., 2]) > 0.3).any() and ((rgb[..., 2] - rgb[..., 0]) > 0.3).any()
    with pytest.raises(ValueError, match="Invalid value for 'views'"):
        plot_surface_maps(maps, tmp_path / "x.png", views=("top",))
    with pytest.raises(ValueError, match="plots need fsaverage5 or a denser template"):
        plot_surface_maps({"lh": np.zeros(642)}, tmp_path / "x.png")


def test_best_view_faces_the_signal():
    from nilearn import datasets

    from neuro_igc.surface import best_view

    mesh = datasets.load_fsaverage("fsaverage5")["inflated"]
    meshes = {"lh": mesh.parts["left"], "rh": mesh.parts["right"]}
    coords = {h: np.asarray(m.coordinates) for h, m in meshes.items()}
    centre = {h: c.mean(0) for h, c in coords.items()}
    zero = {h: np.zeros(len(c)) for h, c in coords.items()}
    # signal on the outer (lateral) side of the left hemisphere: seen from the left
    lat = dict(zero, lh=(coords["lh"][:, 0] < centre["lh"][0] - 20).astype(float))
    assert best_view(meshes, lat) == "left"
    lat = dict(zero, rh=(coords["rh"][:, 0] > centre["rh"][0] + 20).astype(float))
    assert best_view(meshes, lat) == "right"
    # on the underside of both: seen from below
    low = {h: (c[:, 2] < centre[h][2] - 25).astype(float) for h, c in coords.items()}
    assert best_view(meshes, low) == "bottom"
    # the occipital pole: seen from the back
    back = {h: (c[:, 1] < c[:, 1].min() + 25).astype(float) for h, c in coords.items()}
    assert best_view(meshes, back) == "back"


def test_roi_outlines_from_feature_aligned_roi_labels():
    # ROILabels (one label per feature, as nsd.roi(..., like=betas) gives) draw the same outlines,
    # with the same legend names, as the full-hemisphere labels and table they came from
    from neuro_igc.data import ROILabels, SurfaceSpace
    from neuro_igc.surface._plot import _roi_layers

    rng = np.random.default_rng(0)
    full = {h: rng.integers(0, 3, 10242) for h in ("lh", "rh")}
    hemi = np.array(["lh"] * 10242 + ["rh"] * 10242)
    vertex = np.concatenate([np.arange(10242)] * 2)
    roi = ROILabels("toy", np.concatenate([full["lh"], full["rh"]]), {1: "A", 2: "B"},
                    SurfaceSpace("fsaverage5", hemi, vertex))
    (labels, table, _), = _roi_layers(roi)
    for h in ("lh", "rh"):
        np.testing.assert_array_equal(labels[h], full[h])
    assert table == {1: "A", 2: "B"}
