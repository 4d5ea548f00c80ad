"""Miller indices and symmetry: the reciprocal ASU, equivalent groups and resolution shells.

One module that symmetry, scaling, merging statistics, merge and export all use, so that they
agree on which observations are equivalent and on the shells their tables are binned in.

>>> import numpy as np
>>> m = asu_mapping(np.array([[1, 2, 3], [-2, -1, -3]]), "P 41 21 2")
>>> m.hkl.tolist(), m.group.tolist()
([[2, 1, 3], [2, 1, 3]], [0, 0])

Conventions are CCP4's (as gemmi implements them): the ASU is gemmi's ``ReciprocalAsu``, and
``isym`` is MTZ's M/ISYM symmetry number: ``2k + 1`` when symmetry operation ``k`` (in gemmi's
order of the space group's operations) maps the observed index onto the ASU index, ``2k + 2``
when it maps onto the Friedel mate of the ASU index (an I− observation).
"""

from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np


def as_space_group(space_group) -> gemmi.SpaceGroup:
    """A gemmi space group from a gemmi.SpaceGroup, a name (``"P 41 21 2"``) or a Hall symbol."""
    if isinstance(space_group, gemmi.SpaceGroup):
        return space_group
    if hasattr(space_group, "xhm") and callable(space_group.xhm):  # e.g. a crystal model's group
        return gemmi.SpaceGroup(space_group.xhm())
    text = str(space_group).strip()
    found = gemmi.find_spacegroup_by_name(text)
    if found is None:
        try:
            found = gemmi.find_spacegroup_by_ops(gemmi.symops_from_hall(text))
        except (RuntimeError, ValueError):
            found = None
    if found is None:
        raise ValueError(f"unknown space group {space_group!r}")
    return found


def as_unit_cell(unit_cell) -> gemmi.UnitCell:
    """A gemmi unit cell from a gemmi.UnitCell or six numbers (a, b, c, alpha, beta, gamma)."""
    if isinstance(unit_cell, gemmi.UnitCell):
        return unit_cell
    if hasattr(unit_cell, "parameters"):
        unit_cell = unit_cell.parameters
        unit_cell = unit_cell() if callable(unit_cell) else unit_cell
    return gemmi.UnitCell(*[float(x) for x in unit_cell])


def d_spacing(hkl, unit_cell) -> np.ndarray:
    """Resolution d (Angstrom) of each Miller index in ``unit_cell``."""
    hkl = np.ascontiguousarray(np.asarray(hkl), dtype=np.int32).reshape(-1, 3)
    return np.asarray(as_unit_cell(unit_cell).calculate_d_array(hkl), dtype=float)


