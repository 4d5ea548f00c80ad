"""friedel symmetry on data with known symmetry: synthetic P1 data sets from true intensities
(complete enough for every screw axis) and simulated integrated sweeps."""

import gemmi
import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.plugins.symmetry.params import SymmetryParams
from friedel.plugins.symmetry.runs import run_symmetry

from symmetry_synthetic import make_experiments, simulated


def _run(expts, refl, **kw):
    params = SymmetryParams()
    for k, v in kw.items():
        setattr(params, k, v)
    return run_symmetry(expts, refl, params)


def _assessed(outcome):
    return {t["axis"]: t for t in outcome.summary["systematic_absences"]["screw_axes"]}


def test_p41212_laue_group_screw_axes_and_enantiomorph():
    expts, refl, _truth = make_experiments((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", d_min=3.0, seed=1)
    out = _run(expts, refl)
    best = out.summary["best_solution"]
    assert best["patterson_group"] == "P 4/m m m" and best["likelihood"] > 0.9
    assert out.summary["space_group"] in ("P 41 21 2", "P 43 21 2")
    tests = _assessed(out)
    assert tests["41c"]["score"] > 0.9 and tests["21a"]["score"] > 0.9 and tests["42c"]["score"] > 0.9
    absences = out.summary["systematic_absences"]
    assert set(absences["indistinguishable"]) | {absences["space_group"]} == {"P 41 21 2", "P 43 21 2"}
    crystal = out.experiments[0].crystal
    assert crystal.space_group_symbol in ("P 41 21 2", "P 43 21 2")
    assert np.allclose(crystal.unit_cell.parameters, (57.8, 57.8, 150.0, 90, 90, 90), atol=1e-3)


def test_i213_is_cubic_and_reported_ambiguous_with_i23():
    expts, refl, _truth = make_experiments((77.9, 77.9, 77.9, 90, 90, 90), "I 21 3", d_min=3.5, seed=2)
    out = _run(expts, refl)
    assert out.summary["best_solution"]["patterson_group"] == "I m -3"
    absences = out.summary["systematic_absences"]
    assert {absences["space_group"], *absences["indistinguishable"]} == {"I 2 3", "I 21 3"}
    assert "cannot be told" in absences["message"]
    # the output crystal is the conventional body-centred cell again
    cell = out.experiments[0].crystal.unit_cell.parameters
    assert np.allclose(cell, (77.9, 77.9, 77.9, 90, 90, 90), atol=1e-3)


def test_p212121():
    expts, refl, _truth = make_experiments((54.9, 58.6, 67.4, 90, 90, 90), "P 21 21 21", d_min=3.0, seed=3)
    out = _run(expts, refl)
    assert out.summary["best_solution"]["patterson_group"] == "P m m m"
    assert out.summary["space_group"] == "P 21 21 21"


def test_c2_monoclinic():
    expts, refl, _truth = make_experiments((101.6, 45.0, 60.9, 90, 99.0, 90), "C 1 2 1", d_min=3.0, seed=4)
    out = _run(expts, refl)
    assert out.summary["best_solution"]["patterson_group"] == "C 1 2/m 1"
    assert out.summary["space_group"] == "C 1 2 1"
    cell = out.experiments[0].crystal.unit_cell.parameters
    assert np.allclose(cell, (101.6, 45.0, 60.9, 90, 99.0, 90), atol=1e-3)


def test_p1_crystal_in_a_metrically_orthorhombic_cell_stays_p1():
    # the lattice is orthorhombic but the intensities have no symmetry at all
    expts, refl, _truth = make_experiments((50.0, 60.0, 70.0, 90, 90, 90), "P 1", d_min=3.0, seed=5)
    out = _run(expts, refl)
    best = out.summary["best_solution"]
    # every element of the lattice is judged absent (the Cauchy tails keep the likelihoods modest)
    assert best["patterson_group"] == "P -1" and best["likelihood"] > 0.6
    assert all(e["likelihood"] < 0.2 for e in out.summary["sym_op_scores"])
    assert out.summary["space_group"] == "P 1"


def test_user_laue_group_skips_the_choice_but_scores_everything():
    expts, refl, _truth = make_experiments((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", d_min=3.5, seed=1)
    out = _run(expts, refl, laue_group="P 4/m")
    assert out.summary["best_solution"]["patterson_group"] == "P 4/m"
    assert out.summary["best_solution"]["chosen_by"] == "user"
    # every subgroup and element is still scored, and the data prefer P 4/m m m
    assert len(out.summary["subgroup_scores"]) == 10 and len(out.summary["sym_op_scores"]) == 6
    assert out.summary["subgroup_scores"][0]["patterson_group"] == "P 4/m m m"
    out = _run(expts, refl, space_group="P 43 21 2")
    assert out.summary["space_group"] == "P 43 21 2"
    assert out.experiments[0].crystal.space_group_symbol == "P 43 21 2"
    with pytest.raises(FriedelError, match="not compatible with the lattice"):
        _run(expts, refl, space_group="P 21 3")


def test_simulated_thaumatin_sweep():
    # a simulated integration of thaumatin (90 deg, seed with axial reflections along a and c)
    expts, refl = simulated("thaumatin", extra_cb="b,c,a", **{"seed": 3, "scan.n_images": 45,
                                                             "scan.oscillation": (0.0, 2.0), "crystal.d_min": 3.0})
    out = _run(expts, refl)
    assert out.summary["best_solution"]["patterson_group"] == "P 4/m m m"
    assert out.summary["space_group"] in ("P 41 21 2", "P 43 21 2")
    tests = _assessed(out)
    assert tests["21a"]["n_absent"] > 0 and tests["21a"]["score"] > 0.9
    # the reflections come back in the true (conventional) indexing, up to the lattice symmetry
    crystal = out.experiments[0].crystal
    assert np.allclose(crystal.unit_cell.parameters, (57.8, 57.8, 150.0, 90, 90, 90), atol=1e-3)
    hkl = np.asarray(out.reflections["miller_index"])
    i_true = np.asarray(out.reflections["intensity.true.value"])
    sg = gemmi.SpaceGroup(out.summary["space_group"])
    absent = np.asarray(sg.operations().systematic_absences(hkl.astype(np.int32)), bool)
    assert np.all(i_true[absent] == 0)  # what the chosen group calls absent truly is


def test_too_few_reflections_is_one_line():
    expts, refl, _truth = make_experiments((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", d_min=3.0, seed=1)
    refl = refl.select(np.arange(8))
    with pytest.raises(FriedelError, match="unique reflections"):
        _run(expts, refl)


def test_unintegrated_reflections_are_refused():
    expts, refl, _truth = make_experiments((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", d_min=4.0, seed=1)
    for name in ("intensity.sum.value", "intensity.sum.variance", "intensity.prf.value", "intensity.prf.variance"):
        del refl[name]
    with pytest.raises(FriedelError, match="no intensities"):
        _run(expts, refl)
    expts, refl, _truth = make_experiments((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", d_min=4.0, seed=1)
    refl["miller_index"] = np.zeros_like(np.asarray(refl["miller_index"]))
    with pytest.raises(FriedelError, match="no usable|no integrated"):
        _run(expts, refl)


def test_simulated_trypsin_two_lattices():
    # both lattices of the two-lattice trypsin sweep (two experiments of one crystal form)
    expts, refl = simulated("trypsin_2lattice", **{"seed": 2, "scan.n_images": 60, "scan.oscillation": (0.0, 3.0),
                                                  "crystal.d_min": 3.0})
    assert len(expts) == 2
    out = _run(expts, refl)
    assert out.summary["best_solution"]["patterson_group"] == "P m m m"
    assert out.summary["space_group"] == "P 21 21 21"
    assert all(_assessed(out)[axis]["score"] > 0.9 for axis in ("21a", "21b", "21c"))
    assert len(out.experiments) == 2


def test_simulated_p1_crystal_in_a_tetragonal_cell_stays_p1():
    expts, refl = simulated("tiny", **{"crystal.space_group": "P 1"})
    out = _run(expts, refl)
    assert out.summary["lattice"]["lattice"] == "tP"
    assert out.summary["best_solution"]["patterson_group"] == "P -1"
    assert out.summary["space_group"] == "P 1"


def test_an_experiment_with_another_cell_is_left_out_with_a_reason():
    from friedel.reflection_table import ReflectionTable

    expts, refl, _t = make_experiments((54.9, 58.6, 67.4, 90, 90, 90), "P 21 21 21", n_datasets=2, d_min=3.5, seed=3)
    other_e, other_r, _t = make_experiments((54.9, 58.6, 80.0, 90, 90, 90), "P 21 21 21", d_min=3.5, seed=4)
    other_e[0].identifier = "other"
    other_r["id"] = np.full(len(other_r), 2, np.int32)
    other_r.experiment_identifiers = {2: "other"}
    expts.append(other_e[0])
    table = ReflectionTable.concatenate([refl, other_r])
    table.experiment_identifiers = {**refl.experiment_identifiers, 2: "other"}
    out = _run(expts, table)
    assert list(out.summary["excluded"]) == ["other"] and "differs from the median" in out.summary["excluded"]["other"]
    assert len(out.experiments) == 2 and out.summary["space_group"] == "P 21 21 21"


def test_simulated_insulin_sweep_is_i_m_3_with_i23_i213_ambiguous():
    expts, refl = simulated("insulin", **{"scan.n_images": 20, "scan.oscillation": (0.0, 1.0), "crystal.d_min": 3.5})
    out = _run(expts, refl)
    assert out.summary["lattice"]["lattice"] == "cI"
    assert out.summary["best_solution"]["patterson_group"] == "I m -3"
    absences = out.summary["systematic_absences"]
    assert {absences["space_group"], *absences["indistinguishable"]} == {"I 2 3", "I 21 3"}
