"""Miller index assignment: which lattice (if any) each spot belongs to, and its index.

``simple`` rounds ``h = A^-1 rlp`` and accepts a spot when every component is within the
tolerance of an integer. ``local`` (after Gildea et al. 2014) trusts index *differences*
between near neighbours in reciprocal space more than absolute indices: a minimum spanning
tree over neighbour pairs, weighted by how non-integral their index difference is, carries
indices outwards from the best-fitting spot, so moderate model errors at high resolution
do not produce wrong indices.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree
from scipy.spatial import cKDTree


def assign_indices(rlp: np.ndarray, lattices: list[np.ndarray], tolerance: float = 0.3,
                   method: str = "simple", n_neighbours: int = 10):
    """Indices and lattice numbers for each spot.

    ``lattices`` are direct bases (rows a, b, c). Returns ``(hkl (n,3) int32, lattice (n,)
    int32, residual (n,))``; unindexed spots get lattice -1 and hkl 0,0,0. When several
    lattices claim a spot the closest (smallest residual) wins.
    """
    n = len(rlp)
    hkl = np.zeros((n, 3), np.int32)
    which = np.full(n, -1, np.int32)
    best = np.full(n, np.inf)
    for i, D in enumerate(lattices):
        h_frac = rlp @ np.asarray(D).T
        if method == "local":
            h = local_indices(rlp, h_frac, n_neighbours)
        else:
            h = np.round(h_frac)
        resid = np.max(np.abs(h_frac - h), axis=1)
        take = (resid < tolerance) & (resid < best) & np.any(h != 0, axis=1)
        hkl[take] = h[take]
        which[take] = i
        best[take] = resid[take]
    hkl[which < 0] = 0
    best[which < 0] = np.inf
    return hkl, which, best


def local_indices(rlp: np.ndarray, h_frac: np.ndarray, n_neighbours: int = 10, epsilon: float = 0.05) -> np.ndarray:
    """Indices propagated along a minimum spanning tree of near neighbours (see module doc)."""
    n = len(rlp)
    if n < 3:
        return np.round(h_frac)
    k = min(n_neighbours + 1, n)
    _, nbr = cKDTree(rlp).query(rlp, k=k)
    src = np.repeat(np.arange(n), k - 1)
    dst = nbr[:, 1:].ravel()
    dh = h_frac[dst] - h_frac[src]
    # weight: non-integrality of the index difference (plus a tiny distance term to break ties)
    weight = np.max(np.abs(dh - np.round(dh)), axis=1) + epsilon * 1e-3 + 1e-9
    graph = coo_matrix((weight, (src, dst)), shape=(n, n)).tocsr()
    graph = graph.maximum(graph.T)  # symmetric
    tree = minimum_spanning_tree(graph)
    tree = tree + tree.T
    n_comp, labels = connected_components(tree, directed=False)
    seed_resid = np.max(np.abs(h_frac - np.round(h_frac)), axis=1)
    out = np.round(h_frac).astype(np.float64)
    for comp in range(n_comp):  # components are few (usually one per lattice region)
        members = np.flatnonzero(labels == comp)
        seed = members[np.argmin(seed_resid[members])]
        order, pred = breadth_first_order(tree, seed, directed=False, return_predecessors=True)
        _propagate(order, pred, h_frac, out)
    return out


@njit(cache=True)
def _propagate(order, pred, h_frac, out):
    """h(child) = h(parent) + round(h_frac(child) - h_frac(parent)), in breadth-first order."""
    for idx in range(1, order.shape[0]):
        c = order[idx]
        p = pred[c]
        for j in range(3):
            out[c, j] = out[p, j] + np.round(h_frac[c, j] - h_frac[p, j])
