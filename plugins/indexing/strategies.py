"""One function per way of finding a crystal's next lattice and taking it through the macro-cycles.

Each takes the :class:`~friedel.plugins.indexing.state.Search` and the current
:class:`~friedel.plugins.indexing.state.Trial` (the lattices found so far) and returns a new
trial whose newest lattice has been through every macro-cycle, or raises FriedelError:

* :func:`still_lattice` — a still: several candidates refined, the best kept;
* :func:`symmetrised_lattice` — known symmetry on a sweep: refined one cycle in P1, then put in
  the known setting (None when the refined lattice does not fit; :func:`next_lattice` then
  falls back to :func:`plain_lattice`);
* :func:`plain_lattice` — the best candidate (in the known setting, if any) through all cycles.
"""

from __future__ import annotations

import logging

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.lattice import space_group_setting
from friedel.plugins.indexing import lattice as lat
from friedel.plugins.indexing.candidates import crystal_from_basis, lattice_candidates
from friedel.plugins.indexing.macro_cycles import log_cycles, macro_cycles
from friedel.plugins.indexing.state import Search, Trial

log = logging.getLogger("friedel")


def next_lattice(search: Search, trial: Trial) -> Trial:
    """The trial with one more lattice, found among the spots ``trial`` leaves unindexed."""
    if search.stills:
        return still_lattice(search, trial)
    if search.known_symmetry:
        found = symmetrised_lattice(search, trial)
        if found is not None:
            return found
    return plain_lattice(search, trial)


def candidates(search: Search, trial: Trial, known_setting: bool = True) -> list:
    """Candidate bases among the spots the trial leaves unindexed (and not on ice rings), best first.

    A maximum cell far too long (close spot pairs of a split crystal, or spots seen twice, make
    the nearest-neighbour estimate so) lets the search return a supercell or a lattice that
    fits two lattices at once. So every estimate of a separate nearest-neighbour population is
    searched, and a smaller bound is tried as long as it would still hold the best lattice found
    (it can only find that lattice or a smaller one); among the lattices indexing nearly as many
    low-resolution spots as the best, the smallest cell wins.
    """
    free = trial.unindexed()
    if search.search_spots is not None:
        free = free & search.search_spots
    p = search.params
    rlp, d = trial.refl["rlp"][free], trial.refl["d"][free]
    low = rlp[d >= search.d_start] if np.sum(d >= search.d_start) >= 10 else rlp
    results, error = [], None
    for i, max_cell in enumerate(search.max_cells):
        if i >= search.n_populations and results:
            best = max(results, key=lambda r: r[0])
            if best[0] >= 0.5 and best[1] > max_cell / 1.2:
                break  # the best lattice would not fit in the smaller bound
        try:
            found = lattice_candidates(rlp, max_cell, p, search.space_group, search.primitive_cell,
                                       d_start=search.d_start, spot_d=d, known_setting=known_setting)
        except FriedelError as exc:
            error = error or exc
            log.debug("no lattice with max_cell %.1f A: %s", max_cell, exc)
            continue
        score = lat.indexed_fraction(found[0], low, p.index_assignment.tolerance)
        longest = float(np.linalg.norm(found[0], axis=1).max())
        results.append((score, longest, abs(float(np.linalg.det(found[0]))), max_cell, found))
    if not results:
        raise error
    if len(results) > 1:
        for score, longest, volume, max_cell, _ in results:
            log.info("Maximum cell %.1f A: best lattice indexes %.0f%% of the low-resolution spots, cell volume "
                     "%.0f A^3", max_cell, 100 * score, volume)
    top = max(r[0] for r in results)
    near = [r for r in results if r[0] >= top - max(0.03, 0.05 * top)]
    return min(near, key=lambda r: (round(np.log2(r[2]) * 4), -r[0]))[4]


def plain_lattice(search: Search, trial: Trial) -> Trial:
    """The best candidate (in the known setting when symmetry is known) through every macro-cycle."""
    crystal = crystal_from_basis(candidates(search, trial)[0], search.space_group)
    log_found(trial, crystal)
    return macro_cycles(search, trial.with_lattice(crystal), search.schedule)


