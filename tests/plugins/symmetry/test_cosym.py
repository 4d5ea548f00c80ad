"""friedel cosym: data sets each reindexed by a random ambiguity operation come out indexed
consistently with the truth, with the right Laue group; a different crystal is excluded."""

import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.miller import asu_mapping
from friedel.models.experiment import ExperimentList
from friedel.plugins.bravais.cb_op import ChangeOfBasis
from friedel.plugins.bravais.reindex import reindex_experiments
from friedel.plugins.symmetry.params import CosymCommandParams
from friedel.plugins.symmetry.runs import run_cosym
from friedel.reflection_table import ReflectionTable

from .synthetic import as_p1, make_experiments

TWOFOLD_110 = np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]])   # in 422, not in 4
FOURFOLD_C = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]])    # in 432, not in 23


def inconsistent_datasets(out) -> list[int]:
    """Data sets whose labels disagree with the majority about the true intensities.

    All reflections with the same index in the chosen space group's ASU must have the same true
    intensity (the truth is noise-free), whichever data set they come from."""
    hkl = np.asarray(out.reflections["miller_index"])
    ids = np.asarray(out.reflections["id"])
    truth = np.asarray(out.reflections["intensity.true.value"])
    group = asu_mapping(hkl, out.summary["space_group"]).group
    # the majority true value of each group (dataset 0 need not be right: use the mode)
    order = np.lexsort((np.round(truth, 6), group))
    g, t = group[order], np.round(truth[order], 6)
    # for each group the most common value
    reference = {}
    for gi, ti in zip(g, t):
        reference.setdefault(gi, {}).setdefault(ti, 0)
        reference[gi][ti] += 1
    mode = {gi: max(v, key=v.get) for gi, v in reference.items()}
    wrong = np.array([abs(np.round(tr, 6) - mode[gi]) > 1e-6 * max(1.0, abs(mode[gi]))
                      for gi, tr in zip(group, truth)])
    bad = []
    for a in np.unique(ids):
        if wrong[ids == a].mean() > 0.05:
            bad.append(int(a))
    return bad


def _params(**kw):
    params = CosymCommandParams()
    for k, v in kw.items():
        setattr(params, k, v)
    return params


def test_p4_ambiguity_resolved_for_every_data_set():
    rng = np.random.default_rng(11)
    n = 8
    ops = [TWOFOLD_110 if x else np.eye(3, dtype=int) for x in rng.integers(0, 2, n)]
    expts, refl, _truth = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=n, reindex_ops=ops,
                                           seed=1, d_min=3.5, completeness=0.3, multiplicity=1.5)
    out = run_cosym(expts, refl, _params())
    assert out.summary["best_solution"]["patterson_group"] == "P 4/m"
    assert out.summary["space_group"] == "P 4"
    assert len(out.experiments) == n and not out.summary["excluded"]
    assert inconsistent_datasets(out) == []
    # the two ambiguity classes were found (a twofold perpendicular to c for some data sets)
    assert len(out.summary["reindexing_operators"]) == 2


def _ambiguous_wedges(n, seed, R_conv):
    """Simulated insulin wedges of one crystal form (same true intensities, random orientations),
    each relabelled by identity or R_conv."""
    from friedel.plugins.simulate.crystals import random_orientation
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    rng = np.random.default_rng(seed)
    experiments, tables = ExperimentList(), []
    for i in range(n):
        U = tuple(random_orientation(rng).ravel())
        e, r = simulate_integrated(make_params("insulin", **{"seed": 7, "crystal.orientation": U, "scan.n_images": 8,
                                                             "scan.oscillation": (0.0, 1.0), "crystal.d_min": 3.5}))
        if rng.integers(0, 2):
            # labels h' = h R^-1 carry I_true(h' R): an indexing ambiguity
            cb = ChangeOfBasis(np.linalg.inv(R_conv))
            e = reindex_experiments(e, cb, e[0].crystal.space_group_hall)
            hkl = np.asarray(r["miller_index"])
            r["miller_index"] = cb.apply_to_miller_indices(hkl)
        e, r = as_p1(e, r)
        e[0].identifier = f"wedge-{i}"
        r["id"] = np.full(len(r), i, np.int32)
        r.experiment_identifiers = {i: f"wedge-{i}"}
        experiments.append(e[0])
        tables.append(r)
    table = ReflectionTable.concatenate(tables)
    table.experiment_identifiers = {i: f"wedge-{i}" for i in range(n)}
    return experiments, table


def test_i213_simulated_wedges_indexed_consistently():
    expts, refl = _ambiguous_wedges(5, seed=3, R_conv=FOURFOLD_C)
    out = run_cosym(expts, refl, _params())
    assert out.summary["best_solution"]["patterson_group"] == "I m -3"
    assert out.summary["space_group"] in ("I 2 3", "I 21 3")
    assert len(out.experiments) == 5
    assert inconsistent_datasets(out) == []
    cell = out.experiments[0].crystal.unit_cell.parameters
    assert np.allclose(cell, (77.9, 77.9, 77.9, 90, 90, 90), atol=0.01)


def test_a_different_crystal_is_excluded_and_the_rest_consistent():
    rng = np.random.default_rng(12)
    n = 8
    ops = [TWOFOLD_110 if x else np.eye(3, dtype=int) for x in rng.integers(0, 2, n)]
    expts, refl, _truth = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=n, reindex_ops=ops,
                                           seed=2, d_min=3.5, completeness=0.3, multiplicity=1.5)
    other_e, other_r, _t = make_experiments((60.0, 60.0, 95.0, 90, 90, 90), "P 4", n_datasets=1, seed=9,
                                            d_min=3.5, completeness=0.3)
    other_e[0].identifier = "other-crystal"
    other_r["id"] = np.full(len(other_r), n, np.int32)
    other_r.experiment_identifiers = {n: "other-crystal"}
    expts.append(other_e[0])
    table = ReflectionTable.concatenate([refl, other_r])
    table.experiment_identifiers = {**refl.experiment_identifiers, n: "other-crystal"}
    out = run_cosym(expts, table, _params())
    assert list(out.summary["excluded"]) == ["other-crystal"]
    assert "outside the main cluster" in out.summary["excluded"]["other-crystal"]
    assert len(out.experiments) == n
    assert out.summary["best_solution"]["patterson_group"] == "P 4/m"
    assert inconsistent_datasets(out) == []


def test_one_data_set_works_and_says_so(caplog):
    expts, refl, _truth = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=1, seed=3,
                                           d_min=3.5, completeness=0.6)
    with caplog.at_level("WARNING", logger="friedel"):
        out = run_cosym(expts, refl, _params())
    assert "Only one data set" in caplog.text
    assert out.summary["best_solution"]["patterson_group"] == "P 4/m"


def test_too_weak_data_sets_are_excluded_with_a_reason():
    expts, refl, _truth = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=3, seed=4,
                                           d_min=3.5, completeness=0.4)
    ids = np.asarray(refl["id"])
    keep = (ids != 2) | (np.cumsum(ids == 2) <= 5)
    out = run_cosym(expts, refl.select(keep), _params())
    assert "usable reflections" in out.summary["excluded"]["synthetic-2"]
    expts, refl, _truth = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=1, seed=4,
                                           d_min=3.5, completeness=0.4)
    with pytest.raises(FriedelError, match="at least 10 usable"):
        run_cosym(expts, refl.select(np.arange(5)), _params())
