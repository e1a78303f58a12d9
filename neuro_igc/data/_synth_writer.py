"""Writes the files of a synthetic NSD folder (the model is documented in ``synthetic.py``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_path
from neuro_igc.data import _layout as L
from neuro_igc.data._io import VOLUME_SCALE, write_ctab, write_mgh, write_nifti, write_volume_hdf5
from neuro_igc.data._synth_cortex import TEMPLATE, Layout, cortex_maps, pial_coordinates, prf_weights
from neuro_igc.data._synth_design import make_design, responses_table, stim_info_table
from neuro_igc.data._synth_images import DRIVE_SIZE, HIGHPASS_SIGMA_PX, contrast_energy, render_images
from neuro_igc.data.synthetic import NOISE_SD_RANGE as _NOISE
from neuro_igc.data.synthetic import OFFSET_SD as _OFFSET
from neuro_igc.data.synthetic import PLANTED_STATISTICS, ROI_SNR_FACTOR

__all__ = ["write_folder"]

logger = logging.getLogger(__name__)

HEMIS = ("lh", "rh")
ATLASES = tuple(L.LABEL_TABLES)
N5 = L.N_VERTICES["fsaverage5"]


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([seed, *tags])


def _write_labels(root: Path, subject, maps: dict, n_vertices: int) -> None:
    for atlas in ATLASES:
        for h in HEMIS:
            lab = np.zeros(n_vertices, dtype=np.int32)
            lab[:N5] = maps[h][atlas]
            write_mgh(lab, root / L.surface_label_path(subject, h, atlas))
        write_ctab(root / L.ctab_path(subject, atlas), L.LABEL_TABLES[atlas])


def _write_images(root: Path, rng, ids: np.ndarray, size: int):
    import h5py

    from neuro_igc.data._images import to_luminance
    from neuro_igc.data.features import luminance_contrast, spectral_slope

    images, params = render_images(rng, ids.size, size)
    with atomic_path(root / L.stimuli_path()) as tmp:
        with h5py.File(tmp, "w") as f:
            d = f.create_dataset("imgBrick", shape=(L.N_IMAGES_73K, size, size, 3), dtype=np.uint8,
                                 chunks=(1, size, size, 3), fillvalue=0)
            for i, img_id in enumerate(ids):
                d[img_id] = images[i]
    lum = to_luminance(images)
    stats = {"luminance_contrast": luminance_contrast(lum), "spectral_slope": spectral_slope(lum)}
    return contrast_energy(lum), stats, params


def _volume_grid(space: str, shape18) -> tuple[tuple, np.ndarray]:
    shape = tuple(shape18) if space == "func1pt8mm" else tuple(int(round(s * 1.8)) for s in shape18)
    vs = 1.8 if space == "func1pt8mm" else 1.0
    affine = np.diag([vs, vs, vs, 1.0])
    affine[:3, 3] = -vs * (np.asarray(shape) - 1) / 2.0
    return shape, affine


def _brainmask(shape) -> np.ndarray:
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"), -1)
    return (np.sum(grid**2, axis=-1) <= 0.97).astype(np.uint8)


def _voxel_assignment(shape, sig_hemi, sig_vertex) -> tuple[np.ndarray, np.ndarray]:
    """Voxel (ijk) of each signal vertex's scaled pial position; first vertex per voxel wins."""
    pial = {h: pial_coordinates(h) for h in HEMIS}
    allc = np.concatenate([pial["lh"], pial["rh"]])
    lo, hi = allc.min(0), allc.max(0)
    coords = np.stack([pial[h][v] for h, v in zip(sig_hemi, sig_vertex)]) if len(sig_vertex) else np.zeros((0, 3))
    frac = (coords - lo) / (hi - lo)
    inner = np.asarray(shape) - 1
    # shrink into the ellipsoid's inner box
    ijk = np.rint(0.5 * inner + (frac - 0.5) * 0.62 * inner).astype(np.int64)
    flat = np.ravel_multi_index(tuple(ijk.T), shape)
    _, first = np.unique(flat, return_index=True)
    first = np.sort(first)
    return first, ijk[first]


