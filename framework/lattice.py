"""Lattices and unit cells, written once for every step: cells from bases and metrics, changes of
basis, Niggli reduction, and the basis of a lattice in the reference setting of a space group.

Conventions (those of DIALS/cctbx):

* a **direct basis** ``D`` is a 3 x 3 array whose *rows* are a, b, c (Angstrom, in whatever
  Cartesian frame the caller works in); the reciprocal matrix is ``A = inv(D)`` (columns a*, b*,
  c*, 1/Angstrom) and fractional Miller indices of reciprocal points ``x`` (rows) are ``x @ D.T``;
* a **metric** ``G = D @ D.T`` (direct) holds the dot products of the basis vectors;
* a **cell** is the tuple ``(a, b, c, alpha, beta, gamma)`` in Angstrom and degrees;
* a **change of basis** :class:`ChangeOfBasis` is the matrix ``P`` whose *columns* are the new
  basis vectors in old coordinates (``(a', b', c') = (a, b, c) P``, as in International Tables
  and gemmi), so that ``D' = P.T @ D``, ``A' = A @ inv(P).T``, ``h' = h @ P`` and
  ``G' = P.T @ G @ P``. Its text form is ``a+b,-a+b,c`` (the new vectors in terms of the old).
"""

from __future__ import annotations

import itertools
import re
from fractions import Fraction

import gemmi
import numpy as np

from friedel.errors import FriedelError

#: lattice points per cell for each centring symbol
CENTRING_MULTIPLICITY = {"P": 1, "A": 2, "B": 2, "C": 2, "I": 2, "R": 3, "F": 4, "H": 3}


# -- cells ----------------------------------------------------------------------------------------
def cell_of_metric(G) -> tuple:
    """(a, b, c, alpha, beta, gamma) of a direct metric tensor ``G`` (3 x 3)."""
    G = np.asarray(G, dtype=float)
    abc = np.sqrt(np.diag(G))
    ang = lambda i, j: float(np.degrees(np.arccos(np.clip(G[i, j] / (abc[i] * abc[j]), -1.0, 1.0))))  # noqa: E731
    return (float(abc[0]), float(abc[1]), float(abc[2]), ang(1, 2), ang(0, 2), ang(0, 1))


def metric_of_basis(D) -> np.ndarray:
    """Direct metric ``D @ D.T`` of a basis (rows a, b, c)."""
    D = np.asarray(D, dtype=float)
    return D @ D.T


def cell_of_basis(D) -> tuple:
    """(a, b, c, alpha, beta, gamma) of a direct basis (rows a, b, c)."""
    return cell_of_metric(metric_of_basis(D))


def cell_of_A(A) -> tuple:
    """Cell of the reciprocal matrix ``A`` (columns a*, b*, c*): the cell of ``inv(A)``'s rows."""
    return cell_of_basis(np.linalg.inv(np.asarray(A, dtype=float)))


def metric_of_cell(cell) -> np.ndarray:
    """Direct metric tensor of cell parameters (6 numbers or a gemmi.UnitCell)."""
    a, b, c, al, be, ga = _parameters(cell)
    ca, cb, cg = (np.cos(np.radians(x)) for x in (al, be, ga))
    return np.array([[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca], [a * c * cb, b * c * ca, c * c]])


def right_handed(D) -> np.ndarray:
    """The basis, or its negative if it is left-handed (same lattice, positive volume)."""
    D = np.asarray(D, dtype=float)
    return D if np.linalg.det(D) > 0 else -D


def _parameters(cell) -> tuple:
    if isinstance(cell, gemmi.UnitCell):
        return tuple(cell.parameters)
    values = tuple(float(x) for x in cell)
    if len(values) != 6:
        raise FriedelError(f"a unit cell needs six numbers a,b,c,alpha,beta,gamma, got {len(values)}")
    return values


# -- changes of basis -----------------------------------------------------------------------------
_ALLOWED = re.compile(r"^[abcxyz0-9+\-*/., ]+$")


