"""Reindexing: apply a change of basis to reflections and crystals, take it from a Bravais
summary, or choose it against a reference data set (indexing ambiguity)."""

from __future__ import annotations

import copy
import json
import logging
import os
from fractions import Fraction

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.models.crystal import Crystal
from friedel.lattice import ChangeOfBasis
from friedel.plugins.bravais.correlation import encode, normalised_intensities

log = logging.getLogger("friedel")


def reindex_reflections(reflections, cb_op: ChangeOfBasis):
    """A copy with ``miller_index`` transformed (h' = h P); unindexed rows stay (0,0,0)."""
    if "miller_index" not in reflections:
        raise FriedelError("the reflections have no Miller indices: index them first (friedel index)")
    hkl = np.asarray(reflections["miller_index"])
    indexed = np.any(hkl != 0, axis=1)
    if not indexed.any():
        raise FriedelError("no reflection is indexed (all Miller indices are 0,0,0): index them first")
    out = reflections.copy()
    new = np.zeros_like(hkl, dtype=np.int32)
    new[indexed] = cb_op.apply_to_miller_indices(hkl[indexed])
    out["miller_index"] = new
    return out


def _coordinate_op(cb_op: ChangeOfBasis) -> gemmi.Op:
    """gemmi's change-of-basis Op: the transformation of fractional coordinates, x' = P^-1 x."""
    M = np.linalg.inv(cb_op.P)
    rows = []
    for i in range(3):
        terms = ""
        for j, symbol in enumerate("xyz"):
            f = Fraction(float(M[i, j])).limit_denominator(12)
            if f != 0:
                terms += ("+" if f > 0 else "-") + (f"{abs(f)}*" if abs(f) != 1 else "") + symbol
        rows.append(terms.lstrip("+"))
    return gemmi.Op(",".join(rows))


def transform_space_group(hall: str, cb_op: ChangeOfBasis) -> str | None:
    """Hall symbol of the space group ``hall`` in the new basis, if gemmi tabulates that setting."""
    ops = gemmi.symops_from_hall(hall)
    if len(ops.sym_ops) == 1 and len(ops.cen_ops) == 1:
        return "P 1"
    ops.change_basis_forward(_coordinate_op(cb_op))
    sg = gemmi.find_spacegroup_by_ops(ops)
    return None if sg is None else sg.hall


def reindex_experiments(experiments, cb_op: ChangeOfBasis, space_group: str | None = None):
    """A copy with every crystal transformed (A' = A P^-T) and its space group set."""
    out = copy.deepcopy(experiments)
    for expt in out:
        crystal = expt.crystal
        if crystal is None:
            continue
        A = cb_op.apply_to_A(crystal.A)
        if space_group is not None:
            sg = space_group
        else:
            sg = transform_space_group(crystal.space_group_hall, cb_op)
            if sg is None:
                raise FriedelError(
                    f"the space group {crystal.space_group_symbol} has no tabulated setting after {cb_op}; "
                    "give space_group= for the reindexed crystal"
                )
        new = Crystal(A, sg)
        if crystal.A_at_scan_points is not None:
            new.A_at_scan_points = np.array([cb_op.apply_to_A(a) for a in crystal.A_at_scan_points])
        _check_metric(new)
        expt.crystal = new
    return out


def _check_metric(crystal: Crystal) -> None:
    """Refuse a space group whose rotations change the cell's edge lengths by more than 5%."""
    G = np.linalg.inv(crystal.A.T @ crystal.A)  # direct metric
    for op in crystal.space_group_ops.sym_ops:
        R = np.array(op.rot, float) / op.DEN
        G2 = R.T @ G @ R
        # compare basis-vector lengths and angles
        lengths = np.sqrt(np.diag(G))
        dl = np.abs(np.sqrt(np.diag(G2)) - lengths) / lengths
        if dl.max() > 0.05:
            raise FriedelError(
                f"the cell {tuple(round(x, 2) for x in crystal.unit_cell.parameters)} is not compatible with "
                f"{crystal.space_group_symbol}; check change_of_basis_op and space_group"
            )


