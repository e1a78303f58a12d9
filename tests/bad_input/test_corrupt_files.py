"""Corrupt, truncated, empty, misnamed or unreadable input files of every format the loaders read.

Each case damages one file and calls the public loader that reads it; the error must be an
:class:`~neuro_igc.errors.InputFileError` (one type for every format) whose message names the
file, says what is wrong and what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from neuro_igc.errors import InputFileError, NeuroIGCError

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

#: what the message must say for each kind of damage
REASON = {
    "truncated": r"truncated or corrupt",
    "garbage": r"truncated or corrupt|binary data|are missing|is missing",
    "empty": r"empty \(0 bytes\)",
    "folder": r"is a folder, not a file",
    "unreadable": r"permission denied",
    "misnamed": r"are missing|is missing|not a neuro_igc checkpoint|not an attribution result|malformed|no data array",
}
#: what the message must tell the user to do
HINT = r"again|permissions|path of the file|Give a"

BETAS = "nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR/lh.betas_session01.mgh"
VOL_H5 = "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session01.hdf5"
VOL_NII = "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session01.nii.gz"
NCSNR = "nsddata_betas/ppdata/subj01/fsaverage/betas_fithrf_GLMdenoise_RR/lh.ncsnr.mgh"
STIMULI = "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"
EXPDESIGN = "nsddata/experiments/nsd/nsd_expdesign.mat"
STIM_INFO = "nsddata/experiments/nsd/nsd_stim_info_merged.csv"
RESPONSES = "nsddata/ppdata/subj01/behav/responses.tsv"
BRAINMASK = "nsddata/ppdata/subj01/func1pt8mm/brainmask.nii.gz"
VOL_ROI = "nsddata/ppdata/subj01/func1pt8mm/roi/prf-visualrois.nii.gz"
LABEL = "nsddata/freesurfer/fsaverage/label/lh.streams.mgz"
CTAB = "nsddata/freesurfer/fsaverage/label/streams.mgz.ctab"
NATIVE = "nsddata_betas/ppdata/subj01/nativesurface/betas_fithrf_GLMdenoise_RR/lh.betas_session01.hdf5"
TRANSFORM = "nsddata/ppdata/subj01/transforms/lh.white-to-fsaverage.mgz"
N_NATIVE = {"lh": 40, "rh": 50}


def _quiet(fn):
    def call(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)
    return call


# ---------------------------------------------------------------------------------------------
# NSD-folder files, read through NSD(root) and Atlas.from_nsd

def _nsd(root):
    from neuro_igc.data import NSD

    return NSD(root, progress=False)


NSD_READERS = {
    BETAS: _quiet(lambda root: _nsd(root).betas(1, sessions=[1], nan="drop")),
    NCSNR: _quiet(lambda root: _nsd(root).ncsnr(1)),
    VOL_H5: _quiet(lambda root: _nsd(root).betas(1, sessions=[1], space="func1pt8mm", source="hdf5", nan="drop")),
    VOL_NII: _quiet(lambda root: _nsd(root).betas(1, sessions=[1], space="func1pt8mm", source="nifti", nan="drop")),
    STIMULI: lambda root: _nsd(root).stimuli([0, 1]),
    EXPDESIGN: lambda root: _nsd(root).expdesign,
    STIM_INFO: lambda root: _nsd(root).stim_info(),
    RESPONSES: lambda root: _nsd(root).responses(1),
    BRAINMASK: _quiet(lambda root: _nsd(root).betas(1, sessions=[1], space="func1pt8mm", nan="drop")),
    VOL_ROI: lambda root: _nsd(root).roi("prf-visualrois", "func1pt8mm", subject=1),
    LABEL: lambda root: _nsd(root).roi("streams", "fsaverage"),
    NATIVE: _quiet(lambda root: _nsd(root).betas(1, sessions=[1], space="nativesurface")),
    TRANSFORM: lambda root: _nsd(root).transform(1, "lh"),
    CTAB: lambda root: _nsd(root).roi("streams", "fsaverage"),
}

NSD_CASES = {
    BETAS: ["truncated", "header_only", "garbage", "empty", "folder", "unreadable"],
    NCSNR: ["truncated", "garbage", "empty"],
    VOL_H5: ["truncated", "garbage", "empty", "misnamed", "folder"],
    VOL_NII: ["truncated", "garbage", "empty"],
    STIMULI: ["truncated", "garbage", "empty", "misnamed", "folder", "unreadable"],
    EXPDESIGN: ["truncated", "garbage", "empty", "misnamed", "folder", "unreadable"],
    STIM_INFO: ["garbage", "empty", "folder"],
    RESPONSES: ["garbage", "empty", "misnamed", "folder"],
    BRAINMASK: ["truncated", "garbage", "empty"],
    VOL_ROI: ["truncated", "garbage", "empty"],
    LABEL: ["truncated", "garbage", "empty", "folder"],
    CTAB: ["garbage", "misnamed", "folder"],
    NATIVE: ["truncated", "garbage", "empty", "misnamed", "folder"],
    TRANSFORM: ["truncated", "garbage", "empty"],
}


@pytest.fixture(scope="module")
def nsd_src(tmp_path_factory):
    from neuro_igc.data import make_nsd_like

    root = tmp_path_factory.mktemp("nsd_src")
    make_nsd_like(root, subjects=1, sessions=1, seed=0, trials=20, image_size=32,
                  volume_spaces=("func1pt8mm",), volume_shape=(8, 8, 8), progress=False)
    _add_native(root)
    return root


def _add_native(root: Path) -> None:
    """Small native-surface betas and NSD's transforms (1-based), unless the folder has them."""
    import h5py

    from neuro_igc.data._io import write_mgh

    rng = np.random.default_rng(0)
    for h, n in N_NATIVE.items():
        betas = root / NATIVE.replace("lh.", f"{h}.")
        if not betas.exists():
            betas.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(betas, "w") as f:
                f.create_dataset("betas", data=rng.integers(-900, 900, (20, n)).astype(np.int16), chunks=(20, 1))
        tr = root / TRANSFORM.replace("lh.", f"{h}.")
        if not tr.exists():
            tr.parent.mkdir(parents=True, exist_ok=True)
            write_mgh((np.arange(163842) % n + 1).astype(np.int32), tr)
            write_mgh((np.arange(n) + 1).astype(np.int32), tr.with_name(f"{h}.fsaverage-to-white.mgz"))


