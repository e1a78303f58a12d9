"""Lookup tables: shipped NSD tables, ctab reading."""

import subprocess
from pathlib import Path

import pytest

from neuro_igc.atlas import NSD_TABLES, nsd_table, read_ctab, write_ctab
from neuro_igc.data import LABEL_TABLES, LookupTable

REPO = Path(__file__).resolve().parents[2]

# The label tables of the NSD data manual (project NSD_FACTS.md)
EXPECTED = {
    "prf-visualrois": "V1v V1d V2v V2d V3v V3d hV4",
    "prf-eccrois": "ecc0pt5 ecc1 ecc2 ecc4 ecc4+",
    "floc-faces": "OFA FFA-1 FFA-2 mTL-faces aTL-faces",
    "floc-bodies": "EBA FBA-1 FBA-2 mTL-bodies",
    "floc-places": "OPA PPA RSC",
    "floc-words": "OWFA VWFA-1 VWFA-2 mfs-words mTL-words",
    "streams": "early midventral midlateral midparietal ventral lateral parietal",
    "nsdgeneral": "nsdgeneral",
}


@pytest.mark.parametrize("atlas", NSD_TABLES)
def test_shipped_tables_match_the_nsd_manual(atlas):
    names = EXPECTED[atlas].split()
    assert nsd_table(atlas) == {i + 1: n for i, n in enumerate(names)}
    assert LABEL_TABLES[atlas] == nsd_table(atlas) and isinstance(LABEL_TABLES[atlas], LookupTable)


def _tracked_files(pattern):
    """Files of the source tree matching ``pattern`` (what git tracks when this is a checkout, so
    that outputs such as a ``make demo`` folder in the checkout are not counted)."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", pattern],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout
        return [line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an unpacked sdist)
        return [p.relative_to(REPO).as_posix() for p in REPO.rglob(pattern)
                if not {".git", "node_modules", "demo_output", "build"} & set(p.parts)]


def test_one_copy_of_the_label_tables():
    """One ctab reader and one copy of the tables: the package data, nowhere else in the tree."""
    copies = sorted(_tracked_files("*.mgz.ctab"))
    assert copies == sorted(f"neuro_igc/data/tables/{a}.mgz.ctab" for a in NSD_TABLES)
    from neuro_igc.atlas import read_ctab as atlas_reader
    from neuro_igc.data import read_ctab as data_reader
    from neuro_igc.data._io import read_ctab as io_reader

    assert atlas_reader is data_reader is io_reader


def test_read_ctab_formats_and_errors(tmp_path):
    lut = tmp_path / "lut.txt"
    lut.write_text("# FreeSurfer colour LUT\n0 Unknown 0 0 0 0\n\n1 V1 255 0 0 0\n2 V2 0 255 0 0  # comment\n")
    table, colors = read_ctab(lut, with_colors=True)
    assert table == {1: "V1", 2: "V2"} and colors == {1: (255, 0, 0), 2: (0, 255, 0)}
    write_ctab(tmp_path / "x.mgz.ctab", table, colors)
    assert read_ctab(tmp_path / "x.mgz.ctab", with_colors=True) == (table, colors)
    assert (tmp_path / "x.mgz.ctab").read_text().splitlines()[0] == "0 Unknown"
    bad = tmp_path / "bad.ctab"
    bad.write_text("1 V1\nV2 2\n")
    with pytest.raises(ValueError, match=r"Cannot read lookup table .*bad.ctab: malformed lookup table, line 2"):
        read_ctab(bad)
    with pytest.raises(FileNotFoundError, match=r"Cannot read lookup table .*missing.ctab: no such file"):
        read_ctab(tmp_path / "missing.ctab")
    with pytest.raises(ValueError, match="Invalid value for 'atlas': shipped tables are 'prf-visualrois'"):
        nsd_table("HCP_MMP1")
