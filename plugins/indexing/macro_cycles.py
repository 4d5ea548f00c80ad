"""Macro-cycles: assign indices, refine the models, map the spots again, widen the resolution.

:func:`macro_cycles` takes a :class:`~friedel.plugins.indexing.state.Trial` through a list of
resolution limits and returns a new trial with the refined models and one
:class:`~friedel.plugins.indexing.state.CycleRecord` per cycle.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
        # spots on ice rings are indexed (and kept if they fit) but do not steer the refinement: one
        # in five falls within the index tolerance of a small cell by chance
        use = refl["id"] >= 0
        if search.search_spots is not None:
            use &= search.search_spots
        indexed = refl.select(use)
        rmsds, esds, note, distance_free = {}, {}, "", search.params.refine
        if len(indexed) >= 3:
            # early cycles only steer the model: a fast outlier rejection suffices there
            step = refine_cycle(search, Trial(sweeps, crystals, refl), indexed, d_limit,
                                fast_outliers=i < len(schedule) - 1)
            sweeps, crystals, refl = step.sweeps, step.crystals, step.refl
            rmsds, esds, note, distance_free = step.rmsds, step.esds, step.note, step.distance_free
        if search.stills:
            refl = unindex_far_spots(sweeps, crystals, refl, search.params.stills.max_offset)
        elif rmsds and d_limit <= search.schedule[-1]:  # all the data in: the model is as good as it gets
            refl = unindex_far_spots(sweeps, crystals, refl, search.params.max_offset, sweep_spread=6.0)
        counts = np.bincount(refl["id"][refl["id"] >= 0] // n_sweeps, minlength=len(crystals))
        record = CycleRecord(cycle=first + i, d_min=d_limit, n_spots=int(np.sum(refl["d"] >= d_limit)),
                             n_indexed=counts.tolist(), rmsds=rmsds,
                             cells=[c.unit_cell.parameters for c in crystals], cell_esds=esds,
                             distances=[s.detector[0].distance for s in sweeps], distance_refined=distance_free,
                             note=note)
        cycles.append(record)
        if not quiet:
            log_cycles([record], search.angle_name)
    return Trial(sweeps, crystals, refl, cycles)


@dataclass
class CycleRefinement:
    """The models one macro-cycle's refinement left, with the spots mapped again."""

    sweeps: ExperimentList
    crystals: list
    refl: object
    rmsds: dict
    esds: dict
    distance_free: bool
    note: str = ""


def refine_cycle(search: Search, trial: Trial, indexed, d_limit: float, fast_outliers: bool) -> CycleRefinement:
    """Refine the trial's models against ``indexed`` with the distance guards.

    On a narrow wedge (all sweeps together narrower than ``distance_guard.narrow_wedge``) the
    detector distance is fixed until the last macro-cycle: a low-resolution shell cannot tell
    the distance from the cell scale, and a distance that ran away early is not recovered
    (the fit has no strong minimum to come back to). A cycle that leaves the distance more
    than ``check_shift`` from the input is judged against the same cycle with the distance
    fixed: the moved distance is kept only if it lowers the positional RMSD by
    ``min_rmsd_gain`` and indexes nearly as many spots (95%; a wrong model can index a few more
    by chance, so the count only guards against a collapse).
    """
    p, guard = search.params, search.params.distance_guard
    last = d_limit <= search.schedule[-1]
    narrow = not search.stills and search.scan_width < guard.narrow_wedge
    fix_distance = p.refine and narrow and not last
    free = _refine_and_remap(search, trial, indexed, d_limit, fast_outliers, fix_distance)
    if fix_distance or not p.refine or search.stills:
        return free
    shift = _distance_shift(search, free.sweeps)
    if shift <= guard.check_shift:
        return free
    fixed = _refine_and_remap(search, trial, indexed, d_limit, fast_outliers, True)
    r_free, r_fixed = _positional_rmsd(free.rmsds), _positional_rmsd(fixed.rmsds)
    n_free, n_fixed = int(np.sum(free.refl["id"] >= 0)), int(np.sum(fixed.refl["id"] >= 0))
    gain = 1.0 - r_free / r_fixed if r_fixed > 0 else 0.0
    old, new = search.input_distances[0], free.sweeps[0].detector[0].distance
    if gain >= guard.min_rmsd_gain and n_free >= 0.95 * n_fixed:
        free.note = (f"detector distance moved {100 * shift:.1f}% ({old:.2f} -> {new:.2f} mm): "
                     f"{100 * gain:.0f}% lower RMSD than with it fixed")
        return free
    fixed.note = (f"detector distance kept at {fixed.sweeps[0].detector[0].distance:.2f} mm: moving it "
                  f"{100 * shift:.1f}% (to {new:.2f} mm) lowered the RMSD by {100 * gain:.1f}% and indexed "
                  f"{n_free} spots (fixed: {n_fixed})")
    return fixed