def write_folder(root: Path, *, subjects, sessions, seed, trials, density, image_size, volume_spaces,
                 volume_shape, shared_fraction, snr, progress) -> tuple[dict, dict]:
    from scipy.io import savemat
    from tqdm.auto import tqdm

    n_vert = L.N_VERTICES[density]
    design = make_design(_rng(seed, 0), sessions, trials, shared_fraction)
    mat = design["mat"]
    with atomic_path(root / L.expdesign_path()) as tmp:
        savemat(tmp, mat, format="5", oned_as="row")
    with atomic_path(root / L.stim_info_path()) as tmp:
        stim_info_table(mat).to_csv(tmp)
    run = design["run_trials"]
    mo = mat["masterordering"][0].astype(np.int64) - 1
    subjectim = mat["subjectim"].astype(np.int64) - 1
    shown = {s: subjectim[s - 1, mo[run]] for s in subjects}
    ids = np.unique(np.concatenate(list(shown.values())))
    logger.info("rendering %d images of %d px", ids.size, image_size)
    ce, stats, params = _write_images(root, _rng(seed, 1), ids, image_size)
    arrays = {"image_ids": ids, **stats, **{f"gen_{k}": v for k, v in params.items()}}

    template = {h: cortex_maps(h, TEMPLATE) for h in HEMIS}
    _write_labels(root, None, template, n_vert)
    meta = {
        "seed": seed, "subjects": subjects, "sessions": sessions, "trials_per_session": trials,
        "density": density, "n_vertices": n_vert, "image_size": image_size, "drive_size": DRIVE_SIZE,
        "highpass_sigma_px": HIGHPASS_SIGMA_PX, "extent_deg": L.EXTENT_DEG, "n_rendered": int(ids.size),
        "n_shared_used": design["n_shared_used"], "shared_fraction": shared_fraction, "snr": snr,
        "volume_spaces": list(volume_spaces), "volume_shapes": {}, "noise_sd_range": list(_NOISE),
        "offset_sd": _OFFSET, "layouts": {"template": dict(TEMPLATE)},
        "response_model": "beta = offset + gain * (sqrt(G . CE) - mean) / sd + noise_sd * N(0, 1)",
    }
    for s in tqdm(subjects, desc="synthetic subjects", disable=not progress):
        _write_subject(root, s, seed, sessions, trials, n_vert, shown[s], ids, ce, stats, mat, run,
                       volume_spaces, volume_shape, snr, arrays, meta)
    return meta, arrays


