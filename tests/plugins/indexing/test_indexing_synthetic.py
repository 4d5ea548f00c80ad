"""Indexing of synthetic spot lists with known truth: every method, known symmetry, two lattices,
joint and separate sweeps, failures (the beam-centre search: test_beam_search.py)."""

from __future__ import annotations

import gemmi
import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.models import Crystal, ExperimentList
from friedel.plugins.indexing.indexer import index
from friedel.plugins.indexing.params import IndexingParams

from . import synthetic as syn


def reduced_lengths(cell):
    gv = gemmi.GruberVector(gemmi.UnitCell(*cell), "P")
    gv.niggli_reduce()
    p = gv.get_cell().parameters
    return np.array(p[:3])


def correctly_indexed(result, refl, truth, experiment_ids=(0,)):
    """Fraction of true spots indexed with the right hkl (up to the change of setting)."""
    out = result.reflections
    true = np.any(refl["true_miller_index"] != 0, axis=1)
    crystal = result.experiments[experiment_ids[0]].crystal
    M = np.round(np.linalg.inv(truth.A) @ crystal.A)  # true hkl = M @ found hkl
    assert abs(round(np.linalg.det(M))) == 1
    found = out["miller_index"] @ M.T
    ok = np.isin(out["id"], experiment_ids) & np.all(found == refl["true_miller_index"], axis=1)
    return ok[true].mean()


def params(**kw):
    p = IndexingParams()
    for k, v in kw.items():
        if "." in k:
            scope, name = k.split(".")
            setattr(getattr(p, scope), name, v)
        else:
            setattr(p, k, v)
    return p


THAUMATIN = (57.8, 57.8, 150.0, 90, 90, 90)


@pytest.fixture(scope="module")
def thaumatin():
    return syn.sweep(THAUMATIN, "P 41 21 2", seed=1, d_min=3.0, n_false=30, n_images=20, width_deg=0.5)


@pytest.mark.parametrize("method", ["fft3d", "fft1d", "real_space_grid_search"])
def test_each_method_recovers_cell_and_indices(thaumatin, method):
    expts, refl, truth = thaumatin
    kw = {"method": method}
    if method == "real_space_grid_search":
        kw = {"method": method, "known_symmetry.unit_cell": THAUMATIN, "known_symmetry.space_group": "P 41 21 2"}
    result = index(expts, refl, params(**kw))
    cell = result.experiments[0].crystal.unit_cell.parameters
    assert np.allclose(np.sort(reduced_lengths(cell)), np.sort(reduced_lengths(THAUMATIN)), rtol=1e-3)
    assert correctly_indexed(result, refl, truth) >= 0.95
    assert result.cycles[-1].rmsds[0][0] < 0.1  # mm: centroid noise is 0.3 px = 0.05 mm


def test_narrow_wedge_fft1d():
    cell = (78.9, 78.9, 38.1, 90, 90, 90)
    expts, refl, truth = syn.sweep(cell, "P 43 21 2", seed=3, d_min=2.2, n_images=10, width_deg=0.5)
    result = index(expts, refl, params(method="fft1d"))
    assert correctly_indexed(result, refl, truth) >= 0.95
    found = reduced_lengths(result.experiments[0].crystal.unit_cell.parameters)
    assert np.allclose(np.sort(found), np.sort(reduced_lengths(cell)), rtol=5e-3)


def test_known_symmetry_gives_reference_setting():
    cell = (120.3, 60.1, 52.4, 90, 108.5, 90)  # C 1 2 1
    expts, refl, truth = syn.sweep(cell, "C 1 2 1", seed=5, d_min=3.0, n_images=20, width_deg=0.5)
    result = index(expts, refl, params(**{"known_symmetry.space_group": "C 1 2 1"}))
    crystal = result.experiments[0].crystal
    assert crystal.space_group.xhm() == "C 1 2 1"
    assert np.allclose(crystal.unit_cell.parameters, cell, rtol=1e-3, atol=0.05)
    assert correctly_indexed(result, refl, truth) >= 0.95


