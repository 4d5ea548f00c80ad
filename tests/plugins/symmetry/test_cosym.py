"""friedel cosym: data sets each reindexed by a random ambiguity operation come out indexed
consistently with the truth, with the right Laue group; a different crystal is excluded."""

import logging

import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.plugins.symmetry.params import CosymCommandParams
from friedel.plugins.symmetry.runs import run_cosym
from friedel.reflection_table import ReflectionTable

from symmetry_synthetic import FOURFOLD_C, TWOFOLD_110, ambiguous_wedges, inconsistent_datasets, make_experiments



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


def test_i213_simulated_wedges_indexed_consistently():
    expts, refl = ambiguous_wedges(5, seed=3, R_conv=FOURFOLD_C)
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


def test_one_data_set_works_and_says_so():
    expts, refl, _truth = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=1, seed=3,
                                           d_min=3.5, completeness=0.6)
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("friedel")
    logger.addHandler(handler)
    try:
        out = run_cosym(expts, refl, _params())
    finally:
        logger.removeHandler(handler)
    assert any("Only one data set" in m for m in messages)
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


def test_dense_and_sparse_correlation_sums_agree_with_a_direct_pearson():
    import gemmi

    from friedel.contracts.symmetry import MergedDataset
    from friedel.plugins.bravais.correlation import friedel_key
    from friedel.plugins.symmetry.cosym import matrix
    from friedel.plugins.symmetry.lattice import find_lattice_group

    search = find_lattice_group(gemmi.UnitCell(60, 60, 80, 90, 90, 90), 2.0)
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(-6, 7)] * 3, indexing="ij"), -1).reshape(-1, 3)
    grid = grid[np.any(grid != 0, axis=1)]
    grid = grid[np.unique(friedel_key(grid), return_index=True)[1]]
    datasets = []
    for i in range(4):
        h = grid[rng.random(len(grid)) < 0.4]
        datasets.append(MergedDataset(str(i), h, rng.exponential(1, len(h)), np.ones(len(h)), np.ones(len(h)),
                                      np.ones(len(h), int)))
    dense = matrix.pair_correlations(datasets, search.group.rotations)
    saved = matrix.DENSE_MAX_BYTES
    matrix.DENSE_MAX_BYTES = 0  # force the sparse products
    try:
        sparse = matrix.pair_correlations(datasets, search.group.rotations)
    finally:
        matrix.DENSE_MAX_BYTES = saved
    assert np.allclose(dense.cc, sparse.cc, equal_nan=True) and np.array_equal(dense.n_pairs, sparse.n_pairs)
    # one entry by hand: data set 0 against data set 2 reindexed by rotation j
    j = 3
    R = search.group.rotations[j]
    a, b = datasets[0], datasets[2]
    moved = {k: v for k, v in zip(friedel_key(b.hkl @ np.rint(np.linalg.inv(R)).astype(int)), b.intensity)}
    pairs = [(x, moved[k]) for k, x in zip(friedel_key(a.hkl), a.intensity) if k in moved]
    x, y = np.array(pairs).T
    assert dense.n_pairs[0, 2, j] == len(pairs)
    assert np.isclose(dense.cc[0, 2, j], np.corrcoef(x, y)[0, 1])


def test_a_crystal_with_the_same_cell_but_other_intensities_is_named():
    expts, refl, _t = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=6, seed=1, d_min=4.0,
                                       completeness=0.3)
    other_e, other_r, _t = make_experiments((60.0, 60.0, 80.0, 90, 90, 90), "P 4", n_datasets=1, seed=77,
                                            d_min=4.0, completeness=0.3)
    other_e[0].identifier = "other"
    other_r["id"] = np.full(len(other_r), 6, np.int32)
    other_r.experiment_identifiers = {6: "other"}
    expts.append(other_e[0])
    table = ReflectionTable.concatenate([refl, other_r])
    table.experiment_identifiers = {**refl.experiment_identifiers, 6: "other"}
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("friedel").addHandler(handler)
    try:
        out = run_cosym(expts, table, _params())
    finally:
        logging.getLogger("friedel").removeHandler(handler)
    cc = out.summary["cc_with_others"]
    assert cc[6] < 0.1 and min(cc[:6]) > 0.5
    assert any("other hardly correlates" in m for m in messages)
