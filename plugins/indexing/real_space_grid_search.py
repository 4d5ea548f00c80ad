"""Basis-vector search on a grid of real-space directions, for a known unit cell.

Each direction ``u`` and each cell-edge length ``L`` of the (primitive, reduced) known cell
is scored by how integral the projections ``L u . rlp`` are: ``sum cos(2 pi L u . rlp)``.
The best directions for each length become candidate vectors.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from friedel.errors import FriedelError
from friedel.phil import param, scope
from friedel.plugins.indexing.vectors import hemisphere_directions


@scope
class RealSpaceGridSearchParams:
    """Real-space grid search (needs unit_cell=)."""

    direction_spacing: float | None = param(
        None, help="Angle between search directions (radians); None: from the longest edge and the resolution",
        expert_level=1)
    max_spots: int = param(800, help="Use at most this many (lowest-resolution) spots", expert_level=2)
    vectors_per_length: int = param(15, help="Best directions kept for each cell-edge length", expert_level=2)


@njit(cache=True)
def _integrality(rlp, directions, lengths):
    """Mean of cos(2 pi L u.rlp) for each direction (rows) and length (columns)."""
    out = np.zeros((directions.shape[0], lengths.shape[0]))
    two_pi = 2.0 * np.pi
    for i in range(directions.shape[0]):
        for j in range(rlp.shape[0]):
            p = rlp[j, 0] * directions[i, 0] + rlp[j, 1] * directions[i, 1] + rlp[j, 2] * directions[i, 2]
            for k in range(lengths.shape[0]):
                out[i, k] += np.cos(two_pi * lengths[k] * p)
    return out / rlp.shape[0]


class RealSpaceGridSearch:
    """Score real-space directions for the edges of a known cell (needs unit_cell=)."""

    name = "real_space_grid_search"
    Params = RealSpaceGridSearchParams
    needs_unit_cell = True

    def __init__(self, params: RealSpaceGridSearchParams | None = None):
        self.params = params or RealSpaceGridSearchParams()

    def find_vectors(self, rlp: np.ndarray, max_cell: float, d_min: float, unit_cell=None):
        if unit_cell is None:
            raise FriedelError("indexing.method=real_space_grid_search needs unit_cell= (and space_group=); "
                               "give them or use indexing.method=fft3d")
        a, b, c = unit_cell[:3]
        lengths = np.unique(np.round([a, b, c], 3))
        q = np.linalg.norm(rlp, axis=1)
        # a known cell is rarely exact for the initial geometry: a 2% length error must stay
        # within a quarter turn of phase, which bounds the resolution used
        q_limit = 0.25 / (0.02 * lengths.max())
        n_use = min(self.params.max_spots, max(100, int(np.sum(q <= q_limit))))
        order = np.argsort(q)[:n_use]
        rlp = np.ascontiguousarray(rlp[order])
        q_max = float(q[order].max())
        spacing = self.params.direction_spacing or float(np.clip(0.3 / (lengths.max() * q_max), 0.004, 0.03))
        directions = hemisphere_directions(spacing)
        score = _integrality(rlp, directions, lengths)
        vectors, scores = [], []
        for k, length in enumerate(lengths):  # two or three lengths
            best = np.argsort(score[:, k])[::-1]
            u = directions[best[: 20 * self.params.vectors_per_length]]
            s = score[best[: 20 * self.params.vectors_per_length], k]
            near = np.abs(u @ u.T) > np.cos(2.5 * spacing)
            is_peak = ~np.any(near & (s[None, :] > s[:, None]), axis=1)
            u, s = u[is_peak][: self.params.vectors_per_length], s[is_peak][: self.params.vectors_per_length]
            vectors.append(u * length)
            scores.append(s)
        return np.vstack(vectors), np.concatenate(scores)
