"""Correlation of intensities of reflections related by a candidate symmetry operation.

For an operation R on direct fractional coordinates, reflection h is equivalent to h R
(row vector). If R is a true symmetry of the crystal, I(h) and I(h R) agree up to noise;
otherwise they are unrelated. Intensities are first divided by their mean in resolution
shells (so the fall-off with resolution does not fake a correlation) and Friedel mates are
merged (h and -h are equivalent for any operation in the absence of anomalous signal).
"""

from __future__ import annotations

import numpy as np

_OFFSET = 512  # Miller indices in (-512, 512)


def encode(hkl: np.ndarray) -> np.ndarray:
    """One int64 key per Miller index."""
    h = np.asarray(hkl, dtype=np.int64) + _OFFSET
    return (h[:, 0] * 1024 + h[:, 1]) * 1024 + h[:, 2]


def friedel_key(hkl: np.ndarray) -> np.ndarray:
    """The same key for h and -h."""
    return np.maximum(encode(hkl), encode(-np.asarray(hkl)))


def normalised_intensities(intensity: np.ndarray, d: np.ndarray, n_shells: int = 10) -> np.ndarray:
    """I / <I> in shells of equal counts in 1/d^2."""
    s = 1.0 / np.asarray(d, float) ** 2
    n_shells = max(1, min(n_shells, len(s) // 50))
    edges = np.quantile(s, np.linspace(0, 1, n_shells + 1)[1:-1])
    shell = np.searchsorted(edges, s)
    mean = np.bincount(shell, weights=intensity, minlength=n_shells) / np.maximum(
        np.bincount(shell, minlength=n_shells), 1
    )
    mean = np.where(mean > 0, mean, 1.0)
    return intensity / mean[shell]


class MergedIntensities:
    """Intensities averaged over repeated observations of each reflection (Friedel mates merged)."""

    def __init__(self, hkl: np.ndarray, intensity: np.ndarray, d: np.ndarray):
        ok = np.isfinite(intensity) & np.isfinite(d) & (d > 0)
        hkl, intensity, d = np.asarray(hkl)[ok], np.asarray(intensity, float)[ok], np.asarray(d)[ok]
        norm = normalised_intensities(intensity, d) if len(intensity) else intensity
        keys = friedel_key(hkl)
        self.keys, inverse = np.unique(keys, return_inverse=True)
        counts = np.bincount(inverse)
        self.values = np.bincount(inverse, weights=norm) / counts
        first = np.zeros(len(self.keys), dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(keys))[::-1]
        self.hkl = hkl[first]

    def lookup(self, hkl: np.ndarray):
        """(found mask, values) of reflections ``hkl`` (Friedel mates merged)."""
        keys = friedel_key(hkl)
        pos = np.searchsorted(self.keys, keys)
        pos = np.minimum(pos, len(self.keys) - 1)
        found = (len(self.keys) > 0) & (self.keys[pos] == keys)
        return found, self.values[pos]


def operator_correlation(merged: MergedIntensities, R: np.ndarray, min_pairs: int = 10):
    """(Pearson correlation, number of pairs) between I(h) and I(h R) over observed pairs."""
    related = merged.hkl @ np.asarray(R, dtype=np.int64)
    found, other = merged.lookup(related)
    # skip reflections the operation maps onto themselves (or their Friedel mates)
    same = friedel_key(related) == merged.keys
    sel = found & ~same
    n = int(sel.sum())
    if n < min_pairs:
        return float("nan"), n
    x, y = merged.values[sel], other[sel]
    if np.std(x) == 0 or np.std(y) == 0:
        return float("nan"), n
    return float(np.corrcoef(x, y)[0, 1]), n