class ChangeOfBasis:
    """A change of lattice basis ``P`` (columns: the new basis vectors in old coordinates)."""

    def __init__(self, P):
        P = np.asarray(P, dtype=float).reshape(3, 3)
        if abs(np.linalg.det(P)) < 1e-6:
            raise FriedelError("change of basis is singular (its three vectors are coplanar)")
        self.P = P

    @classmethod
    def identity(cls) -> "ChangeOfBasis":
        return cls(np.eye(3))

    @classmethod
    def from_string(cls, text: str) -> "ChangeOfBasis":
        """Parse ``a+b,-a+b,c`` (or the same in x,y,z); malformed text is a FriedelError."""
        original = text
        text = str(text).strip().lower()
        if not text or not _ALLOWED.match(text) or text.count(",") != 2:
            raise FriedelError(
                f"change_of_basis_op '{original}' is not valid: give three comma-separated vectors "
                "in terms of a, b, c, e.g. change_of_basis_op=b+c,a+c,a+b"
            )
        triplet = text.replace(" ", "").translate(str.maketrans("abc", "xyz"))
        try:
            op = gemmi.Op(triplet)
        except (ValueError, RuntimeError) as exc:
            raise FriedelError(
                f"change_of_basis_op '{original}' is not valid ({exc}); give e.g. change_of_basis_op=b+c,a+c,a+b"
            ) from exc
        if any(op.tran):
            raise FriedelError(
                f"change_of_basis_op '{original}' has an origin shift; only changes of lattice basis are allowed"
            )
        rows = np.array(op.rot, dtype=float) / op.DEN  # row i: new vector i in old coordinates
        det = np.linalg.det(rows)
        if abs(det) < 1e-6:
            raise FriedelError(f"change_of_basis_op '{original}' is singular: its three vectors are coplanar")
        if det < 0:
            # a left-handed basis inverts the crystal: it swaps the hand of the structure and the
            # Bijvoet pairs (I+ and I-), which no change of setting may do
            raise FriedelError(
                f"change_of_basis_op '{original}' is left-handed (determinant {det:g}): it would invert the "
                "crystal, swapping its hand and the Bijvoet pairs; negate one more or one fewer vector "
                f"(e.g. {_right_handed_hint(text)})")
        return cls(rows.T)

    @classmethod
    def between(cls, D_old, D_new) -> "ChangeOfBasis":
        """The change of basis taking basis ``D_old`` to ``D_new`` (both rows, same lattice or not)."""
        return cls(np.linalg.solve(np.asarray(D_old, float).T, np.asarray(D_new, float).T))

    # -- algebra
    def then(self, other: "ChangeOfBasis") -> "ChangeOfBasis":
        """This change of basis followed by ``other`` (expressed in the intermediate basis)."""
        return ChangeOfBasis(self.P @ other.P)

    def inverse(self) -> "ChangeOfBasis":
        return ChangeOfBasis(np.linalg.inv(self.P))

    @property
    def determinant(self) -> float:
        return float(np.linalg.det(self.P))

    def is_identity(self) -> bool:
        return np.allclose(self.P, np.eye(3))

    # -- applying
    def apply_to_basis(self, D) -> np.ndarray:
        """Direct basis (rows) in the new setting: ``P.T @ D``."""
        return self.P.T @ np.asarray(D, float)

    def apply_to_A(self, A) -> np.ndarray:
        return np.asarray(A, float) @ np.linalg.inv(self.P).T

    def apply_to_metric(self, G) -> np.ndarray:
        """Direct-space metric tensor in the new basis."""
        return self.P.T @ np.asarray(G, float) @ self.P

    def apply_to_cell(self, cell) -> tuple:
        return cell_of_metric(self.apply_to_metric(metric_of_cell(cell)))

    def apply_to_miller_indices(self, hkl, check_integral: bool = True) -> np.ndarray:
        """``h' = h P``; indices that do not become integers are an error (a sub-lattice basis)."""
        new = np.asarray(hkl, float) @ self.P
        rounded = np.rint(new)
        if check_integral and len(new) and np.abs(new - rounded).max() > 1e-6:
            n = int(np.any(np.abs(new - rounded) > 1e-6, axis=1).sum())
            raise FriedelError(
                f"change of basis {self} gives non-integral Miller indices for {n} reflections: "
                "it describes a larger (centred) cell in which they are not lattice points"
            )
        return rounded.astype(np.int32)

    def apply_to_rotation(self, R) -> np.ndarray:
        """A point operation on direct fractional coordinates, expressed in the new basis."""
        return np.linalg.inv(self.P) @ np.asarray(R, float) @ self.P

    # -- text
    def as_abc(self) -> str:
        """``a+b,-a+b,c``-style text of the new basis vectors in terms of the old."""
        return ",".join(_vector_text(self.P[:, i]) for i in range(3))

    def __str__(self) -> str:
        return self.as_abc()

    def __repr__(self) -> str:
        return f"ChangeOfBasis('{self.as_abc()}')"

    def __eq__(self, other) -> bool:
        return isinstance(other, ChangeOfBasis) and np.allclose(self.P, other.P)


