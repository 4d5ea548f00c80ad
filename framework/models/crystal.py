"""Crystal model: orientation and cell as A = U B, with a space group (gemmi)."""

from __future__ import annotations

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.lattice import cell_of_A
from friedel.models.geometry import as_list

_KNOWN = ("__id__", "real_space_a", "real_space_b", "real_space_c", "space_group_hall_symbol", "A_at_scan_points")


def hall_symbol(symbol) -> str:
    """A Hall symbol for a Hall symbol, a Hermann-Mauguin symbol, a number or a gemmi.SpaceGroup."""
    if isinstance(symbol, gemmi.SpaceGroup):
        return symbol.hall
    text = str(symbol).strip()
    try:
        return gemmi.SpaceGroup(text).hall
    except (ValueError, RuntimeError):
        pass
    try:
        gemmi.symops_from_hall(text)
        return text
    except (ValueError, RuntimeError) as exc:
        raise FriedelError(
            f"'{text}' is not a space group symbol; give e.g. 'P 41 21 2', 'P41212' or 92"
        ) from exc


def cell_from_A(A) -> gemmi.UnitCell:
    """Unit cell of the reciprocal basis matrix ``A`` (columns a*, b*, c*), as a gemmi.UnitCell."""
    return gemmi.UnitCell(*cell_of_A(A))


def interpolate_scan_points(points, t) -> np.ndarray:
    """Values at fractional scan-point positions ``t`` (n,) by linear interpolation of
    ``points`` (m x ...), clamped to the first and last point."""
    points = np.asarray(points, dtype=float)
    t = np.clip(np.asarray(t, dtype=float), 0.0, len(points) - 1)
    i = np.minimum(np.floor(t).astype(np.int64), len(points) - 2) if len(points) > 1 else np.zeros(len(t), np.int64)
    if len(points) == 1:
        return points[i]
    f = (t - i).reshape((-1,) + (1,) * (points.ndim - 1))
    return points[i] * (1.0 - f) + points[i + 1] * f


def B_matrix(cell: gemmi.UnitCell) -> np.ndarray:
    """The Busing-Levy B matrix (columns a*, b*, c*) of ``cell``, as dxtbx/cctbx define it."""
    return np.array(cell.frac.mat.tolist()).T


