"""Lookup tables: shipped NSD tables, ctab reading."""

from pathlib import Path

import pytest

from neuro_igc.atlas import NSD_TABLES, nsd_table, read_ctab, write_ctab

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
}


@pytest.mark.parametrize("atlas", NSD_TABLES)
def test_shipped_tables_match_the_nsd_manual(atlas):
    names = EXPECTED[atlas].split()
    assert nsd_table(atlas) == {i + 1: n for i, n in enumerate(names)}
    # the repository's atlases/ folder holds the same files as the package data
    shipped = REPO / "atlases" / f"{atlas}.mgz.ctab"
    packaged = REPO / "neuro_igc" / "atlas" / "tables" / f"{atlas}.mgz.ctab"
    assert shipped.read_text() == packaged.read_text()


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
    with pytest.raises(ValueError, match=r"Malformed lookup table .*bad.ctab, line 2"):
        read_ctab(bad)
    with pytest.raises(FileNotFoundError, match=r"Cannot read lookup table .*missing.ctab: no such file"):
        read_ctab(tmp_path / "missing.ctab")
    with pytest.raises(ValueError, match="Invalid value for 'atlas': shipped tables are 'prf-visualrois'"):
        nsd_table("HCP_MMP1")
