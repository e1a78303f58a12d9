"""The derivatives folder: BIDS names, dataset_description.json, atomic writers.

Layout of ``OUTPUT_DIR/neuro-igc/`` (a BIDS-Derivatives dataset)::

    dataset_description.json          DatasetType "derivative", GeneratedBy (version + configs),
                                      SourceDatasets (the NSD folder, relative)
    README.md, .bidsignore            what is here; the files BIDS has no name for yet
    code/<pipeline>.yaml              the configs as run (GeneratedBy ConfigFile points here)
    <name>_<level>_report.html        one report per pipeline and level
    models/<label>/                   checkpoints of the models trained for the selected subjects
    sub-01/
        anat/sub-01_hemi-L_space-fsaverage_den-10k_desc-<label>_dseg.label.gii  (+ _dseg.tsv)
                                      the vertices the maps cover (1) and the others (0)
        func/sub-01_hemi-L_space-fsaverage_den-10k_stat-<kind>_desc-<label><Map>_statmap.func.gii
                                      (+ .mgz, .json sidecar; 0 outside the dseg's vertices)
        func/sub-01_desc-<label>_igc.npz          the IGC result; _vertices.tsv its vertex table
        func/sub-01_atlas-<atlas>_desc-<label>_roisums.tsv  (+ .json sidecar)
        func/sub-01_desc-<label>_prf.tsv                    (+ .json sidecar)
        func/sub-01_desc-<label><Map>_freeview.txt
        figures/sub-01_desc-<label><Map>_stat.png ...
    group/                            group ROI summaries (mean +/- SD) and group mean maps
    logs/                             run logs and the per-step settings hashes

Attribution maps, ROI sums and pRF tables have no BIDS suffix yet: their names follow the
derivatives conventions as far as they go (entities, BEP-style ``stat-``/``statmap`` for maps) and
``.bidsignore`` lists them, so that the BIDS validator checks the rest.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import neuro_igc
from neuro_igc._utils import atomic_path, atomic_write_text

__all__ = [
    "Derivatives",
    "bids_name",
    "density_label",
    "camel",
    "write_json",
    "write_tsv",
]

PIPELINE_NAME = "neuro-igc"
BIDS_VERSION = "1.10.0"
#: the BIDS datatype folder of a subject's maps and tables (they derive from functional data)
DATATYPE = "func"
#: the datatype folder of the surface segmentations (the vertices each map covers)
MASK_DATATYPE = "anat"
#: what the maps hold outside their vertices, the same in GIFTI and .mgz (the dseg says which)
FILL_VALUE = 0.0
#: files BIDS has no name for yet (gitignore-style patterns for the validator)
BIDSIGNORE = (
    "*_report.html",
    "/models",
    "/group",
    "/benchmark",
    "figures",
    "*_statmap.func.gii",
    "*_statmap.mgz",
    "*_statmap.json",
    "*_igc.npz",
    "*_vertices.tsv",
    "*_vertices.json",
    "*_roisums.tsv",
    "*_roisums.json",
    "*_prf.tsv",
    "*_prf.json",
    "*_freeview.txt",
)
# the one BIDS name builder (and its entity order) lives with the surface writers
from neuro_igc.surface import ENTITY_ORDER, bids_name  # noqa: E402
#: the method's paper (dataset_description ReferencesAndLinks)
PAPER_URL = "https://arxiv.org/abs/2404.13910"
DENSITY_LABELS = {10242: "10k", 163842: "164k", "fsaverage5": "10k", "fsaverage": "164k"}


def density_label(density: int | str) -> str:
    """BIDS ``den-`` label of an fsaverage mesh (by name or vertices per hemisphere).

    Examples
    --------
    >>> density_label("fsaverage5"), density_label(163842)
    ('10k', '164k')
    """
    if density in DENSITY_LABELS:
        return DENSITY_LABELS[density]
    if isinstance(density, int):
        return f"{round(density / 1000)}k"
    raise ValueError(
        f"Invalid value for 'density': allowed are 'fsaverage5', 'fsaverage' or a vertex count; got {density!r}."
    )


def camel(name: str) -> str:
    """Letters/digits-only CamelCase of a name, for BIDS labels (``"luminance_contrast"`` ->
    ``"LuminanceContrast"``).

    Examples
    --------
    >>> camel("luminance_contrast"), camel("1/f slope")
    ('LuminanceContrast', '1FSlope')
    """
    parts = re.split(r"[^A-Za-z0-9]+", str(name))
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_default) + "\n")


def write_tsv(path: str | os.PathLike, table, sidecar: dict[str, Any] | None = None) -> list[Path]:
    """Write a DataFrame as a BIDS ``.tsv`` (tab separated, ``n/a`` for missing) plus a ``.json``
    sidecar describing the columns, both atomically. Returns the written paths."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="n/a")
    out = [path]
    if sidecar is not None:
        out.append(write_json(path.with_suffix(".json"), sidecar))
    return out