def _linked_copy(src: Path, dst: Path) -> Path:
    """A copy of the folder made of symlinks (cheap); the damaged file is replaced by a real one."""
    shutil.copytree(src, dst, copy_function=os.symlink)
    return dst


def _misnamed(path: Path) -> None:
    """Rewrite ``path`` with its main dataset / variable / column renamed."""
    name = path.name
    if name.endswith(".hdf5"):
        import h5py

        with h5py.File(path.resolve(), "r") as f:
            items = {k: f[k][()] for k in f}
        path.unlink()
        with h5py.File(path, "w") as f:
            for k, v in items.items():
                f.create_dataset(k + "_old", data=v)
    elif name.endswith(".mat"):
        from scipy.io import loadmat, savemat

        mat = {k: v for k, v in loadmat(str(path.resolve())).items() if not k.startswith("__")}
        mat["masterorder"] = mat.pop("masterordering")
        path.unlink()
        savemat(str(path), mat)
    elif name.endswith(".tsv"):
        text = path.read_text().replace("73KID", "73K_ID", 1)
        path.unlink()
        path.write_text(text)
    elif name.endswith(".ctab"):
        text = path.read_text() + "V1 7\n"
        path.unlink()
        path.write_text(text)
    else:  # pragma: no cover
        raise AssertionError(name)


def damage(path: Path, how: str) -> None:
    """Replace the file (or symlink) at ``path`` by a damaged version of itself."""
    data = path.read_bytes() if path.exists() else b""
    if how == "misnamed":
        return _misnamed(path)
    path.unlink()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "header_only":
        path.write_bytes(data[:300])
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, max(len(data), 512), dtype=np.uint8).tobytes())
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "folder":
        path.mkdir()
    elif how == "unreadable":
        path.write_bytes(data)
        path.chmod(0)
    else:  # pragma: no cover
        raise AssertionError(how)


def _expect(exc_info, path: Path, how: str) -> None:
    err = exc_info.value
    msg = str(err)
    assert isinstance(err, NeuroIGCError)
    assert path.name in msg, msg
    assert re.search(REASON.get(how, REASON["truncated"]), msg), msg
    assert re.search(HINT, msg), msg
    assert Path(err.path).name == path.name


