"""Synthetic integrated data sets with known symmetry (no images, no geometry): true
intensities from the simulator's Wilson model in the true space group, observed in a P1
(primitive) indexing with Poisson-like noise, optionally reindexed by an ambiguity operation."""

from __future__ import annotations

import gemmi
import numpy as np

from friedel.flags import Flags
from friedel.models.crystal import Crystal
from friedel.models.experiment import Experiment, ExperimentList
from friedel.plugins.simulate.crystals import TrueIntensities, random_orientation
from friedel.prediction import generate_indices
from friedel.reflection_table import ReflectionTable


def primitive_P(space_group: str) -> np.ndarray:
    """Columns: primitive basis vectors in the conventional basis."""
    sg = gemmi.SpaceGroup(space_group)
    if sg.centring_type() == "P":
        return np.eye(3)
    op = sg.centred_to_primitive()
    return np.array(op.rot, float).T / op.DEN


def make_dataset(cell, space_group, d_min=2.5, completeness=0.7, multiplicity=2.0, scale=200.0,
                 background=20.0, rng=None, truth=None, reindex=None, wilson_b=20.0):
    """(A of the P1 crystal, table columns) of one synthetic data set.

    ``reindex`` (3x3 int, conventional basis): the data set's labels h carry I_true(h @ reindex)
    (an indexing ambiguity). Returns also the true-intensity object for checking.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    truth = truth or TrueIntensities(cell, space_group, d_min, wilson_b, rng)
    P = primitive_P(space_group)
    A_conv = Crystal.from_cell(cell, "P 1", U=random_orientation(rng)).A
    A_p = A_conv @ np.linalg.inv(P).T  # indices h_p = h_conv @ P (ChangeOfBasis.apply_to_A)
    hkl_p = generate_indices(A_p, d_min)
    # a contiguous-ish subset: keep reflections on one side of a random plane plus random ones
    v = rng.normal(size=3)
    score = (hkl_p @ A_p.T) @ v
    keep = score > np.quantile(score, 1 - completeness)
    hkl_p = hkl_p[keep]
    # repeated observations (a mix of Friedel mates and repeats)
    reps = rng.poisson(multiplicity - 1, len(hkl_p)) + 1
    hkl_obs = np.repeat(hkl_p, reps, axis=0)
    flip = rng.random(len(hkl_obs)) < 0.5
    hkl_obs[flip] *= -1
    hkl_conv = np.rint(hkl_obs @ np.linalg.inv(P)).astype(int)
    if reindex is not None:
        hkl_conv = hkl_conv @ np.asarray(reindex, int)
    i_true = truth.lookup(hkl_conv) * scale
    var = i_true + background
    i_obs = i_true + rng.normal(size=len(i_true)) * np.sqrt(var)
    cols = {
        "miller_index": hkl_obs.astype(np.int32),
        "intensity.sum.value": i_obs,
        "intensity.sum.variance": np.maximum(i_obs, 0) + background,
        "intensity.prf.value": i_obs,
        "intensity.prf.variance": np.maximum(i_obs, 0) + background,
        "lp": np.ones(len(i_obs)),
        "qe": np.ones(len(i_obs)),
        "partiality": np.ones(len(i_obs)),
        "flags": np.full(len(i_obs), int(Flags.integrated_sum | Flags.integrated_prf | Flags.indexed), np.int64),
        "d": 1.0 / np.linalg.norm(hkl_obs @ A_p.T, axis=1),
        "intensity.true.value": i_true,
    }
    return A_p, cols, truth


def make_experiments(cell, space_group, n_datasets=1, reindex_ops=None, seed=0, **kwargs):
    """ExperimentList and ReflectionTable of ``n_datasets`` synthetic P1 data sets."""
    rng = np.random.default_rng(seed)
    truth = TrueIntensities(cell, space_group, kwargs.get("d_min", 2.5), kwargs.get("wilson_b", 20.0), rng)
    experiments = ExperimentList()
    tables = []
    for i in range(n_datasets):
        R = None if reindex_ops is None else reindex_ops[i]
        A, cols, truth = make_dataset(cell, space_group, rng=rng, truth=truth, reindex=R, **kwargs)
        experiments.append(Experiment(crystal=Crystal(A, "P 1"), identifier=f"synthetic-{i}"))
        cols["id"] = np.full(len(cols["d"]), i, np.int32)
        tables.append(cols)
    merged = {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
    table = ReflectionTable(merged, {i: f"synthetic-{i}" for i in range(n_datasets)})
    return experiments, table, truth


def as_p1(experiments, reflections, extra_cb: str | None = None):
    """The simulator's true models as an indexer would leave them: a primitive P1 cell, optionally
    in another basis (``extra_cb`` such as ``b,c,a``); Miller indices transformed alike."""
    from friedel.plugins.bravais.cb_op import ChangeOfBasis
    from friedel.plugins.bravais.reindex import reindex_experiments
    from friedel.plugins.symmetry.lattice import primitive_cb_op

    sg = experiments[0].crystal.space_group
    cb = primitive_cb_op(sg)
    if extra_cb:
        cb = cb.then(ChangeOfBasis.from_string(extra_cb))
    out = reindex_experiments(experiments, cb, "P 1")
    refl = reflections.copy()
    hkl = np.asarray(refl["miller_index"])
    ok = np.any(hkl != 0, axis=1)
    new = np.zeros_like(hkl)
    new[ok] = cb.apply_to_miller_indices(hkl[ok])
    refl["miller_index"] = new.astype(np.int32)
    return out, refl


def simulated(preset: str, extra_cb: str | None = None, **overrides):
    """simulate_integrated of a preset, as P1 integrated data (experiments, reflections)."""
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    experiments, reflections = simulate_integrated(make_params(preset, **overrides))
    return as_p1(experiments, reflections, extra_cb)


TWOFOLD_110 = np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]])   # in 422, not in 4
FOURFOLD_C = np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1]])    # in 432, not in 23


def ambiguous_wedges(n, seed, R_conv):
    """Simulated insulin wedges of one crystal form (same true intensities, random orientations),
    each relabelled by identity or R_conv."""
    from friedel.models.experiment import ExperimentList
    from friedel.plugins.bravais.cb_op import ChangeOfBasis
    from friedel.plugins.bravais.reindex import reindex_experiments
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


def inconsistent_datasets(out) -> list[int]:
    """Data sets whose labels disagree with the majority about the true intensities.

    All reflections with the same index in the chosen space group's ASU must have the same true
    intensity (the truth is noise-free), whichever data set they come from."""
    from friedel.miller import asu_mapping

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
