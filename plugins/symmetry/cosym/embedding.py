"""Coordinates x_i in R^d whose dot products reproduce the correlation matrix.

Minimises f(X) = sum_ij w_ij (R_ij - x_i . x_j)^2 with scipy's L-BFGS-B and the exact
gradient -4 (W o (R - X X^T)) X. The start is the leading eigenvectors of R (scaled by the
square roots of their eigenvalues) plus a little seeded noise, which is close to the optimum
when most pairs are observed. The dimension (``dimensions=Auto``) is the elbow of the
residual f(d) for d = 1 .. max(2, m): the point farthest from the chord between the steepest
descent and the last point (Zhang 2006). The residual for each d is estimated from the
eigenvalues (one decomposition for all d) and then the minimiser runs once, at the chosen d.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import optimize
from scipy.sparse.linalg import eigsh

log = logging.getLogger("friedel")


def objective(R: np.ndarray, W: np.ndarray, X: np.ndarray, block: int = 1024) -> tuple[float, np.ndarray]:
    """f = sum W (R - X X^T)^2 and its gradient -4 (W o (R - X X^T)) X (R, W symmetric).

    Row blocks keep the temporaries small; the (n m)^2 work is in the precision of R (single),
    the sums in double."""
    Xs = X.astype(R.dtype, copy=False)
    f = 0.0
    grad = np.empty_like(X, dtype=np.float64)
    for start in range(0, len(R), block):
        rows = slice(start, start + block)
        D = R[rows] - Xs[rows] @ Xs.T
        E = W[rows] * D
        f += float(np.einsum("ij,ij->", E, D, dtype=np.float64))
        grad[rows] = -4.0 * (E @ Xs)
    return f, grad


def _leading_eigen(R: np.ndarray, k: int):
    n = len(R)
    k = min(k, n - 1) if n > 1 else 1
    if n <= 400 or k >= n - 1:
        vals, vecs = np.linalg.eigh(R)
        order = np.argsort(vals)[::-1][:k]
        return vals[order], vecs[:, order]
    vals, vecs = eigsh(R, k=k, which="LA")
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]


def elbow(values: np.ndarray) -> int:
    """Index of the elbow of a decreasing curve (farthest from the chord steepest -> last)."""
    y = np.asarray(values, float)
    if len(y) <= 2:
        return len(y) - 1
    slopes = np.diff(y)
    start = int(np.argmin(slopes))  # steepest descent
    x = np.arange(len(y), dtype=float)
    p0, p1 = np.array([x[start], y[start]]), np.array([x[-1], y[-1]])
    # scale the axes so that the chord's geometry does not depend on units
    span = np.array([max(x[-1] - x[start], 1.0), max(abs(y[start] - y[-1]), 1e-12)])
    pts = np.column_stack([x, y]) / span
    a, b = p0 / span, p1 / span
    direction = (b - a) / max(np.linalg.norm(b - a), 1e-12)
    rel = pts - a
    dist = np.abs(rel[:, 0] * direction[1] - rel[:, 1] * direction[0])
    dist[:start] = -1
    return int(np.argmax(dist))


def choose_dimensions(R: np.ndarray, W: np.ndarray, max_dim: int) -> tuple[int, list[float]]:
    """(d, estimated residual for d = 1..max_dim) from the eigenvalues of the weighted target."""
    vals, _vecs = _leading_eigen(R * (W > 0), max_dim)
    vals = np.maximum(vals, 0.0)
    total = float(np.sum((R * (W > 0)) ** 2))
    residual = [total - float(np.sum(vals[:d] ** 2)) for d in range(1, len(vals) + 1)]
    if max_dim <= 2:
        return 2, residual
    return elbow(residual) + 1, residual


def embed(R: np.ndarray, W: np.ndarray, dimensions: int, seed: int = 230, max_iterations: int = 100
          ) -> tuple[np.ndarray, float]:
    """Coordinates (n, d) minimising f, and the final f."""
    rng = np.random.default_rng(seed)
    n = len(R)
    vals, vecs = _leading_eigen(R * (W > 0), dimensions)
    X0 = vecs[:, :dimensions] * np.sqrt(np.maximum(vals[:dimensions], 1e-6))
    if X0.shape[1] < dimensions:
        X0 = np.column_stack([X0, np.zeros((n, dimensions - X0.shape[1]))])
    X0 = X0 + 0.01 * rng.standard_normal(X0.shape)

    def f(flat):
        value, grad = objective(R, W, flat.reshape(n, dimensions))
        return value, grad.ravel()

    result = optimize.minimize(f, X0.ravel(), jac=True, method="L-BFGS-B",
                               options={"maxiter": max_iterations, "gtol": 1e-8})
    return result.x.reshape(n, dimensions), float(result.fun)
