"""Indexing driver: lattice search, macro-cycles, several lattices, several sweeps.

The driver splits the experiments into crystals (one for all sweeps, or one per sweep or
still), and for each grows a :class:`~friedel.plugins.indexing.state.Trial` one lattice at a
time with :func:`~friedel.plugins.indexing.strategies.next_lattice` (the candidate search and
the macro-cycles of :mod:`~friedel.plugins.indexing.macro_cycles`).

:func:`index` takes experiments (one per sweep or still) and their strong spots and
returns indexed experiments (one per sweep and lattice; sweeps of one crystal share its
Crystal) and the spots with ``id``, ``miller_index`` and the ``indexed`` flag set.
"""

from __future__ import annotations

import logging

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.models import ExperimentList
from friedel.plugins.indexing import lattice as lat
from friedel.plugins.indexing.candidates import primitive_known_cell
from friedel.plugins.indexing.ice import ice_ring_spots
from friedel.plugins.indexing.macro_cycles import macro_cycles
from friedel.plugins.indexing.reciprocal import (first_cycle_d_min, max_cell_estimates, resolvable_separation,
                                                 spots_in_reciprocal_space)
from friedel.plugins.indexing.refine import cell_esds
from friedel.plugins.indexing.state import Search, Trial
from friedel.plugins.indexing.strategies import cell_text, next_lattice

log = logging.getLogger("friedel")


class IndexingResult:
    """Indexed experiments and reflections, and a record of each macro-cycle."""

    def __init__(self, experiments, reflections, cycles, max_cell, misorientations):
        self.experiments = experiments
        self.reflections = reflections
        self.cycles = cycles
        self.max_cell = max_cell
        self.misorientations = misorientations


def index(experiments, reflections, params, refinement_params=None) -> IndexingResult:
    """Index ``reflections`` (strong spots, ``id`` = experiment) against ``experiments``.

    ``params`` is an :class:`~friedel.plugins.indexing.params.IndexingParams`.
    """
    refl = reflections.copy()
    if "id" not in refl:
        refl["id"] = np.zeros(len(refl), np.int32)
    spots_in_reciprocal_space(experiments, refl)
    refl["sweep"] = refl["id"].astype(np.int32)
    stills = all(e.is_still for e in experiments)
    if stills and len(experiments) > 1:
        log.info("Stills are indexed one image at a time (%d images)", len(experiments))
    if (params.joint_indexing and not stills) or len(experiments) == 1:
        groups = [list(range(len(experiments)))]
    else:
        groups = [[i] for i in range(len(experiments))]
    out_expts, out_refl, cycles, misorientations, max_cells = ExperimentList(), [], [], [], []
    for group in groups:
        sweeps = ExperimentList(experiments[i] for i in group)
        sel = np.isin(refl["sweep"], group)
        sub = refl.select(sel)
        sub["sweep"] = np.searchsorted(group, sub["sweep"]).astype(np.int32)
        what = "still" if stills else "sweep"
        if len(groups) > 1:
            log.info("Indexing %s %d of %d on its own", what, group[0] + 1, len(experiments))
        try:
            result = _index_crystal(sweeps, sub, params, refinement_params)
        except FriedelError as exc:
            if len(groups) == 1:
                raise
            log.warning("%s %d not indexed: %s", what.capitalize(), group[0] + 1, exc)
            sub["id"] = np.full(len(sub), -1, np.int32)
            sub["miller_index"] = np.zeros((len(sub), 3), np.int32)
            out_refl.append(sub)
            continue
        offset = len(out_expts)
        t = result.reflections
        t["id"] = np.where(t["id"] >= 0, t["id"] + offset, -1).astype(np.int32)
        out_expts.extend(result.experiments)
        out_refl.append(t)
        cycles.extend(result.cycles)
        misorientations.extend(result.misorientations)
        max_cells.append(result.max_cell)
    if len(out_expts) == 0:
        if stills:
            raise FriedelError("no still could be indexed; see the messages above (check unit_cell=/space_group=, "
                               "the detector distance and the beam centre)")
        raise FriedelError("no sweep could be indexed; see the messages above (try joint_indexing=True)")
    table = _concatenate(out_refl)
    del table["sweep"]
    table.experiment_identifiers = {}
    for i, e in enumerate(out_expts):
        table.experiment_identifiers[i] = e.ensure_identifier()
    return IndexingResult(out_expts, table, cycles, max(max_cells), misorientations)