def _right_handed_hint(text: str) -> str:
    """``-a,b,c`` -> ``-a,-b,c``: the same op with its second vector negated as well (right-handed)."""
    parts = text.replace(" ", "").split(",")
    second = parts[1][1:] if parts[1].startswith("-") else "-" + parts[1].lstrip("+")
    return ",".join([parts[0], second, parts[2]])


def _vector_text(coeffs) -> str:
    terms = []
    for coefficient, symbol in zip(coeffs, "abc"):
        f = Fraction(float(coefficient)).limit_denominator(12)
        if f == 0:
            continue
        sign = "-" if f < 0 else "+"
        mag = abs(f)
        if mag == 1:
            body = symbol
        elif mag.denominator == 1:
            body = f"{mag.numerator}*{symbol}"
        else:
            body = f"{mag.numerator}/{mag.denominator}*{symbol}"
        terms.append(sign + body)
    text = "".join(terms) or "0"
    return text[1:] if text.startswith("+") else text


# -- Niggli reduction -----------------------------------------------------------------------------
def niggli_reduction(cell) -> tuple[gemmi.UnitCell, ChangeOfBasis]:
    """The Niggli-reduced cell of a primitive ``cell`` and the change of basis from ``cell`` to it.

    gemmi's Gruber/Niggli algorithm; its ``change_of_basis`` is ITA's ``P`` (columns are the
    reduced vectors in the input basis), so ``niggli_reduction(c)[1].apply_to_cell(c)`` is the
    reduced cell. Raises FriedelError when the reduction does not converge (a degenerate cell).
    """
    uc = cell if isinstance(cell, gemmi.UnitCell) else gemmi.UnitCell(*_parameters(cell))
    gv = gemmi.GruberVector(uc, "P", True)
    steps = gv.niggli_reduce(epsilon=1e-9 * max(uc.a, uc.b, uc.c) ** 2, iteration_limit=1000)
    if steps >= 1000:
        raise FriedelError(f"Niggli reduction of the cell {uc.parameters} did not converge; is the cell sane?")
    return gv.get_cell(), ChangeOfBasis(np.array(gv.change_of_basis.rot, dtype=float) / gemmi.Op.DEN)


def niggli_basis(D) -> np.ndarray:
    """The Niggli-reduced basis (rows, right-handed) of the lattice spanned by the rows of ``D``;
    the vectors keep their orientation in the caller's frame."""
    D = right_handed(D)
    _, cb = niggli_reduction(cell_of_basis(D))
    return right_handed(cb.apply_to_basis(D))


