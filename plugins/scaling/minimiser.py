"""Levenberg–Marquardt on the normal equations of the scaling target.

Under the Gauss–Newton approximation (group means held fixed in the Jacobian) the normal
matrix is block-diagonal over data sets, so it is kept as one dense block per data set:
tens of parameters for a sweep (JᵀJ by BLAS on the dense rows, in chunks), two for a still.
Blocks of the same size are solved together as one stacked ``numpy.linalg.solve``, so
thousands of stills cost no Python loop per step. The same blocks at convergence give the
parameter covariance.
"""

from __future__ import annotations

import logging

import attrs
import numba
import numpy as np

log = logging.getLogger("friedel")

CHUNK = 100_000


@attrs.define
class MinimisationResult:
    n_iterations: int
    initial: float
    final: float
    converged: bool
    history: list = attrs.field(factory=list)

    def summary(self) -> str:
        state = "converged" if self.converged else "stopped at max_iterations"
        return f"{self.n_iterations} iterations, target {self.initial:.6g} -> {self.final:.6g} ({state})"


@numba.njit(cache=True)
def _scatter_rows(cols, vals, out):
    """Dense rows ``out[i, cols[i, j]] += vals[i, j]`` (out zeroed by the caller)."""
    n, k = vals.shape
    for i in range(n):
        for j in range(k):
            out[i, cols[i, j]] += vals[i, j]


@numba.njit(cache=True)
def _row_quadratic(cols, vals, cov, out):
    n, k = vals.shape
    for i in range(n):
        total = 0.0
        for a in range(k):
            va = vals[i, a]
            if va == 0.0:
                continue
            for c in range(k):
                total += va * vals[i, c] * cov[cols[i, a], cols[i, c]]
        out[i] = total


def _is_identity_pattern(cols, n_par) -> bool:
    return cols.shape[1] == n_par and (cols.shape[0] == 0 or bool(np.all(cols == np.arange(n_par))))


def block_normal_equations(J, r, sizes) -> list:
    """[(A_d, b_d)] per data set: JᵀJ and Jᵀr of its residuals (and restraints)."""
    out = []
    for d, n_par in enumerate(sizes):
        rows_j = J.observations[d]
        r_obs = r[J.residual_slices[d]]
        if _is_identity_pattern(rows_j.cols, n_par):
            A = rows_j.values.T @ rows_j.values
            b = rows_j.values.T @ r_obs
        else:
            A = np.zeros((n_par, n_par))
            b = np.zeros(n_par)
            cols = np.ascontiguousarray(rows_j.cols)
            vals = np.ascontiguousarray(rows_j.values)
            for start in range(0, len(vals), CHUNK):
                dense = np.zeros((min(CHUNK, len(vals) - start), n_par))
                _scatter_rows(cols[start:start + CHUNK], vals[start:start + CHUNK], dense)
                A += dense.T @ dense
                b += dense.T @ r_obs[start:start + CHUNK]
        R = J.restraints[d]
        if R.shape[0]:
            A = A + (R.T @ R).toarray()
            b = b + R.T @ r[J.restraint_slices[d]]
        out.append((A, b))
    return out


def _solve_blocks(blocks, damping: float) -> np.ndarray:
    """Concatenated solutions of (A + damping·diag(A)) x = b for every block (stacked by size)."""
    sizes = np.array([len(b) for _, b in blocks])
    out = [None] * len(blocks)
    for size in np.unique(sizes):
        idx = np.flatnonzero(sizes == size)
        A = np.stack([blocks[i][0] for i in idx])
        b = np.stack([blocks[i][1] for i in idx])
        diag = np.diagonal(A, axis1=1, axis2=2)
        diag = np.where(diag > 0, diag, 1.0)
        M = A.copy()
        ii = np.arange(size)
        M[:, ii, ii] += damping * diag
        try:
            x = np.linalg.solve(M, b[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            x = np.stack([np.linalg.lstsq(M[j], b[j], rcond=None)[0] for j in range(len(idx))])
        for j, i in enumerate(idx):
            out[i] = x[j]
    return np.concatenate(out) if out else np.zeros(0)


def minimise(target, p0, max_iterations: int = 30, tolerance: float = 1e-4) -> tuple[np.ndarray, MinimisationResult]:
    """Minimise ``target.residuals`` from ``p0``; returns the parameters and a summary.

    Stops when an accepted step lowers the target by less than ``tolerance`` (relative), or
    when no damping gives a downhill step (the minimum).
    """
    p = np.asarray(p0, dtype=float).copy()
    sizes = [m.n_parameters for m in target.joint.models]
    r, J = target.residuals(p)
    f = float(r @ r)
    result = MinimisationResult(n_iterations=0, initial=f, final=f, converged=False, history=[f])
    damping = 1e-3
    for it in range(1, max_iterations + 1):
        blocks = block_normal_equations(J, r, sizes)
        accepted = False
        for _ in range(10):
            trial = p - _solve_blocks(blocks, damping)
            r_new, _ = target.residuals(trial, jacobian=False)
            f_new = float(r_new @ r_new)
            if np.isfinite(f_new) and f_new < f:
                accepted = True
                break
            damping *= 10.0
        result.n_iterations = it
        if not accepted:
            result.converged = True
            break
        decrease = (f - f_new) / max(f, 1e-300)
        p = trial
        if decrease < tolerance:
            f = f_new
            result.history.append(f)
            result.converged = True
            break
        r, J = target.residuals(p)
        f = float(r @ r)
        result.history.append(f)
        damping = max(damping / 10.0, 1e-7)
    result.final = f
    return p, result


def covariance(target, p, fixed: np.ndarray | None = None) -> list:
    """Per-data-set parameter covariance blocks (JᵀJ)⁻¹·χ²/(n − m) at ``p``.

    ``fixed`` parameters (a gauge parameter per data set, the first scale value, which is
    degenerate with the merged intensities) get zero rows, as in the mature tools' full-matrix
    round.
    """
    r, J = target.residuals(p)
    sizes = [m.n_parameters for m in target.joint.models]
    blocks = block_normal_equations(J, r, sizes)
    dof = max(target.n_observations - len(p), 1)
    chi2 = float(r @ r) / dof
    free = np.ones(len(p), dtype=bool) if fixed is None else ~np.asarray(fixed, dtype=bool)
    out = []
    for (A, _), s in zip(blocks, target.joint.param_slices):
        idx = np.flatnonzero(free[s])
        sub = A[np.ix_(idx, idx)]
        try:
            inv = np.linalg.inv(sub)
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(sub)
        full = np.zeros(A.shape)
        full[np.ix_(idx, idx)] = inv * chi2
        out.append(full)
    return out


def inverse_scale_variances(joint, cov_blocks) -> np.ndarray:
    """Var(g) of every row from the per-data-set covariance blocks."""
    out = np.zeros(joint.n_rows)
    for m, rs, block in zip(joint.models, joint.row_slices, cov_blocks):
        _, J = m.inverse_scales()
        part = np.zeros(rs.stop - rs.start)
        _row_quadratic(np.ascontiguousarray(J.cols), np.ascontiguousarray(J.values), np.ascontiguousarray(block), part)
        out[rs] = part
    return np.maximum(out, 0.0)
