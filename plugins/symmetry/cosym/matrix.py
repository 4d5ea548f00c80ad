"""The pairwise correlation matrix of data sets under every lattice operation (Gildea & Winter 2018).

Row (a, k) of the matrix is data set ``a`` reindexed by lattice rotation ``g_k``
(``I_(a,k)(h) = I_a(h @ g_k)``). Reindexing both members of a pair by the same operation does
not change their correlation, so

    R[(a, k), (b, l)] = C[a, b, j(k, l)]   with   g_j = g_k^-1 g_l,

and only the n x n x m array ``C[a, b, j] = CC(I_a, I_b reindexed by g_j)`` is computed: one
sparse product per operation of stacked (values, squares, mask) matrices gives every pair's
six Pearson sums at once, so the cost is quadratic in the number of data sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from friedel.plugins.bravais.correlation import friedel_key
from friedel.plugins.symmetry.lattice import as_int, key


#: largest memory for the dense (values, squares, masks) x universe arrays (bytes)
DENSE_MAX_BYTES = 1.5 * 2**30


@dataclass
class PairCorrelations:
    cc: np.ndarray          # (n, n, m) Pearson CC; NaN where fewer than min_pairs common reflections
    n_pairs: np.ndarray     # (n, n, m) common reflections
    product_table: np.ndarray  # (m, m): index of g_k^-1 g_l


def product_table(rotations) -> np.ndarray:
    """T[k, l] = index of g_k^-1 @ g_l in ``rotations``."""
    index = {key(R): i for i, R in enumerate(rotations)}
    m = len(rotations)
    T = np.empty((m, m), dtype=np.int64)
    for k, gk in enumerate(rotations):
        inv = as_int(np.linalg.inv(gk))
        for l, gl in enumerate(rotations):
            T[k, l] = index[key(inv @ as_int(gl))]
    return T


def pair_correlations(datasets, rotations, min_pairs: int = 3) -> PairCorrelations:
    """C[a, b, j] between data set a and data set b reindexed by rotations[j]."""
    n, m = len(datasets), len(rotations)
    rotations_index = {key(as_int(R)): i for i, R in enumerate(rotations)}
    inverse = [rotations_index[key(as_int(np.linalg.inv(R)))] for R in rotations]
    # the column universe: every observed reflection under every operation (closed under the group)
    hkl_all = np.concatenate([np.asarray(ds.hkl, np.int64) for ds in datasets]) if n else np.zeros((0, 3), np.int64)
    observed_keys, first = np.unique(friedel_key(hkl_all), return_index=True)
    observed = hkl_all[first]
    images = np.concatenate([observed @ as_int(np.linalg.inv(R)) for R in rotations])
    universe, first = np.unique(friedel_key(images), return_index=True)
    universe_hkl = images[first]
    U = len(universe)
    values = [np.asarray(ds.intensity, float) for ds in datasets]
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    rows = np.repeat(np.arange(n), lengths)
    vals = np.concatenate(values) if n else np.zeros(0)
    cols = np.searchsorted(universe, friedel_key(hkl_all))
    # sigma_j: reindexed by g_j, the value at column u is the data set's value at u @ g_j
    sigma = [np.searchsorted(universe, friedel_key(universe_hkl @ as_int(R))) for R in rotations]

    if len(vals) / max(n * U, 1) > 0.02 and 3.0 * n * U * 8 < DENSE_MAX_BYTES:
        sums = _dense_sums(n, U, rows, cols, vals, sigma)
    else:
        sums = _sparse_sums(n, U, rows, cols, vals, sigma)
    cc = np.full((n, n, m), np.nan)
    counts = np.zeros((n, n, m), dtype=np.int64)
    for j in range(m):
        N, sx, sy, sxx, sxy = sums[j]
        syy = sums[inverse[j]][3].T  # sum y^2 of (a, b, g_j) is sum x^2 of (b, a, g_j^-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            num = N * sxy - sx * sy
            den = np.sqrt(np.maximum(N * sxx - sx**2, 0) * np.maximum(N * syy - sy**2, 0))
            c = num / den
        c[(N < min_pairs) | ~np.isfinite(c)] = np.nan
        cc[:, :, j] = np.clip(c, -1, 1)
        counts[:, :, j] = np.rint(N).astype(np.int64)
    return PairCorrelations(cc, counts, product_table(rotations))


def _dense_sums(n, U, rows, cols, vals, sigma):
    """Per operation (N, sum x, sum y, sum x^2, sum xy) as dense n x n arrays, through BLAS: most
    data sets hold a good fraction of the universe (200 cubic data sets: 140 s sparse, seconds dense)."""
    X = np.zeros((n, U))
    M = np.zeros((n, U))
    X[rows, cols] = vals
    M[rows, cols] = 1.0
    XX = X * X
    out = []
    for s in sigma:
        Xj, Mj = X[:, s], M[:, s]
        out.append((M @ Mj.T, X @ Mj.T, M @ Xj.T, XX @ Mj.T, X @ Xj.T))
    return out


def _sparse_sums(n, U, rows, cols, vals, sigma):
    """The same sums from sparse products (for data sets that each cover little of the universe)."""
    A = sparse.csr_matrix((np.concatenate([vals, vals**2, np.ones_like(vals)]),
                           (np.concatenate([rows, rows + n, rows + 2 * n]), np.concatenate([cols, cols, cols]))),
                          shape=(3 * n, U))
    B0 = sparse.csr_matrix((np.concatenate([vals, np.ones_like(vals)]),
                            (np.concatenate([rows, rows + n]), np.concatenate([cols, cols]))), shape=(2 * n, U))
    x, xx, mk, bx, bm = slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n), slice(0, n), slice(n, 2 * n)
    out = []
    B0 = B0.tocsc()
    for s in sigma:
        P = (A @ B0[:, s].T).toarray()
        out.append((P[mk, bm], P[x, bm], P[mk, bx], P[xx, bm], P[x, bx]))
    return out


def full_matrix(pc: PairCorrelations, weights: str = "none"):
    """(R, W): the (n m) x (n m) target correlations and weights, row index a * m + k.

    ``weights``: ``none`` (1 for every pair with enough common reflections), ``count``
    (the number of common reflections) or ``standard_error`` (1 / SE(CC)^2, SE from N and CC).
    Pairs with too few common reflections and the diagonal get weight 0.
    """
    n, _, m = pc.cc.shape
    T = pc.product_table
    # R[a, k, b, l] = C[a, b, T[k, l]]
    R = pc.cc[:, :, T].transpose(0, 2, 1, 3).reshape(n * m, n * m)
    N = None
    if weights != "none":
        N = pc.n_pairs[:, :, T].transpose(0, 2, 1, 3).reshape(n * m, n * m).astype(float)
    ok = np.isfinite(R)
    if weights == "none":
        W = ok.astype(float)
    elif weights == "count":
        W = np.where(ok, N, 0.0)
    elif weights == "standard_error":
        with np.errstate(divide="ignore", invalid="ignore"):
            W = np.where(ok & (N > 2), (N - 2) / np.maximum(1 - R**2, 1e-3), 0.0)
    else:
        raise ValueError(f"unknown weights {weights}")
    # single precision: correlations need no more, and (n m)^2 matrices get large
    R = np.where(ok, R, 0.0).astype(np.float32)
    W = W.astype(np.float32)
    np.fill_diagonal(W, 0.0)
    np.fill_diagonal(R, 0.0)
    return R, W
