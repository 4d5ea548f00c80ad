"""Basis-vector search on a grid of real-space directions, for a known unit cell.

Each direction ``u`` and each cell-edge length ``L`` of the (primitive, reduced) known cell
is scored by how integral the projections ``L u . rlp`` are: ``sum cos(2 pi L u . rlp)``.

The geometry of the image headers is rarely exact, so the spots map to a reciprocal lattice
a few percent larger or smaller than the true one, and sheared (the real phi_scan data: edges
2-5% short, angles 3 degrees off). Scored at exactly ``L`` the phases of a true edge drift by
``2 pi h dL / L`` and the edge is lost beyond the lowest orders; so each edge is scored over a
range of lengths around ``L`` (``max_length_error``) and a direction keeps its best length.

The best directions of each edge are refined against the spots (least squares on the integral
projections). An edge of a distorted lattice makes fewer projections integral than the
shortest, best-determined edge does, and may not pass the indexer's cut on that fraction; so
the best basis of the candidates is fitted to the spots and its short lattice vectors
(combinations with coefficients -2..2) are returned too, as a 3D FFT would find them.
"""

from __future__ import annotations

import itertools

import numpy as np
from numba import njit

from friedel.contracts.indexing import IndexingMethod
from friedel.errors import FriedelError
from friedel.plugins.indexing.params import RealSpaceGridSearchParams  # cheap module: no numba for trees
from friedel.lattice import niggli_basis
from friedel.plugins.indexing import lattice as lat
from friedel.plugins.indexing.vectors import hemisphere_directions, integral_fraction, refine_vector


@njit(cache=True)
def _integrality(rlp, directions, lengths, n_steps, step):
    """Mean of cos(2 pi L u.rlp) for each direction, edge length ``lengths[e]`` and relative
    length ``1 + (k - (n_steps - 1) / 2) * step``: shape (directions, edges, n_steps).

    The lengths of one edge are evenly spaced, so the phases are advanced by a complex rotation
    instead of a cosine per length.
    """
    n_edges = lengths.shape[0]
    out = np.zeros((directions.shape[0], n_edges, n_steps))
    half = (n_steps - 1) / 2.0
    two_pi = 2.0 * np.pi
    for i in range(directions.shape[0]):
        for j in range(rlp.shape[0]):
            p = two_pi * (rlp[j, 0] * directions[i, 0] + rlp[j, 1] * directions[i, 1] + rlp[j, 2] * directions[i, 2])
            for e in range(n_edges):
                first = lengths[e] * (1.0 - half * step) * p
                delta = lengths[e] * step * p
                zr, zi = np.cos(first), np.sin(first)
                wr, wi = np.cos(delta), np.sin(delta)
                for k in range(n_steps):
                    out[i, e, k] += zr
                    zr, zi = zr * wr - zi * wi, zr * wi + zi * wr
    return out / rlp.shape[0]


#: one of each +-pair of lattice-vector coefficients -2..2
_COMBINATIONS = np.array([c for c in itertools.product(range(-2, 3), repeat=3)
                          if any(c) and next(x for x in c if x) > 0], dtype=float)


