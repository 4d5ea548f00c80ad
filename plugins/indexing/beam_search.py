"""Beam-centre search on the periodicity of reciprocal-lattice points (after Sauter et al. 2004).

With the right beam centre the spots map onto a lattice, so their projections onto the
lattice directions are strongly periodic. For each trial shift of the beam centre the
spots are mapped to reciprocal space again and scored by the summed strongest 1D Fourier
amplitudes over hemisphere directions; a coarse grid is followed by finer grids around the
best point. A beam-centre shift is applied as the opposite shift of every panel origin in
its own plane.
"""

from __future__ import annotations

import copy
import logging

import numpy as np

from friedel.errors import FriedelError
from friedel.plugins.indexing.fft1d import periodicity_spectrum
from friedel.plugins.indexing.reciprocal import estimate_max_cell, spots_in_reciprocal_space
from friedel.plugins.indexing.vectors import hemisphere_directions

log = logging.getLogger("friedel")


def shift_beam_centre(experiments, shift_mm) -> None:
    """Move the beam centre by (dx, dy) mm along the first panel's fast and slow axes (in place)."""
    dx, dy = shift_mm
    for detector in experiments.detectors:
        p0 = detector[0]
        move = -(dx * p0.fast_axis + dy * p0.slow_axis)
        for panel in detector:
            panel.origin = panel.origin + move


def _score(experiments, reflections, shift, directions, max_cell, n_best):
    trial = copy.deepcopy(experiments)
    shift_beam_centre(trial, shift)
    t = reflections.copy()
    spots_in_reciprocal_space(trial, t)
    rlp = t["rlp"]
    q_max = float(np.linalg.norm(rlp, axis=1).max()) * 1.0001
    amp, _ = periodicity_spectrum(rlp, directions, q_max, max_cell)
    return float(np.sort(amp)[::-1][:n_best].sum())


def search_beam_position(experiments, reflections, params):
    """Best beam-centre shift (dx, dy mm) and the experiments moved by it (a copy)."""
    t = reflections.copy()
    if "id" not in t:
        t["id"] = np.zeros(len(t), np.int32)
    t = t.select(t["id"] >= 0)
    spots_in_reciprocal_space(experiments, t)
    if params.d_min is not None:
        t = t.select(t["d"] >= params.d_min)
    if len(t) < 20:
        raise FriedelError(f"only {len(t)} spots for the beam-centre search (20 needed): find more spots")
    t = t.select(np.argsort(-t["d"])[: params.max_spots])
    max_cell = params.max_cell or estimate_max_cell(t["rlp"])
    log.info("Beam-centre search with %d spots, maximum cell %.1f A", len(t), max_cell)
    # directions finer than the phase error a max_cell vector tolerates at this resolution
    q_max = float(np.linalg.norm(t["rlp"], axis=1).max())
    spacing = float(np.clip(0.25 / (max_cell * q_max), 0.02, 0.05))
    directions = hemisphere_directions(spacing)
    best = np.zeros(2)
    half = params.max_shift
    step = params.coarse_step
    base_score = _score(experiments, t, best, directions, max_cell, params.n_directions)
    best_score = base_score
    while True:
        offsets = np.arange(-half, half + 1e-9, step)
        grid = np.array([(best[0] + x, best[1] + y) for x in offsets for y in offsets])  # a small grid
        scores = np.array([_score(experiments, t, g, directions, max_cell, params.n_directions) for g in grid])
        i = int(np.argmax(scores))
        if scores[i] > best_score:
            best, best_score = grid[i], scores[i]
        log.info("  grid step %.3f mm: best shift (%.3f, %.3f) mm, score %.1f", step, best[0], best[1], best_score)
        if step <= params.fine_step * 1.0001:
            break
        half, step = 2 * step, max(params.fine_step, step / 4)
    moved = copy.deepcopy(experiments)
    shift_beam_centre(moved, best)
    log.info("Beam centre moved by (%.3f, %.3f) mm (%.2f mm); score %.1f -> %.1f", best[0], best[1],
             float(np.hypot(*best)), base_score, best_score)
    if best_score < 1.05 * base_score:
        log.warning("The score improved by only %.1f%%: the spots barely constrain the beam centre (narrow "
                    "wedge?); check the shift before using optimised.expt", 100 * (best_score / base_score - 1))
    return best, moved