def _default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


class Derivatives:
    """Paths and writers of one derivatives dataset ``OUTPUT_DIR/neuro-igc``.

    Parameters
    ----------
    output_dir : path-like
        The BIDS-App ``OUTPUT_DIR``; the derivatives live in its ``neuro-igc`` subfolder.
    """

    def __init__(self, output_dir: str | os.PathLike):
        self.output_dir = Path(output_dir)
        self.root = self.output_dir / PIPELINE_NAME

    @classmethod
    def at(cls, root: str | os.PathLike) -> Derivatives:
        """The same layout rooted at ``root`` itself (a step's staging folder)."""
        obj = cls.__new__(cls)
        obj.root = Path(root)
        obj.output_dir = obj.root.parent
        return obj

    # -- folders ---------------------------------------------------------------------------
    def subject_dir(self, sub: str) -> Path:
        return self.root / f"sub-{sub}"

    def data_dir(self, sub: str | None, datatype: str = DATATYPE) -> Path:
        """``sub-XX/func`` (or another datatype folder) for a subject, ``group`` for the group."""
        return self.subject_dir(sub) / datatype if sub else self.group_dir

    def figures_dir(self, sub: str | None) -> Path:
        return (self.subject_dir(sub) if sub else self.group_dir) / "figures"

    @property
    def group_dir(self) -> Path:
        return self.root / "group"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def models_dir(self, label: str) -> Path:
        from neuro_igc.pipeline._paths import inside

        return inside(self.root, self.root / "models" / label, "models folder")

    def report_path(self, name: str, level: str) -> Path:
        return self.root / f"{name}_{level}_report.html"

    # -- names -----------------------------------------------------------------------------
    def surface_path(self, sub: str | None, hemi: str, density: int | str, desc: str, ext: str = ".func.gii",
                     stat: str = "igc") -> Path:
        """``sub-XX/func/sub-XX_hemi-L_space-fsaverage_den-10k_stat-<stat>_desc-<desc>_statmap<ext>``
        (group: ``group/`` and no sub)."""
        h = {"lh": "L", "rh": "R", "L": "L", "R": "R"}.get(hemi)
        if h is None:
            raise ValueError(f"Invalid value for 'hemi': allowed are 'lh', 'rh', 'L', 'R'; got {hemi!r}.")
        name = bids_name("statmap", ext, sub=sub, hemi=h, space="fsaverage", den=density_label(density),
                         stat=stat, desc=desc)
        return self.data_dir(sub) / name

    def mask_path(self, sub: str | None, hemi: str, density: int | str, desc: str, ext: str = ".label.gii") -> Path:
        """``sub-XX/anat/sub-XX_hemi-L_space-fsaverage_den-10k_desc-<desc>_dseg<ext>``: which vertices
        the maps of ``desc`` cover (group: ``group/``)."""
        h = {"lh": "L", "rh": "R", "L": "L", "R": "R"}.get(hemi)
        if h is None:
            raise ValueError(f"Invalid value for 'hemi': allowed are 'lh', 'rh', 'L', 'R'; got {hemi!r}.")
        name = bids_name("dseg", ext, sub=sub, hemi=h, space="fsaverage", den=density_label(density), desc=desc)
        return self.data_dir(sub, MASK_DATATYPE) / name

    def file_path(self, sub: str | None, suffix: str, ext: str, **entities: Any) -> Path:
        return self.data_dir(sub) / bids_name(suffix, ext, sub=sub, **entities)

    def figure_path(self, sub: str | None, suffix: str, **entities: Any) -> Path:
        return self.figures_dir(sub) / bids_name(suffix, ".png", sub=sub, **entities)

    # -- dataset description ---------------------------------------------------------------
    def described(self, name: str) -> bool:
        """Whether ``dataset_description.json`` has a GeneratedBy entry for pipeline ``name``."""
        from neuro_igc.pipeline._paths import inside

        try:
            desc = json.loads(inside(self.root, self.root / "dataset_description.json").read_text())
        except (OSError, json.JSONDecodeError):
            return False
        return any(isinstance(g, dict) and g.get("Description") == name for g in desc.get("GeneratedBy", []))

    def write_description(self, config: dict[str, Any], source: str | None = None,
                          nsd_root: str | os.PathLike | None = None) -> Path:
        """Create or update ``dataset_description.json`` (one GeneratedBy entry per pipeline name:
        package version, ``code/<name>.yaml`` = the config as run), ``README.md`` and ``.bidsignore``.

        ``source`` is where the config came from (only its file name is kept: no path of the machine
        that ran it); ``nsd_root`` the NSD folder, recorded relative to the derivatives folder in
        ``SourceDatasets``.
        """
        import yaml

        from neuro_igc.pipeline._paths import inside

        path = inside(self.root, self.root / "dataset_description.json", "dataset description")
        desc: dict[str, Any] = {}
        if path.exists():
            try:
                desc = json.loads(path.read_text())
            except json.JSONDecodeError:
                desc = {}
        name = str(config.get("name") or "pipeline")
        config_file = f"code/{name}.yaml"
        atomic_write_text(inside(self.root, self.root / config_file, "config copy"),
                          f"# the configuration of the '{name}' pipeline as run (defaults filled in)\n"
                          + yaml.safe_dump(config, sort_keys=False))
        generated = [g for g in desc.get("GeneratedBy", []) if g.get("Description") != name]
        entry = {
            "Name": PIPELINE_NAME,
            "Version": neuro_igc.__version__,
            "Description": name,
            "CodeURL": code_url(),
            "ConfigFile": config_file,
            "Config": config,
        }
        if source and not str(source).startswith("<"):
            entry["ConfigSource"] = Path(str(source)).name
        generated.append(entry)
        sources = [s for s in desc.get("SourceDatasets", []) if isinstance(s, dict)]
        if nsd_root is not None:
            rel = Path(os.path.relpath(Path(nsd_root).resolve(), self.root.resolve())).as_posix()
            sources = [s for s in sources if s.get("URL") != rel] + [{"URL": rel}]
        desc.update(
            {
                "Name": "neuro-igc derivatives: Integrated Gradient Correlation maps",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "derivative",
                "GeneratedBy": generated,
                "SourceDatasets": sources,
                "ReferencesAndLinks": [PAPER_URL],
            }
        )
        out = write_json(path, desc)
        atomic_write_text(inside(self.root, self.root / ".bidsignore"), "\n".join(BIDSIGNORE) + "\n")
        atomic_write_text(inside(self.root, self.root / "README.md"), _readme([g.get("Description") for g in generated]))
        return out


