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


def estimate_max_cell(rlp: np.ndarray, multiplier: float = 1.3, percentile: float = 5.0,
                      d_min: float | None = None) -> float:
    """Largest plausible cell edge (Angstrom) from nearest-neighbour separations of rlps.

    Neighbouring reciprocal-lattice points are at least ``1/a_max`` apart; the lower tail of
    the nearest-neighbour distances (a percentile, to ignore noise) therefore bounds the
    longest cell edge. Distances below 0.3 x the median are the same reflection seen twice
    (split spots, or several sweeps of one crystal) and are ignored.
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
    nn = nn[nn > 0.3 * np.median(nn)]
    if len(nn) == 0:
        raise FriedelError("spots coincide in reciprocal space; give max_cell= explicitly")
    return float(multiplier / np.percentile(nn, percentile))


def first_cycle_d_min(d: np.ndarray, min_spots: int = 200, fraction: float = 0.5) -> float:
    """Resolution for the first macro-cycle: the low-resolution half of the spots (>= min_spots)."""
    d = np.sort(np.asarray(d)[np.isfinite(d)])[::-1]
    if len(d) == 0:
        raise FriedelError("no spots with a finite resolution")
    n = min(len(d), max(min_spots, int(fraction * len(d))))
    return float(d[n - 1])
