"""Basis-vector search by a 3D FFT of the gridded reciprocal-lattice points.

The rlps are put on a cubic grid spanning ``+-1/d_min``; the power spectrum of that grid
has peaks at real-space lattice vectors (every rlp projects integrally on them). A grid of
``n`` points with spacing ``2/(n d_min)`` maps to real-space steps of ``d_min/2``, so the
search resolution is lowered, if needed, until ``n d_min / 4`` covers the maximum cell.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy import ndimage

from friedel.contracts.indexing import IndexingMethod
from friedel.plugins.indexing.params import Fft3dParams  # in a cheap module: parameter trees need no scipy


class Fft3d(IndexingMethod):
    """Gridded 3D FFT of the reciprocal-lattice points (default; works for most rotation data)."""

    name = "fft3d"
    Params = Fft3dParams

    def find_vectors(self, rlp: np.ndarray, max_cell: float, d_min: float, unit_cell=None):
        """Candidate real-space vectors (n x 3, Angstrom) and their peak heights."""
        n = int(self.params.n_points)
        # the real-space box is n d_min / 2 wide: it must hold vectors up to max_cell either way
        d_min = max(d_min, 4.0 * max_cell / n)
        rlp = rlp[np.linalg.norm(rlp, axis=1) <= 1.0 / d_min]
        step = 2.0 / (n * d_min)
        idx = np.floor(rlp / step + 0.5).astype(np.int64) % n
        grid = np.zeros((n, n, n), np.float32)
        np.add.at(grid, (idx[:, 0], idx[:, 1], idx[:, 2]), 1.0)
        power = np.abs(scipy.fft.rfftn(grid, workers=1)) ** 2
        del grid
        # the half-spectrum holds one of each +-x pair; look for local maxima away from the origin
        local_max = power == ndimage.maximum_filter(power, size=3, mode="wrap")
        local_max[0, 0, 0] = False
        candidates = np.flatnonzero(local_max)
        heights = power.ravel()[candidates]
        top = candidates[np.argsort(heights)[::-1][: 4 * self.params.max_peaks]]
        k = np.column_stack(np.unravel_index(top, power.shape)).astype(float)
        k = self._centre_of_mass(power, k.astype(int), n)
        vectors = k * (d_min / 2.0)
        lengths = np.linalg.norm(vectors, axis=1)
        heights = power.ravel()[top]
        ok = (lengths > 2.0 * d_min / 2.0) & (lengths <= 1.2 * max_cell)
        order = np.argsort(heights[ok])[::-1][: self.params.max_peaks]
        return vectors[ok][order], heights[ok][order]

    @staticmethod
    def _centre_of_mass(power: np.ndarray, k: np.ndarray, n: int) -> np.ndarray:
        """Sub-grid peak positions (signed grid units) from the 3x3x3 neighbourhood."""
        offsets = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), -1).reshape(-1, 3)
        pos = k[:, None, :] + offsets[None]  # (peaks, 27, 3)
        # the last axis is the rfft half-axis: reflect indices beyond it through the origin
        w = power[pos[..., 0] % n, pos[..., 1] % n, np.clip(pos[..., 2], 0, power.shape[2] - 1)]
        w = np.where(pos[..., 2] < 0, 0.0, w)
        signed = k.astype(float) + (w[..., None] * offsets[None]).sum(1) / w.sum(1)[:, None]
        signed[:, :2] = np.where(signed[:, :2] > n / 2, signed[:, :2] - n, signed[:, :2])
        return signed
