"""The lattice group of a cell and its subgroups (candidate Laue groups).

The lattice group comes from the Le Page search of ``refine_bravais_settings``
(:func:`friedel.plugins.bravais.lattice_search.find_lattices`): the highest-symmetry Bravais
lattice within ``max_delta``. Its rotations are expressed in that lattice's standard setting,
where all the scoring happens. Every subgroup of the rotation group is a candidate Laue group
(with the inversion added); each has its own best setting (the standard setting of the smallest
holohedry of the same crystal family that contains it) and a Patterson-group symbol.

Conventions: a rotation ``R`` is an integer 3x3 matrix on direct fractional coordinates; the
reflection related to row ``h`` is ``h @ R``; a change of basis ``P`` changes indices as
``h' = h @ P`` (:class:`~friedel.plugins.bravais.cb_op.ChangeOfBasis`).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import gemmi
import numpy as np

from friedel.contracts.symmetry import LatticeGroup
from friedel.errors import FriedelError
from friedel.plugins.bravais.cb_op import ChangeOfBasis
from friedel.plugins.bravais.lattice_search import (
    LatticeCandidate,
    cell_of_metric,
    closure,
    find_lattices,
    metric_of,
    rotation_axis,
    rotation_order,
)

_CENTRING_VECTORS = {
    "P": [], "A": [(0, 0.5, 0.5)], "B": [(0.5, 0, 0.5)], "C": [(0.5, 0.5, 0)], "I": [(0.5, 0.5, 0.5)],
    "F": [(0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)], "R": [(2 / 3, 1 / 3, 1 / 3), (1 / 3, 2 / 3, 2 / 3)],
}


def key(R) -> tuple:
    """Hashable key of an integer matrix."""
    return tuple(int(x) for x in np.asarray(R).ravel())


def as_int(R) -> np.ndarray:
    return np.rint(np.asarray(R, float)).astype(np.int64)


@dataclass
class LatticeSearch:
    """The lattice group and everything derived from the Le Page search of one cell."""

    group: LatticeGroup                # rotations in the standard setting of the lattice
    cb_op: ChangeOfBasis               # input setting -> standard setting of the lattice
    candidates: list                   # LatticeCandidate of the *standard* cell (own basis)


def find_lattice_group(unit_cell, max_delta: float = 2.0, space_group="P 1", lattice: str | None = None
                       ) -> LatticeSearch:
    """The highest-symmetry lattice compatible with ``unit_cell`` within ``max_delta`` degrees.

    Parameters
    ----------
    unit_cell : gemmi.UnitCell or 6 numbers
        The cell of the input setting (any, primitive or centred).
    max_delta : float
        Largest Le Page obliquity of a twofold axis (degrees).
    space_group : str or gemmi.SpaceGroup
        The input crystal's space group: only its centring matters (a centred input setting
        is first taken to a primitive cell, the lattice search needs one).
    lattice : str, optional
        Use this Bravais lattice (e.g. ``tP``) rather than the highest-symmetry one; a
        FriedelError if the cell does not admit it within ``max_delta``.
    """
    cell = unit_cell if isinstance(unit_cell, gemmi.UnitCell) else gemmi.UnitCell(*unit_cell)
    to_primitive = primitive_cb_op(space_group)
    primitive = cell_of_metric(to_primitive.apply_to_metric(metric_of(cell)))
    candidates = find_lattices(primitive, max_delta)
    if lattice is not None:
        candidates_of = [c for c in candidates if c.lattice == lattice]
        if not candidates_of:
            raise FriedelError(f"the cell {tuple(round(v, 2) for v in cell.parameters)} is not a {lattice} lattice "
                               f"within {max_delta} degrees")
        best = max(candidates_of, key=lambda c: (c.order, -c.max_delta))
        candidates = [c for c in candidates if {key(as_int(R)) for R in c.rotations}
                      <= {key(as_int(R)) for R in best.rotations}]
    else:
        best = max(candidates, key=lambda c: (c.order, -c.max_delta))
    # rotations of the best candidate are on the primitive input basis; move them to its standard setting
    total = simplest_cb_op(to_primitive.then(best.cb_op), [best.cb_op.apply_to_rotation(R) for R in best.rotations])
    to_standard = to_primitive.inverse().then(total)
    rotations = [as_int(to_standard.apply_to_rotation(R)) for R in best.rotations]
    rotations.sort(key=lambda R: (rotation_order(R) != 1, rotation_order(R), key(R)))
    deltas = {}
    for R_inp, delta in zip([R for R in best.rotations if rotation_order(R) == 2], best.twofold_deltas):
        deltas[key(as_int(to_standard.apply_to_rotation(R_inp)))] = float(delta)
    # every candidate re-expressed on the standard setting: it gives the settings of subgroups
    back = to_standard.inverse()
    std_candidates = []
    for c in candidates:
        std_candidates.append(LatticeCandidate(
            c.lattice, c.max_delta, back.then(c.cb_op), c.unit_cell,
            [as_int(to_standard.apply_to_rotation(R)) for R in c.rotations], c.twofold_deltas))
    cb_op = to_primitive.then(to_standard)
    group = LatticeGroup(best.lattice, rotations, tuple(best.unit_cell.parameters), float(best.max_delta), deltas)
    return LatticeSearch(group, cb_op, std_candidates)


def simplest_cb_op(cb_op: ChangeOfBasis, rotations) -> ChangeOfBasis:
    """Among the equivalent changes of basis ``P @ R`` (R a rotation of the new setting's
    lattice group), the one closest to the identity (so an already standard input stays a,b,c)."""
    best, best_score = cb_op, None
    for R in rotations:
        P = cb_op.P @ np.asarray(R, float)
        score = (float(np.abs(P - np.eye(3)).sum()), -float(np.trace(P)))
        if best_score is None or score < best_score:
            best, best_score = ChangeOfBasis(P), score
    return best


def primitive_cb_op(space_group) -> ChangeOfBasis:
    """Change of basis from a (possibly centred) setting of ``space_group`` to a primitive cell."""
    if space_group is None:
        return ChangeOfBasis.identity()
    sg = space_group if isinstance(space_group, gemmi.SpaceGroup) else gemmi.SpaceGroup(str(space_group))
    if sg.centring_type() == "P":
        return ChangeOfBasis.identity()
    op = sg.centred_to_primitive()  # rows: the primitive vectors in the centred basis
    return ChangeOfBasis(np.array(op.rot, float).T / op.DEN)


# -- subgroups ------------------------------------------------------------------------------------
def subgroups(rotations) -> list[list[np.ndarray]]:
    """Every subgroup of the rotation group (as lists of matrices), smallest first."""
    found: dict[frozenset, list] = {}
    mats = [as_int(R) for R in rotations]
    for a, b in itertools.combinations_with_replacement(range(len(mats)), 2):
        group = closure([mats[a], mats[b]])
        found.setdefault(frozenset(group), list(group.values()))
    out = list(found.values())
    out.sort(key=lambda g: (len(g), sorted(key(R) for R in g)))
    return out


def symmetry_elements(rotations) -> list[list[np.ndarray]]:
    """The non-identity rotations paired with their inverses: ``[[R, R^-1], ...]`` (Evans's elements)."""
    seen, elements = set(), []
    for R in rotations:
        R = as_int(R)
        if rotation_order(R) == 1 or key(R) in seen:
            continue
        inv = as_int(np.linalg.inv(R))
        seen.update({key(R), key(inv)})
        elements.append([R] if key(inv) == key(R) else [R, inv])
    return elements


def element_label(R) -> str:
    """``4 [0,0,1]``-style text: rotation order (and power) and direct-space axis."""
    order = rotation_order(R)
    axis = rotation_axis(R)
    return f"{order}-fold [{','.join(str(int(v)) for v in axis)}]"


def hkl_text(R) -> str:
    """The operation on indices, ``h @ R``, as text like ``-k,h,l``."""
    R = as_int(R)
    parts = []
    for j in range(3):  # new index j = sum_i h_i R_ij
        term = ""
        for i, s in enumerate("hkl"):
            c = R[i, j]
            if c:
                term += ("+" if c > 0 else "-") + (f"{abs(c)}" if abs(c) != 1 else "") + s
        parts.append(term.lstrip("+") or "0")
    return ",".join(parts)


# -- the best setting of a subgroup ----------------------------------------------------------------
_FAMILY_ORDERS = {"c": 12, "h": 3, "t": 4, "o": 4, "m": 2, "a": 1}


def _family(rotations) -> str:
    orders = {rotation_order(R) for R in rotations}
    n = len(rotations)
    if n >= 12 and 3 in orders and 6 not in orders:
        return "c"
    if 3 in orders or 6 in orders:
        return "h"
    if 4 in orders:
        return "t"
    if n == 4:
        return "o"
    if n == 2:
        return "m"
    return "a"


@dataclass
class SubgroupSetting:
    """A candidate Laue group: its rotations (lattice basis), best setting and symbols."""

    rotations: list                    # proper rotations, standard basis of the lattice
    cb_op: ChangeOfBasis               # lattice standard setting -> best setting of this group
    lattice: str                       # Bravais symbol of the holohedry used for the setting
    patterson_group: str               # e.g. "P 4/m m m"
    rotation_group: str                # the symmorphic Sohncke group, e.g. "P 4 2 2"
    unit_cell: tuple                   # in the best setting
    max_delta: float

    @property
    def keys(self) -> frozenset:
        return frozenset(key(R) for R in self.rotations)

    def rotations_in_best_setting(self) -> list[np.ndarray]:
        return [as_int(self.cb_op.apply_to_rotation(R)) for R in self.rotations]


def centring_of(lattice: str) -> str:
    return "R" if lattice == "hR" else lattice[1]


def group_ops(rotations, centring: str) -> gemmi.GroupOps:
    """gemmi GroupOps of the symmorphic group with these rotations and centring."""
    ops = [gemmi.Op("x,y,z")]
    for R in rotations:
        if rotation_order(R) == 1:
            continue
        rows = []
        for i in range(3):
            term = ""
            for j, s in enumerate("xyz"):
                c = int(R[i, j])
                if c:
                    term += ("+" if c > 0 else "-") + (f"{abs(c)}*" if abs(c) != 1 else "") + s
            rows.append(term.lstrip("+"))
        ops.append(gemmi.Op(",".join(rows)))
    g = gemmi.GroupOps(ops)
    g.cen_ops = [[0, 0, 0]] + [[round(v * gemmi.Op.DEN) for v in t] for t in _CENTRING_VECTORS[centring]]
    return g


def subgroup_setting(rotations, search: LatticeSearch) -> SubgroupSetting:
    """The best setting and symbols of the subgroup ``rotations`` of ``search.group``."""
    family = _family(rotations)
    keys = {key(R) for R in rotations}
    containing = []
    for c in search.candidates:
        if c.lattice[0] != family:
            continue
        cand_keys = {key(as_int(R)) for R in c.rotations}
        if keys <= cand_keys:
            containing.append(c)
    if not containing:  # cannot happen for a subgroup of a lattice group; keep the lattice setting
        raise FriedelError(f"no {family} lattice setting contains the subgroup of order {len(rotations)}")
    holohedry = min(containing, key=lambda c: (c.order, c.max_delta))
    # equivalent settings: P @ R for lattice rotations R that map the subgroup onto itself
    own = [M for M in (holohedry.cb_op.apply_to_rotation(R) for R in search.group.rotations)
           if np.allclose(M, np.rint(M), atol=1e-6)]
    own = [as_int(M) for M in own]
    sub = {key(as_int(holohedry.cb_op.apply_to_rotation(R))) for R in rotations}
    normaliser = [R for R in own
                  if {key(as_int(R @ np.array(k).reshape(3, 3) @ np.linalg.inv(R))) for k in sub} == sub]
    cb_op = simplest_cb_op(holohedry.cb_op, normaliser)
    new_rots = [as_int(cb_op.apply_to_rotation(R)) for R in rotations]
    ops = group_ops(new_rots, centring_of(holohedry.lattice))
    sg = gemmi.find_spacegroup_by_ops(ops)
    ops.add_inversion()
    pg = gemmi.find_spacegroup_by_ops(ops)
    if sg is None or pg is None:
        raise FriedelError(f"the subgroup in the {holohedry.lattice} setting {cb_op} is not a tabulated group")
    deltas = [search.group.twofold_deltas.get(key(R), 0.0) for R in rotations if rotation_order(R) == 2]
    return SubgroupSetting(list(rotations), cb_op, holohedry.lattice, _symbol(pg), _symbol(sg),
                           tuple(holohedry.unit_cell.parameters), max(deltas, default=0.0))


def _symbol(sg: gemmi.SpaceGroup) -> str:
    return sg.xhm()


@functools.lru_cache(maxsize=None)
def _sohncke_table():
    return [gemmi.find_spacegroup_by_number(n) for n in range(1, 231)
            if gemmi.find_spacegroup_by_number(n).is_sohncke()]


def sohncke_groups(setting: SubgroupSetting) -> list[gemmi.SpaceGroup]:
    """Chiral space groups with the rotations and centring of the subgroup, in its best setting."""
    ref = gemmi.SpaceGroup(setting.rotation_group)
    ref_ops = ref.operations()
    out = []
    for sg in _sohncke_table():
        ops = sg.operations()
        if ops.has_same_rotations(ref_ops) and ops.has_same_centring(ref_ops):
            out.append(sg)
    return out
