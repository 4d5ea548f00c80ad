"""Outlier rejection: observations that disagree with their symmetry equivalents.

``standard``: for groups of more than two observations, each observation is compared with the
weighted mean of the *others* in its group,

    z = (I − g·⟨I⟩_others) / sqrt(σ² + g²/Σ_others w g²),

the worst |z| > zmax of each group is rejected, and this repeats until no group has one.
``simple`` compares with the mean including the observation itself. Vectorised over groups:
one pass per rejection round, not per group.
"""

from __future__ import annotations

import numpy as np


def normalised_deviations(intensity, variance, g, group, use, others: bool = True):
    """z of every row (0 for rows not used or in groups with fewer than three used rows)."""
    n_groups = int(group.max()) + 1 if len(group) else 0
    w = np.where(use & (variance > 0), 1.0 / np.where(variance > 0, variance, 1.0), 0.0)
    s_num = np.bincount(group, weights=w * g * intensity, minlength=n_groups)
    s_den = np.bincount(group, weights=w * g * g, minlength=n_groups)
    count = np.bincount(group, weights=use.astype(float), minlength=n_groups)
    num, den = s_num[group], s_den[group]
    if others:
        num = num - w * g * intensity
        den = den - w * g * g
    ok = use & (count[group] > 2) & (den > 0)
    safe_den = np.where(ok, den, 1.0)
    mean = num / safe_den
    spread = variance + g * g / safe_den
    z = np.where(ok, (intensity - g * mean) / np.sqrt(np.where(spread > 0, spread, 1.0)), 0.0)
    return z


def reject_outliers(intensity, variance, g, group, use, zmax: float = 6.0, algorithm: str = "standard",
                    max_rounds: int = 50) -> np.ndarray:
    """Boolean mask of rows rejected as outliers (only among ``use`` rows)."""
    outlier = np.zeros(len(intensity), dtype=bool)
    if algorithm == "null" or not len(intensity):
        return outlier
    current = np.asarray(use, dtype=bool).copy()
    for _ in range(max_rounds):
        z = np.abs(normalised_deviations(intensity, variance, g, group, current, others=algorithm == "standard"))
        candidates = np.flatnonzero(current & (z > zmax))
        if not len(candidates):
            break
        # the worst of each group only: sort candidates by group, then by |z| descending
        order = np.lexsort((-z[candidates], group[candidates]))
        cand = candidates[order]
        first = np.ones(len(cand), dtype=bool)
        first[1:] = group[cand][1:] != group[cand][:-1]
        worst = cand[first]
        outlier[worst] = True
        current[worst] = False
    return outlier