def _skip_unreadable(how):
    if how == "unreadable" and IS_ROOT:
        pytest.skip("root reads files whatever their permissions")


@pytest.mark.parametrize("rel,how", [(rel, how) for rel, hows in NSD_CASES.items() for how in hows],
                         ids=[f"{Path(rel).name}-{how}" for rel, hows in NSD_CASES.items() for how in hows])
def test_nsd_file(nsd_src, tmp_path, rel, how):
    _skip_unreadable(how)
    root = _linked_copy(nsd_src, tmp_path / "nsd")
    damage(root / rel, how)
    with pytest.raises(InputFileError) as exc_info:
        NSD_READERS[rel](root)
    _expect(exc_info, root / rel, how)


def test_nsd_bucket_hint(nsd_src, tmp_path):
    """An NSD file's hint gives its address in NSD's bucket."""
    root = _linked_copy(nsd_src, tmp_path / "nsd")
    damage(root / EXPDESIGN, "truncated")
    with pytest.raises(InputFileError, match=re.escape(f"s3://natural-scenes-dataset/{EXPDESIGN}")) as exc_info:
        NSD_READERS[EXPDESIGN](root)
    assert f"`neuro-igc nsd fetch {root}`" in str(exc_info.value)


def test_missing_file_is_file_not_found(nsd_src, tmp_path):
    root = _linked_copy(nsd_src, tmp_path / "nsd")
    (root / EXPDESIGN).unlink()
    with pytest.raises(FileNotFoundError, match=r"nsd_expdesign\.mat.*no such file.*'nsddata'") as exc_info:
        NSD_READERS[EXPDESIGN](root)
    assert isinstance(exc_info.value, InputFileError)


# ---------------------------------------------------------------------------------------------
# files outside an NSD folder: atlases (annot, GIFTI label, mgz, NIfTI), checkpoints, results,
# spheres, volume images


def _write_annot(d: Path):
    from neuro_igc.atlas import Atlas

    atlas = Atlas({"lh": np.arange(642) % 3, "rh": np.arange(642) % 2}, {1: "V1", 2: "V2"}, name="toy")
    atlas.to_annot(d, name="toy")
    return d / "lh.toy.annot", lambda p: Atlas.from_annot(p, d / "rh.toy.annot")


def _write_gifti(d: Path):
    import nibabel as nib

    from neuro_igc.atlas import Atlas

    for h in ("lh", "rh"):
        arr = nib.gifti.GiftiDataArray(np.arange(642, dtype=np.int32) % 3, intent="NIFTI_INTENT_LABEL",
                                       datatype="NIFTI_TYPE_INT32")
        table = nib.gifti.GiftiLabelTable()
        for k, n in ((0, "unknown"), (1, "V1"), (2, "V2")):
            lab = nib.gifti.GiftiLabel(key=k, red=0.5, green=0.5, blue=0.5, alpha=1)
            lab.label = n
            table.labels.append(lab)
        nib.save(nib.GiftiImage(darrays=[arr], labeltable=table), d / f"{h}.toy.label.gii")
    return d / "lh.toy.label.gii", lambda p: Atlas.from_gifti(p, d / "rh.toy.label.gii")


def _write_atlas_mgz(d: Path):
    from neuro_igc.atlas import Atlas
    from neuro_igc.data._io import write_ctab, write_mgh

    for h in ("lh", "rh"):
        write_mgh((np.arange(642) % 3).astype(np.int32), d / f"{h}.toy.mgz")
    write_ctab(d / "toy.mgz.ctab", {1: "V1", 2: "V2"})
    return d / "lh.toy.mgz", lambda p: Atlas.from_mgz(p, d / "rh.toy.mgz")


def _write_atlas_nifti(d: Path):
    import nibabel as nib

    from neuro_igc.atlas import Atlas

    nib.save(nib.Nifti1Image((np.arange(512).reshape(8, 8, 8) % 3).astype(np.int16), np.eye(4)), d / "toy.nii.gz")
    return d / "toy.nii.gz", lambda p: Atlas.from_nifti(p, {1: "V1", 2: "V2"})


def _write_checkpoint(d: Path):
    from neuro_igc.models import DecodingMLP, load_checkpoint, save_checkpoint

    save_checkpoint(d / "model.pt", DecodingMLP(20, n_subjects=1, hidden=8, widths=(4,)))
    return d / "model.pt", load_checkpoint


