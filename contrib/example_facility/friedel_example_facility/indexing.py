"""A basis-vector search from the differences between neighbouring spots."""

import numpy as np

from friedel.contracts.indexing import IndexingMethod
from friedel.phil import param, scope


@scope
class DifferenceVectorParams:
    n_differences: int = param(12, help="Short spot differences in distinct directions that are combined")


class DifferenceVectors(IndexingMethod):
    """Directions: cross products of short spot differences (reciprocal lattice vectors); lengths: 1D FFT."""

    name, Params = "difference_vectors", DifferenceVectorParams

    def find_vectors(self, rlp, max_cell, d_min, unit_cell=None):
        low = rlp[np.argsort(np.linalg.norm(rlp, axis=1))[:300]]
        diff = np.concatenate([low[i + 1:] - low[i] for i in range(len(low))])
        diff = diff[np.argsort(n := np.linalg.norm(diff, axis=1))][np.sort(n) > 0.8 / max_cell]
        units = diff / np.linalg.norm(diff, axis=1)[:, None]
        short = []  # the shortest difference in each distinct direction
        for i, e in enumerate(units[:5000]):
            if len(short) < self.params.n_differences and np.all(np.abs(units[short] @ e) < 0.95):
                short.append(i)
        normal = np.array([np.cross(diff[i], diff[j]) for m, i in enumerate(short) for j in short[m + 1:]])
        u = normal / np.linalg.norm(normal, axis=1)[:, None]  # real-space lattice directions
        q = np.linalg.norm(rlp, axis=1).max()  # projections on u lie in [-q, q]: k periods <-> length k / 2q
        k_max = int(np.ceil(2.4 * max_cell * q))
        n_bins = 2 * k_max + 2
        bins = np.minimum(((rlp @ u.T / q + 1) * (k_max + 1)).astype(int), n_bins - 1) + n_bins * np.arange(len(u))
        hist = np.bincount(bins.ravel(), minlength=len(u) * n_bins).reshape(len(u), -1)
        power = np.abs(np.fft.rfft(hist, n=16 * (k_max + 1), axis=1))[:, : 8 * k_max + 1]  # 8x zero-padded
        power[:, : int(48 * q) + 1] = 0  # vectors shorter than 3 A
        k, score = power.argmax(axis=1), power.max(axis=1)
        order = np.argsort(-score)[:100]
        return (u * (k / (16 * q))[:, None])[order], score[order]
