"""Candidate lattices of a set of spots: basis-vector search, bases from vector triples, setting.

:func:`lattice_candidates` runs the chosen basis-vector search (an ``indexing_methods`` plugin),
refines and de-duplicates the vectors, forms bases and ranks them; :func:`crystal_from_basis`
turns a basis into a Crystal (with the known space group's constraints when given).
"""

from __future__ import annotations

import gemmi
import numpy as np

from friedel import lattice as kernel
from friedel.errors import FriedelError
from friedel.models import Crystal
from friedel.plugin_manager import build_plugin
from friedel.plugins.indexing import lattice as lat
from friedel.plugins.indexing.refine import apply_cell_constraints
from friedel.plugins.indexing.vectors import refine_vector, unique_vectors


def crystal_from_basis(D, space_group) -> Crystal:
    crystal = Crystal(np.linalg.inv(D))
    if space_group is not None:
        crystal.set_space_group(space_group)
        apply_cell_constraints(crystal)
    return crystal


def primitive_known_cell(unit_cell, space_group):
    """The Niggli cell of a known (conventional) cell: the edge lengths a basis search looks for."""
    if unit_cell is None:
        return None
    return kernel.niggli_cell_of(unit_cell, space_group.centring_type() if space_group else "P")


def find_lattice(rlp, max_cell, d, params, space_group=None, primitive_cell=None, d_start=None, spot_d=None):
    """A direct basis (rows) for the spots ``rlp``: Niggli-reduced, or in the reference
    setting of ``space_group`` when given. Raises FriedelError when no lattice is found."""
    return lattice_candidates(rlp, max_cell, params, space_group, primitive_cell, d_start, spot_d)[0]


def lattice_candidates(rlp, max_cell, params, space_group=None, primitive_cell=None, d_start=None, spot_d=None,
                       known_setting=True):
    """Candidate direct bases (rows) for the spots ``rlp``, best first (the smallest cell among those
    indexing nearly the most spots, then fraction indexed, then RMS fractional residual); Niggli-reduced, or in the reference setting of ``space_group``
    (``known_setting=False``: Niggli-reduced even when the symmetry is known; the caller checks
    the cell after refinement). Raises FriedelError when no lattice is found."""
    method = build_plugin("indexing_methods", params.method, params)  # contract: friedel.contracts.indexing
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
        D = kernel.niggli_basis(D)
        D = lat.fit_basis(D, low, tol)
        if known_setting and (space_group is not None or params.known_symmetry.unit_cell is not None):
            try:
                D = kernel.space_group_setting(
                    D, space_group or gemmi.SpaceGroup("P 1"), params.known_symmetry.unit_cell,
                    params.known_symmetry.relative_length_tolerance, params.known_symmetry.absolute_angle_tolerance)
            except FriedelError as exc:
                fit_error = fit_error or exc
                continue
        h = low @ D.T
        resid = np.abs(h - np.round(h))
        ok = np.all(resid < tol, axis=1)
        rms = float(np.sqrt(np.mean(resid[ok] ** 2))) if ok.any() else 1.0
        found.append((float(ok.mean()), rms, abs(float(np.linalg.det(D))), D))
    if not found:
        raise fit_error
    best = max(f[0] for f in found)
    if best < 0.2:
        raise FriedelError(f"no lattice found: the best basis indexes only {100 * best:.0f}% of "
                           f"{len(low)} spots; {hint}")
    # a supercell indexes the same spots and some noise besides: among the bases indexing nearly as
    # many as the best the smallest cell comes first (then fraction indexed, then RMS residual)
    near = [f for f in found if f[0] >= best - max(0.03, 0.05 * best)]
    smallest = min(f[2] for f in near)
    near.sort(key=lambda f: (round(np.log2(f[2] / smallest) * 4), -round(f[0], 2), f[1]))
    rest = sorted((f for f in found if not any(f is g for g in near)), key=lambda f: (-round(f[0], 2), f[1]))
    return [f[3] for f in near + rest]