def _write_subject(root, s, seed, sessions, trials, n_vert, shown_ids, ids, ce, stats, mat, run,
                   volume_spaces, volume_shape, snr, arrays, meta):
    import time

    tick = time.perf_counter()

    def lap(what):
        nonlocal tick
        now = time.perf_counter()
        logger.debug("%s: %s %.2f s", L.subject_name(s), what, now - tick)
        tick = now

    rng = _rng(seed, 10, s)
    name = L.subject_name(s)
    layout = Layout(TEMPLATE).jittered(rng)
    meta["layouts"][name] = dict(layout)
    maps = {h: cortex_maps(h, layout, rng) for h in HEMIS}
    _write_labels(root, s, maps, n_vert)
    for key, fname in (("angle", "prfangle"), ("eccentricity", "prfeccentricity"), ("sigma", "prfsize")):
        for h in HEMIS:
            vals = np.zeros(n_vert, dtype=np.float32)
            vals[:N5] = np.nan_to_num(maps[h][key])
            write_mgh(vals, root / L.label_dir(s) / f"{h}.{fname}.mgz")

    lap("labels")
    # signal vertices: visual (pRF) first, then the planted statistics
    uniq = np.unique(shown_ids)
    img_pos = np.searchsorted(ids, uniq)  # rows of ce / stats
    vis = {h: np.flatnonzero(maps[h]["prf-visualrois"] > 0) for h in HEMIS}
    p_hemi = np.concatenate([np.full(vis[h].size, h) for h in HEMIS])
    p_vert = np.concatenate([vis[h] for h in HEMIS])
    pick = lambda key: np.concatenate([maps[h][key][vis[h]] for h in HEMIS])  # noqa: E731
    roi = pick("prf-visualrois")
    x, y, sigma = pick("x"), pick("y"), pick("sigma")
    weights = prf_weights(x, y, sigma, DRIVE_SIZE)
    drive = np.sqrt(np.maximum(ce[img_pos] @ weights.T, 0.0)).astype(np.float64)  # (n_img, n_vis)
    d_mean, d_sd = drive.mean(0), drive.std(0) + 1e-12
    noise_sd = rng.uniform(*_NOISE, size=(2, n_vert)).astype(np.float32)
    hidx = np.where(p_hemi == "lh", 0, 1)
    ncsnr = snr * np.array([ROI_SNR_FACTOR[int(r)] for r in roi]) * rng.uniform(0.8, 1.2, roi.size)
    gain = ncsnr * noise_sd[hidx, p_vert]
    pre = f"{name}_prf_"
    for k, v in dict(hemi=p_hemi, vertex=p_vert, roi=roi, x=x, y=y, sigma=sigma, angle=pick("angle"),
                     eccentricity=pick("eccentricity"), gain=gain, ncsnr=ncsnr, drive_mean=d_mean,
                     drive_sd=d_sd).items():
        arrays[pre + k] = v
    sig_hemi, sig_vert = [p_hemi], [p_vert]
    sig_resp = [(drive - d_mean) / d_sd * gain]  # (n_img, n_sig) noise-free responses
    ncsnr_map = np.zeros((2, n_vert), dtype=np.float32)
    ncsnr_map[hidx, p_vert] = ncsnr
    for stat, where in PLANTED_STATISTICS.items():
        index = {v: k for k, v in L.LABEL_TABLES[where["atlas"]].items()}[where["roi"]]
        sv = {h: np.flatnonzero(maps[h][where["atlas"]] == index) for h in HEMIS}
        sh = np.concatenate([np.full(sv[h].size, h) for h in HEMIS])
        sx = np.concatenate([sv[h] for h in HEMIS])
        shi = np.where(sh == "lh", 0, 1)
        g = snr * noise_sd[shi, sx]
        vals = stats[stat][img_pos]
        m, sd = float(vals.mean()), float(vals.std() + 1e-12)
        sig_hemi.append(sh)
        sig_vert.append(sx)
        sig_resp.append(((vals - m) / sd)[:, None] * g[None])
        ncsnr_map[shi, sx] = snr
        for k, v in dict(hemi=sh, vertex=sx, gain=g, mean=np.float64(m), sd=np.float64(sd)).items():
            arrays[f"{name}_{stat}_{k}"] = v
    sig_hemi, sig_vert = np.concatenate(sig_hemi), np.concatenate(sig_vert)
    sig_hidx = np.where(sig_hemi == "lh", 0, 1)
    resp = np.concatenate(sig_resp, axis=1).astype(np.float32)  # (n_img, n_sig)
    offsets = (_OFFSET * rng.standard_normal((sessions, 2, n_vert))).astype(np.float32)
    arrays[f"{name}_noise_sd"] = noise_sd
    arrays[f"{name}_session_offset"] = offsets

    lap("signals")
    version = L.BETA_VERSIONS[0]
    for h, hi in zip(HEMIS, (0, 1)):
        write_mgh(ncsnr_map[hi], root / L.ncsnr_surface_path(s, h, version))
    with atomic_path(root / L.responses_path(s)) as tmp:
        responses_table(rng, s, mat, run).to_csv(tmp, sep="\t", index=False)

    lap("responses")
    # volumes: voxel assignment per space
    vol = {}
    for space in volume_spaces:
        shape, affine = _volume_grid(space, volume_shape)
        meta["volume_shapes"][space] = list(shape)
        brain = _brainmask(shape)
        which, ijk = _voxel_assignment(shape, sig_hemi, sig_vert)
        arrays[f"{name}_{space}_ijk"] = ijk
        arrays[f"{name}_{space}_hemi"] = sig_hemi[which]
        arrays[f"{name}_{space}_vertex"] = sig_vert[which]
        vol[space] = (shape, affine, brain, which, ijk)
        _write_volume_static(root, s, space, shape, affine, brain, ijk, sig_hemi[which], sig_vert[which],
                             maps, ncsnr_map, n_vert)

    lap("volume statics")
    noise_rng = _rng(seed, 20, s)
    shown_pos = np.searchsorted(uniq, shown_ids)
    for ses in range(1, sessions + 1):
        rows = shown_pos[(ses - 1) * trials: ses * trials]
        r = resp[rows]  # (T, n_sig)
        for h, hi in zip(HEMIS, (0, 1)):
            data = noise_rng.standard_normal((n_vert, trials), dtype=np.float32)
            data *= noise_sd[hi][:, None]
            data += offsets[ses - 1, hi][:, None]
            on = sig_hidx == hi
            data[sig_vert[on]] += r[:, on].T
            lap("surface noise")
            write_mgh(data.T, root / L.surface_betas_path(s, h, ses, version))  # (n_trials, V)
            lap("surface write")
        for space in volume_spaces:
            shape, affine, brain, which, ijk = vol[space]
            vox = noise_rng.standard_normal(shape + (trials,), dtype=np.float32) * 2.0
            vox[tuple(ijk.T)] += r[:, which].T
            vox *= brain[..., None]
            q = np.clip(np.rint(vox * VOLUME_SCALE), -32768, 32767).astype(np.int16)
            lap("volume noise")
            write_nifti(root / L.volume_betas_path(s, space, ses, version, ".nii.gz"), q, affine)
            write_volume_hdf5(root / L.volume_betas_path(s, space, ses, version, ".hdf5"), q)
            lap("volume write")