def _refine_and_remap(search, trial, indexed, d_limit, fast_outliers, fix_distance) -> CycleRefinement:
    refined, _, rmsds, esds = refine_models(trial.experiments(), indexed, search.refinement_params,
                                            crystal_only=not search.params.refine, fast_outliers=fast_outliers,
                                            fix_distance=fix_distance)
    sweeps, crystals = take_models(refined, trial.sweeps, len(trial.crystals))
    refl = trial.refl.copy()
    remap(sweeps, refl)  # geometry may have moved: map the spots again before the next assignment
    refl = assign(refl, crystals, len(sweeps), search.params, d_limit)
    return CycleRefinement(sweeps, crystals, refl, rmsds, esds, search.params.refine and not fix_distance)


def _distance_shift(search, sweeps) -> float:
    """Largest relative change of any sweep's detector distance from the input."""
    return max(abs(s.detector[0].distance / d0 - 1.0) for s, d0 in zip(sweeps, search.input_distances))


def _positional_rmsd(rmsds) -> float:
    if not rmsds:
        return np.inf
    r = np.array(list(rmsds.values()))
    return float(np.sqrt(np.mean(r[:, 0] ** 2 + r[:, 1] ** 2)))


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


def unindex_far_spots(sweeps, crystals, refl, max_offset_px, sweep_spread: float | None = None,
                      min_images: float = 3.0):
    """Indexed spots far from their predictions are returned to the unindexed pool.

    A fractional-index tolerance does not bound how far a spot lies from its prediction: on a
    still the lattice point may sit off the Ewald sphere; in a sweep with a small cell a spot
    of something else (an ice ring, a second lattice) falls within 0.3 of an integer index by
    chance for one in five spots, yet lies tens of pixels or many images from where that
    reflection is predicted. Far means more than ``max_offset_px`` pixels (stills). For sweeps
    (``sweep_spread`` given) it means more than the larger of that and ``sweep_spread`` robust
    standard deviations of the experiment's offsets (from their median, so that the far spots
    themselves and the refinement's outlier rejection do not set the scale), or more than the
    larger of ``min_images`` images and ``sweep_spread`` robust standard deviations in phi.
    """
    from friedel.prediction import predict

    n_sweeps = len(sweeps)
    panel = refl["panel"] if "panel" in refl else np.zeros(len(refl), np.int64)
    far = np.zeros(len(refl), bool)
    for k, crystal in enumerate(crystals):
        for i, sweep in enumerate(sweeps):
            rows = np.flatnonzero(refl["id"] == k * n_sweeps + i)
            if not len(rows):
                continue
            obs = refl["xyzobs.mm.value"][rows]
            pred = predict(sweep_experiment(sweep, crystal), refl["miller_index"][rows], panel[rows],
                           phi_obs=None if sweep.is_still else obs[:, 2])
            pixel = min(sweep.detector[0].pixel_size)
            offset = np.linalg.norm(pred.xyz[:, :2] - obs[:, :2], axis=1)
            limit = max_offset_px * pixel
            bad = ~(offset <= limit)
            if sweep_spread is not None and not sweep.is_still:
                dphi = np.abs(pred.xyz[:, 2] - obs[:, 2])
                good = pred.ok & np.isfinite(offset) & np.isfinite(dphi)
                if good.sum() < 10:
                    continue
                # median of a 2D Gaussian's radial offset = 1.1774 sigma; of |N(0, sigma)| = sigma / 1.4826
                sigma_xy = np.median(offset[good]) / 1.1774
                sigma_phi = 1.4826 * np.median(dphi[good])
                limit = max(limit, sweep_spread * sigma_xy)
                phi_limit = max(min_images * np.radians(abs(sweep.scan.oscillation[1])), sweep_spread * sigma_phi)
                bad = ~(offset <= limit) | ~(dphi <= phi_limit) | ~pred.ok
            far[rows] = bad
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
