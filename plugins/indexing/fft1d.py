"""Basis-vector search by 1D FFTs of rlp projections onto many directions (Steller et al. 1997).

Projected onto the direction of a real-space lattice vector ``x``, the rlps fall on planes
``1/|x|`` apart: the histogram of projections has period ``1/|x|``, i.e. a strong Fourier
component at frequency ``|x|``. Scanning directions over a hemisphere and keeping the
strongest periodicities gives candidate vectors. Only projections are used, so it is robust
for narrow wedges where the 3D sampling of reciprocal space is poor.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from friedel.contracts.indexing import IndexingMethod
from friedel.plugins.indexing.params import Fft1dParams  # in a cheap module: parameter trees need no numba
from friedel.plugins.indexing.vectors import hemisphere_directions


@njit(cache=True)
def _projection_histograms(rlp, directions, q_max, n_bins):
    """Histogram of ``rlp . u`` over ``[-q_max, q_max)`` for each direction ``u``."""
    hist = np.zeros((directions.shape[0], n_bins), np.float32)
    scale = n_bins / (2.0 * q_max)
    for i in range(directions.shape[0]):
        ux, uy, uz = directions[i, 0], directions[i, 1], directions[i, 2]
        for j in range(rlp.shape[0]):
            p = rlp[j, 0] * ux + rlp[j, 1] * uy + rlp[j, 2] * uz
            b = int((p + q_max) * scale)
            if 0 <= b < n_bins:
                hist[i, b] += 1.0
    return hist


def periodicity_spectrum(rlp: np.ndarray, directions: np.ndarray, q_max: float, max_cell: float,
                         chunk: int = 2000):
    """For each direction, the strongest Fourier amplitude of the projection histogram with a
    real-space period in ``[~2/q_max, max_cell]``, and that period (Angstrom)."""
    # a bin width of 1/(4 max_cell) samples the finest periodicity (1/max_cell) four times
    n_bins = int(2 ** np.ceil(np.log2(max(64, 8 * max_cell * q_max))))
    freq = np.arange(n_bins // 2 + 1) / (2.0 * q_max)  # period in Angstrom of each rfft bin
    usable = (freq >= 1.5 / q_max) & (freq <= 1.2 * max_cell)
    amp = np.empty(len(directions))
    period = np.empty(len(directions))
    for start in range(0, len(directions), chunk):  # chunks bound memory, not a per-item loop
        hist = _projection_histograms(rlp, directions[start : start + chunk], q_max, n_bins)
        spectrum = np.abs(np.fft.rfft(hist, axis=1))[:, usable]
        best = np.argmax(spectrum, axis=1)
        amp[start : start + chunk] = spectrum[np.arange(len(best)), best]
        period[start : start + chunk] = freq[usable][best]
    return amp, period


class Fft1d(IndexingMethod):
    """1D FFTs of projections onto hemisphere directions (suited to narrow wedges)."""

    name = "fft1d"
    Params = Fft1dParams

    def find_vectors(self, rlp: np.ndarray, max_cell: float, d_min: float, unit_cell=None):
        q = np.linalg.norm(rlp, axis=1)
        order = np.argsort(q)[: self.params.max_spots]
        rlp = np.ascontiguousarray(rlp[order])
        q_max = float(q[order].max()) * 1.0001
        spacing = self.params.direction_spacing or float(np.clip(0.3 / (max_cell * q_max), 0.004, 0.03))
        directions = hemisphere_directions(spacing)
        amp, period = periodicity_spectrum(rlp, directions, q_max, max_cell)
        # keep directions that are local maxima among their neighbours on the hemisphere
        top = np.argsort(amp)[::-1][: 20 * self.params.max_vectors]
        u = directions[top]
        cos = np.abs(u @ u.T)
        near = cos > np.cos(2.5 * spacing)
        stronger = amp[top][None, :] > amp[top][:, None]
        is_peak = ~np.any(near & stronger, axis=1)
        keep = top[is_peak][: self.params.max_vectors]
        return directions[keep] * period[keep][:, None], amp[keep]
