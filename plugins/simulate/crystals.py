"""Simulated crystals: orientations, lattices and true intensities from Wilson statistics.

True intensities are drawn once per unique reflection (reciprocal asymmetric unit of the
space group, as gemmi defines it), so every symmetry mate of a reflection has exactly the
same intensity. Acentric reflections follow the exponential Wilson distribution, centric
ones the chi-square distribution with one degree of freedom; the expected value is
``epsilon * exp(-B / (2 d^2))`` (Wilson B). Systematic absences have zero intensity.
With an anomalous signal, acentric Bijvoet mates differ by ``I(+/-) = I (1 +/- delta)``.
"""

from __future__ import annotations

import re

import gemmi
import numpy as np
from scipy.spatial.transform import Rotation

from friedel.models import Crystal
from friedel.prediction import generate_indices


def random_orientation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed random rotation matrix U."""
    return Rotation.random(random_state=rng).as_matrix()


def make_crystal(cell, space_group: str, U) -> Crystal:
    return Crystal.from_cell(tuple(cell), space_group, U)


# -- reciprocal asymmetric unit, vectorised ------------------------------------------------------
_COMPARISON = re.compile(r"([hkl])\s*(>=|<=|>|<|=)\s*(-?[hkl0-9]+)")


def _asu_condition(space_group: gemmi.SpaceGroup):
    """gemmi's ASU condition (e.g. ``h>=k and k>=0 and l>=0``) as a vectorised predicate."""
    text = gemmi.ReciprocalAsu(space_group).condition_str()
    expr = _COMPARISON.sub(lambda m: f"({m[1]}{'==' if m[2] == '=' else m[2]}{m[3]})", text)
    expr = expr.replace(" and ", " & ").replace(" or ", " | ")
    code = compile(expr, "<asu>", "eval")
    return lambda h, k, l: eval(code, {}, {"h": h, "k": k, "l": l})  # noqa: S307 - gemmi's own text


def map_to_asu(hkl, space_group) -> tuple[np.ndarray, np.ndarray]:
    """Map Miller indices into gemmi's reciprocal ASU.

    Returns ``(hkl_asu, plus)`` where ``plus`` is False for reflections that are Bijvoet
    (Friedel) mates of the ASU reflection, i.e. that carry I(-).
    """
    sg = space_group if isinstance(space_group, gemmi.SpaceGroup) else gemmi.SpaceGroup(space_group)
    hkl = np.asarray(hkl, dtype=np.int64).reshape(-1, 3)
    ops = sg.operations()
    rotations = {tuple(map(tuple, op.rot)) for op in ops.sym_ops}
    mats = np.array(sorted(rotations), dtype=np.int64) // ops.sym_ops[0].DEN  # (nrot, 3, 3)
    # h' = h R for every rotation, then the same with the inversion (Bijvoet mates)
    eq = np.einsum("nj,rji->nri", hkl, mats)
    eq = np.concatenate([eq, -eq], axis=1)  # (n, 2 nrot, 3)
    inside = _asu_condition(sg)(eq[..., 0], eq[..., 1], eq[..., 2])
    first = np.argmax(inside, axis=1)
    if not inside[np.arange(len(hkl)), first].all():
        raise RuntimeError("internal error: reflection without an ASU equivalent")
    hkl_asu = eq[np.arange(len(hkl)), first].astype(np.int32)
    return hkl_asu, first < len(mats)


def hkl_key(hkl) -> np.ndarray:
    """A single int64 per Miller index (for sorting, unique and searchsorted)."""
    h = np.asarray(hkl, dtype=np.int64) + 1024
    return (h[:, 0] << 22) | (h[:, 1] << 11) | h[:, 2]


class TrueIntensities:
    """True intensities of the unique reflections of one crystal form.

    Attributes (one row per ASU reflection): ``hkl`` (n x 3), ``d``, ``centric``,
    ``epsilon``, ``i_plus``, ``i_minus`` and ``i_mean``.
    """

    def __init__(self, cell, space_group: str, d_min: float, wilson_b: float, rng: np.random.Generator,
                 anomalous_fraction: float = 0.0):
        self.space_group = gemmi.SpaceGroup(space_group)
        self.cell = gemmi.UnitCell(*cell)
        ops = self.space_group.operations()
        crystal = Crystal.from_cell(tuple(cell), space_group)
        hkl = generate_indices(crystal.A, d_min * 0.98, ops)
        # the unique set is simply the reflections inside gemmi's ASU (one per orbit)
        inside = _asu_condition(self.space_group)(hkl[:, 0], hkl[:, 1], hkl[:, 2])
        keys = hkl_key(hkl[inside])
        order = np.argsort(keys)
        self.hkl = hkl[inside][order]
        self._keys = keys[order]
        self.d = np.array(self.cell.calculate_d_array(self.hkl))
        self.centric = np.asarray(ops.centric_flag_array(self.hkl), bool)
        self.epsilon = np.asarray(ops.epsilon_factor_without_centering_array(self.hkl), float)
        expected = self.epsilon * np.exp(-wilson_b / (2.0 * self.d**2))
        n = len(self.hkl)
        e2 = np.where(self.centric, rng.standard_normal(n) ** 2, rng.exponential(1.0, n))
        self.i_mean = expected * e2
        delta = np.where(self.centric, 0.0, rng.standard_normal(n) * anomalous_fraction)
        delta = np.clip(delta, -0.9, 0.9)
        self.i_plus = self.i_mean * (1.0 + delta)
        self.i_minus = self.i_mean * (1.0 - delta)

    def __len__(self) -> int:
        return len(self.hkl)

    def lookup(self, hkl) -> np.ndarray:
        """True intensity of each reflection ``hkl`` (any indices: symmetry mates, Bijvoet
        mates; zero for systematic absences and for reflections beyond the resolution limit)."""
        hkl = np.asarray(hkl).reshape(-1, 3)
        out = np.zeros(len(hkl))
        absent = self.space_group.operations().systematic_absences(hkl.astype(np.int32))
        hkl_asu, plus = map_to_asu(hkl, self.space_group)
        pos = np.searchsorted(self._keys, hkl_key(hkl_asu))
        pos = np.clip(pos, 0, len(self._keys) - 1)
        found = (self._keys[pos] == hkl_key(hkl_asu)) & ~np.asarray(absent, bool)
        out[found] = np.where(plus[found], self.i_plus[pos[found]], self.i_minus[pos[found]])
        return out
