"""Unit cells constrained by lattice symmetry, through the reciprocal metric tensor G* = B^T B.

Every rotation R of the space group (acting on fractional coordinates) keeps the metric:
``R G* R^T = G*``. The symmetric matrices that satisfy this for all R form a linear space;
its dimension is the number of free cell parameters (1 for cubic, 2 tetragonal/hexagonal,
3 orthorhombic, 4 monoclinic, 6 triclinic) in *any* setting, centred or not. The free
parameters are the coordinates of G* in an orthonormal basis of that space.

B (columns a*, b*, c*, lower triangular as gemmi/cctbx define it) is the unique
lower-triangular factor with positive diagonal of ``G* = B^T B``, so B stays consistent
with ``gemmi.UnitCell`` built from the same cell.
"""

from __future__ import annotations

import numpy as np

# G* is kept in units of 1e-5 / A^2 so the parameters of protein cells are O(1..100)
METRIC_SCALE = 1e-5

_SYM_INDEX = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]


def _to_vector(G):
    return np.array([G[i, j] for i, j in _SYM_INDEX])


def _to_matrix(g):
    G = np.zeros((3, 3))
    for k, (i, j) in enumerate(_SYM_INDEX):
        G[i, j] = G[j, i] = g[k]
    return G


def point_group_rotations(ops) -> list[np.ndarray]:
    """Distinct rotation matrices (fractional, float) of a gemmi.GroupOps."""
    seen, out = set(), []
    for op in ops.sym_ops:
        key = tuple(np.array(op.rot).ravel())
        if key not in seen:
            seen.add(key)
            out.append(np.array(op.rot, dtype=float) / op.DEN)
    return out


def metric_basis(ops) -> np.ndarray:
    """Orthonormal basis (k x 6) of the reciprocal metrics invariant under the group's rotations."""
    rows = []
    for R in point_group_rotations(ops):
        M = np.zeros((6, 6))
        for k in range(6):
            e = np.zeros(6)
            e[k] = 1.0
            M[:, k] = _to_vector(R @ _to_matrix(e) @ R.T)
        rows.append(M - np.eye(6))
    constraints = np.vstack(rows)
    _, s, vt = np.linalg.svd(constraints)
    rank = int(np.sum(s > 1e-8 * max(s.max(), 1.0)))
    return vt[rank:]


def symmetrize_metric(G, ops) -> np.ndarray:
    """The group average of ``R G R^T``: the nearest symmetric metric in the lattice's sense."""
    rots = point_group_rotations(ops)
    return sum(R @ G @ R.T for R in rots) / len(rots)


def B_from_metric(G) -> np.ndarray:
    """Lower-triangular B with positive diagonal and ``B^T B = G``."""
    P = np.eye(3)[::-1]
    L = np.linalg.cholesky(P @ G @ P)
    return P @ L.T @ P


def dB_from_dmetric(B, dG) -> np.ndarray:
    """Derivatives of B for derivatives ``dG`` (k x 3 x 3) of the metric (B lower triangular)."""
    Binv = np.linalg.inv(B)
    X = np.einsum("ji,kjl,lm->kim", Binv, dG, Binv)  # B^-T dG B^-1
    Y = np.tril(X, -1) + np.einsum("kii->ki", X)[:, :, None] * np.eye(3) / 2
    return Y @ B


class MetricModel:
    """Free parameters of a symmetry-constrained reciprocal metric and the B matrix they give."""

    def __init__(self, ops):
        self.basis = metric_basis(ops)  # k x 6
        self.basis_matrices = np.array([_to_matrix(b) for b in self.basis]) * METRIC_SCALE
        self.ops = ops

    @property
    def n_parameters(self) -> int:
        return len(self.basis)

    def parameters_from_B(self, B) -> np.ndarray:
        G = symmetrize_metric(B.T @ B, self.ops)
        return self.basis @ _to_vector(G) / METRIC_SCALE

    def metric(self, p) -> np.ndarray:
        return np.einsum("k,kij->ij", p, self.basis_matrices)

    def B(self, p) -> np.ndarray:
        return B_from_metric(self.metric(p))

    def dB(self, p) -> np.ndarray:
        return dB_from_dmetric(self.B(p), self.basis_matrices)
