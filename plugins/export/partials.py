"""Partials combined: rows of one reflection split across integration blocks become one row.

A reflection recorded on images integrated in different blocks appears as several rows sharing
``partial_id`` (within one experiment). Their summation and profile intensities and variances
add up, as do their partialities; the other columns come from the largest part.
"""

from __future__ import annotations

import numpy as np

SUMMED = ("intensity.sum.value", "intensity.sum.variance", "intensity.prf.value", "intensity.prf.variance",
          "background.sum.value", "background.sum.variance", "partiality")


def combine_partials(reflections, candidates: np.ndarray):
    """The table with the parts of each split reflection among ``candidates`` (bool) merged.

    Returns ``(table, candidates, n_combined)``: the new table (rows of absorbed parts removed),
    the candidate mask on it, and how many rows were absorbed. Unchanged when no reflection is
    split.
    """
    if "partial_id" not in reflections or not np.any(candidates):
        return reflections, candidates, 0
    rows = np.flatnonzero(candidates)
    key = np.asarray(reflections["id"], dtype=np.int64)[rows] * (1 << 40) + np.asarray(reflections["partial_id"])[rows]
    _, group, counts = np.unique(key, return_inverse=True, return_counts=True)
    group = group.ravel()
    if np.all(counts == 1):
        return reflections, candidates, 0
    n_groups = len(counts)
    partiality = np.asarray(reflections["partiality"], dtype=float)[rows] if "partiality" in reflections else None
    # the representative of each group: its largest part (highest partiality, else the first)
    weight = partiality if partiality is not None else np.zeros(len(rows))
    order = np.lexsort((-weight, group))
    first = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
    representative = rows[order[first]]
    table = reflections.copy()
    for name in SUMMED:
        if name in table:
            values = np.asarray(table[name], dtype=float)
            total = np.bincount(group, values[rows], minlength=n_groups)
            if name == "partiality":
                total = np.minimum(total, 1.0)
            values = values.copy()
            values[representative] = total
            table[name] = values
    keep = np.ones(len(table), dtype=bool)
    keep[rows] = False
    keep[representative] = True
    n_absorbed = len(rows) - n_groups
    return table.select(keep), candidates[keep], n_absorbed