def niggli_cell_of(cell, centring: str = "P") -> tuple:
    """The Niggli cell (primitive, reduced) of a conventional ``cell`` with ``centring`` (P, C, I, F, R...)."""
    uc = cell if isinstance(cell, gemmi.UnitCell) else gemmi.UnitCell(*_parameters(cell))
    gv = gemmi.GruberVector(uc, centring or "P")
    gv.niggli_reduce()
    return tuple(gv.get_cell().parameters)


# -- the setting of a known space group -----------------------------------------------------------
def constrain_cell(cell, space_group: gemmi.SpaceGroup) -> tuple:
    """Cell parameters averaged to obey the lattice constraints of ``space_group``'s crystal system."""
    a, b, c, al, be, ga = [float(x) for x in _parameters(cell)]
    system = space_group.crystal_system_str()
    if system == "triclinic":
        return (a, b, c, al, be, ga)
    if system == "monoclinic":
        return (a, b, c, 90.0, be, 90.0)
    if system == "orthorhombic":
        return (a, b, c, 90.0, 90.0, 90.0)
    if system == "tetragonal":
        m = (a + b) / 2
        return (m, m, c, 90.0, 90.0, 90.0)
    if system in ("trigonal", "hexagonal"):
        if space_group.ext == "R":  # rhombohedral axes
            m, ang = (a + b + c) / 3, (al + be + ga) / 3
            return (m, m, m, ang, ang, ang)
        m = (a + b) / 2
        return (m, m, c, 90.0, 90.0, 120.0)
    m = (a + b + c) / 3
    return (m, m, m, 90.0, 90.0, 90.0)


def constraint_misfit(cells, space_group: gemmi.SpaceGroup) -> np.ndarray:
    """How far each cell (n x 6) is from obeying its crystal system (relative lengths, degrees/100)."""
    a, b, c, al, be, ga = np.asarray(cells, dtype=float).T
    rel = lambda x, y: np.abs(x - y) / np.maximum(x, y)  # noqa: E731
    deg = lambda x, t: np.abs(x - t) / 100.0  # noqa: E731
    system = space_group.crystal_system_str()
    if system == "triclinic":
        return np.zeros(len(a))
    if system == "monoclinic":
        return np.maximum(deg(al, 90), deg(ga, 90)) + 1e-4 * (be < 90)
    if system == "orthorhombic":
        return np.max([deg(al, 90), deg(be, 90), deg(ga, 90)], axis=0)
    if system == "tetragonal":
        return np.max([rel(a, b), deg(al, 90), deg(be, 90), deg(ga, 90)], axis=0)
    if system in ("trigonal", "hexagonal") and space_group.ext != "R":
        return np.max([rel(a, b), deg(al, 90), deg(be, 90), deg(ga, 120)], axis=0)
    if system in ("trigonal", "hexagonal"):
        return np.max([rel(a, b), rel(b, c), deg(al, be), deg(be, ga)], axis=0)
    return np.max([rel(a, b), rel(b, c), deg(al, 90), deg(be, 90), deg(ga, 90)], axis=0)


