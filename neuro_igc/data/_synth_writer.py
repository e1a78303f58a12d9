"""Writes the files of a synthetic NSD folder (the model is documented in ``synthetic.py``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from neuro_igc._utils import atomic_path
from neuro_igc.data import _layout as L
from neuro_igc.data._io import (VOLUME_SCALE, write_ctab, write_mgh, write_native_betas_hdf5, write_nifti,
                                write_volume_hdf5)
from neuro_igc.data._synth_cortex import TEMPLATE, Layout, cortex_maps, pial_coordinates, prf_weights
from neuro_igc.data._synth_surface import SPHERE_RADIUS, fsaverage_mesh, native_surface
from neuro_igc.data._synth_design import make_design, responses_table, stim_info_table
from neuro_igc.data._synth_images import DRIVE_SIZE, HIGHPASS_SIGMA_PX, contrast_energy, render_images
from neuro_igc.data._synth_params import NOISE_SD_RANGE as _NOISE
from neuro_igc.data._synth_params import OFFSET_SD as _OFFSET
from neuro_igc.data._synth_params import PLANTED_STATISTICS, ROI_SNR_FACTOR

__all__ = ["write_folder"]

logger = logging.getLogger(__name__)

HEMIS = ("lh", "rh")
#: atlases drawn per subject: on the native surface (subjAA/label) and in the volumes (roi/)
SUBJECT_ATLASES = tuple(L.LABEL_TABLES)
#: group atlases on fsaverage (template layout, 163,842 entries per hemisphere)
GROUP_ATLASES = ("nsdgeneral", "streams")
#: native vertex count per hemisphere, drawn in [low, high) for every subject and hemisphere
NATIVE_VERTICES = (10500, 13500)
#: native vertices above this quantile of the white z coordinate (top of the head), outside
#: nsdgeneral, are outside the functional coverage: NaN in the fsaverage betas
COVERAGE_TOP_QUANTILE = 0.85
#: fraction of the brain voxels that carry no vertex marked invalid in each session
INVALID_FRACTION = 0.03


def _mgh(path: Path, data: np.ndarray) -> None:
    """Surface file (V, 1, 1[, T]) from ``data`` (V,) or (V, T)."""
    write_mgh(np.asarray(data).T, path)  # write_mgh takes (n_maps, V)


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([seed, *tags])


def _vertex_areas(mesh) -> np.ndarray:
    """Area (mm^2) of each vertex: a third of the area of each triangle it belongs to."""
    a, b, c = (mesh.coords[mesh.faces[:, k]] for k in range(3))
    tri = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    return np.bincount(mesh.faces.ravel(), weights=np.repeat(tri / 3.0, 3), minlength=mesh.n_vertices)


def _write_group_labels(root: Path) -> None:
    for h in HEMIS:  # FreeSurfer's fsaverage vertex areas: the template of nsdcode's fsaverage .mgz outputs
        _mgh(root / L.fsaverage_surface_path(h, "orig.avg.area.mgh"),
             _vertex_areas(fsaverage_mesh(h)).astype(np.float32))
    for h in HEMIS:
        maps = cortex_maps(h, TEMPLATE, unit=fsaverage_mesh(h).unit)
        for atlas in GROUP_ATLASES:
            _mgh(root / L.surface_label_path(None, h, atlas), maps[atlas].astype(np.int32))
    for atlas in GROUP_ATLASES:
        write_ctab(root / L.ctab_path(None, atlas), L.LABEL_TABLES[atlas])


def _write_geometry(path: Path, coords: np.ndarray, faces: np.ndarray) -> None:
    import nibabel as nib

    with atomic_path(path, suffix="") as tmp:
        nib.freesurfer.write_geometry(str(tmp), coords.astype(np.float32), faces.astype(np.int32))


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


def _voxel_coordinates(shape, coords: np.ndarray) -> np.ndarray:
    """Decimal voxel coordinates (0-based, (n, 3)) of white positions (n, 3): the bounding box of
    fsaverage's pial surface, shrunk into the brain mask's inner box, spans the volume."""
    pial = np.concatenate([pial_coordinates(h) for h in HEMIS])
    lo, hi = pial.min(0), pial.max(0)
    frac = (coords - lo) / (hi - lo)
    inner = np.asarray(shape) - 1
    return np.clip(0.5 * inner + (frac - 0.5) * 0.62 * inner, 0, inner)


def _voxel_assignment(shape, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voxel (ijk) of each scaled white position (n, 3); the first vertex per voxel wins."""
    ijk = np.rint(_voxel_coordinates(shape, coords)).astype(np.int64)
    flat = np.ravel_multi_index(tuple(ijk.T), shape)
    _, first = np.unique(flat, return_index=True)
    first = np.sort(first)
    return first, ijk[first]


