"""Indexing driver: lattice search, macro-cycles, several lattices, several sweeps.

:func:`index` takes experiments (one per sweep or still) and their strong spots and
returns indexed experiments (one per sweep and lattice; sweeps of one crystal share its
Crystal) and the spots with ``id``, ``miller_index`` and the ``indexed`` flag set.
"""

from __future__ import annotations

import logging

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.models import Crystal, Experiment, ExperimentList
from friedel.plugin_manager import get_plugin
from friedel.plugins.indexing import lattice as lat
from friedel.plugins.indexing.assign import assign_indices
from friedel.plugins.indexing.reciprocal import estimate_max_cell, first_cycle_d_min, spots_in_reciprocal_space
from friedel.plugins.indexing.refine import apply_cell_constraints, cell_esds, refine_models
from friedel.plugins.indexing.vectors import refine_vector, unique_vectors

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
    rlp, d = refl["rlp"], refl["d"]
    known = params.known_symmetry
    space_group = gemmi.SpaceGroup(known.space_group) if known.space_group else None
    primitive_cell = _primitive_known_cell(known.unit_cell, space_group)
    max_cell = params.max_cell
    if max_cell is None:
        max_cell = estimate_max_cell(rlp, params.max_cell_multiplier)
        if primitive_cell is not None:
            max_cell = max(max_cell, 1.3 * max(primitive_cell[:3]))
        log.info("Maximum cell estimated from nearest-neighbour separations: %.1f A", max_cell)
    d_all = float(np.min(d))
    d_start = params.d_min_start or first_cycle_d_min(d)
    schedule = _resolution_schedule(d_start, d_all, params.n_macro_cycles)
    log.info("Macro-cycle resolution limits: %s A", ", ".join(f"{x:.2f}" for x in schedule))

    crystals: list[Crystal] = []
    cycles = []
    stills = all(e.is_still for e in sweeps)
    for n_lattice in range(params.max_lattices):
        if crystals:
            unindexed = refl["id"] < 0
        else:
            unindexed = np.ones(n, bool)
        if unindexed.sum() < params.min_spots:
            break
        try:
            trial = None
            if stills:
                candidates = lattice_candidates(rlp[unindexed], max_cell, params, space_group, primitive_cell,
                                                d_start=d_start, spot_d=d[unindexed], known_setting=False)
                crystal, trial = _best_still_lattice(candidates, sweeps, refl, crystals, schedule, params,
                                                     refinement_params, space_group)
            elif space_group is not None or known.unit_cell is not None:
                trial = _refined_then_symmetrised(rlp[unindexed], max_cell, params, space_group, primitive_cell,
                                                  d_start, d[unindexed], sweeps, refl, crystals, schedule,
                                                  refinement_params)
                if trial is not None:
                    crystal = trial[1][-1]
            if trial is None and not stills:
                candidates = lattice_candidates(rlp[unindexed], max_cell, params, space_group, primitive_cell,
                                                d_start=d_start, spot_d=d[unindexed])
                crystal = _crystal_from_basis(candidates[0], space_group)
        except FriedelError:
            if not crystals:
                raise
            log.info("No further lattice among the %d unindexed spots", unindexed.sum())
            break
        crystals.append(crystal)
        log.info("Lattice %d found: %s", n_lattice + 1, _cell_text(crystal))
        if trial is not None:  # the lattice has been through (some of) the macro-cycles already
            sweeps, crystals, refl, cyc = trial
            _log_cycles(cyc, angle="DeltaPsi" if stills else "phi")
            if not stills:
                sweeps, crystals, refl, more = _macro_cycles(sweeps, refl, crystals, schedule[1:], params,
                                                             refinement_params, first_cycle=2)
                cyc = cyc + more
        else:
            sweeps, crystals, refl, cyc = _macro_cycles(sweeps, refl, crystals, schedule, params, refinement_params)
        cycles.extend(cyc)
        counts = np.bincount(refl["id"][refl["id"] >= 0] // len(sweeps), minlength=len(crystals))
        if len(crystals) > 1 and counts[-1] < max(params.min_spots, params.min_lattice_fraction * n):
            log.info("Lattice %d indexes only %d spots; discarded", len(crystals), counts[-1])
            crystals.pop()
            sweeps, crystals, refl, cyc = _macro_cycles(sweeps, refl, crystals, schedule[-1:], params,
                                                        refinement_params, first_cycle=len(schedule))
            cycles.extend(cyc)
            break
    experiments = _experiments(sweeps, crystals)
    misorientations = []
    for i in range(len(crystals)):
        for j in range(i + 1, len(crystals)):
            angle = lat.misorientation_deg(crystals[i].real_space_vectors, crystals[j].real_space_vectors)
            misorientations.append((i, j, angle))
            log.info("Misorientation between lattices %d and %d: %.2f degrees", i + 1, j + 1, angle)
    _log_models(experiments, refl, cycles[-1]["cell_esds"] if cycles else {})
    return IndexingResult(experiments, refl, cycles, max_cell, misorientations)


def _crystal_from_basis(D, space_group) -> Crystal:
    crystal = Crystal(np.linalg.inv(D))
    if space_group is not None:
        crystal.set_space_group(space_group)
        apply_cell_constraints(crystal)
    return crystal


def _refined_then_symmetrised(rlp, max_cell, params, space_group, primitive_cell, d_start, spot_d, sweeps, refl,
                              crystals, schedule, refinement_params):
    """Known symmetry on a sweep: the best lattice refined for one macro-cycle in P1, then put
    in the reference setting and constrained (re-refined at the same resolution).

    A basis fitted to unrefined rlps can be sheared or stretched by the header geometry (a
    narrow wedge, a detector distance a few percent off) beyond the cell tolerance, or forced
    into the wrong orientation by the symmetry. Returns the macro-cycle result, or None when
    the refined lattice does not fit either (the caller then searches in the known setting).
    """
    try:
        candidates = lattice_candidates(rlp, max_cell, params, space_group, primitive_cell, d_start=d_start,
                                        spot_d=spot_d, known_setting=False)
        # a copy: a failed trial must not leave its assignment or re-mapped rlps behind
        first = _macro_cycles(sweeps, refl.copy(), crystals + [_crystal_from_basis(candidates[0], None)],
                              schedule[:1], params, refinement_params, quiet=True)
        return _with_known_symmetry(first, space_group, params, refinement_params)
    except FriedelError as exc:
        log.debug("refining in P1 first did not give the known symmetry: %s", exc)
        return None


def _with_known_symmetry(result, space_group, params, refinement_params):
    """A macro-cycle result whose newest lattice is put in the known setting (reference setting of
    ``space_group``, cell checked against ``unit_cell``), constrained and its last macro-cycle done
    again. Raises FriedelError when the refined lattice does not fit."""
    known = params.known_symmetry
    sweeps, crystals, refl, cycles = result
    D = lat.conventional_setting(crystals[-1].real_space_vectors, space_group or gemmi.SpaceGroup("P 1"),
                                 known.unit_cell, known.relative_length_tolerance, known.absolute_angle_tolerance)
    return _macro_cycles(sweeps, refl, crystals[:-1] + [_crystal_from_basis(D, space_group)], [cycles[-1]["d_min"]],
                         params, refinement_params, quiet=True, first_cycle=cycles[-1]["cycle"])


def _best_still_lattice(candidates, sweeps, refl, crystals, schedule, params, refinement_params, space_group):
    """The candidate lattice of a still that survives refinement best.

    A still samples one thin shell of reciprocal space and its header geometry is often a
    few percent off, so the lattice that indexes most spots before refinement is not always
    the right one. The first few candidates are each taken through the macro-cycles; those
    refining to an RMSD within ``stills.max_rmsd`` pixels compete on spots indexed, and among
    those indexing nearly as many as the best the smallest cell wins (a supercell indexes
    the same spots and a few more by chance). A known cell is checked after refinement, since
    a still's header distance can stretch the unrefined cell by more than the tolerance.
    Returns the crystal and the macro-cycle result.
    """
    limits = params.stills
    known = params.known_symmetry
    pixel = min(sweeps[0].detector[0].pixel_size)
    trials = []
    level = log.level
    log.setLevel(logging.WARNING)  # the trials would repeat every macro-cycle line per candidate
    try:
        for D in candidates[: limits.n_candidates]:
            crystal = _crystal_from_basis(D, None)  # Niggli setting: symmetry is applied after refinement
            try:
                # refinement works on copies of the models; the spot table is the trial's own
                result = _macro_cycles(sweeps, refl.copy(), crystals + [crystal], schedule, params,
                                       refinement_params)
                if space_group is not None or known.unit_cell is not None:
                    result = _with_known_symmetry(result, space_group, params, refinement_params)
            except FriedelError as exc:
                log.debug("candidate %s failed: %s", _cell_text(crystal), exc)
                continue
            record = result[3][-1]
            n_new = record["n_indexed"][-1]
            rmsd_px = max(np.max(np.array(list(record["rmsds"].values()))[:, :2]) / pixel, 0.0) \
                if record["rmsds"] else np.inf
            trials.append((result[1][-1], n_new, rmsd_px, result))
    finally:
        log.setLevel(level)
    for crystal, n_new, rmsd_px, _ in trials:
        log.info("  candidate %s: %d spots indexed, RMSD %.2f px", _cell_text(crystal), n_new, rmsd_px)
    good = [t for t in trials if t[2] <= limits.max_rmsd and t[1] >= params.min_spots]
    if not good:
        best = min((t[2] for t in trials), default=np.inf)
        if not trials and (space_group is not None or known.unit_cell is not None):
            raise FriedelError("no candidate lattice of this still fits the known symmetry after refinement; "
                               "check unit_cell=/space_group= or index without them")
        raise FriedelError(f"no candidate lattice of this still refines to an RMSD within {limits.max_rmsd:g} px "
                           f"(best {best:.1f} px) with at least {params.min_spots} spots: too few or wrong spots, "
                           "or the geometry is far off (check the detector distance and beam centre)")
    most = max(t[1] for t in good)
    near = [t for t in good if t[1] >= limits.near_fraction * most]
    chosen = min(near, key=lambda t: (round(np.log(t[0].unit_cell.volume) / 0.1), -t[1], t[2]))
    return chosen[0], chosen[3]


def _primitive_known_cell(unit_cell, space_group):
    """The Niggli cell of a known (conventional) cell: the edge lengths a basis search looks for."""
    if unit_cell is None:
        return None
    gv = gemmi.GruberVector(gemmi.UnitCell(*unit_cell), space_group.centring_type() if space_group else "P")
    gv.niggli_reduce()
    return tuple(gv.get_cell().parameters)


def _resolution_schedule(d_start, d_all, n_cycles):
    """Resolution limits of the macro-cycles, even steps in 1/d^2 ending with all the data."""
    if d_start <= d_all or n_cycles == 1:
        return [d_all]
    s = np.linspace(1 / d_start**2, 1 / d_all**2, n_cycles)
    out = list(1 / np.sqrt(s))
    out[-1] = d_all * 0.999  # include the very last spot
    return out


def find_lattice(rlp, max_cell, d, params, space_group=None, primitive_cell=None, d_start=None, spot_d=None):
    """A direct basis (rows) for the spots ``rlp``: Niggli-reduced, or in the reference
    setting of ``space_group`` when given. Raises FriedelError when no lattice is found."""
    return lattice_candidates(rlp, max_cell, params, space_group, primitive_cell, d_start, spot_d)[0]


def lattice_candidates(rlp, max_cell, params, space_group=None, primitive_cell=None, d_start=None, spot_d=None,
                       known_setting=True):
    """Candidate direct bases (rows) for the spots ``rlp``, best first (fraction indexed, then
    RMS fractional residual); Niggli-reduced, or in the reference setting of ``space_group``
    (``known_setting=False``: Niggli-reduced even when the symmetry is known; the caller checks
    the cell after refinement). Raises FriedelError when no lattice is found."""
    method_cls = get_plugin("indexing_methods", params.method)
    method_params = getattr(params, params.method, None)
    method = method_cls(method_params) if method_params is not None else method_cls()
    d_min = float(np.min(1 / np.linalg.norm(rlp, axis=1)))
    vectors, _ = method.find_vectors(rlp, max_cell, d_min, unit_cell=primitive_cell)
    hint = ("try friedel search_beam_position first, a different max_cell=, or indexing.method=fft1d"
            if params.method != "fft1d" else "try friedel search_beam_position first or a different max_cell=")
    if len(vectors) < 3:
        raise FriedelError(f"no lattice found in {len(rlp)} spots ({len(vectors)} candidate vectors); {hint}")
    # refine every candidate on the low-resolution spots, score by integral fraction
    low = rlp if d_start is None else rlp[spot_d >= d_start]
    if len(low) < 10:
        low = rlp
    refined = np.array([refine_vector(v, low)[0] for v in vectors])  # tens of vectors
    p = low @ refined.T
    scores = np.mean(np.abs(p - np.round(p)) < 0.15, axis=0)
    # vectors that make few spots integral are noise; very short ones are the normal of the slab
    # a narrow wedge samples (all projections near zero), not lattice vectors
    strong = scores >= 0.6 * scores.max()
    vectors, scores = unique_vectors(refined[strong], scores[strong], min_length=params.min_cell,
                                     max_length=1.2 * max_cell)
    bases = lat.candidate_bases(vectors, low, max_cell, tolerance=0.25)
    if not bases:
        raise FriedelError(f"no lattice found in {len(rlp)} spots (no three independent vectors); {hint}")
    tol = params.index_assignment.tolerance
    found, fit_error = [], None
    for D in bases:
        D = lat.niggli_reduce(D)
        D = lat.fit_basis(D, low, tol)
        if known_setting and (space_group is not None or params.known_symmetry.unit_cell is not None):
            try:
                D = lat.conventional_setting(
                    D, space_group or gemmi.SpaceGroup("P 1"), params.known_symmetry.unit_cell,
                    params.known_symmetry.relative_length_tolerance, params.known_symmetry.absolute_angle_tolerance)
            except FriedelError as exc:
                fit_error = fit_error or exc
                continue
        h = low @ D.T
        resid = np.abs(h - np.round(h))
        ok = np.all(resid < tol, axis=1)
        key = (round(ok.mean(), 2), -float(np.sqrt(np.mean(resid[ok] ** 2))) if ok.any() else -1.0)
        found.append((key, D))
    if not found:
        raise fit_error
    found.sort(key=lambda kd: kd[0], reverse=True)
    if found[0][0][0] < 0.2:
        raise FriedelError(f"no lattice found: the best basis indexes only {100 * found[0][0][0]:.0f}% of "
                           f"{len(low)} spots; {hint}")
    return [D for _, D in found]


def _experiments(sweeps, crystals) -> ExperimentList:
    """One experiment per lattice and sweep (lattice-major); sweeps share each lattice's Crystal.
    The first lattice keeps each sweep's identifier; further lattices get new ones."""
    out = ExperimentList()
    for k, crystal in enumerate(crystals):
        for s in sweeps:
            out.append(Experiment(beam=s.beam, detector=s.detector, goniometer=s.goniometer, scan=s.scan,
                                  crystal=crystal, imageset=s.imageset, profile=s.profile,
                                  scaling_model=s.scaling_model, identifier=s.identifier if k == 0 else ""))
    return out


def _assign(refl, crystals, n_sweeps, params, d_limit):
    hkl, which, resid = assign_indices(refl["rlp"], [c.real_space_vectors for c in crystals],
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


def _macro_cycles(sweeps, refl, crystals, schedule, params, refinement_params, quiet=False, first_cycle=1):
    """Assign (in ``refl``), refine, widen resolution; returns new sweeps and crystals with the
    refined models, the table and one record per cycle (numbered from ``first_cycle``)."""
    cycles = []
    n_sweeps = len(sweeps)
    stills = all(e.is_still for e in sweeps)
    for cycle, d_limit in enumerate(schedule, start=first_cycle):
        refl = _assign(refl, crystals, n_sweeps, params, d_limit)
        experiments = _experiments(sweeps, crystals)
        indexed = refl.select(refl["id"] >= 0)
        rmsds, esds = {}, {}
        if len(indexed) >= 3:
            # early cycles only steer the model: a fast outlier rejection suffices there
            refined, _, rmsds, esds = refine_models(experiments, indexed, refinement_params,
                                                    crystal_only=not params.refine,
                                                    fast_outliers=cycle < first_cycle + len(schedule) - 1)
            sweeps, crystals = _take_models(refined, n_sweeps, len(crystals), sweeps)
            # geometry may have moved: map the spots again before the next assignment
            tmp = refl.copy()
            tmp["id"] = tmp["sweep"]
            spots_in_reciprocal_space(sweeps, tmp)
            for name in ("xyzobs.mm.value", "xyzobs.mm.variance", "s1", "rlp", "d"):
                refl[name] = tmp[name]
        refl = _assign(refl, crystals, n_sweeps, params, d_limit)
        if stills:
            refl = _unindex_far_spots(sweeps, crystals, refl, params.stills.max_offset)
        counts = np.bincount(refl["id"][refl["id"] >= 0] // n_sweeps, minlength=len(crystals))
        in_range = int(np.sum(refl["d"] >= d_limit))
        record = {"cycle": cycle, "d_min": d_limit, "n_spots": in_range, "n_indexed": counts.tolist(),
                  "fraction_indexed": float(counts.sum() / max(1, in_range)), "rmsds": rmsds,
                  "cells": [c.unit_cell.parameters for c in crystals], "cell_esds": esds}
        cycles.append(record)
        if not quiet:
            _log_cycles([record], angle="DeltaPsi" if stills else "phi")
    return sweeps, crystals, refl, cycles


def _log_cycles(records, angle="phi") -> None:
    for record in records:
        rmsd_text = ""
        if record["rmsds"]:
            r = np.array(list(record["rmsds"].values()))
            rmsd_text = (f", RMSD x {np.mean(r[:, 0]):.3f} mm, y {np.mean(r[:, 1]):.3f} mm, "
                         f"{angle} {np.degrees(np.mean(r[:, 2])):.3f} deg")
        counts = record["n_indexed"]
        log.info("Macro-cycle %d (d_min %.2f A): %d of %d spots indexed (%.1f%%)%s", record["cycle"],
                 record["d_min"], sum(counts), record["n_spots"], 100 * record["fraction_indexed"], rmsd_text)
        for i, cell in enumerate(record["cells"]):
            log.info("  lattice %d: cell %s, %d spots", i + 1, " ".join(f"{x:.4f}" for x in cell), counts[i])


def _unindex_far_spots(sweeps, crystals, refl, max_offset_px):
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
            e = Experiment(beam=sweep.beam, detector=sweep.detector, goniometer=sweep.goniometer, scan=sweep.scan,
                           crystal=crystal)
            xyz = predict(e, refl["miller_index"][rows], panel[rows]).xyz
            pixel = min(sweep.detector[0].pixel_size)
            offset = np.linalg.norm(xyz[:, :2] - refl["xyzobs.mm.value"][rows, :2], axis=1) / pixel
            far[rows] = ~(offset <= max_offset_px)
    refl["id"] = np.where(far, -1, refl["id"]).astype(np.int32)
    refl["miller_index"] = np.where(far[:, None], 0, refl["miller_index"]).astype(np.int32)
    refl["flags"] = np.where(far, refl["flags"] & ~np.int64(int(Flags.indexed)), refl["flags"]).astype(np.int64)
    return refl


def _take_models(refined, n_sweeps, n_crystals, sweeps):
    """Sweep geometry and crystals from refined experiments (lattice-major order)."""
    new_sweeps = ExperimentList()
    for s in range(n_sweeps):
        e = refined[s]
        new_sweeps.append(Experiment(beam=e.beam, detector=e.detector, goniometer=e.goniometer, scan=e.scan,
                                     imageset=sweeps[s].imageset, profile=sweeps[s].profile,
                                     scaling_model=sweeps[s].scaling_model, identifier=sweeps[s].identifier))
    crystals = [refined[k * n_sweeps].crystal for k in range(n_crystals)]
    return new_sweeps, crystals


def _cell_text(crystal, esds=None) -> str:
    c = crystal.unit_cell.parameters
    if esds is None:
        return f"{crystal.space_group_symbol}, cell " + " ".join(f"{x:.4f}" for x in c)
    return f"{crystal.space_group_symbol}, cell " + " ".join(f"{x:.4f}({e:.4f})" for x, e in zip(c, esds))


def _log_models(experiments, refl, refined_esds) -> None:
    """Print each crystal model: cell with ESDs (from refinement, else from the reciprocal fit), U, B, A."""
    fmt = lambda M: "\n".join("    " + " ".join(f"{v:12.8f}" for v in row) for row in M)  # noqa: E731
    for i, crystal in enumerate(experiments.crystals):
        esd = refined_esds.get(i)
        if esd is None:
            esd = cell_esds(crystal, experiments, refl)
        log.info("Crystal model %d: %s", i + 1, _cell_text(crystal, esd))
        log.info("  U matrix:\n%s\n  B matrix:\n%s\n  A = UB:\n%s", fmt(crystal.U), fmt(crystal.B), fmt(crystal.A))