def symmetrised_lattice(search: Search, trial: Trial) -> Trial | None:
    """Known symmetry on a sweep: the best lattice refined for one macro-cycle in P1, then put
    in the reference setting and constrained (re-refined at the same resolution), then the
    remaining cycles.

    A basis fitted to unrefined rlps can be sheared or stretched by the header geometry (a
    narrow wedge, a detector distance a few percent off) beyond the cell tolerance, or forced
    into the wrong orientation by the symmetry. Returns None when the refined lattice does
    not fit either (the caller then searches in the known setting).
    """
    try:
        basis = candidates(search, trial, known_setting=False)[0]
        first = macro_cycles(search, trial.with_lattice(crystal_from_basis(basis, None)), search.schedule[:1],
                             quiet=True)
        first = with_known_symmetry(search, first)
    except FriedelError as exc:
        log.debug("refining in P1 first did not give the known symmetry: %s", exc)
        return None
    log_found(trial, first.newest)
    log_cycles(first.cycles[len(trial.cycles):], search.angle_name)
    return macro_cycles(search, first, search.schedule[1:])


def with_known_symmetry(search: Search, trial: Trial) -> Trial:
    """The trial's newest lattice in the known setting (reference setting of the space group, cell
    checked against the known unit cell), constrained, and its last macro-cycle done again.
    Raises FriedelError when the refined lattice does not fit."""
    known = search.params.known_symmetry
    D = space_group_setting(trial.newest.real_space_vectors, search.space_group or gemmi.SpaceGroup("P 1"),
                                 known.unit_cell, known.relative_length_tolerance, known.absolute_angle_tolerance)
    return macro_cycles(search, trial.with_newest(crystal_from_basis(D, search.space_group)), [], quiet=True,
                        redo_last=True)


def still_lattice(search: Search, trial: Trial) -> Trial:
    """The candidate lattice of a still that survives refinement best.

    A still samples one thin shell of reciprocal space and its header geometry is often a
    few percent off, so the lattice that indexes most spots before refinement is not always
    the right one. The first few candidates are each taken through the macro-cycles; those
    refining to an RMSD within ``stills.max_rmsd`` pixels compete on spots indexed, and among
    those indexing nearly as many as the best the smallest cell wins (a supercell indexes
    the same spots and a few more by chance). A known cell is checked after refinement, since
    a still's header distance can stretch the unrefined cell by more than the tolerance.
    """
    limits = search.params.stills
    pixel = min(trial.sweeps[0].detector[0].pixel_size)
    trials = []
    for D in candidates(search, trial, known_setting=False)[: limits.n_candidates]:
        crystal = crystal_from_basis(D, None)  # Niggli setting: symmetry is applied after refinement
        try:
            # quiet: the candidates would repeat every macro-cycle line each
            result = macro_cycles(search, trial.with_lattice(crystal), search.schedule, quiet=True)
            if search.known_symmetry:
                result = with_known_symmetry(search, result)
        except FriedelError as exc:
            log.debug("candidate %s failed: %s", cell_text(crystal), exc)
            continue
        trials.append((result, result.last.n_indexed[-1], result.last.rmsd_px(pixel)))
    for result, n_new, rmsd_px in trials:
        log.info("  candidate %s: %d spots indexed, RMSD %.2f px", cell_text(result.newest), n_new, rmsd_px)
    good = [t for t in trials if t[2] <= limits.max_rmsd and t[1] >= search.params.min_spots]
    if not good:
        best = min((t[2] for t in trials), default=np.inf)
        if not trials and search.known_symmetry:
            raise FriedelError("no candidate lattice of this still fits the known symmetry after refinement; "
                               "check unit_cell=/space_group= or index without them")
        raise FriedelError(f"no candidate lattice of this still refines to an RMSD within {limits.max_rmsd:g} px "
                           f"(best {best:.1f} px) with at least {search.params.min_spots} spots: too few or wrong "
                           "spots, or the geometry is far off (check the detector distance and beam centre)")
    most = max(t[1] for t in good)
    near = [t for t in good if t[1] >= limits.near_fraction * most]
    chosen = min(near, key=lambda t: (round(np.log(t[0].newest.unit_cell.volume) / 0.1), -t[1], t[2]))[0]
    log_found(trial, chosen.newest)
    log_cycles(chosen.cycles[len(trial.cycles):], search.angle_name)
    return chosen


def log_found(trial: Trial, crystal) -> None:
    log.info("Lattice %d found: %s", len(trial.crystals) + 1, cell_text(crystal))


def cell_text(crystal, esds=None) -> str:
    c = crystal.unit_cell.parameters
    if esds is None:
        return f"{crystal.space_group_symbol}, cell " + " ".join(f"{x:.4f}" for x in c)
    return f"{crystal.space_group_symbol}, cell " + " ".join(f"{x:.4f}({e:.4f})" for x, e in zip(c, esds))
