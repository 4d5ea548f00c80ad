"""Change of basis between lattice settings.

A change of basis is written as the new basis vectors in terms of the old ones
(``b+c,a+c,a+b`` means a' = b + c, b' = a + c, c' = a + b). Internally it is the matrix
``P`` whose columns are the new vectors in old coordinates, so that

* direct basis (rows a, b, c):  ``R' = P^T R``
* reciprocal matrix A = UB:      ``A' = A P^-T``
* Miller indices (rows):        ``h' = h P``  (so that ``A' h' = A h``)
"""

from __future__ import annotations

import re
from fractions import Fraction

import gemmi
import numpy as np

from friedel.errors import FriedelError

_ALLOWED = re.compile(r"^[abcxyz0-9+\-*/., ]+$")


class ChangeOfBasis:
    """A change of basis ``P`` (columns: new basis vectors in old coordinates)."""

    def __init__(self, P):
        P = np.asarray(P, dtype=float).reshape(3, 3)
        if abs(np.linalg.det(P)) < 1e-6:
            raise FriedelError("change of basis is singular (its three vectors are coplanar)")
        self.P = P

    # -- construction ------------------------------------------------------------------------
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

    # -- algebra -------------------------------------------------------------------------------
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

    # -- applying ------------------------------------------------------------------------------
    def apply_to_A(self, A: np.ndarray) -> np.ndarray:
        return np.asarray(A, float) @ np.linalg.inv(self.P).T

    def apply_to_metric(self, G: np.ndarray) -> np.ndarray:
        """Direct-space metric tensor in the new basis."""
        return self.P.T @ G @ self.P

    def apply_to_miller_indices(self, hkl: np.ndarray, check_integral: bool = True) -> np.ndarray:
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

    def apply_to_rotation(self, R: np.ndarray) -> np.ndarray:
        """A point operation on direct fractional coordinates, expressed in the new basis."""
        return np.linalg.inv(self.P) @ R @ self.P

    # -- text ------------------------------------------------------------------------------
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
