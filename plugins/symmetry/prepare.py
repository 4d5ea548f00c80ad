"""From experiments + reflections to merged, normalised data sets in a lattice's standard setting.

Used by both commands: ``friedel symmetry`` puts every experiment in the lattice of the median
cell (they are assumed to be indexed consistently), ``friedel cosym`` gives each experiment its
own change of basis to the standard setting of the common lattice (any indexing ambiguity
between them is what cosym resolves).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gemmi
import numpy as np

from friedel.contracts.symmetry import MergedDataset
from friedel.errors import FriedelError
from friedel.miller import asu_mapping
from friedel.plugins.bravais.lattice_search import LATTICE_GROUP
from friedel.plugins.symmetry.data import Observations, merge_p1, merged_dataset, select_observations
from friedel.plugins.symmetry.lattice import LatticeSearch, find_lattice_group
from friedel.plugins.symmetry.resolution import auto_d_min

log = logging.getLogger("friedel")


@dataclass
class PreparedExperiment:
    """One experiment's observations in the standard setting of its lattice."""

    observations: Observations
    search: LatticeSearch
    hkl: np.ndarray            # observation indices in the standard basis
    A: np.ndarray              # the crystal's A matrix in the standard basis

    @property
    def identifier(self) -> str:
        return self.observations.identifier

    @property
    def d(self) -> np.ndarray:
        return 1.0 / np.linalg.norm(self.hkl @ self.A.T, axis=1)


def median_cell(cells) -> tuple:
    return tuple(float(v) for v in np.median(np.asarray(cells, float), axis=0))


def cell_outliers(cells, reference, relative_length_tolerance=0.05, absolute_angle_tolerance=2.0) -> np.ndarray:
    """True for cells whose lengths (relative) or angles (degrees) differ from ``reference``."""
    c = np.asarray(cells, float)
    ref = np.asarray(reference, float)
    lengths = np.abs(c[:, :3] - ref[:3]) / ref[:3] > relative_length_tolerance
    angles = np.abs(c[:, 3:] - ref[3:]) > absolute_angle_tolerance
    return lengths.any(axis=1) | angles.any(axis=1)


def observations_for(experiments, reflections, params) -> list[Observations]:
    return select_observations(experiments, reflections, intensity=params.intensity,
                               partiality_threshold=params.partiality_threshold,
                               min_i_over_sigma=params.min_i_over_sigma)


def in_standard_setting(experiment, obs: Observations, search: LatticeSearch) -> PreparedExperiment:
    cb = search.cb_op
    return PreparedExperiment(obs, search, cb.apply_to_miller_indices(obs.hkl), cb.apply_to_A(experiment.crystal.A))


def prepare_common(experiments, observations, max_delta: float, relative_length_tolerance: float,
                   absolute_angle_tolerance: float) -> tuple[list[PreparedExperiment], dict]:
    """All experiments in the lattice of their median cell; those with a different cell are excluded."""
    cells = [experiments[o.experiment_index].crystal.unit_cell.parameters for o in observations]
    reference = median_cell(cells)
    outliers = cell_outliers(cells, reference, relative_length_tolerance, absolute_angle_tolerance)
    excluded = {}
    kept = []
    for o, bad in zip(observations, outliers):
        if bad:
            cell = experiments[o.experiment_index].crystal.unit_cell.parameters
            excluded[o.identifier] = (f"cell {tuple(round(v, 2) for v in cell)} differs from the median "
                                      f"{tuple(round(v, 2) for v in reference)}")
        else:
            kept.append(o)
    if not kept:
        raise FriedelError("no experiment has a cell close to the median cell; use friedel cosym for different crystals")
    space_group = experiments[kept[0].experiment_index].crystal.space_group
    search = find_lattice_group(gemmi.UnitCell(*reference), max_delta, space_group)
    return [in_standard_setting(experiments[o.experiment_index], o, search) for o in kept], excluded


def resolution_limit(prepared: list[PreparedExperiment], merge_group: str | None, min_i_mean_over_sigma_mean: float,
                     min_cc_half: float, rng) -> tuple[float | None, dict]:
    """d_min from <I>/<sigma> and CC1/2 of all observations merged in P1 (``merge_group`` None)
    or in a space group (e.g. the lattice group, which no indexing ambiguity can upset)."""
    hkl = np.concatenate([p.hkl for p in prepared])
    I = np.concatenate([p.observations.intensity for p in prepared])
    V = np.concatenate([p.observations.variance for p in prepared])
    d = np.concatenate([p.d for p in prepared])
    if len(hkl) < 60:
        return None, {"d_min": None, "note": "too few reflections to estimate a resolution limit"}
    if merge_group is None:
        group = merge_p1(hkl, I, V).group
    else:
        group = asu_mapping(hkl, merge_group).group
    return auto_d_min(d, I, V, group, min_i_mean_over_sigma_mean, min_cc_half, rng)


def lattice_space_group(lattice: str) -> str:
    return LATTICE_GROUP[lattice]


def merged_datasets(prepared: list[PreparedExperiment], normalisation: str, d_min: float | None, combine: bool,
                    rng) -> list[MergedDataset]:
    """One MergedDataset per experiment, or one for all of them (``combine``)."""
    groups = [prepared] if combine else [[p] for p in prepared]
    out = []
    for group in groups:
        first = group[0]
        hkl = np.concatenate([p.hkl for p in group])
        I = np.concatenate([p.observations.intensity for p in group])
        V = np.concatenate([p.observations.variance for p in group])
        identifier = "+".join(p.identifier for p in group) if combine and len(group) > 1 else first.identifier
        # scaled intensities have had their errors adjusted and outliers rejected already
        unscaled = any(p.observations.column != "scale" for p in group)
        out.append(merged_dataset(identifier, hkl, I, V, first.A, first.search.group.rotations, normalisation,
                                  d_min=d_min, inflate=unscaled, rng=rng))
    return out
