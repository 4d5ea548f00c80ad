"""Strong spots in reciprocal space: mapping, maximum cell estimate, resolution helpers."""

from __future__ import annotations

import logging

import numpy as np
from scipy.spatial import cKDTree

from friedel.errors import FriedelError
from friedel.observations import centroids_px_to_mm, map_to_reciprocal_space

log = logging.getLogger("friedel")


def spots_in_reciprocal_space(experiments, reflections):
    """Fill ``xyzobs.mm.value``, ``s1``, ``rlp`` and ``d`` for every spot of every experiment.

    ``rlp`` is in the crystal frame at rotation angle zero (goniometer fixed and setting
    rotations removed), so that spots of several sweeps of one crystal superpose.
    """
    centroids_px_to_mm(experiments, reflections)
    map_to_reciprocal_space(experiments, reflections)
    norm = np.linalg.norm(reflections["rlp"], axis=1)
    with np.errstate(divide="ignore"):
        reflections["d"] = np.where(norm > 0, 1.0 / np.where(norm > 0, norm, 1.0), np.inf)
    return reflections


def estimate_max_cell(rlp: np.ndarray, multiplier: float = 1.3, d_min: float | None = None) -> float:
    """Largest plausible cell edge (Angstrom): the first (largest) of :func:`max_cell_estimates`."""
    return max_cell_estimates(rlp, multiplier, d_min)[0]


def max_cell_estimates(rlp: np.ndarray, multiplier: float = 1.3, d_min: float | None = None,
                       max_height_fraction: float = 0.25, spots_per_bin: int = 10,
                       max_estimates: int = 3, min_separation: float = 0.0) -> list[float]:
    """Plausible longest cell edges (Angstrom, largest first) from nearest-neighbour separations of rlps.

    Neighbouring reciprocal-lattice points are at least ``1/a_max`` apart. The separations of
    the spots' nearest neighbours are histogrammed; the crystal's lattice makes a peak, and the
    smallest separation still at ``max_height_fraction`` of that peak's height, times
    ``multiplier``, bounds the longest edge. A low tail of close pairs (noise, a weak second
    lattice) stays below that height, where a low percentile of the separations would follow it
    and inflate the estimate (a 79 A cell with a weak second lattice: 277 A by the 5th
    percentile, 104 A by the histogram). When close pairs are a population of their own (a split
    crystal: two lattices a fraction of a degree apart; spots seen twice) the histogram has
    several peaks separated by empty bins, and each gives an estimate: the caller tries them
    in turn. Distances below 0.3 x the median, or below ``min_separation`` (1/A: what the
    detector can resolve, see :func:`resolvable_separation`), are the same reflection seen twice
    (split spots; both Friedel mates of an electron-diffraction pattern, whose Ewald sphere is
    flat) and are ignored.
    """
    rlp = np.asarray(rlp, dtype=float)
    if d_min is not None:
        rlp = rlp[np.linalg.norm(rlp, axis=1) <= 1.0 / d_min]
    if len(rlp) < 3:
        raise FriedelError("too few spots to estimate the maximum cell; give max_cell= explicitly")
    # include Friedel mates: the lattice is centrosymmetric, doubling the sampling near the origin
    both = np.vstack([rlp, -rlp])
    dist, _ = cKDTree(both).query(both, k=2)
    nn = dist[:, 1]
    nn = nn[nn > max(0.3 * np.median(nn), min_separation)]
    if len(nn) == 0:
        raise FriedelError("spots coincide in reciprocal space; give max_cell= explicitly")
    n_bins = int(np.clip(len(nn) // spots_per_bin, 10, 200))
    hist, edges = np.histogram(nn, bins=n_bins, range=(0.0, float(np.percentile(nn, 99))))
    estimates = []
    for lo, hi in _populations(hist, max_height_fraction):
        peak = lo + int(np.argmax(hist[lo:hi]))
        low = peak
        while low > lo and hist[low - 1] >= max_height_fraction * hist[peak]:
            low -= 1
        smallest = edges[low] if edges[low] > 0 else float(np.min(nn))
        estimates.append(float(multiplier / smallest))
    return estimates[:max_estimates]


def resolvable_separation(experiments, n_pixels: float = 2.0) -> float:
    """Reciprocal-space separation (1/A) of two spots ``n_pixels`` apart on the detector, at low
    angle: closer rlps cannot be distinct reflections (the spot finder would merge them)."""
    return min(n_pixels * min(e.detector[0].pixel_size) / (e.detector[0].distance * e.beam.wavelength)
               for e in experiments)


def _populations(hist: np.ndarray, fraction: float) -> list[tuple[int, int]]:
    """Bin ranges [lo, hi) of the histogram's populations, in order of separation: runs of bins
    separated by at least two empty bins; populations smaller than ``fraction`` of the largest
    are dropped."""
    occupied = np.flatnonzero(hist > 0)
    runs, start = [], occupied[0]
    for a, b in zip(occupied[:-1], occupied[1:]):
        if b - a > 2:
            runs.append((start, a + 1))
            start = b
    runs.append((start, occupied[-1] + 1))
    size = np.array([hist[lo:hi].sum() for lo, hi in runs])
    keep = [r for r, n in zip(runs, size) if n >= fraction * size.max()]
    return keep if keep else [runs[int(np.argmax(size))]]


def first_cycle_d_min(d: np.ndarray, min_spots: int = 200, fraction: float = 0.5) -> float:
    """Resolution for the first macro-cycle: the low-resolution half of the spots (>= min_spots)."""
    d = np.sort(np.asarray(d)[np.isfinite(d)])[::-1]
    if len(d) == 0:
        raise FriedelError("no spots with a finite resolution")
    n = min(len(d), max(min_spots, int(fraction * len(d))))
    return float(d[n - 1])