def _write_volume_static(root, s, space, shape, affine, brain, ijk, v_hemi, v_vert, maps, ncsnr_map, n_vert):
    write_nifti(root / L.brainmask_path(s, space), brain, affine)
    idx = tuple(ijk.T)
    for atlas in ATLASES:
        for hemi in (None, "lh", "rh"):
            lab = np.where(brain > 0, 0, -1).astype(np.int16)
            sel = np.ones(len(v_vert), dtype=bool) if hemi is None else (v_hemi == hemi)
            vals = np.array([maps[h][atlas][v] for h, v in zip(v_hemi, v_vert)], dtype=np.int16)
            lab[tuple(ijk[sel].T)] = vals[sel]
            write_nifti(root / L.volume_roi_path(s, space, atlas, hemi), lab, affine)
    for key, fname in (("angle", "angle"), ("eccentricity", "eccentricity"), ("sigma", "size")):
        m = np.zeros(shape, dtype=np.float32)
        m[idx] = np.nan_to_num([maps[h][key][v] for h, v in zip(v_hemi, v_vert)])
        write_nifti(root / L.volume_prf_path(s, space, fname), m, affine)
    r2 = np.zeros(shape, dtype=np.float32)
    nc = ncsnr_map[np.where(v_hemi == "lh", 0, 1), v_vert]
    r2[idx] = 100.0 * nc**2 / (1.0 + nc**2)
    write_nifti(root / L.volume_prf_path(s, space, "R2"), r2, affine)
    nmap = np.zeros(shape, dtype=np.float32)
    nmap[idx] = nc
    write_nifti(root / L.ncsnr_volume_path(s, space, L.BETA_VERSIONS[0]), nmap, affine)
