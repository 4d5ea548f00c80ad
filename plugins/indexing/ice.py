"""Spots on ice rings: which powder rings of hexagonal ice the spot list shows, and the spots on them.

Ice in or around the crystal diffracts as a powder: many spots at the d-spacings of ice Ih
(3.90, 3.67, 3.44, 2.67, 2.25 A, ...), spread over all azimuths and images. In reciprocal
space they fill thin spherical shells; their nearest neighbours are close, which inflates
the maximum-cell estimate, and they add a strong spherical signal to the basis-vector search.
On a small-molecule sweep they can outnumber the crystal's spots.

A ring is taken to be present only where the spot list shows an excess of spots in its band
over the neighbouring resolution (so protein data without ice loses nothing); spots in the
bands of present rings are left out of the maximum-cell estimate and the lattice search
(they are still assigned Miller indices, and kept if they fit).
"""

from __future__ import annotations

import functools

import gemmi
import numpy as np

#: hexagonal ice Ih, P 63/m m c (a = 4.497, c = 7.322 A at 100 K)
ICE_CELL = (4.497, 4.497, 7.322, 90.0, 90.0, 120.0)


@functools.lru_cache(maxsize=None)
def ice_ring_d_spacings(d_min: float = 1.0) -> tuple:
    """Distinct d-spacings (A, descending) of the allowed reflections of ice Ih down to ``d_min``."""
    cell = gemmi.UnitCell(*ICE_CELL)
    ops = gemmi.SpaceGroup("P 63/m m c").operations()
    n = int(np.ceil(max(ICE_CELL[:3]) / d_min)) + 1
    d = set()
    for h in range(0, n + 1):
        for k in range(-n, n + 1):
            for l in range(0, n + 1):  # Friedel mates and the mirror share d
                if (h, k, l) == (0, 0, 0) or ops.is_systematically_absent([h, k, l]):
                    continue
                dh = cell.calculate_d([h, k, l])
                if dh >= d_min:
                    d.add(round(dh, 3))
    return tuple(sorted(d, reverse=True))


def ice_ring_spots(d: np.ndarray, width: float = 0.002, min_spots: int = 10, excess: float = 3.0,
                   d_min: float = 1.0) -> tuple[np.ndarray, list]:
    """Which spots lie on ice rings that the spot list shows.

    Parameters
    ----------
    d : spot resolutions (A).
    width : half-width of a ring's band in 1/d^2 (1/A^2).
    min_spots : fewest spots in a band for it to count as a ring.
    excess : a band counts when it holds more than ``excess`` times the spots expected from the
        density just outside it (plus three standard deviations).
    d_min : rings at higher resolution than this are not considered (they are weak and dense).

    Returns
    -------
    (mask, rings): boolean mask of spots in the bands of present rings, and the d-spacings (A)
    of those rings.
    """
    d = np.asarray(d, dtype=float)
    s2 = np.where(np.isfinite(d) & (d > 0), 1.0 / np.maximum(d, 1e-9) ** 2, -1.0)
    rings = 1.0 / np.asarray(ice_ring_d_spacings(d_min)) ** 2
    # the bands of all rings, to keep them out of each other's background
    in_any_band = np.zeros(len(d), bool)
    for r in rings:
        in_any_band |= np.abs(s2 - r) <= width
    mask = np.zeros(len(d), bool)
    found = []
    for r, dr in zip(rings, ice_ring_d_spacings(d_min)):
        band = np.abs(s2 - r) <= width
        n_band = int(band.sum())
        if n_band < min_spots:
            continue
        near = (np.abs(s2 - r) <= 6 * width) & ~in_any_band
        # spots per unit of 1/d^2 just outside the band: what the band would hold without ice
        lo, hi = max(r - 6 * width, 0.0), r + 6 * width
        others = [x for x in rings if lo <= x <= hi]
        span = (hi - lo) - 2 * width * len(others)
        expected = near.sum() / max(span, width) * 2 * width
        if n_band > excess * expected + 3 * np.sqrt(expected):
            mask |= band
            found.append(float(dr))
    return mask, found