class Crystal:
    """A crystal lattice in the lab frame at rotation angle zero.

    ``A = U @ B`` maps Miller indices to reciprocal-lattice vectors: ``r = A @ h``. The
    direct-space basis vectors a, b, c are the rows of ``inv(A)``. ``A_at_scan_points``
    (n x 3 x 3) holds a scan-varying model when present. The space group is kept as the
    Hall symbol DIALS writes, so non-standard settings survive.
    """

    def __init__(self, A, space_group="P 1", A_at_scan_points=None, extra: dict | None = None):
        self.A = np.asarray(A, dtype=float).reshape(3, 3)
        self.set_space_group(space_group)
        self.A_at_scan_points = (
            None if A_at_scan_points is None else np.asarray(A_at_scan_points, dtype=float).reshape(-1, 3, 3)
        )
        self.extra = dict(extra or {})

    def __getstate__(self) -> dict:
        # gemmi's GroupOps cannot be pickled: send the Hall symbol to worker processes instead
        state = dict(self.__dict__)
        state.pop("_ops", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._ops = gemmi.symops_from_hall(self._hall)

    @classmethod
    def from_cell(cls, cell, space_group: str = "P 1", U=None) -> "Crystal":
        """A crystal with unit cell ``cell`` (6 numbers or gemmi.UnitCell) and orientation U."""
        if not isinstance(cell, gemmi.UnitCell):
            cell = gemmi.UnitCell(*cell)
        U = np.eye(3) if U is None else np.asarray(U, dtype=float)
        return cls(U @ B_matrix(cell), space_group)

    # -- lattice --------------------------------------------------------------------------
    @property
    def real_space_vectors(self) -> np.ndarray:
        """Rows a, b, c of the direct lattice in the lab frame (Angstrom)."""
        return np.linalg.inv(self.A)

    @property
    def unit_cell(self) -> gemmi.UnitCell:
        return cell_from_A(self.A)

    @property
    def B(self) -> np.ndarray:
        return B_matrix(self.unit_cell)

    @property
    def U(self) -> np.ndarray:
        return self.A @ np.linalg.inv(self.B)

    def set_U(self, U) -> None:
        self.A = np.asarray(U, dtype=float) @ self.B

    def set_B(self, B) -> None:
        self.A = self.U @ np.asarray(B, dtype=float)

    # -- scan-varying model -----------------------------------------------------------------
    @property
    def num_scan_points(self) -> int:
        """Number of scan points of a scan-varying model (0 for a static crystal)."""
        return 0 if self.A_at_scan_points is None else len(self.A_at_scan_points)

    def is_scan_varying_for(self, scan) -> bool:
        """True when ``A_at_scan_points`` has one matrix per image boundary of ``scan``
        (``num_images + 1``, the layout DIALS writes); other lengths are not used."""
        return (self.A_at_scan_points is not None and scan is not None and not scan.is_still
                and len(self.A_at_scan_points) == scan.num_images + 1)

    def A_at_frames(self, z, scan) -> np.ndarray:
        """A (n x 3 x 3) at frame coordinates ``z`` of ``scan``: linear interpolation between
        the scan points (point i sits at frame ``first - 1 + i``), clamped at the scan ends.
        A static crystal gives its A for every z."""
        z = np.atleast_1d(np.asarray(z, dtype=float))
        if not self.is_scan_varying_for(scan):
            return np.broadcast_to(self.A, (len(z), 3, 3))
        return interpolate_scan_points(self.A_at_scan_points, z - scan.array_range[0])

    def unit_cell_at_scan_point(self, i: int) -> gemmi.UnitCell:
        return cell_from_A(self.A_at_scan_points[i])

    def U_at_scan_points(self) -> np.ndarray:
        """U (n x 3 x 3) at each scan point (A = U B with B of that point's cell)."""
        return np.array([A @ np.linalg.inv(B_matrix(cell_from_A(A))) for A in self.A_at_scan_points])

    # -- symmetry -------------------------------------------------------------------------
    def set_space_group(self, symbol) -> None:
        """Set the space group from a Hall or Hermann-Mauguin symbol, number or gemmi.SpaceGroup."""
        self._hall = hall_symbol(symbol)
        self._ops = gemmi.symops_from_hall(self._hall)

    @property
    def space_group_hall(self) -> str:
        return self._hall

    @property
    def space_group_ops(self) -> gemmi.GroupOps:
        return self._ops

    @property
    def space_group(self) -> gemmi.SpaceGroup | None:
        """The tabulated space group, or None for a setting gemmi does not tabulate."""
        return gemmi.find_spacegroup_by_ops(self._ops)

    @property
    def space_group_symbol(self) -> str:
        sg = self.space_group
        return sg.xhm() if sg is not None else f"Hall '{self._hall.strip()}'"

    # -- files ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict) -> "Crystal":
        direct = np.array([d["real_space_a"], d["real_space_b"], d["real_space_c"]], dtype=float)
        hall = d.get("space_group_hall_symbol", " P 1")
        scan_points = d.get("A_at_scan_points")
        extra = {k: v for k, v in d.items() if k not in _KNOWN}
        crystal = cls(np.linalg.inv(direct), "P 1", scan_points, extra)
        # keep the Hall symbol exactly as written (DIALS writes a leading space)
        crystal._hall, crystal._ops = hall, gemmi.symops_from_hall(hall)
        crystal._direct_as_read = (crystal.A.copy(), direct)  # exact round trips of unchanged models
        return crystal

    def to_dict(self) -> dict:
        A_read, direct = getattr(self, "_direct_as_read", (None, None))
        if A_read is None or not np.array_equal(A_read, self.A):
            direct = self.real_space_vectors
        d = {
            "__id__": "crystal",
            "real_space_a": as_list(direct[0]),
            "real_space_b": as_list(direct[1]),
            "real_space_c": as_list(direct[2]),
            "space_group_hall_symbol": self._hall,
        }
        if self.A_at_scan_points is not None:
            d["A_at_scan_points"] = [as_list(m.ravel()) for m in self.A_at_scan_points]
        d.update(self.extra)
        return d

    def __repr__(self) -> str:
        c = self.unit_cell
        return (
            f"Crystal({self.space_group_symbol}, cell {c.a:.4f} {c.b:.4f} {c.c:.4f} "
            f"{c.alpha:.3f} {c.beta:.3f} {c.gamma:.3f})"
        )