def _write_result(d: Path):
    from neuro_igc.attribution import AttributionResult

    res = AttributionResult(attributions=np.ones((2, 5)), correlation=np.ones(2), settings={"method": "x"})
    res.save(d / "res.npz")
    return d / "res.npz", AttributionResult.load


def _write_sphere(d: Path):
    import nibabel as nib

    from neuro_igc.surface._decimate import load_sphere

    rng = np.random.default_rng(0)
    xyz = rng.normal(size=(10242, 3))
    nib.freesurfer.write_geometry(str(d / "lh.sphere"), xyz / np.linalg.norm(xyz, axis=1, keepdims=True) * 100,
                                  np.array([[0, 1, 2]], dtype=np.int32))
    return d / "lh.sphere", lambda p: load_sphere("lh", "fsaverage5", path=p)


def _write_volume(d: Path):
    import nibabel as nib

    from neuro_igc.surface import from_volume

    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((8, 8, 8, 3)).astype(np.float32), np.eye(4)),
             d / "map.nii.gz")
    from neuro_igc.data import VolumeSpace

    return d / "map.nii.gz", lambda p: from_volume(p, VolumeSpace(np.array([[1, 2, 3]]), np.eye(4), (8, 8, 8)))


OTHER_WRITERS = {
    "annot": _write_annot,
    "gifti-label": _write_gifti,
    "atlas-mgz": _write_atlas_mgz,
    "atlas-nifti": _write_atlas_nifti,
    "checkpoint": _write_checkpoint,
    "npz-result": _write_result,
    "sphere": _write_sphere,
    "volume-image": _write_volume,
}
OTHER_CASES = {
    "annot": ["truncated", "garbage", "empty", "folder"],
    "gifti-label": ["truncated", "garbage", "empty", "misnamed"],
    "atlas-mgz": ["truncated", "garbage", "empty"],
    "atlas-nifti": ["truncated", "garbage", "empty", "folder"],
    "checkpoint": ["truncated", "garbage", "empty", "folder", "misnamed", "unreadable"],
    "npz-result": ["truncated", "garbage", "empty", "misnamed"],
    "sphere": ["truncated", "garbage", "empty"],
    "volume-image": ["truncated", "garbage", "empty"],
}


def _misnamed_other(kind: str, path: Path) -> None:
    if kind == "checkpoint":
        import torch

        torch.save({"weights": torch.zeros(3)}, path)
    elif kind == "gifti-label":
        import nibabel as nib

        nib.save(nib.GiftiImage(), path)
    elif kind == "npz-result":
        np.savez(path, attributions=np.ones(3))
    else:  # pragma: no cover
        raise AssertionError(kind)


@pytest.mark.parametrize("kind,how", [(k, h) for k, hs in OTHER_CASES.items() for h in hs],
                         ids=[f"{k}-{h}" for k, hs in OTHER_CASES.items() for h in hs])
def test_other_file(tmp_path, kind, how):
    _skip_unreadable(how)
    path, read = OTHER_WRITERS[kind](tmp_path)
    if how == "misnamed":
        _misnamed_other(kind, path)
    else:
        damage(path, how)
    with pytest.raises(InputFileError) as exc_info:
        read(path)
    _expect(exc_info, path, how)


def test_error_pickles():
    """The error crosses process boundaries (DataLoader workers, torchrun) intact."""
    import pickle

    err = InputFileError("/x/lh.betas_session01.mgh", "the file is empty (0 bytes)", "Download it again.", "betas")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is InputFileError and str(back) == str(err) and back.path == err.path



def test_one_hierarchy():
    """Every user error of the package shares one base class (the command line prints it as a line)."""
    from neuro_igc.errors import MissingFileError
    from neuro_igc.pipeline import PipelineError
    from neuro_igc.pipeline._schema import ConfigError

    for cls in (InputFileError, MissingFileError, ConfigError, PipelineError):
        assert issubclass(cls, NeuroIGCError), cls
    assert issubclass(ConfigError, ValueError) and issubclass(PipelineError, RuntimeError)
    assert issubclass(MissingFileError, FileNotFoundError) and issubclass(InputFileError, (OSError, ValueError))