def _by_hemi(per_hemi: dict, hemi: np.ndarray, vertex: np.ndarray) -> np.ndarray:
    """``per_hemi[h][vertex]`` for each (hemi, vertex) pair."""
    first = per_hemi[HEMIS[0]]
    out = np.empty(len(vertex), dtype=np.asarray(first).dtype)
    for h in HEMIS:
        on = hemi == h
        out[on] = np.asarray(per_hemi[h])[vertex[on]]
    return out


def _to_fsaverage(parent: dict, hemi: np.ndarray, vertex: np.ndarray, columns: dict, prefix: str, arrays: dict):
    """Expand native rows (hemi, vertex, columns) to the fsaverage vertices that take them."""
    parts = {k: [] for k in ("hemi", "vertex", "native_vertex", *columns)}
    for h in HEMIS:
        on = np.flatnonzero(hemi == h)
        rowmap = np.full(int(max(vertex[on].max(initial=-1), parent[h].max())) + 1, -1, dtype=np.int64)
        rowmap[vertex[on]] = on
        fsv = np.flatnonzero(rowmap[parent[h]] >= 0)
        rows = rowmap[parent[h][fsv]]
        parts["hemi"].append(np.full(fsv.size, h))
        parts["vertex"].append(fsv)
        parts["native_vertex"].append(parent[h][fsv])
        for k, v in columns.items():
            parts[k].append(np.asarray(v)[rows])
    for k, v in parts.items():
        arrays[prefix + k] = np.concatenate(v)


def write_folder(root: Path, *, subjects, sessions, seed, trials, density, image_size, volume_spaces,
                 volume_shape, shared_fraction, snr, progress) -> tuple[dict, dict]:
    from scipy.io import savemat
    from neuro_igc._utils import progress_bar as tqdm

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

    _write_group_labels(root)
    meta = {
        "seed": seed, "subjects": subjects, "sessions": sessions, "trials_per_session": trials,
        "density": density, "n_vertices": n_vert, "image_size": image_size, "drive_size": DRIVE_SIZE,
        "highpass_sigma_px": HIGHPASS_SIGMA_PX, "extent_deg": L.EXTENT_DEG, "n_rendered": int(ids.size),
        "n_shared_used": design["n_shared_used"], "shared_fraction": shared_fraction, "snr": snr,
        "volume_spaces": list(volume_spaces), "volume_shapes": {}, "noise_sd_range": list(_NOISE),
        "offset_sd": _OFFSET, "layouts": {"template": dict(TEMPLATE)}, "native_vertices": {},
        "nan_vertices": {}, "invalid_voxels": {}, "group_atlases": list(GROUP_ATLASES),
        "subject_atlases": list(SUBJECT_ATLASES), "beta_version": L.BETA_VERSIONS[0],
        "response_model": "beta = offset + gain * (sqrt(G . CE) - mean) / sd + noise_sd * N(0, 1)",
    }
    for s in tqdm(subjects, desc="synthetic subjects", disable=not progress):
        _write_subject(root, s, seed, sessions, trials, n_vert, shown[s], ids, ce, stats, mat, run,
                       volume_spaces, volume_shape, snr, arrays, meta)
    return meta, arrays


