"""Macro-cycles: assign indices, refine the models, map the spots again, widen the resolution.

:func:`macro_cycles` takes a :class:`~friedel.plugins.indexing.state.Trial` through a list of
resolution limits and returns a new trial with the refined models and one
:class:`~friedel.plugins.indexing.state.CycleRecord` per cycle.
"""

from __future__ import annotations

import logging

import numpy as np

from friedel.flags import Flags
from friedel.models import ExperimentList
from friedel.plugins.indexing.assign import assign_indices
from friedel.plugins.indexing.reciprocal import spots_in_reciprocal_space
from friedel.plugins.indexing.refine import refine_models
from friedel.plugins.indexing.state import CycleRecord, Search, Trial, sweep_experiment

log = logging.getLogger("friedel")

_MAPPED_COLUMNS = ("xyzobs.mm.value", "xyzobs.mm.variance", "s1", "rlp", "d")


def macro_cycles(search: Search, trial: Trial, schedule, quiet: bool = False, redo_last: bool = False) -> Trial:
    """``trial`` taken through one macro-cycle per resolution limit in ``schedule``.

    Cycles are numbered on from the trial's last record; ``redo_last`` does the last recorded
    cycle again (its number and resolution) in place of it, e.g. after the newest lattice was
    put in another setting. The input trial is not changed.
    """
    cycles = list(trial.cycles)
    if redo_last:
        schedule = [cycles.pop().d_min]
    sweeps, crystals, refl = trial.sweeps, list(trial.crystals), trial.refl.copy()
    n_sweeps = len(sweeps)
    first = (cycles[-1].cycle + 1) if cycles else 1
    for i, d_limit in enumerate(schedule):
        refl = assign(refl, crystals, n_sweeps, search.params, d_limit)
        indexed = refl.select(refl["id"] >= 0)
        rmsds, esds = {}, {}
        if len(indexed) >= 3:
            current = Trial(sweeps, crystals, refl)
            # early cycles only steer the model: a fast outlier rejection suffices there
            refined, _, rmsds, esds = refine_models(current.experiments(), indexed, search.refinement_params,
                                                    crystal_only=not search.params.refine,
                                                    fast_outliers=i < len(schedule) - 1)
            sweeps, crystals = take_models(refined, sweeps, len(crystals))
            remap(sweeps, refl)  # geometry may have moved: map the spots again before the next assignment
        refl = assign(refl, crystals, n_sweeps, search.params, d_limit)
        if search.stills:
            refl = unindex_far_spots(sweeps, crystals, refl, search.params.stills.max_offset)
        counts = np.bincount(refl["id"][refl["id"] >= 0] // n_sweeps, minlength=len(crystals))
        record = CycleRecord(cycle=first + i, d_min=d_limit, n_spots=int(np.sum(refl["d"] >= d_limit)),
                             n_indexed=counts.tolist(), rmsds=rmsds,
                             cells=[c.unit_cell.parameters for c in crystals], cell_esds=esds,
                             distances=[s.detector[0].distance for s in sweeps])
        cycles.append(record)
        if not quiet:
            log_cycles([record], search.angle_name)
    return Trial(sweeps, crystals, refl, cycles)


def assign(refl, crystals, n_sweeps, params, d_limit):
    """Miller indices, ``id`` and the indexed flag of every spot within ``d_limit`` (others unindexed)."""
    hkl, which, _ = assign_indices(refl["rlp"], [c.real_space_vectors for c in crystals],
                                   params.index_assignment.tolerance, params.index_assignment.method,
                                   params.index_assignment.n_neighbours)
    which = np.where(refl["d"] >= d_limit, which, -1)
    hkl[which < 0] = 0
    refl["miller_index"] = hkl
    refl["id"] = np.where(which >= 0, which * n_sweeps + refl["sweep"], -1).astype(np.int32)
    flags = refl["flags"] if "flags" in refl else np.zeros(len(refl), np.int64)
    flags = np.where(which >= 0, flags | int(Flags.indexed), flags & ~np.int64(int(Flags.indexed)))
    refl["flags"] = flags.astype(np.int64)
    return refl


def remap(sweeps, refl) -> None:
    """Map every spot to reciprocal space again with the sweeps' current geometry (in place)."""
    tmp = refl.copy()
    tmp["id"] = tmp["sweep"]
    spots_in_reciprocal_space(sweeps, tmp)
    for name in _MAPPED_COLUMNS:
        refl[name] = tmp[name]


def take_models(refined, sweeps, n_crystals):
    """Sweep geometry and crystals from refined experiments (lattice-major order)."""
    new_sweeps = ExperimentList(sweep_experiment(s, geometry=refined[i]) for i, s in enumerate(sweeps))
    crystals = [refined[k * len(sweeps)].crystal for k in range(n_crystals)]
    return new_sweeps, crystals


def unindex_far_spots(sweeps, crystals, refl, max_offset_px):
    """Stills: a fractional-index tolerance does not bound how far a spot lies from its
    prediction (the lattice point may sit off the Ewald sphere), so indexed spots predicted more
    than ``max_offset_px`` pixels away are returned to the unindexed pool."""
    from friedel.plugins.refinement.prediction import predict

    n_sweeps = len(sweeps)
    panel = refl["panel"] if "panel" in refl else np.zeros(len(refl), np.int64)
    far = np.zeros(len(refl), bool)
    for k, crystal in enumerate(crystals):
        for i, sweep in enumerate(sweeps):
            rows = np.flatnonzero(refl["id"] == k * n_sweeps + i)
            if not len(rows):
                continue
            xyz = predict(sweep_experiment(sweep, crystal), refl["miller_index"][rows], panel[rows]).xyz
            pixel = min(sweep.detector[0].pixel_size)
            offset = np.linalg.norm(xyz[:, :2] - refl["xyzobs.mm.value"][rows, :2], axis=1) / pixel
            far[rows] = ~(offset <= max_offset_px)
    refl["id"] = np.where(far, -1, refl["id"]).astype(np.int32)
    refl["miller_index"] = np.where(far[:, None], 0, refl["miller_index"]).astype(np.int32)
    refl["flags"] = np.where(far, refl["flags"] & ~np.int64(int(Flags.indexed)), refl["flags"]).astype(np.int64)
    return refl


def log_cycles(records, angle="phi") -> None:
    for record in records:
        rmsd_text = ""
        if record.rmsds:
            r = np.array(list(record.rmsds.values()))
            rmsd_text = (f", RMSD x {np.mean(r[:, 0]):.3f} mm, y {np.mean(r[:, 1]):.3f} mm, "
                         f"{angle} {np.degrees(np.mean(r[:, 2])):.3f} deg")
        counts = record.n_indexed
        log.info("Macro-cycle %d (d_min %.2f A): %d of %d spots indexed (%.1f%%)%s", record.cycle,
                 record.d_min, sum(counts), record.n_spots, 100 * record.fraction_indexed, rmsd_text)
        if record.note:
            log.info("  %s", record.note)
        for i, cell in enumerate(record.cells):
            log.info("  lattice %d: cell %s, %d spots", i + 1, " ".join(f"{x:.4f}" for x in cell), counts[i])