class RealSpaceGridSearch(IndexingMethod):
    """Score real-space directions for the edges of a known cell (needs unit_cell=)."""

    name = "real_space_grid_search"
    Params = RealSpaceGridSearchParams
    needs_unit_cell = True

    def find_vectors(self, rlp: np.ndarray, max_cell: float, d_min: float, unit_cell=None):
        if unit_cell is None:
            raise FriedelError("indexing.method=real_space_grid_search needs unit_cell= (and space_group=); "
                               "give them or use indexing.method=fft3d")
        a, b, c = unit_cell[:3]
        lengths = np.unique(np.round([a, b, c], 3))
        err, step = abs(self.params.max_length_error), max(1e-4, self.params.length_step)
        half = int(np.floor(err / step))
        scales = 1.0 + np.arange(-half, half + 1) * step
        q = np.linalg.norm(rlp, axis=1)
        # the nearest trial length is within half a step of the spots' own, and the header geometry
        # also shears the lattice a little: a mismatch of half a step plus 0.5% may cost at most a
        # quarter turn of phase, which bounds the resolution used
        q_limit = 0.25 / ((step / 2 + 0.005) * lengths.max())
        n_use = min(self.params.max_spots, max(100, int(np.sum(q <= q_limit))))
        order = np.argsort(q)[:n_use]
        rlp = np.ascontiguousarray(rlp[order])
        n_keep = self.params.vectors_per_length
        # coarse: every direction of the hemisphere against the lowest-resolution third of the spots
        # (the grid needs fewer directions there); fine: around the best coarse directions, all spots
        coarse = rlp[: max(100, n_use // 3)]
        spacing_c = self._spacing(lengths.max(), np.linalg.norm(coarse, axis=1).max())
        spacing_f = self._spacing(lengths.max(), np.linalg.norm(rlp, axis=1).max())
        directions = hemisphere_directions(spacing_c)
        score = _integrality(coarse, directions, lengths, len(scales), step).max(axis=2)
        edges = []
        for k, length in enumerate(lengths):  # two or three lengths
            peaks = self._peaks(directions, score[:, k], spacing_c, 3 * n_keep)
            patch = _local_patches(peaks, 1.5 * spacing_c, min(spacing_f, spacing_c))
            fine = _integrality(rlp, patch.reshape(-1, 3), lengths[k : k + 1], len(scales), step)
            fine = fine[:, 0, :].reshape(patch.shape[0], patch.shape[1], len(scales))
            best_dir = np.argmax(fine.max(axis=2), axis=1)
            rows = np.arange(len(peaks))
            u, s = patch[rows, best_dir], fine.max(axis=2)[rows, best_dir]
            scale = scales[np.argmax(fine[rows, best_dir], axis=1)]
            keep = self._distinct(u, s, spacing_f)[:n_keep]
            for x in u[keep] * (length * scale[keep])[:, None]:
                # the direction grid and the length steps leave errors that matter at the
                # resolution the indexer scores at
                refined, _ = refine_vector(x, rlp)
                edges.append(refined if abs(np.linalg.norm(refined) / length - 1.0) <= err + 0.02 else x)
        edges = np.array(edges)
        vectors = [edges]
        bases = lat.candidate_bases(edges, rlp, max_cell, tolerance=0.25, max_combinations=len(edges), n_best=2)
        for D in bases:
            D = lat.fit_basis(niggli_basis(D), rlp)
            combos = _COMBINATIONS @ D
            length = np.linalg.norm(combos, axis=1)
            vectors.append(combos[(length >= 0.5 * lengths.min()) & (length <= 1.2 * max_cell)])
        vectors = np.vstack(vectors)
        scores = integral_fraction(vectors, rlp)
        order = np.argsort(scores)[::-1]
        return vectors[order], scores[order]

    def _spacing(self, length, q_max):
        """Direction step keeping the phase of the longest edge within 0.3 rad x 2 pi at q_max."""
        return self.params.direction_spacing or float(np.clip(0.3 / (length * q_max), 0.004, 0.03))

    @staticmethod
    def _distinct(u, s, spacing):
        """Indices of directions that are the best within 2.5 ``spacing`` of themselves, best first."""
        order = np.argsort(s)[::-1]
        u, s = u[order], s[order]
        near = np.abs(u @ u.T) > np.cos(2.5 * spacing)
        is_peak = ~np.any(near & (s[None, :] > s[:, None]), axis=1)
        return order[is_peak]

    def _peaks(self, directions, score, spacing, n):
        best = np.argsort(score)[::-1][: 20 * n]
        return directions[best[self._distinct(directions[best], score[best], spacing)][:n]]


def _local_patches(centres, radius, spacing):
    """Directions on a square grid of step ``spacing`` within ``radius`` around each centre:
    shape (centres, points, 3)."""
    m = max(1, int(np.ceil(radius / spacing)))
    g = np.arange(-m, m + 1) * spacing
    gx, gy = (x.ravel() for x in np.meshgrid(g, g))
    helper = np.where(np.abs(centres[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(centres, helper)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(centres, e1)
    out = centres[:, None, :] + gx[None, :, None] * e1[:, None, :] + gy[None, :, None] * e2[:, None, :]
    return np.ascontiguousarray(out / np.linalg.norm(out, axis=2)[..., None])
