"""Which data sets belong together: a common lattice and a unit-cell cluster (for cosym).

Every experiment's cell goes through the Le Page search; the lattice most experiments share is
used for all (an experiment whose cell does not admit it is excluded). The conventional cells
in that lattice are then clustered (single linkage) with the distance

    max( |delta length| / length / relative_length_tolerance, |delta angle| / absolute_angle_tolerance )

cut at 1, i.e. two cells are neighbours when every length agrees within the relative tolerance
and every angle within the absolute one. Only the largest cluster is kept; the others are
excluded with the reason.
"""

from __future__ import annotations

import collections
import logging

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage

from friedel.errors import FriedelError
from friedel.plugins.symmetry.lattice import find_lattice_group
from friedel.plugins.symmetry.prepare import PreparedExperiment, in_standard_setting

log = logging.getLogger("friedel")


def cell_distance_matrix(cells, relative_length_tolerance: float, absolute_angle_tolerance: float) -> np.ndarray:
    c = np.asarray(cells, float)
    lengths = c[:, :3]
    mean_len = 0.5 * (lengths[:, None, :] + lengths[None, :, :])
    dl = np.abs(lengths[:, None, :] - lengths[None, :, :]) / mean_len / relative_length_tolerance
    da = np.abs(c[:, None, 3:] - c[None, :, 3:]) / absolute_angle_tolerance
    return np.maximum(dl.max(axis=2), da.max(axis=2))


def largest_cell_cluster(cells, relative_length_tolerance: float = 0.05, absolute_angle_tolerance: float = 2.0
                         ) -> np.ndarray:
    """Boolean mask of the members of the largest single-linkage cluster of cells."""
    n = len(cells)
    if n <= 1:
        return np.ones(n, bool)
    D = cell_distance_matrix(cells, relative_length_tolerance, absolute_angle_tolerance)
    condensed = D[np.triu_indices(n, 1)]
    labels = fcluster(linkage(condensed, method="single"), t=1.0, criterion="distance")
    biggest = collections.Counter(labels).most_common(1)[0][0]
    return labels == biggest


def prepare_each(experiments, observations, max_delta: float, relative_length_tolerance: float,
                 absolute_angle_tolerance: float, min_reflections: int = 10
                 ) -> tuple[list[PreparedExperiment], dict, str]:
    """(prepared experiments in the common lattice, excluded {identifier: reason}, lattice symbol)."""
    excluded: dict[str, str] = {}
    searches = {}
    for o in observations:
        crystal = experiments[o.experiment_index].crystal
        if len(o) < min_reflections:
            excluded[o.identifier] = f"only {len(o)} usable reflections (min_reflections={min_reflections})"
            continue
        searches[o.identifier] = find_lattice_group(crystal.unit_cell, max_delta, crystal.space_group,
                                                    with_subgroup_settings=False)
    if not searches:
        raise FriedelError(f"no data set has at least {min_reflections} usable reflections")
    votes = collections.Counter(s.group.lattice for s in searches.values())
    lattice = votes.most_common(1)[0][0]
    kept = []
    for o in observations:
        if o.identifier not in searches:
            continue
        s = searches[o.identifier]
        if s.group.lattice != lattice:
            crystal = experiments[o.experiment_index].crystal
            try:
                s = find_lattice_group(crystal.unit_cell, max_delta, crystal.space_group, lattice=lattice,
                                       with_subgroup_settings=False)
            except FriedelError:
                excluded[o.identifier] = f"its lattice ({s.group.lattice}) is not the common {lattice} lattice"
                continue
        kept.append(in_standard_setting(experiments[o.experiment_index], o, s))
    cells = [p.search.group.unit_cell for p in kept]
    members = largest_cell_cluster(cells, relative_length_tolerance, absolute_angle_tolerance)
    reference = np.median(np.asarray(cells)[members], axis=0)
    for p, ok in zip(kept, members):
        if not ok:
            excluded[p.identifier] = (f"cell {tuple(round(v, 2) for v in p.search.group.unit_cell)} is outside the "
                                      f"main cluster (median {tuple(round(float(v), 2) for v in reference)})")
    return [p for p, ok in zip(kept, members) if ok], excluded, lattice
