"""Lattices from candidate vectors: basis fit and choice, misorientation between lattices.

Cells of bases, Niggli reduction, the setting of a known space group and cell constraints are
the kernel's (:mod:`friedel.lattice`), written once for indexing, Bravais settings and the
beam-centre search.

Direct-space bases are 3 x 3 arrays whose rows are a, b, c (Angstrom, lab frame at zero
rotation), so ``A = inv(D)`` and fractional Miller indices are ``rlp @ D.T``.
"""

from __future__ import annotations

import itertools

import numpy as np

from friedel.lattice import niggli_basis, right_handed

def indexed_fraction(D: np.ndarray, rlp: np.ndarray, tolerance: float) -> float:
    h = rlp @ D.T
    return float(np.mean(np.all(np.abs(h - np.round(h)) < tolerance, axis=1)))


def fit_basis(D: np.ndarray, rlp: np.ndarray, tolerance: float = 0.3, iterations: int = 3) -> np.ndarray:
    """Least-squares basis (rows, right-handed) through the origin for the spots it indexes
    within ``tolerance``, re-indexing after each fit."""
    for _ in range(iterations):
        h_frac = rlp @ D.T
        h = np.round(h_frac)
        ok = np.all(np.abs(h_frac - h) < tolerance, axis=1) & np.any(h != 0, axis=1)
        if ok.sum() < 6 or np.linalg.matrix_rank(h[ok]) < 3:
            break
        At, *_ = np.linalg.lstsq(h[ok], rlp[ok], rcond=None)
        D = np.linalg.inv(At.T)
    return right_handed(D)


def candidate_bases(vectors: np.ndarray, rlp: np.ndarray, max_cell: float, tolerance: float = 0.25,
                    max_combinations: int = 25, n_best: int = 5, max_spots: int = 400) -> list[np.ndarray]:
    """Bases of three non-coplanar candidate vectors, best first.

    Every triple of the first ``max_combinations`` vectors that spans a cell (volume at least
    a few percent of the product of the lengths) is scored by the fraction of rlps it indexes
    within ``tolerance``; among triples indexing nearly as many as the best (a supercell indexes
    the same spots), the smallest volume wins.
    """
    v = np.asarray(vectors, dtype=float)[:max_combinations]
    if len(v) < 3:
        return []
    combos = np.array(list(itertools.combinations(range(len(v)), 3)))
    D = v[combos]  # (n, 3, 3)
    volume = np.abs(np.linalg.det(D))
    lengths = np.linalg.norm(D, axis=2)
    flat_enough = volume > 0.1 * np.prod(lengths, axis=1)  # angles not too acute
    small_enough = volume < max_cell**3 * 2.0
    combos, D, volume = combos[flat_enough & small_enough], D[flat_enough & small_enough], volume[flat_enough & small_enough]
    if len(D) == 0:
        return []
    # the lowest-resolution spots tell triples apart; more only cost time
    rlp = rlp[np.argsort(np.linalg.norm(rlp, axis=1))[:max_spots]]
    # fraction indexed for every triple at once: (n, spots, 3) in blocks to bound memory
    frac = np.empty(len(D))
    block = max(1, int(2e7 // max(1, 3 * len(rlp))))
    for s in range(0, len(D), block):
        h = np.einsum("sj,nij->nsi", rlp, D[s : s + block])
        hr = np.round(h)
        ok = np.all(np.abs(h - hr) < tolerance, axis=2)
        # a vector normal to the thin slab a narrow wedge samples makes every projection ~0:
        # it "indexes" all spots with index 0 along it; such bases are degenerate, not lattices
        zero = np.sum((hr == 0) & ok[..., None], axis=1) / np.maximum(1, ok.sum(axis=1))[:, None]
        degenerate = np.max(zero, axis=1) > 0.7
        frac[s : s + block] = np.where(degenerate, 0.0, np.mean(ok, axis=1))
    best = frac.max()
    good = frac >= best - max(0.05, 0.1 * best)
    # rank: smallest volume among the near-best, then by fraction
    order = np.lexsort((-frac, np.round(volume / volume[good].min(), 1) if good.any() else volume))
    order = [i for i in order if good[i]] + [i for i in np.argsort(-frac) if not good[i]]
    out, seen_volumes = [], []
    for i in order:
        Di = right_handed(D[i])
        if any(abs(volume[i] - sv) < 0.02 * sv and abs(frac[i] - sf) < 1e-9 for sv, sf in seen_volumes):
            continue
        seen_volumes.append((volume[i], frac[i]))
        out.append(Di)
        if len(out) >= n_best:
            break
    return out


# -- several lattices -------------------------------------------------------------------------
def metric_symmetry_operations(D: np.ndarray, tolerance: float = 0.02) -> np.ndarray:
    """Integer matrices M (entries -1..1, det 1) that keep the metric of basis ``D`` (lattice symmetry)."""
    G = D @ D.T
    vals = np.array(list(itertools.product((-1, 0, 1), repeat=9)), dtype=float).reshape(-1, 3, 3)
    vals = vals[np.round(np.linalg.det(vals)) == 1]
    G2 = vals @ G @ np.transpose(vals, (0, 2, 1))
    scale = np.sqrt(np.outer(np.diag(G), np.diag(G)))
    ok = np.all(np.abs(G2 - G) / scale <= tolerance, axis=(1, 2))
    return vals[ok]


def misorientation_deg(D1: np.ndarray, D2: np.ndarray) -> float:
    """Smallest rotation (degrees) taking lattice 1 onto lattice 2, over lattice 1's symmetry."""
    D1, D2 = niggli_basis(D1), niggli_basis(D2)
    best = 180.0
    for M in metric_symmetry_operations(D1):
        # rotation R with R a_i ~ b_i: polar part of the least-squares fit
        X = np.linalg.solve(M @ D1, D2)  # rows transform: D2 ~ (M D1) X
        Uu, _, Vt = np.linalg.svd(X)
        R = Uu @ Vt
        if np.linalg.det(R) < 0:
            continue
        angle = np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))
        best = min(best, angle)
    return float(best)
