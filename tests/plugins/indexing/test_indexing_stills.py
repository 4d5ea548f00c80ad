"""Indexing still shots: each image on its own, lattice chosen after refinement (real data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from friedel.cli.main import main
from friedel.io import read_experiments, read_reflections
from friedel.plugins.indexing.lattice import misorientation_deg
from friedel.plugins.refinement.prediction import predict


def _facts(real_data, name):
    return json.loads((real_data / "known_facts.json").read_text())[name]


def _index(real_data, case, expt_name, refl_name, *args):
    spots = real_data / "spots" / case
    assert main(["index", str(spots / expt_name), str(spots / refl_name), *args]) == 0
    return read_experiments("indexed.expt"), read_reflections("indexed.refl")


def _image_names(expts):
    return [e.imageset.paths()[0].rsplit("_", 1)[-1] for e in expts]


# The header distance of these stills is ~10% short (289 mm; refinement finds ~318 mm), so the
# unrefined lattice is stretched beyond any cell tolerance: the cell is checked after refinement.
LYSO_P1 = "38.06,78.78,78.91,90,90,90"


def test_lysozyme_stills_known_p1_cell_three_of_four(real_data, in_tmp_dir):
    expts, refl = _index(real_data, "i24_lyso_still", "imported.expt", "strong.refl", f"unit_cell={LYSO_P1}",
                         "space_group=P1")
    # the first image (54 spots) has no lattice that refines to this cell
    assert _image_names(expts) == ["00005.cbf", "00011.cbf", "00013.cbf"]
    for i, e in enumerate(expts):
        cell = np.array(e.crystal.unit_cell.parameters)
        assert np.allclose(cell[:3], [38.06, 78.78, 78.91], rtol=0.01), cell
        assert np.allclose(cell[3:], 90, atol=0.5), cell
        assert e.detector[0].distance == pytest.approx(318, abs=4)  # refined from the 289 mm header
        assert np.sum(refl["id"] == i) >= 50
    assert refl.experiment_identifiers.keys() == {0, 1, 2}


def test_lysozyme_stills_in_p43212(real_data, in_tmp_dir):
    facts = _facts(real_data, "hewl_lysozyme")
    expts, refl = _index(real_data, "i24_lyso_still", "imported.expt", "strong.refl", "space_group=P43212",
                         "unit_cell=" + ",".join(str(x) for x in facts["unit_cell"]))
    assert len(expts) == 3
    for e in expts:
        assert e.crystal.space_group.xhm() == "P 43 21 2"
        assert np.allclose(e.crystal.unit_cell.parameters, facts["unit_cell"], rtol=0.005)
    assert np.sum(refl["id"] >= 0) > 250  # of 534 spots; DIALS indexes 126, 112 on two of these images
    for i, e in enumerate(expts):  # predicted positions of the indexed spots
        spots = refl.select(refl["id"] == i)
        xyz = predict(e, spots["miller_index"], spots["panel"]).xyz
        rmsd_px = np.sqrt(np.mean((xyz[:, :2] - spots["xyzobs.mm.value"][:, :2]) ** 2, axis=0)) / 0.172
        assert np.all(rmsd_px < 1.0), rmsd_px
        assert np.degrees(np.sqrt(np.mean(xyz[:, 2] ** 2))) < 0.1  # DeltaPsi


def test_lysozyme_stills_without_a_cell(real_data, in_tmp_dir):
    expts, _ = _index(real_data, "i24_lyso_still", "imported.expt", "strong.refl")
    by_image = dict(zip(_image_names(expts), expts))
    for name in ("00005.cbf", "00011.cbf", "00013.cbf"):
        cell = np.sort(by_image[name].crystal.unit_cell.parameters[:3])
        assert np.allclose(cell, [38.06, 78.78, 78.91], rtol=0.01), (name, cell)


@pytest.mark.parametrize("geometry,max_misorientation", [("imported_with_ref_5.expt", 0.1),
                                                         ("imported_no_ref_5.expt", 0.5)])
def test_cunir_serial_stills_known_symmetry(real_data, in_tmp_dir, geometry, max_misorientation):
    facts = _facts(real_data, "cunir")
    expts, refl = _index(real_data, "ssx_CuNiR", geometry, "strong_5.refl", "space_group=P213",
                         "unit_cell=" + ",".join(str(x) for x in facts["unit_cell"]))
    # stills 001 and 002 do not index: DIALS's own crystal models explain only a third of
    # their spots (most low-resolution "spots" there are not Bragg peaks)
    assert [e.identifier for e in expts] == ["003", "004", "005"]
    reference = read_experiments(real_data / "integrated" / "ssx_CuNiR" / "integrated.expt")
    for e in expts:
        truth = reference[int(e.identifier) - 1].crystal
        assert e.crystal.unit_cell.parameters[0] == pytest.approx(96.4, rel=0.003)
        # DIALS refined these orientations with the reference geometry
        assert misorientation_deg(np.linalg.inv(e.crystal.A), np.linalg.inv(truth.A)) < max_misorientation
    assert np.all(np.bincount(refl["id"][refl["id"] >= 0]) >= 40)


def test_stills_with_a_cell_that_fits_none_is_explained(real_data, in_tmp_dir, capsys):
    spots = real_data / "spots" / "ssx_CuNiR"
    code = main(["index", str(spots / "imported_with_ref_5.expt"), str(spots / "strong_5.refl"),
                 "space_group=P213", "unit_cell=60,60,60,90,90,90"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no still could be indexed" in err
