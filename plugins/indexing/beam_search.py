"""Beam-centre search by fitting a lattice through the origin of reciprocal space.

A beam-centre error moves every spot on the detector by the same amount. Mapped to
reciprocal space the spots then still lie on a lattice, to first order shifted rigidly by
``shift / (wavelength * distance)`` and sheared (the shear is absorbed by the basis). A
lattice search (3D FFT, or 1D FFTs of projections: periodicity) is therefore nearly blind
to the error, but the *origin* is not: a lattice fitted through ``rlp = 0`` leaves every
spot with the same fractional-index offset. So:

1. real-space lattice vectors are found at the starting geometry by the 3D FFT (its power
   spectrum ignores a rigid shift) and refined with a free offset of their planes;
2. a grid of trial shifts over ``+-max_shift`` (step a fifth of the plane spacing of the
   longest vector, seen on the detector) is scored by the mean ``cos(2 pi rlp . x)``, which is
   1 when every spot projects onto an integer: the lattice passes through the origin;
3. a lattice (``indexer.find_lattice``) is found at the best trial, where the shift is small;
4. the best local maxima of the grid are refined by least squares of shift and reciprocal
   basis together (``rlp(shift) = A h``, indices re-assigned between rounds, more spots to
   higher resolution each round) and the lowest fractional-index residual wins. The other
   maxima are shifts by a reciprocal-lattice vector lying in the detector plane: they fit only
   to first order, and lose on the curvature of the Ewald sphere (seen at high resolution)
   and the rotation of the crystal during the sweep.

A beam-centre shift is applied as the opposite shift of every panel origin in its own plane.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
from scipy.optimize import least_squares

from friedel.errors import FriedelError
from friedel.models.geometry import rotate_vectors
from friedel.plugins.indexing.reciprocal import estimate_max_cell, first_cycle_d_min, spots_in_reciprocal_space
from friedel.lattice import cell_of_basis
from friedel.plugins.indexing import lattice as lat

log = logging.getLogger("friedel")


def shift_beam_centre(experiments, shift_mm) -> None:
    """Move the beam centre by (dx, dy) mm along the first panel's fast and slow axes (in place)."""
    dx, dy = shift_mm
    for detector in experiments.detectors:
        p0 = detector[0]
        move = -(dx * p0.fast_axis + dy * p0.slow_axis)
        for panel in detector:
            panel.origin = panel.origin + move


class _ShiftedMapping:
    """rlps of the spots as a function of the beam-centre shift, without copying the models.

    Moving a panel origin by ``-m`` moves each spot's lab position by ``-m``; the rest of
    the mapping (normalise to ``|s0|``, subtract ``s0``, undo the goniometer) is one fixed
    linear map per spot, computed once by sending the unit vectors through the same chain
    as :func:`friedel.observations.map_to_reciprocal_space`.
    """

    def __init__(self, experiments, t):
        n = len(t)
        mm = t["xyzobs.mm.value"]
        panels = t["panel"] if "panel" in t else np.zeros(n, np.int64)
        self.lab = np.zeros((n, 3))
        self.fast = np.zeros((n, 3))
        self.slow = np.zeros((n, 3))
        self.s0 = np.zeros((n, 3))
        self.rot = np.tile(np.eye(3), (n, 1, 1))  # rlp = rot @ (s1 - s0)
        self.distance = np.inf
        for i, expt in enumerate(experiments):
            in_expt = t["id"] == i
            if not in_expt.any():
                continue
            p0 = expt.detector[0]
            self.fast[in_expt], self.slow[in_expt] = p0.fast_axis, p0.slow_axis
            self.s0[in_expt] = expt.beam.s0
            self.distance = min(self.distance, abs(float(np.dot(p0.origin, p0.normal))))
            for k, panel in enumerate(expt.detector):
                sel = in_expt & (panels == k)
                if sel.any():
                    self.lab[sel] = panel.mm_to_lab(mm[sel, :2])
            gonio = expt.goniometer
            if not expt.is_still:
                phi = mm[in_expt, 2]
                cols = []
                for e in np.eye(3):
                    r = np.tile(e, (len(phi), 1)) @ gonio.setting_rotation
                    r = rotate_vectors(r, gonio.rotation_axis_datum, -phi)
                    cols.append(r @ gonio.fixed_rotation)
                self.rot[in_expt] = np.stack(cols, axis=2)
        self.k = np.linalg.norm(self.s0, axis=1)
        self.n = n

    def rlp(self, shift) -> np.ndarray:
        x = self.lab - shift[0] * self.fast - shift[1] * self.slow
        s1 = x * (self.k / np.linalg.norm(x, axis=1))[:, None]
        return np.einsum("nij,nj->ni", self.rot, s1 - self.s0)