def _concatenate(tables):
    out = tables[0]
    for t in tables[1:]:
        common = set(out.keys()) & set(t.keys())
        for name in set(out.keys()) - common:
            del out[name]
        for name in set(t.keys()) - common:
            del t[name]
        t.experiment_identifiers = {}
        out.experiment_identifiers = {}
        out.extend(t)
    return out


# -- one crystal (one or several sweeps) -----------------------------------------------------------
def _index_crystal(sweeps, refl, params, refinement_params) -> IndexingResult:
    n = len(refl)
    if n < params.min_spots:
        raise FriedelError(f"only {n} spots to index (at least {params.min_spots} needed): "
                           "find more spots (lower the spot-finding threshold) or use more images")
    search = _search(sweeps, refl, params, refinement_params)
    trial = Trial(sweeps, [], refl)
    for _ in range(params.max_lattices):
        unindexed = trial.unindexed()
        if unindexed.sum() < params.min_spots:
            break
        try:
            grown = next_lattice(search, trial)
        except FriedelError:
            if not trial.crystals:
                raise
            log.info("No further lattice among the %d unindexed spots", unindexed.sum())
            break
        counts = grown.counts()
        if grown.crystals[1:] and counts[-1] < max(params.min_spots, params.min_lattice_fraction * n):
            log.info("Lattice %d indexes only %d spots; discarded", len(grown.crystals), counts[-1])
            # the last cycle again without it, on the spots as the grown trial left them
            trial = macro_cycles(search, grown.without_newest(), search.schedule[-1:])
            break
        trial = grown
    _report_distance(search, trial)
    experiments = trial.experiments()
    misorientations = []
    crystals = trial.crystals
    for i in range(len(crystals)):
        for j in range(i + 1, len(crystals)):
            angle = lat.misorientation_deg(crystals[i].real_space_vectors, crystals[j].real_space_vectors)
            misorientations.append((i, j, angle))
            log.info("Misorientation between lattices %d and %d: %.2f degrees", i + 1, j + 1, angle)
    _log_models(experiments, trial.refl, trial.last.cell_esds if trial.last else {})
    return IndexingResult(experiments, trial.refl, trial.cycles, search.max_cell, misorientations)


def _search(sweeps, refl, params, refinement_params) -> Search:
    """The fixed part of one crystal's search: known symmetry, maximum cell, resolution schedule."""
    rlp, d = refl["rlp"], refl["d"]
    known = params.known_symmetry
    space_group = gemmi.SpaceGroup(known.space_group) if known.space_group else None
    primitive_cell = primitive_known_cell(known.unit_cell, space_group)
    usable = ~_ice_ring_spots(d, params)
    if params.max_cell is not None:
        max_cells, n_populations = [params.max_cell], 1
    else:
        max_cells = max_cell_estimates(rlp[usable], params.max_cell_multiplier,
                                       min_separation=resolvable_separation(sweeps))
        n_populations = len(max_cells)
        log.info("Maximum cell estimated from nearest-neighbour separations: %s A",
                 " or ".join(f"{m:.1f}" for m in max_cells))
        # smaller bounds, tried while they would still hold the best lattice found: close pairs (a split
        # crystal, spots seen twice) without a gap to the lattice's separations inflate every estimate
        while len(max_cells) < 4 and max_cells[-1] / 2 >= 4 * params.min_cell:
            max_cells.append(max_cells[-1] / 2)
        if primitive_cell is not None:
            max_cells = sorted({max(m, 1.3 * max(primitive_cell[:3])) for m in max_cells}, reverse=True)
            n_populations = min(n_populations, len(max_cells))
    d_all = float(np.min(d))
    d_start = params.d_min_start or first_cycle_d_min(d[usable])
    schedule = _resolution_schedule(d_start, d_all, params.n_macro_cycles)
    log.info("Macro-cycle resolution limits: %s A", ", ".join(f"{x:.2f}" for x in schedule))
    stills = all(e.is_still for e in sweeps)
    search = Search(params=params, refinement_params=refinement_params, space_group=space_group,
                    primitive_cell=primitive_cell, max_cell=max_cells[0], max_cells=max_cells,
                    n_populations=n_populations, d_start=d_start,
                    schedule=schedule, stills=stills, n_spots=len(refl), search_spots=usable,
                    input_distances=[s.detector[0].distance for s in sweeps],
                    scan_width=sum(abs(s.scan.oscillation[1]) * s.scan.num_images for s in sweeps if not s.is_still))
    if params.refine and not stills and len(schedule) > 1 and search.scan_width < params.distance_guard.narrow_wedge:
        log.info("Narrow wedge (%.1f deg): the detector distance is fixed until the last macro-cycle",
                 search.scan_width)
    return search