def _rotations(space_group: gemmi.SpaceGroup) -> np.ndarray:
    """Rotation parts (k, 3, 3), integers, of the operations in gemmi's order, acting as h' = h R."""
    ops = space_group.operations().sym_ops
    den = gemmi.Op.DEN
    return np.array([np.array(op.rot, dtype=np.int64) // den for op in ops])


def _to_asu_hkl(hkl: np.ndarray, space_group: gemmi.SpaceGroup) -> np.ndarray:
    """ASU indices through gemmi's batched (C++) mapping of an MTZ's H, K, L columns."""
    mtz = gemmi.Mtz(with_base=True)
    mtz.spacegroup = space_group
    mtz.set_cell_for_all(gemmi.UnitCell(100, 100, 100, 90, 90, 90))  # the cell plays no part
    mtz.add_dataset("asu")
    mtz.set_data(hkl.astype(np.float32))
    mtz.ensure_asu()  # maps H, K, L in place, row order unchanged
    out = np.array(mtz, copy=False)
    return np.rint(out[:, :3]).astype(np.int32)


@dataclass
class AsuMapping:
    """Where each observed Miller index goes in the reciprocal ASU, and which group it belongs to.

    Attributes
    ----------
    hkl : (n, 3) int32 — index in the ASU (the I+ member for an I− observation)
    isym : (n,) int — MTZ M/ISYM symmetry number (odd: hkl form, even: Friedel mate)
    plus : (n,) bool — the observation is the I+ member (isym odd) or centric
    centric : (n,) bool
    epsilon : (n,) int — statistical weight (multiplicity of the index under the point group)
    group : (n,) int — group id; observations of one group are equivalent (with ``anomalous``
        the I+ and I− of an acentric index are separate groups)
    unique_hkl : (m, 3) int32 — the ASU index of each group (``group`` indexes these rows)
    unique_plus : (m,) bool — whether each group is the I+ (or centric) half
    anomalous : bool
    """

    hkl: np.ndarray
    isym: np.ndarray
    plus: np.ndarray
    centric: np.ndarray
    epsilon: np.ndarray
    group: np.ndarray
    unique_hkl: np.ndarray
    unique_plus: np.ndarray
    anomalous: bool

    @property
    def n_groups(self) -> int:
        return len(self.unique_hkl)


def asu_mapping(hkl, space_group, anomalous: bool = False) -> AsuMapping:
    """Map observed Miller indices into the reciprocal ASU (CCP4/gemmi convention).

    Parameters
    ----------
    hkl : (n, 3) integer array of observed indices
    space_group : gemmi.SpaceGroup or its name
    anomalous : keep I+ and I− of acentric reflections in separate groups
    """
    sg = as_space_group(space_group)
    hkl = np.ascontiguousarray(np.asarray(hkl), dtype=np.int32).reshape(-1, 3)
    n = len(hkl)
    asu = _to_asu_hkl(hkl, sg) if n else np.zeros((0, 3), np.int32)
    # which operation took each index there: the first in gemmi's order, '+' before '-'
    isym = np.zeros(n, dtype=np.int64)
    h64 = hkl.astype(np.int64)
    target = hkl_key(asu)
    todo = np.arange(n)
    for k, rot in enumerate(_rotations(sg)):
        if not len(todo):
            break
        moved = h64[todo] @ rot
        same = hkl_key(moved) == target[todo]
        mate = ~same & (hkl_key(-moved) == target[todo])
        isym[todo[same]] = 2 * k + 1
        isym[todo[mate]] = 2 * k + 2
        todo = todo[~(same | mate)]
    if np.any(isym == 0):  # cannot happen for a consistent space group; guard against silent errors
        raise ValueError("some Miller indices could not be mapped to the ASU")
    ops = sg.operations()
    centric = np.asarray(ops.centric_flag_array(asu), dtype=bool) if n else np.zeros(0, bool)
    epsilon = np.asarray(ops.epsilon_factor_array(asu), dtype=np.int64) if n else np.zeros(0, np.int64)
    plus = (isym % 2 == 1) | centric
    key_plus = plus if anomalous else np.ones(n, dtype=bool)
    keys = hkl_key(asu) * 2 + (~key_plus)
    uniq, first, group = np.unique(keys, return_index=True, return_inverse=True)
    return AsuMapping(
        hkl=asu, isym=isym, plus=plus, centric=centric, epsilon=epsilon,
        group=group.ravel().astype(np.int64), unique_hkl=asu[first],
        unique_plus=(uniq % 2) == 0, anomalous=anomalous,
    )


def hkl_key(hkl) -> np.ndarray:
    """One int64 per Miller index (|h|, |k|, |l| < 2**20), ordered as (h, k, l) lexicographically."""
    h = np.asarray(hkl, dtype=np.int64).reshape(-1, 3) + (1 << 20)
    return (h[:, 0] << 42) | (h[:, 1] << 21) | h[:, 2]


def unmap_isym(asu_hkl, isym, space_group) -> np.ndarray:
    """Observed indices from ASU indices and M/ISYM numbers (inverse of :func:`asu_mapping`)."""
    sg = as_space_group(space_group)
    asu_hkl = np.asarray(asu_hkl, dtype=np.int64).reshape(-1, 3)
    isym = np.asarray(isym, dtype=np.int64)
    rots = _rotations(sg)
    k = (isym - 1) // 2
    sign = np.where(isym % 2 == 1, 1, -1)[:, None]
    out = np.empty_like(asu_hkl)
    for j in np.unique(k):
        sel = k == j
        # h R = h_asu  =>  h = h_asu R^-1 (R is unimodular)
        inv = np.rint(np.linalg.inv(rots[j])).astype(np.int64)
        out[sel] = (sign[sel] * asu_hkl[sel]) @ inv
    return out.astype(np.int32)


def complete_set(space_group, unit_cell, d_min: float, d_max: float | None = None,
                 anomalous: bool = False) -> np.ndarray:
    """Every unique, systematically present index in the ASU with ``d_min <= d <= d_max``.

    With ``anomalous`` the Friedel mates of acentric indices are included as separate rows
    (their negated indices), as for counting anomalous completeness.
    """
    sg = as_space_group(space_group)
    cell = as_unit_cell(unit_cell)
    hkl = np.asarray(gemmi.make_miller_array(cell, sg, float(d_min), float(d_max or 0.0), unique=True),
                     dtype=np.int32).reshape(-1, 3)
    if anomalous and len(hkl):
        centric = np.asarray(sg.operations().centric_flag_array(hkl), dtype=bool)
        hkl = np.concatenate([hkl, -hkl[~centric]])
    return hkl


class ResolutionBins:
    """Resolution shells of equal reciprocal volume (equal numbers of possible reflections).

    Parameters
    ----------
    d : d-spacings of the observations (Angstrom)
    n_bins : number of shells
    d_min, d_max : limits (default: the range of ``d``)

    Attributes
    ----------
    index : (n,) int — shell of each observation (0 = lowest resolution), −1 outside the limits
    d_max, d_min : (n_bins,) arrays — the limits of each shell (d_max[0] is the overall d_max)
    """

    def __init__(self, d, n_bins: int = 20, d_min: float | None = None, d_max: float | None = None):
        d = np.asarray(d, dtype=float)
        if n_bins < 1:
            raise ValueError("n_bins must be at least 1")
        finite = d[np.isfinite(d) & (d > 0)]
        if d_min is None:
            d_min = float(finite.min()) if len(finite) else 1.0
        if d_max is None:
            d_max = float(finite.max()) if len(finite) else 100.0
        if d_min >= d_max:
            raise ValueError(f"resolution limits d_min={d_min} and d_max={d_max} leave no range")
        # equal steps in 1/d^3 (reciprocal volume)
        s3 = np.linspace(d_max ** -3, d_min ** -3, n_bins + 1)
        edges = s3 ** (-1.0 / 3.0)
        edges[0], edges[-1] = d_max, d_min
        self.edges = edges  # decreasing d: edges[i] > edges[i+1]
        self.d_max = edges[:-1].copy()
        self.d_min = edges[1:].copy()
        self.n_bins = n_bins
        self.index = self.assign(d)

    def assign(self, d) -> np.ndarray:
        """Shell of each d-spacing (−1 outside the limits; the limits themselves are inside)."""
        d = np.asarray(d, dtype=float)
        lo, hi = self.edges[0] ** -3.0, self.edges[-1] ** -3.0
        with np.errstate(invalid="ignore", divide="ignore"):
            s3 = np.where(d > 0, d, np.nan) ** -3.0
            frac = (s3 - lo) / (hi - lo)
        tol = 1e-9
        inside = np.isfinite(frac) & (frac >= -tol) & (frac <= 1 + tol)
        idx = np.clip(np.floor(np.nan_to_num(frac) * self.n_bins), 0, self.n_bins - 1).astype(np.int64)
        return np.where(inside, idx, -1)