def _write_native(root: Path, s: int, seed: int, layout: dict, rng) -> tuple[dict, dict]:
    """Native surfaces, transforms, subject atlases and pRF maps of one subject."""
    surf, maps = {}, {}
    for hi, h in enumerate(HEMIS):
        n = int(rng.integers(*NATIVE_VERTICES))
        surf[h] = ns = native_surface(h, n, _rng(seed, 11, s, hi))
        maps[h] = cortex_maps(h, layout, rng, unit=ns.mesh.unit)
        _write_geometry(root / L.native_surface_path(s, h, "white"), ns.mesh.coords, ns.mesh.faces)
        _write_geometry(root / L.native_surface_path(s, h, "sphere.reg"), SPHERE_RADIUS * ns.mesh.unit, ns.mesh.faces)
        _mgh(root / L.transform_path(s, h, "white-to-fsaverage"), (ns.white_to_fsaverage + 1).astype(np.int32))
        _mgh(root / L.transform_path(s, h, "fsaverage-to-white"), (ns.fsaverage_to_white + 1).astype(np.int32))
        # FreeSurfer's grey/white contrast (percent) per vertex: the template nsdcode writes subject .mgz from
        pct = 20.0 + 4.0 * _rng(seed, 12, s, hi).standard_normal(ns.n_vertices)
        _mgh(root / L.native_surface_path(s, h, "w-g.pct.mgh"), pct.astype(np.float32))
        for atlas in SUBJECT_ATLASES:
            _mgh(root / L.surface_label_path(s, h, atlas), maps[h][atlas].astype(np.int32))
        for key, fname in (("angle", "prfangle"), ("eccentricity", "prfeccentricity"), ("sigma", "prfsize")):
            _mgh(root / L.label_dir(s) / f"{h}.{fname}.mgz", np.nan_to_num(maps[h][key]).astype(np.float32))
    for atlas in SUBJECT_ATLASES:
        write_ctab(root / L.ctab_path(s, atlas), L.LABEL_TABLES[atlas])
    return surf, maps


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
    surf, maps = _write_native(root, s, seed, layout, rng)
    n_nat = {h: surf[h].n_vertices for h in HEMIS}
    meta["native_vertices"][name] = dict(n_nat)
    parent = {h: surf[h].white_to_fsaverage[:n_vert] for h in HEMIS}  # 0-based native vertex per fsaverage vertex
    lap("native surfaces and labels")

    # signal vertices (native): visual (pRF) first, then the planted statistics
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
    noise_sd = {h: rng.uniform(*_NOISE, size=n_nat[h]).astype(np.float32) for h in HEMIS}
    ncsnr = snr * np.array([ROI_SNR_FACTOR[int(r)] for r in roi]) * rng.uniform(0.8, 1.2, roi.size)
    gain = ncsnr * _by_hemi(noise_sd, p_hemi, p_vert)
    prf_cols = dict(roi=roi, x=x, y=y, sigma=sigma, angle=pick("angle"), eccentricity=pick("eccentricity"),
                    gain=gain, ncsnr=ncsnr, drive_mean=d_mean, drive_sd=d_sd)
    for k, v in dict(hemi=p_hemi, vertex=p_vert, **prf_cols).items():
        arrays[f"{name}_native_prf_{k}"] = v
    _to_fsaverage(parent, p_hemi, p_vert, prf_cols, f"{name}_prf_", arrays)
    sig_hemi, sig_vert = [p_hemi], [p_vert]
    sig_resp = [(drive - d_mean) / d_sd * gain]  # (n_img, n_sig) noise-free responses
    ncsnr_nat = {h: np.zeros(n_nat[h], dtype=np.float32) for h in HEMIS}
    for h in HEMIS:
        ncsnr_nat[h][p_vert[p_hemi == h]] = ncsnr[p_hemi == h]
    for stat, where in PLANTED_STATISTICS.items():
        index = {v: k for k, v in L.LABEL_TABLES[where["atlas"]].items()}[where["roi"]]
        sv = {h: np.flatnonzero(maps[h][where["atlas"]] == index) for h in HEMIS}
        sh = np.concatenate([np.full(sv[h].size, h) for h in HEMIS])
        sx = np.concatenate([sv[h] for h in HEMIS])
        g = snr * _by_hemi(noise_sd, sh, sx)
        vals = stats[stat][img_pos]
        m, sd = float(vals.mean()), float(vals.std() + 1e-12)
        sig_hemi.append(sh)
        sig_vert.append(sx)
        sig_resp.append(((vals - m) / sd)[:, None] * g[None])
        for h in HEMIS:
            ncsnr_nat[h][sv[h]] = snr
        for k, v in dict(hemi=sh, vertex=sx, gain=g).items():
            arrays[f"{name}_native_{stat}_{k}"] = v
        _to_fsaverage(parent, sh, sx, {"gain": g}, f"{name}_{stat}_", arrays)
        arrays[f"{name}_{stat}_mean"], arrays[f"{name}_{stat}_sd"] = np.float64(m), np.float64(sd)
    sig_hemi, sig_vert = np.concatenate(sig_hemi), np.concatenate(sig_vert)
    resp = np.concatenate(sig_resp, axis=1).astype(np.float32)  # (n_img, n_sig)
    offsets = {h: (_OFFSET * rng.standard_normal((sessions, n_nat[h]))).astype(np.float32) for h in HEMIS}
    covered = {}
    for h in HEMIS:
        z = surf[h].mesh.coords[:, 2]
        covered[h] = ~((z > np.quantile(z, COVERAGE_TOP_QUANTILE)) & (maps[h]["nsdgeneral"] == 0))
        arrays[f"{name}_{h}_noise_sd"] = noise_sd[h]
        arrays[f"{name}_{h}_session_offset"] = offsets[h]
        arrays[f"{name}_{h}_covered"] = covered[h]
        arrays[f"{name}_{h}_fsaverage_parent"] = parent[h]
    fs_nan = {h: ~covered[h][parent[h]] for h in HEMIS}
    meta["nan_vertices"][name] = {h: int(fs_nan[h].sum()) for h in HEMIS}

    lap("signals")
    version = L.BETA_VERSIONS[0]
    for h in HEMIS:
        nc = ncsnr_nat[h][parent[h]]
        nc[fs_nan[h]] = np.nan
        _mgh(root / L.ncsnr_surface_path(s, h, version), nc)
    with atomic_path(root / L.responses_path(s)) as tmp:
        responses_table(rng, s, mat, run).to_csv(tmp, sep="\t", index=False)

    lap("responses")
    # volumes: signal vertices first, then the other covered nsdgeneral vertices, one voxel each
    others = {h: np.setdiff1d(np.flatnonzero((maps[h]["nsdgeneral"] > 0) & covered[h]), sig_vert[sig_hemi == h])
              for h in HEMIS}
    v_hemi = np.concatenate([sig_hemi] + [np.full(others[h].size, h) for h in HEMIS])
    v_vert = np.concatenate([sig_vert] + [others[h] for h in HEMIS])
    v_sig = np.concatenate([np.arange(sig_vert.size), np.full(v_vert.size - sig_vert.size, -1)])
    coords = np.empty((v_vert.size, 3))
    for h in HEMIS:
        coords[v_hemi == h] = surf[h].mesh.coords[v_vert[v_hemi == h]]
    vol = {}
    for space in volume_spaces:
        shape, affine = _volume_grid(space, volume_shape)
        meta["volume_shapes"][space] = list(shape)
        brain = _brainmask(shape)
        which, ijk = _voxel_assignment(shape, coords)
        arrays[f"{name}_{space}_ijk"] = ijk
        arrays[f"{name}_{space}_hemi"] = v_hemi[which]
        arrays[f"{name}_{space}_native_vertex"] = v_vert[which]
        carrying = np.zeros(shape, dtype=bool)
        carrying[tuple(ijk.T)] = True
        sig = v_sig[which] >= 0
        vol[space] = (shape, affine, brain, ijk[sig], v_sig[which][sig], carrying)
        _write_volume_static(root, s, space, shape, affine, brain, ijk, v_hemi[which], v_vert[which], maps,
                             ncsnr_nat)
        for h in HEMIS:  # NSD's func-to-white transforms: each native vertex's 1-based decimal voxel position
            vox = _voxel_coordinates(shape, surf[h].mesh.coords) + 1.0
            _mgh(root / L.transform_path(s, h, f"{L.NSDCODE_VOLUME_NAMES[space]}-to-white"), vox.astype(np.float32))
        meta["invalid_voxels"].setdefault(name, {})[space] = []

    lap("volume statics")
    noise_rng = _rng(seed, 20, s)
    shown_pos = np.searchsorted(uniq, shown_ids)
    sig_on = {h: sig_hemi == h for h in HEMIS}
    for ses in range(1, sessions + 1):
        rows = shown_pos[(ses - 1) * trials: ses * trials]
        r = resp[rows]  # (T, n_sig)
        for h in HEMIS:
            nat = noise_rng.standard_normal((n_nat[h], trials), dtype=np.float32)
            nat *= noise_sd[h][:, None]
            nat += offsets[h][ses - 1][:, None]
            nat[sig_vert[sig_on[h]]] += r[:, sig_on[h]].T
            lap("surface noise")
            q = np.clip(np.rint(nat * VOLUME_SCALE), -32768, 32767).astype(np.int16)
            q[~covered[h]] = 0
            write_native_betas_hdf5(root / L.native_betas_path(s, h, ses, version), q.T)
            fs = nat[parent[h]]
            fs[fs_nan[h]] = np.nan
            _mgh(root / L.surface_betas_path(s, h, ses, version), fs)
            lap("surface write")
        for space in volume_spaces:
            shape, affine, brain, ijk, cols, carrying = vol[space]
            vox = noise_rng.standard_normal(shape + (trials,), dtype=np.float32) * 2.0
            vox[tuple(ijk.T)] += r[:, cols].T
            vox *= brain[..., None]
            invalid = (brain > 0) & ~carrying & (noise_rng.random(shape) < INVALID_FRACTION)
            vox[invalid] = 0.0
            meta["invalid_voxels"][name][space].append(int(invalid.sum()))
            write_nifti(root / L.valid_session_path(s, space, ses), ((brain > 0) & ~invalid).astype(np.uint8), affine)
            q = np.clip(np.rint(vox * VOLUME_SCALE), -32768, 32767).astype(np.int16)
            lap("volume noise")
            write_nifti(root / L.volume_betas_path(s, space, ses, version, ".nii.gz"), q, affine)
            write_volume_hdf5(root / L.volume_betas_path(s, space, ses, version, ".hdf5"), q)
            lap("volume write")