def _report_distance(search, trial) -> None:
    """Say when indexing moved a detector distance by more than distance_guard.warn_shift: on a
    narrow wedge a distance that moved with the cell is the first thing to suspect."""
    limit = search.params.distance_guard.warn_shift
    for i, (sweep, d0) in enumerate(zip(trial.sweeps, search.input_distances)):
        d1 = sweep.detector[0].distance
        if abs(d1 / d0 - 1) > limit:
            log.warning("Refinement moved the detector distance of sweep %d by %+.1f%% (%.2f -> %.2f mm); the cell "
                        "scales with it. If the header distance is right, index again with "
                        "refinement.parameterisation.detector.fix=distance (or give the known unit_cell=)",
                        i + 1, 100 * (d1 / d0 - 1), d0, d1)


def _ice_ring_spots(d, params) -> np.ndarray:
    """Spots on the ice rings the spot list shows (none when filter_ice=False, or when too few
    spots would be left to search)."""
    on_ice = np.zeros(len(d), bool)
    if not params.filter_ice:
        return on_ice
    mask, rings = ice_ring_spots(d, params.ice_ring_width)
    if not rings:
        return on_ice
    if (~mask).sum() < max(params.min_spots, 0.1 * len(d)):
        log.info("Ice rings at %s A hold nearly all spots; they are kept in the lattice search",
                 ", ".join(f"{x:.2f}" for x in rings))
        return on_ice
    log.info("Ice rings at %s A: %d of %d spots left out of the maximum-cell estimate and the lattice search",
             ", ".join(f"{x:.2f}" for x in rings), mask.sum(), len(d))
    return mask


def _resolution_schedule(d_start, d_all, n_cycles):
    """Resolution limits of the macro-cycles, even steps in 1/d^2 ending with all the data."""
    if d_start <= d_all or n_cycles == 1:
        return [d_all]
    s = np.linspace(1 / d_start**2, 1 / d_all**2, n_cycles)
    out = list(1 / np.sqrt(s))
    out[-1] = d_all * 0.999  # include the very last spot
    return out


def _log_models(experiments, refl, refined_esds) -> None:
    """Print each crystal model: cell with ESDs (from refinement, else from the reciprocal fit), U, B, A."""
    fmt = lambda M: "\n".join("    " + " ".join(f"{v:12.8f}" for v in row) for row in M)  # noqa: E731
    for i, crystal in enumerate(experiments.crystals):
        esd = refined_esds.get(i)
        if esd is None:
            esd = cell_esds(crystal, experiments, refl)
        log.info("Crystal model %d: %s", i + 1, cell_text(crystal, esd))
        log.info("  U matrix:\n%s\n  B matrix:\n%s\n  A = UB:\n%s", fmt(crystal.U), fmt(crystal.B), fmt(crystal.A))