def _fit_basis(rlp, D, tol, n_stages=3):
    """Refit the direct basis ``D`` (rows) through the origin to the spots it indexes, low
    resolution first (``rlp`` sorted by resolution). None when too few spots index."""
    n = len(rlp)
    for stage in range(1, n_stages + 1):
        sub = rlp[: max(20, n * stage // n_stages)]
        hf = sub @ D.T
        h = np.round(hf)
        ok = np.all(np.abs(hf - h) < tol, axis=1) & np.any(h != 0, axis=1)
        if ok.sum() < 10:
            return None
        At, _, rank, _ = np.linalg.lstsq(h[ok], sub[ok], rcond=None)
        if rank < 3:
            return None
        D = np.linalg.inv(At.T)
    return D


def _cost(rlp, D, tol):
    """Truncated mean squared fractional-index residual (false spots cost at most tol^2)."""
    r = rlp @ D.T
    r -= np.round(r)
    return float(np.mean(np.minimum(r * r, tol * tol)))


def _score(mapping, shift, D0, tol):
    rlp = mapping.rlp(shift)
    D = _fit_basis(rlp, D0, tol)
    if D is None:
        return tol * tol, D0
    return _cost(rlp, D, tol), D


def _refine(mapping, shift, D, tol, rounds=3):
    """Least squares of (shift, reciprocal basis A) on ``rlp(shift) - A h``, over more of the
    (resolution-sorted) spots each round; indices fixed within a round and re-assigned between
    rounds. Returns (shift, D, cost, shift esd in mm)."""
    shift = np.asarray(shift, float)
    esd = np.full(2, np.nan)
    n = mapping.n
    for k in range(1, rounds + 1):
        use = np.zeros(n, bool)
        use[: max(20, n * k // rounds)] = True
        rlp = mapping.rlp(shift)
        hf = rlp @ D.T
        h = np.round(hf)
        ok = use & np.all(np.abs(hf - h) < tol, axis=1) & np.any(h != 0, axis=1)
        if ok.sum() < 10 or np.linalg.matrix_rank(h[ok]) < 3:
            break
        h_ok = h[ok]

        def residuals(p, h_ok=h_ok, ok=ok):
            A = p[2:].reshape(3, 3)
            return (mapping.rlp(p[:2])[ok] - h_ok @ A.T).ravel()

        A0 = np.linalg.inv(D)
        fit = least_squares(residuals, np.concatenate([shift, A0.ravel()]), x_scale="jac", method="lm")
        shift, D = fit.x[:2], np.linalg.inv(fit.x[2:].reshape(3, 3))
        dof = max(1, fit.fun.size - fit.x.size)
        try:
            cov = np.linalg.inv(fit.jac.T @ fit.jac) * float(fit.fun @ fit.fun) / dof
            esd = np.sqrt(np.diag(cov)[:2])
        except np.linalg.LinAlgError:
            esd = np.full(2, np.nan)
    return shift, D, _cost(mapping.rlp(shift), D, tol), esd


def _local_minima(grid, scores, n_axis, count):
    """Indices of up to ``count`` lowest local minima of a square grid of scores (8-neighbour)."""
    s = scores.reshape(n_axis, n_axis)
    padded = np.pad(s, 1, constant_values=np.inf)
    neighbours = np.stack([padded[1 + i : 1 + i + n_axis, 1 + j : 1 + j + n_axis]
                           for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)])
    is_min = np.all(s <= neighbours, axis=0).ravel()
    idx = np.flatnonzero(is_min)
    return idx[np.argsort(scores[idx])][:count]


def _cell_text(D):
    return " ".join(f"{x:.2f}" for x in cell_of_basis(D))


def _offset_free_vector(x, rlp, tol=0.2, n_shells=4):
    """Refine a real-space vector so that ``rlp . x - c`` is integral for one offset ``c``: a
    beam-centre error shifts the rlps nearly rigidly, which moves the planes of each lattice
    vector by a common offset. Low resolution first. Returns (x, fraction of spots on the planes)."""
    q = np.linalg.norm(rlp, axis=1)
    for q_lim in np.linspace(q.max() / n_shells, q.max(), n_shells):
        sub = rlp[q <= q_lim]
        p = sub @ x
        c = np.angle(np.mean(np.exp(2j * np.pi * p))) / (2 * np.pi)
        h = np.round(p - c)
        ok = np.abs(p - c - h) < tol
        if ok.sum() < 6:
            continue
        sol, *_ = np.linalg.lstsq(np.column_stack([sub[ok], -np.ones(ok.sum())]), h[ok], rcond=None)
        x = sol[:3]
    p = rlp @ x
    r = p - np.angle(np.mean(np.exp(2j * np.pi * p))) / (2 * np.pi)
    return x, float(np.mean(np.abs(r - np.round(r)) < tol))


def _lattice_vectors(rlp, max_cell, min_cell=3.0):
    """Real-space lattice vectors of the rlps from the 3D FFT (whose power spectrum ignores a
    rigid shift), refined with a free offset."""
    from friedel.plugins.indexing.fft1d import Fft1d
    from friedel.plugins.indexing.fft3d import Fft3d
    from friedel.plugins.indexing.vectors import unique_vectors

    d_min = float(1.0 / np.linalg.norm(rlp, axis=1).max())
    vectors, _ = Fft3d().find_vectors(rlp, max_cell, d_min)
    if len(vectors) < 3:  # projections (1D FFTs) are shift-blind too, and suit narrow wedges
        vectors, _ = Fft1d().find_vectors(rlp, max_cell, d_min)
    if len(vectors) == 0:
        return np.zeros((0, 3))
    refined = [_offset_free_vector(v, rlp) for v in vectors]  # tens of vectors
    x = np.array([r[0] for r in refined])
    frac = np.array([r[1] for r in refined])
    strong = frac >= 0.6 * frac.max()
    x, frac = unique_vectors(x[strong], frac[strong], min_length=min_cell, max_length=1.2 * max_cell)
    return x


def _phase_score(rlp, vectors):
    """Mean of cos(2 pi rlp . x) over spots and lattice vectors: 1 when every spot projects on
    an integer, i.e. when the lattice passes through the origin of reciprocal space."""
    return float(np.mean(np.cos(2 * np.pi * (rlp @ vectors.T))))


def _find_basis(rlp, max_cell, method):
    from friedel.plugins.indexing.candidates import find_lattice
    from friedel.plugins.indexing.params import IndexingParams

    d = 1.0 / np.linalg.norm(rlp, axis=1)
    methods = ["fft3d", "fft1d"] if method == "auto" else [method]
    last = None
    for m in methods:
        p = IndexingParams()
        p.method = m
        p.max_cell = max_cell
        try:
            return find_lattice(rlp, max_cell, d, p, d_start=first_cycle_d_min(d), spot_d=d)
        except FriedelError as exc:
            last = exc
            log.info("  no lattice with %s: %s", m, exc)
    raise FriedelError(f"the beam-centre search needs a lattice and found none ({last}); give max_cell= or "
                       "check the spots (friedel find_spots)")


def _grid(max_shift, step, max_points):
    n_half = int(np.ceil(max_shift / step))
    if (2 * n_half + 1) ** 2 > max_points:
        n_half = int((np.sqrt(max_points) - 1) // 2)
        log.warning("  grid limited to %d points: step %.3f mm may miss the minimum (lower max_shift=)",
                    (2 * n_half + 1) ** 2, max_shift / n_half)
        step = max_shift / n_half
    offsets = np.arange(-n_half, n_half + 1) * step
    return np.array([(x, y) for x in offsets for y in offsets]), len(offsets), step


def search_beam_position(experiments, reflections, params):
    """Best beam-centre shift (dx, dy mm) and the experiments moved by it (a copy)."""
    if "xyzobs.px.value" not in reflections:
        raise FriedelError("the reflection file has no spot centroids (xyzobs.px.value); give strong.refl from "
                           "friedel find_spots")
    stills = [e.is_still for e in experiments]
    if sum(stills) > 1:
        raise FriedelError(f"{sum(stills)} stills given: each has a crystal of its own orientation and the beam-centre "
                           "search fits one lattice; index with the header centre (friedel index refines the detector)")
    if any(stills):
        log.warning("A still: its spots lie off the lattice along the beam (partial reflections), so the shift is "
                    "less certain than for a rotation sweep")
    t = reflections.copy()
    if "id" not in t:
        t["id"] = np.zeros(len(t), np.int32)
    t = t.select(t["id"] >= 0)
    spots_in_reciprocal_space(experiments, t)
    if params.d_min is not None:
        t = t.select(t["d"] >= params.d_min)
    if len(t) < 20:
        raise FriedelError(f"only {len(t)} spots for the beam-centre search (20 needed): find more spots")
    t = t.select(np.argsort(-t["d"]))  # lowest resolution first
    # the search needs only low-resolution spots; telling aliases apart needs the Ewald-sphere
    # curvature that high-resolution spots show
    mapping_all = _ShiftedMapping(experiments, t.select(np.arange(min(len(t), params.refine_spots))))
    t = t.select(np.arange(min(len(t), params.max_spots)))
    max_cell = params.max_cell or estimate_max_cell(t["rlp"])
    mapping = _ShiftedMapping(experiments, t)
    wavelength = float(1.0 / mapping.k.max())
    log.info("Beam-centre search with %d spots (to %.2f A), maximum cell %.1f A", len(t), float(t["d"].min()),
             max_cell)
    tol = params.tolerance

    # 1. lattice vectors (shift-blind) and the trial shift that puts their planes through the origin
    vectors = _lattice_vectors(t["rlp"], max_cell)
    if len(vectors) < 3:
        raise FriedelError(f"the beam-centre search found only {len(vectors)} lattice vectors in {len(t)} spots; "
                           "give max_cell= or check the spots (friedel find_spots)")
    longest = float(np.linalg.norm(vectors, axis=1).max())
    # a step of `grid_fraction` of the plane spacing of the longest vector, seen on the detector
    step = params.grid_fraction * wavelength * mapping.distance / longest
    grid, n_axis, step = _grid(params.max_shift, step, params.max_grid_points)
    phase = np.array([_phase_score(mapping.rlp(g), vectors) for g in grid])
    log.info("  %d lattice vectors; %d trial shifts, step %.3f mm: phase score %.3f at the start, %.3f at best",
             len(vectors), len(grid), step, _phase_score(mapping.rlp(np.zeros(2)), vectors), phase.max())
    candidates = _local_minima(grid, -phase, n_axis, params.n_candidates)

    # 2. a lattice at the best trial shift, where it passes near the origin
    D0 = _find_basis(mapping.rlp(grid[candidates[0]]), max_cell, params.indexing_method)
    log.info("  lattice at (%.3f, %.3f) mm: cell %s", *grid[candidates[0]], _cell_text(D0))
    start_cost = _score(mapping_all, np.zeros(2), D0, tol)[0]

    # 3. each candidate refined by least squares of shift and basis; the best fit wins
    best = None
    for i in candidates:
        _, D = _score(mapping, grid[i], D0, tol)
        shift, D, cost, esd = _refine(mapping_all, grid[i], D, tol)
        within = 100 * lat.indexed_fraction(D, mapping_all.rlp(shift), 0.1)
        log.info("  candidate (%.3f, %.3f) mm refined to (%.3f, %.3f) mm, rms residual %.4f, %.1f%% within 0.1, "
                 "cell %s", *grid[i], *shift, np.sqrt(cost), within, _cell_text(D))
        if np.hypot(*shift) <= params.max_shift * 1.2 and (best is None or cost < best[2]):
            best = (shift, D, cost, esd)
    if best is None:
        raise FriedelError("the beam-centre search found no lattice fit within max_shift; increase max_shift= "
                           "or give max_cell=")
    shift, D, cost, esd = best
    moved = copy.deepcopy(experiments)
    shift_beam_centre(moved, shift)
    log.info("Beam centre moved by (%.3f, %.3f) mm (%.2f mm, esd %.3f, %.3f mm); rms fractional-index residual "
             "%.3f -> %.3f", shift[0], shift[1], float(np.hypot(*shift)), esd[0], esd[1], np.sqrt(start_cost),
             np.sqrt(cost))
    if np.sqrt(cost) > 0.1:
        log.warning("The lattice fits the spots poorly even at the best beam centre (rms fractional-index "
                    "residual %.3f): check the shift before using %s", np.sqrt(cost), params.output.experiments)
    return shift, moved