def space_group_setting(D, space_group: gemmi.SpaceGroup, unit_cell=None, length_tolerance: float = 0.05,
                        angle_tolerance: float = 5.0) -> np.ndarray:
    """The basis (rows) of the lattice ``D`` in the reference setting of ``space_group``.

    Every basis of lattice vectors with small integer coefficients (-2..2) in the Niggli basis,
    with the centring of ``space_group``, is tried; the one closest to ``unit_cell`` (given in
    the reference setting) or, without it, to the constraints of the crystal system wins.
    Raises FriedelError when none fits.
    """
    D = niggli_basis(D)
    mult = CENTRING_MULTIPLICITY.get(space_group.centring_type(), 1)
    u = np.array([x for x in itertools.product(range(-2, 3), repeat=3) if any(x)], dtype=float)
    vec = u @ D
    length = np.linalg.norm(vec, axis=1)
    if unit_cell is not None:
        target = np.asarray(_parameters(unit_cell), dtype=float)
        rows = [np.flatnonzero(np.abs(length - t) < length_tolerance * t) for t in target[:3]]
    else:
        target = None
        # conventional vectors are at most about twice the longest Niggli vector
        limit = np.linalg.norm(D, axis=1).max() * 2.1
        rows = [np.flatnonzero(length <= limit)] * 3
    if any(len(r) == 0 for r in rows):
        raise _no_fit(D, space_group, unit_cell)
    ia, ib, ic = (g.ravel() for g in np.meshgrid(*rows, indexing="ij"))
    if len(ia) > 3_000_000:
        raise FriedelError("too many candidate settings; give unit_cell= together with space_group=")
    M = np.stack([u[ia], u[ib], u[ic]], axis=1)
    det = np.round(np.linalg.det(M)).astype(int)
    ok = det == mult
    ok[ok] = has_centring(M[ok], space_group)
    M = M[ok]
    if len(M) == 0:
        raise _no_fit(D, space_group, unit_cell)
    B = M @ D  # (n, 3, 3)
    lengths = np.linalg.norm(B, axis=2)
    cosang = lambda i, j: np.einsum("nk,nk->n", B[:, i], B[:, j]) / (lengths[:, i] * lengths[:, j])  # noqa: E731
    cells = np.column_stack([lengths, np.degrees(np.arccos(np.clip(np.column_stack(
        [cosang(1, 2), cosang(0, 2), cosang(0, 1)]), -1, 1)))])
    if target is not None:
        misfit = np.max(np.column_stack([np.abs(cells[:, :3] - target[:3]) / target[:3] / length_tolerance,
                                         np.abs(cells[:, 3:] - target[3:]) / angle_tolerance]), axis=1)
        fits = misfit <= 1.0
    else:
        misfit = constraint_misfit(cells, space_group)
        fits = misfit <= max(length_tolerance, angle_tolerance / 100.0)
    if not fits.any():
        raise _no_fit(D, space_group, unit_cell)
    # the best fit first; among equally good ones the shortest edges (the reduced setting, e.g. the
    # monoclinic beta nearest 90), then the simplest transformation; without a target cell, the
    # first whose cell gemmi accepts for the space group
    order = np.lexsort((np.abs(M).sum(axis=(1, 2)), np.round(cells[:, :3].sum(axis=1), 3), np.round(misfit, 4)))
    for i in order[fits[order]]:
        if target is not None or gemmi.UnitCell(*cells[i]).is_compatible_with_spacegroup(space_group, 0.05):
            return B[i]
    return B[order[0]]


def has_centring(M, space_group: gemmi.SpaceGroup) -> np.ndarray:
    """Whether the cells ``M @ D`` (M: n x 3 x 3 integer, D primitive) carry the centring of
    ``space_group``: every primitive vector (a row of ``inv(M)``) must sit on a centring
    translation of the new cell. The determinant alone cannot tell C from I (or A, B) centring."""
    cen = np.array(space_group.operations().cen_ops, dtype=float) / gemmi.Op.DEN  # (m, 3)
    frac = np.mod(np.linalg.inv(np.asarray(M, float)), 1.0)  # (n, 3 rows, 3)
    diff = np.abs(frac[:, :, None, :] - cen[None, None, :, :])
    diff = np.minimum(diff, 1.0 - diff)
    on_centring = np.any(np.all(diff < 1e-6, axis=3), axis=2)  # (n, 3)
    return np.all(on_centring, axis=1)


def _no_fit(D, space_group, unit_cell) -> FriedelError:
    niggli = ", ".join(f"{x:.2f}" for x in cell_of_basis(D))
    what = f"unit_cell={','.join(f'{x:g}' for x in _parameters(unit_cell))}" if unit_cell is not None else "the lattice"
    return FriedelError(
        f"the indexed lattice (reduced cell {niggli}) does not fit {what} in {space_group.xhm()}; "
        "check unit_cell=/space_group=, or index without them and choose a setting afterwards"
    )