def test_cell_that_does_not_fit_is_explained(thaumatin):
    expts, refl, _ = thaumatin
    with pytest.raises(FriedelError, match="does not fit"):
        index(expts, refl, params(**{"known_symmetry.space_group": "P 41 21 2",
                                     "known_symmetry.unit_cell": (70, 70, 150, 90, 90, 90)}))


def test_too_few_spots_is_explained(thaumatin):
    expts, refl, _ = thaumatin
    with pytest.raises(FriedelError, match="only 5 spots"):
        index(expts, refl.select(np.arange(5)), params())


def test_two_lattices():
    cell = (54.0, 58.0, 66.5, 90, 90, 90)
    expt = syn.geometry(n_images=20, width_deg=0.5)
    c1 = Crystal.from_cell(cell, "P 21 21 21", syn.random_U(11))
    c2 = Crystal.from_cell(cell, "P 21 21 21", syn.random_U(12))
    t1 = syn.spots(expt, c1, 3.0, seed=1)
    t2 = syn.spots(expt, c2, 3.0, seed=2)
    t1.extend(t2)
    result = index(ExperimentList([expt]), t1, params(max_lattices=2))
    assert len(result.experiments) == 2
    crystals = [e.crystal for e in result.experiments]
    for c in crystals:
        assert np.allclose(np.sort(reduced_lengths(c.unit_cell.parameters)), np.sort(cell[:3]), rtol=1e-3)
    assert result.misorientations and result.misorientations[0][2] > 5.0
    assert (result.reflections["id"] >= 0).mean() >= 0.95


def _two_sweeps():
    cell = (40.2, 52.7, 61.3, 90, 97.0, 90)
    crystal = Crystal.from_cell(cell, "P 1 21 1", syn.random_U(21))
    e1 = syn.geometry(n_images=10, width_deg=0.5)
    # second sweep: a different goniometer setting (fixed rotation)
    R = np.array([[1, 0, 0], [0, np.cos(0.6), -np.sin(0.6)], [0, np.sin(0.6), np.cos(0.6)]]) @ \
        np.array([[np.cos(0.5), 0, np.sin(0.5)], [0, 1, 0], [-np.sin(0.5), 0, np.cos(0.5)]])
    e2 = syn.geometry(n_images=10, width_deg=0.5, start_deg=30.0, fixed_rotation=R)
    t1 = syn.spots(e1, crystal, 3.0, seed=1, experiment_id=0)
    t2 = syn.spots(e2, crystal, 3.0, seed=2, experiment_id=1)
    t1.extend(t2)
    return ExperimentList([e1, e2]), t1, crystal, cell


def test_joint_indexing_two_sweeps_one_crystal():
    expts, refl, truth, cell = _two_sweeps()
    result = index(expts, refl, params())
    assert len(result.experiments) == 2
    assert result.experiments[0].crystal is result.experiments[1].crystal
    assert correctly_indexed(result, refl, truth, experiment_ids=(0, 1)) >= 0.95
    assert np.allclose(np.sort(reduced_lengths(result.experiments[0].crystal.unit_cell.parameters)),
                       np.sort(reduced_lengths(cell)), rtol=1e-3)


def test_separate_indexing_two_sweeps():
    expts, refl, truth, cell = _two_sweeps()
    result = index(expts, refl, params(joint_indexing=False))
    assert len(result.experiments) == 2
    assert result.experiments[0].crystal is not result.experiments[1].crystal
    ids = result.reflections["id"]
    assert set(np.unique(ids[ids >= 0])) == {0, 1}
    # each 5-degree sweep alone fixes its cell less well than the two together (0.1%)
    for k in range(2):
        found = result.experiments[k].crystal.unit_cell.parameters
        assert np.allclose(np.sort(reduced_lengths(found)), np.sort(reduced_lengths(cell)), rtol=6e-3)
