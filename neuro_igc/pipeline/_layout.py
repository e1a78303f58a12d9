"""The derivatives folder: BIDS names, dataset_description.json, atomic writers.

Layout of ``OUTPUT_DIR/neuro-igc/`` (a BIDS derivatives dataset)::

    dataset_description.json          DatasetType "derivative", GeneratedBy (version + configs)
    <name>_report.html                one report per pipeline and level
    models/<label>/                   checkpoints of the models trained for the selected subjects
    sub-01/
        sub-01_hemi-L_space-fsaverage_den-10k_desc-<label><Map>_stat.func.gii   (+ .mgz, freeview)
        sub-01_desc-<label><Output>_igc.npz                                     (the IGC result)
        sub-01_atlas-<atlas>_desc-<label>_roisums.tsv  (+ .json sidecar)
        sub-01_desc-<label>_prf.tsv                    (+ .json sidecar)
        figures/sub-01_desc-<label><Map>_stat.png ...
    group/                            group ROI summaries (mean +/- SD) and group mean maps
    logs/                             run logs and the per-step settings hashes
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
# the one BIDS name builder (and its entity order) lives with the surface writers
from neuro_igc.surface._export import ENTITY_ORDER, bids_name  # noqa: E402
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
    def surface_path(self, sub: str | None, hemi: str, density: int | str, desc: str, ext: str = ".func.gii") -> Path:
        """``sub-XX/sub-XX_hemi-L_space-fsaverage_den-10k_desc-<desc>_stat<ext>`` (group: no sub)."""
        h = {"lh": "L", "rh": "R", "L": "L", "R": "R"}.get(hemi)
        if h is None:
            raise ValueError(f"Invalid value for 'hemi': allowed are 'lh', 'rh', 'L', 'R'; got {hemi!r}.")
        name = bids_name("stat", ext, sub=sub, hemi=h, space="fsaverage", den=density_label(density), desc=desc)
        folder = self.subject_dir(sub) if sub else self.group_dir
        return folder / name

    def file_path(self, sub: str | None, suffix: str, ext: str, **entities: Any) -> Path:
        folder = self.subject_dir(sub) if sub else self.group_dir
        return folder / bids_name(suffix, ext, sub=sub, **entities)

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

    def write_description(self, config: dict[str, Any], source: str | None = None) -> Path:
        """Create or update ``dataset_description.json``: one GeneratedBy entry per pipeline name
        (package version + the config as run)."""
        from neuro_igc.pipeline._paths import inside

        path = inside(self.root, self.root / "dataset_description.json", "dataset description")
        desc: dict[str, Any] = {}
        if path.exists():
            try:
                desc = json.loads(path.read_text())
            except json.JSONDecodeError:
                desc = {}
        generated = [g for g in desc.get("GeneratedBy", []) if g.get("Description") != config.get("name")]
        generated.append(
            {
                "Name": PIPELINE_NAME,
                "Version": neuro_igc.__version__,
                "Description": config.get("name"),
                "CodeURL": "https://arxiv.org/abs/2404.13910",
                "ConfigFile": source,
                "Config": config,
            }
        )
        desc.update(
            {
                "Name": "neuro-igc derivatives: Integrated Gradient Correlation maps",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "derivative",
                "GeneratedBy": generated,
            }
        )
        return write_json(path, desc)