def cb_op_from_summary(path: str, solution: int | None) -> ChangeOfBasis:
    if not os.path.exists(path):
        raise FriedelError(f"change_of_basis_op=auto needs {path}: run friedel refine_bravais_settings first")
    with open(path) as fh:
        try:
            summary = json.load(fh)
        except json.JSONDecodeError as exc:
            raise FriedelError(f"{path} is not a Bravais summary (bad JSON: {exc})") from exc
    if solution is None:
        starred = [int(k) for k, v in summary.items() if v.get("recommended")]
        if not starred:
            raise FriedelError(f"no recommended solution in {path}: choose one with solution=N")
        solution = max(starred)
        log.info("Using solution %d (%s), the highest-symmetry recommended one", solution,
                 summary[str(solution)]["bravais"])
    if str(solution) not in summary:
        raise FriedelError(f"solution {solution} is not in {path} (solutions 1..{len(summary)})")
    return ChangeOfBasis.from_string(summary[str(solution)]["cb_op"])


def _asu_keys(hkl: np.ndarray, ops: gemmi.GroupOps) -> np.ndarray:
    """One key per set of symmetry equivalents (Friedel mates merged)."""
    h = np.asarray(hkl, dtype=np.int64)
    keys = []
    for op in ops.sym_ops:
        R = np.array(op.rot, dtype=np.int64) // op.DEN
        e = h @ R
        keys.append(np.maximum(encode(e), encode(-e)))
    return np.max(keys, axis=0)


def _merged_by_asu(hkl, intensity, d, ops):
    ok = np.isfinite(intensity) & np.isfinite(d) & (d > 0) & np.any(hkl != 0, axis=1)
    keys = _asu_keys(hkl[ok], ops)
    values = normalised_intensities(np.asarray(intensity, float)[ok], d[ok])
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse, weights=values) / np.bincount(inverse)


def cb_op_from_reference(experiments, reflections, reference: str, max_delta: float = 3.0,
                         column: str = "intensity.sum.value") -> ChangeOfBasis:
    """The twin-law (indexing-ambiguity) operator that makes ``reflections`` agree best with
    the reference intensities (both in the crystal's space group)."""
    from friedel.io import read_reflections

    if experiments is None or not len(experiments) or experiments[0].crystal is None:
        raise FriedelError("reference= needs the data's .expt too (for the cell and space group)")
    if not os.path.exists(reference):
        raise FriedelError(f"reference file {reference} does not exist")
    ref = read_reflections(reference)
    for table, name in ((reflections, "input"), (ref, "reference")):
        if column not in table or "miller_index" not in table:
            raise FriedelError(f"the {name} reflections have no {column}: give integrated reflections")
    crystal = experiments[0].crystal
    ops = crystal.space_group_ops
    sg = crystal.space_group
    if sg is None:
        raise FriedelError("reference= needs a tabulated space group setting for the crystal")

    def d_of(table):
        hkl = np.asarray(table["miller_index"])
        with np.errstate(divide="ignore"):
            return 1.0 / np.linalg.norm(hkl @ crystal.A.T, axis=1)

    ref_keys, ref_values = _merged_by_asu(np.asarray(ref["miller_index"]), np.asarray(ref[column], float),
                                          d_of(ref), ops)
    hkl = np.asarray(reflections["miller_index"])
    intensity = np.asarray(reflections[column], float)
    d = d_of(reflections)
    laws = [gemmi.Op("x,y,z")] + list(gemmi.find_twin_laws(crystal.unit_cell, sg, max_delta, False))
    best = None
    for law in laws:
        R = np.array(law.rot, dtype=np.int64) // law.DEN
        keys, values = _merged_by_asu(hkl @ R, intensity, d, ops)
        common, i, j = np.intersect1d(keys, ref_keys, return_indices=True)
        cc = float(np.corrcoef(values[i], ref_values[j])[0, 1]) if len(common) >= 10 else float("nan")
        cb = ChangeOfBasis(R.astype(float))
        log.info("Operator %-12s CC with reference %.3f over %d reflections", cb.as_abc(), cc, len(common))
        if np.isfinite(cc) and (best is None or cc > best[0]):
            best = (cc, cb)
    if best is None:
        raise FriedelError("too few reflections in common with the reference to compare intensities")
    return best[1]
