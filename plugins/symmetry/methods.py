"""Built-in plugins of the ``symmetry_methods`` extension point: ``evans`` (one data set, or
several indexed consistently) and ``cosym`` (many data sets with a possible indexing ambiguity)."""

from __future__ import annotations

import logging
import time

import numpy as np

from friedel.contracts.symmetry import LatticeGroup, MergedDataset, SymmetryMethod, SymmetryResult
from friedel.errors import FriedelError
from friedel.plugins.bravais.correlation import friedel_key
from friedel.plugins.symmetry.lattice import key, subgroups
from friedel.plugins.symmetry.params import CosymParams, EvansParams
from friedel.plugins.symmetry.scoring import confidence

log = logging.getLogger("friedel")


def combine(datasets: list[MergedDataset]) -> MergedDataset:
    """Several consistently indexed data sets as one (inverse-variance means of E^2)."""
    if len(datasets) == 1:
        return datasets[0]
    hkl = np.concatenate([d.hkl for d in datasets])
    e2 = np.concatenate([d.intensity for d in datasets])
    s = np.concatenate([d.sigma for d in datasets])
    dd = np.concatenate([d.d for d in datasets])
    mult = np.concatenate([d.multiplicity for d in datasets])
    keys = friedel_key(hkl)
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    w = 1 / s**2
    sw = np.bincount(inv, weights=w)
    mean = np.bincount(inv, weights=w * e2) / sw
    pairs = [d.repeat_pairs for d in datasets if d.repeat_pairs is not None and len(d.repeat_pairs)]
    # the same reflection in two data sets is a repeat too
    order = np.argsort(inv, kind="stable")
    same = np.flatnonzero(inv[order][1:] == inv[order][:-1])
    cross = np.column_stack([e2[order[same]], e2[order[same + 1]]]) if len(same) else np.zeros((0, 2))
    rp = np.concatenate(pairs + [cross]) if pairs or len(cross) else np.zeros((0, 2))
    return MergedDataset("+".join(d.identifier for d in datasets), hkl[first], mean, 1 / np.sqrt(sw), dd[first],
                         np.bincount(inv, weights=mult).astype(int), rp)


def _restrict(scores, allowed):
    """Subgroup scores limited to the allowed groups (the user's Laue group), best first."""
    if allowed is None:
        return scores
    allowed_keys = [frozenset(key(R) for R in g) for g in allowed]
    chosen = [s for s in scores if s.keys in allowed_keys]
    if not chosen:
        raise FriedelError("the requested Laue group is not a subgroup of the lattice symmetry")
    return chosen


class EvansLaueGroup(SymmetryMethod):
    """Score each rotation of the lattice group by the correlation of related reflections and
    every sub-group by the likelihoods of the rotations it contains and lacks (POINTLESS-style)."""

    name = "evans"
    Params = EvansParams

    def __init__(self, params: EvansParams | None = None):
        self.params = params or EvansParams()

    def __call__(self, datasets, lattice: LatticeGroup, allowed=None) -> SymmetryResult:
        from friedel.plugins.symmetry.scoring import analyse

        data = combine(list(datasets))
        if len(data) < 2:
            raise FriedelError("too few reflections to score the symmetry (fewer than 2 unique reflections)")
        groups = subgroups(lattice.rotations)
        analysis = analyse(data, lattice.rotations, groups, np.random.default_rng(self.params.seed),
                           self.params.min_cc_sigma)
        if not any(e.n > 2 for e in analysis.elements) and len(lattice.rotations) > 1:
            log.warning("No symmetry element has more than 2 pairs of related reflections: the Laue group "
                        "cannot be judged from these data (the best guess is reported)")
        ranked = _restrict(analysis.subgroups, allowed)
        best = ranked[0]
        eye = np.eye(3, dtype=np.int64)
        return SymmetryResult(best.rotations, [eye for _ in datasets], best.likelihood, confidence(ranked),
                              analysis.as_dict(), {}, analysis)


class CosymEmbedding(SymmetryMethod):
    """Pairwise correlations of all data sets under every lattice operation, embedded in a few
    dimensions; the Laue group from the angles within each data set, the indexing of each data set
    from the cluster it joins."""

    name = "cosym"
    Params = CosymParams

    def __init__(self, params: CosymParams | None = None):
        self.params = params or CosymParams()

    def __call__(self, datasets, lattice: LatticeGroup, allowed=None) -> SymmetryResult:
        from friedel.plugins.symmetry.cosym import analysis as ana
        from friedel.plugins.symmetry.cosym.embedding import choose_dimensions, embed
        from friedel.plugins.symmetry.cosym.matrix import full_matrix, pair_correlations

        p = self.params
        datasets = list(datasets)
        n, m = len(datasets), len(lattice.rotations)
        t0 = time.perf_counter()
        pc = pair_correlations(datasets, lattice.rotations, p.min_pairs)
        R, W = full_matrix(pc, p.weights)
        if not W.any():
            raise FriedelError("no two data sets (or operations) share enough reflections to correlate: "
                               f"need at least min_pairs={p.min_pairs} in common")
        t1 = time.perf_counter()
        max_dim = max(2, m)
        if p.dimensions == "Auto" or p.dimensions is None:
            dims, residuals = choose_dimensions(R, W, max_dim)
        else:
            dims, residuals = int(p.dimensions), []
        dims = max(2, min(dims, n * m - 1)) if n * m > 2 else 2
        X, f = embed(R, W, dims, seed=p.seed, max_iterations=p.max_iterations)
        t2 = time.perf_counter()
        groups = subgroups(lattice.rotations)
        elements, ranked = ana.score_symmetry(X, n, m, lattice.rotations, pc.product_table, groups, p.cc_sigma)
        ranked = _restrict(ranked, allowed)
        best = ranked[0]
        chosen = ana.assign_operations(X, n, m, p.seed_dataset)
        reindex = ana.reindexing_operations(chosen, lattice.rotations, best.rotations)
        log.debug("cosym: correlations %.2f s, embedding %.2f s", t1 - t0, t2 - t1)
        agreement = ana.mean_cc_with_others(pc, chosen)
        typical = float(np.nanmedian(agreement)) if n > 2 else float("nan")
        for ds, value in zip(datasets, agreement):
            if n > 2 and typical > 0.2 and not value > 0.25 * typical:
                log.warning("Data set %s hardly correlates with the others once reindexed (CC %.2f; typical %.2f): "
                            "another crystal form in the same cell, or very weak data", ds.identifier, value, typical)
        scores = {
            "dimensions": int(dims), "residual_by_dimension": [float(v) for v in residuals],
            "functional": f, "n_datasets": n, "n_operations": m,
            "sym_op_scores": [e.as_dict() for e in elements],
            "subgroup_scores": [s.as_dict() for s in ranked],
            "coordinates": X.tolist() if n * m <= 5000 else None,
            "cc_with_others": [None if not np.isfinite(v) else float(v) for v in agreement],
            "timing": {"correlations": t1 - t0, "embedding": t2 - t1},
        }
        details = {"elements": elements, "subgroups": ranked, "chosen": chosen, "coordinates": X,
                   "pair_correlations": pc}
        return SymmetryResult(best.rotations, reindex, best.likelihood, confidence(ranked), scores, {}, details)


BUILT_IN = [EvansLaueGroup, CosymEmbedding]
