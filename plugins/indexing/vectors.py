"""Real-space lattice vectors: search directions, refinement against rlps, de-duplication.

A real-space lattice vector ``x`` makes every reciprocal-lattice point project onto it at a
whole number: ``rlp . x`` is an integer. This module holds what every basis-vector search
shares around that fact.
"""

from __future__ import annotations

import numpy as np


def hemisphere_directions(spacing_rad: float) -> np.ndarray:
    """Unit vectors spread evenly (Fibonacci lattice) over the upper hemisphere (z >= 0).

    About ``2 pi / spacing^2`` directions, neighbours ``spacing_rad`` apart.
    """
    n = max(16, int(round(2 * np.pi / spacing_rad**2)))
    i = np.arange(n) + 0.5
    z = 1.0 - i / n  # uniform in z over (0, 1]: equal areas on the hemisphere
    phi = i * np.pi * (3.0 - np.sqrt(5.0))
    r = np.sqrt(1.0 - z**2)
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def refine_vector(x: np.ndarray, rlp: np.ndarray, tolerance: float = 0.2, n_shells: int = 4) -> tuple[np.ndarray, int]:
    """Least-squares improve ``x`` so that ``rlp . x`` is integral, extending resolution in shells.

    Starting from the lowest-resolution spots (where an error in ``x`` matters least) each
    shell rounds ``rlp . x`` to integers and re-fits ``x`` on the spots within ``tolerance``.
    Returns the refined vector and the number of spots it makes integral (within tolerance).
    """
    x = np.asarray(x, dtype=float)
    q = np.linalg.norm(rlp, axis=1)
    q_max = q.max() if len(q) else 0.0
    for q_lim in np.linspace(q_max / n_shells, q_max, n_shells):
        sel = q <= q_lim
        p = rlp[sel] @ x
        h = np.round(p)
        ok = (np.abs(p - h) < tolerance) & (h != 0)
        if ok.sum() < 6:
            continue
        new, *_ = np.linalg.lstsq(rlp[sel][ok], h[ok], rcond=None)
        x = new
    p = rlp @ x
    n_integral = int(np.sum(np.abs(p - np.round(p)) < tolerance))
    return x, n_integral


def integral_fraction(vectors: np.ndarray, rlp: np.ndarray, tolerance: float = 0.15) -> np.ndarray:
    """Fraction of rlps whose projection on each vector is within ``tolerance`` of an integer."""
    p = rlp @ np.atleast_2d(vectors).T
    return np.mean(np.abs(p - np.round(p)) < tolerance, axis=0)


def unique_vectors(vectors: np.ndarray, scores: np.ndarray, angle_tol_deg: float = 5.0,
                   length_tol: float = 0.1, min_length: float = 1.0, max_length: float = np.inf,
                   max_vectors: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Best-scoring distinct vectors, shortest first among near-equals.

    Vectors of length outside ``[min_length, max_length]`` are dropped; a vector parallel
    (within ``angle_tol_deg``, either sense) to a kept one and of the same length, or an integer
    multiple of a kept one, is a duplicate.
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=float))
    scores = np.asarray(scores, dtype=float)
    length = np.linalg.norm(vectors, axis=1)
    keep_len = (length >= min_length) & (length <= max_length)
    vectors, scores, length = vectors[keep_len], scores[keep_len], length[keep_len]
    # scores are integral fractions: multiples of a lattice vector score as well as the vector
    # itself, so near-equal scores are ordered shortest first
    order = np.lexsort((length, -np.round(scores / 0.03)))
    cos_tol = np.cos(np.radians(angle_tol_deg))
    kept: list[int] = []
    for i in order:  # a few hundred candidates at most
        u = vectors[i] / length[i]
        duplicate = False
        for j in kept:
            cos = abs(u @ vectors[j]) / length[j]
            if cos > cos_tol:
                ratio = length[i] / length[j]
                if abs(ratio - round(ratio)) < length_tol * max(1.0, ratio) and round(ratio) >= 1:
                    duplicate = True
                    break
                if ratio < 1 and abs(1 / ratio - round(1 / ratio)) < length_tol / ratio:
                    duplicate = True
                    if scores[i] >= 0.9 * scores[j]:
                        kept[kept.index(j)] = i  # a sub-multiple that explains the spots as well
                    break
        if not duplicate:
            kept.append(i)
        if len(kept) >= max_vectors:
            break
    return vectors[kept], scores[kept]