def code_url() -> str:
    """Where the package's code is: its distribution's project URL, else its PyPI page."""
    from importlib import metadata

    try:
        meta = metadata.metadata("neuro-igc")
    except metadata.PackageNotFoundError:
        return "https://pypi.org/project/neuro-igc/"
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("source", "source code", "repository", "homepage") and url.strip():
            return url.strip()
    return meta.get("Home-page") or "https://pypi.org/project/neuro-igc/"


def _readme(pipelines) -> str:
    shown = ", ".join(f"`{p}`" for p in pipelines if p) or "-"
    ignored = "\n".join(f"- `{p}`" for p in BIDSIGNORE)
    return f"""# neuro-igc derivatives

Integrated Gradient Correlation (IGC) attribution maps, ROI sums and pRF fits of models trained on
the Natural Scenes Dataset (or a folder laid out like it), written by neuro-igc
{neuro_igc.__version__} (pipelines: {shown}). Method: {PAPER_URL}. `dataset_description.json` lists
each pipeline's settings; `code/` holds the configs as run; `*_report.html` are the run reports.

## Layout

- `sub-XX/func/*_stat-<kind>_desc-<label><Map>_statmap.func.gii` (and `.mgz`, FreeSurfer overlays
  for freeview): one map per hemisphere (`hemi-L`/`hemi-R`) on fsaverage (`den-10k` = fsaverage5,
  `den-164k` = fsaverage); the `.json` sidecar beside them says what the map holds.
- `sub-XX/anat/*_desc-<label>_dseg.label.gii` (+ `_dseg.tsv`): which vertices the maps cover
  (1 = a model input or output, 0 = not part of the model).
- Outside the covered vertices every map holds **{FILL_VALUE:g}**, in GIFTI and `.mgz` alike; use the
  dseg to tell them from a true zero. Inside, NaN means "no estimate" (e.g. a pRF fit below the
  pipeline's R2 threshold).
- `sub-XX/func/*_igc.npz`: the full IGC result (`neuro_igc.attribution.AttributionResult.load`),
  with its vertex table `*_vertices.tsv`; `*_roisums.tsv` (+ `.json`): sums of the maps over atlas
  ROIs; `*_prf.tsv`: pRF fits; `*_freeview.txt`: commands that open the maps in freeview.
- `group/`: group means and ROI summaries; `models/`: trained models; `logs/`: run logs.

## Files the BIDS specification has no name for yet

Attribution maps, ROI sums, pRF tables, model checkpoints and reports are not (yet) part of
BIDS-Derivatives; they follow its naming conventions where they can and `.bidsignore` lists them:

{ignored}
"""