def _write_volume_static(root, s, space, shape, affine, brain, ijk, v_hemi, v_vert, maps, ncsnr_nat):
    write_nifti(root / L.brainmask_path(s, space), brain, affine)
    idx = tuple(ijk.T)
    for atlas in SUBJECT_ATLASES:
        vals = _by_hemi({h: maps[h][atlas] for h in HEMIS}, v_hemi, v_vert).astype(np.int16)
        for hemi in (None, "lh", "rh"):
            lab = np.where(brain > 0, 0, -1).astype(np.int16)
            sel = np.ones(len(v_vert), dtype=bool) if hemi is None else (v_hemi == hemi)
            lab[tuple(ijk[~sel].T)] = -1  # the other hemisphere's cortex
            lab[tuple(ijk[sel].T)] = vals[sel]
            write_nifti(root / L.volume_roi_path(s, space, atlas, hemi), lab, affine)
    for key, fname in (("angle", "angle"), ("eccentricity", "eccentricity"), ("sigma", "size")):
        m = np.zeros(shape, dtype=np.float32)
        m[idx] = np.nan_to_num(_by_hemi({h: maps[h][key] for h in HEMIS}, v_hemi, v_vert))
        write_nifti(root / L.volume_prf_path(s, space, fname), m, affine)
    nc = _by_hemi(ncsnr_nat, v_hemi, v_vert)
    r2 = np.zeros(shape, dtype=np.float32)
    r2[idx] = 100.0 * nc**2 / (1.0 + nc**2)
    write_nifti(root / L.volume_prf_path(s, space, "R2"), r2, affine)
    nmap = np.zeros(shape, dtype=np.float32)
    nmap[idx] = nc
    write_nifti(root / L.ncsnr_volume_path(s, space, L.BETA_VERSIONS[0]), nmap, affine)
