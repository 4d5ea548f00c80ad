"""Indexing the real strong-spot lists (../shared/data/real/spots) through ``friedel index``."""

from __future__ import annotations

import json

import gemmi
import numpy as np
import pytest

from friedel.cli.main import main
from friedel.io import read_experiments, read_reflections
from friedel.prediction import predict_at_angles


def reduced(cell, centring="P"):
    gv = gemmi.GruberVector(gemmi.UnitCell(*cell), centring)
    gv.niggli_reduce()
    return np.array(gv.get_cell().parameters)


def run_index(real_data, case, *args):
    spots = real_data / "spots" / case
    assert main(["index", str(spots / "imported.expt"), str(spots / "strong.refl"), *args]) == 0
    return read_experiments("indexed.expt"), read_reflections("indexed.refl")


def test_centroid_known_symmetry(real_data, in_tmp_dir):
    facts = json.loads((real_data / "known_facts.json").read_text())["x4_ruthenium_dna"]
    expts, refl = run_index(real_data, "centroid", "space_group=P41212")
    crystal = expts[0].crystal
    assert crystal.space_group.xhm() == "P 41 21 2"
    assert np.allclose(crystal.unit_cell.parameters, facts["unit_cell"], rtol=0.01)
    assert (refl["id"] >= 0).mean() > 0.95
    assert np.all(refl["miller_index"][refl["id"] < 0] == 0)


def test_centroid_fft1d_p1(real_data, in_tmp_dir):
    facts = json.loads((real_data / "known_facts.json").read_text())["x4_ruthenium_dna"]
    expts, refl = run_index(real_data, "centroid", "indexing.method=fft1d")
    found = np.sort(reduced(expts[0].crystal.unit_cell.parameters)[:3])
    assert np.allclose(found, np.sort(facts["unit_cell"][:3]), rtol=0.015)
    assert (refl["id"] >= 0).mean() > 0.95
    # the numbers of the log's tables, for friedel report
    summary = json.loads((in_tmp_dir / "friedel.index.json").read_text())
    assert summary["n_indexed"] == int((refl["id"] >= 0).sum()) and len(summary["macro_cycles"]) >= 1
    assert summary["experiments"][0]["distance"] == pytest.approx(expts[0].detector[0].distance)


def test_phi_scan_multi_axis(real_data, in_tmp_dir):
    expts, refl = run_index(real_data, "phi_scan")
    assert (refl["id"] >= 0).mean() > 0.95
    # one self-consistent lattice: positions predicted to well under a pixel (0.172 mm)
    sel = refl["id"] >= 0
    pred = predict_at_angles(expts[0], refl["miller_index"][sel], refl["xyzobs.mm.value"][sel, 2])
    assert len(pred) == sel.sum()
    dxy = pred["xyzcal.mm"][:, :2] - refl["xyzobs.mm.value"][sel, :2]
    assert np.median(np.hypot(*dxy.T)) < 0.1


def test_l_cysteine_joint_four_sweeps(real_data, in_tmp_dir):
    facts = json.loads((real_data / "known_facts.json").read_text())["l_cysteine"]
    expts, refl = run_index(real_data, "l_cysteine_4x10img")
    # four detector models with few spots each: geometry refinement still runs (it used to fail
    # with a parameter-vector shape mismatch; whether auto-reduction fixes them is refinement's rule)
    log = (in_tmp_dir / "friedel.index.log").read_text()
    assert "RMSD x" in log
    assert len(expts) == 4 and len(expts.crystals) == 1
    found = np.sort(expts[0].crystal.unit_cell.parameters[:3])
    assert np.allclose(found, np.sort(facts["unit_cell"][:3]), rtol=0.01)
    # spots predicted far from their centroids (up to 24 px with these poorly determined detectors)
    # are left unindexed: 86 of 108; dials.index indexes 87 of 108 (80.6%) of the same spots
    assert (refl["id"] >= 0).mean() > 0.75
    assert set(np.unique(refl["id"][refl["id"] >= 0])) == {0, 1, 2, 3}


def test_unfitting_cell_is_a_one_line_error(real_data, in_tmp_dir, capsys):
    spots = real_data / "spots" / "centroid"
    code = main(["index", str(spots / "imported.expt"), str(spots / "strong.refl"),
                 "space_group=P41212", "unit_cell=60,60,39.7,90,90,90"])
    assert code != 0
    err = capsys.readouterr()
    assert "does not fit" in err.err + err.out
    assert not (in_tmp_dir / "indexed.expt").exists()


def test_phi_scan_real_space_grid_search_with_the_fft3d_cell(real_data, in_tmp_dir):
    """No cell is published for phi_scan: fft3d's refined cell is given to the real-space grid search.

    The header geometry maps the spots to a lattice 2-5% short and 3-4 degrees sheared
    (first-cycle reduced cell 11.36, 13.26, 28.57, 91.4, 92.9, 93.9): the search scores each
    edge over a range of lengths and refines the candidates, and the known cell is checked after
    a first refinement in P1 (c is 5.0% short before it, beyond the 5% tolerance).
    """
    expts, _ = run_index(real_data, "phi_scan")
    ref = expts[0].crystal
    cell = ",".join(f"{x:.4f}" for x in ref.unit_cell.parameters)
    expts, refl = run_index(real_data, "phi_scan", "indexing.method=real_space_grid_search",
                            f"unit_cell={cell}", "space_group=P1")
    crystal = expts[0].crystal
    assert np.allclose(crystal.unit_cell.parameters[:3], ref.unit_cell.parameters[:3], rtol=1e-3)
    assert np.allclose(crystal.unit_cell.parameters[3:], ref.unit_cell.parameters[3:], atol=0.1)
    assert (refl["id"] >= 0).mean() > 0.95
    # the same lattice in the same orientation: the two A matrices agree up to a change of basis
    M = np.linalg.inv(ref.A) @ crystal.A
    assert np.allclose(M, np.round(M), atol=0.01) and abs(round(np.linalg.det(M))) == 1


def test_quartz_ed_distance_kept_and_cell_right(real_data, in_tmp_dir):
    """Electron diffraction: the Ewald sphere is nearly flat, so the detector distance and the cell
    scale are as correlated as on a narrow wedge. Refinement alone moved the distance from the
    280 mm set on import to 283 mm and made the cell 1.3% long (4.98, 4.98, 5.46 A); the macro-
    cycles' distance guard sees that moving it does not lower the RMSD and keeps it. (The close
    pairs of both Friedel mates on one flat pattern are not taken for a lattice's neighbours
    either: the maximum cell was 310 A.)"""
    facts = json.loads((real_data / "known_facts.json").read_text())["quartz"]
    expts, refl = run_index(real_data, "quartz_ED")
    log = (in_tmp_dir / "friedel.index.log").read_text()
    assert "detector distance kept at" in log
    assert abs(expts[0].detector[0].distance - 280.0) < 1.0
    found = reduced(expts[0].crystal.unit_cell.parameters)
    assert np.allclose(np.sort(found[:3]), np.sort(reduced(facts["unit_cell"])[:3]), rtol=5e-3)
    assert (refl["id"] >= 0).mean() > 0.85  # dials.index: 443 of 505 (87.7%)
