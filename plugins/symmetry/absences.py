"""Systematic absences of screw axes -> the space group within the chosen Laue group.

Data are merged in the Laue group's best setting. For each screw-axis test (axis a, b or c
and a period 2, 3, 4 or 6; e.g. ``41 c`` = 00l present only for l = 4n) the axial reflections
are split into those that such an axis makes absent and those it leaves present, and scored
by the direct method: with z = <I/sigma> of each class,

* absent class clearly non-zero (z_abs > cut) and not negligible next to the present class:
  score = (1 - Phi(z_abs)) Phi(z_pres) (the axis is not there);
* absent class non-zero only because of a few strong reflections: the strongest is dropped
  and the test repeated;
* otherwise, present class clearly there: score = Phi(z_pres);
* otherwise 0 (no evidence).

Each chiral space group with the Laue group's rotations and centring "requires" the tests
whose absent class it makes absent; its score is prod(score if required else 1 - score). Groups
with identical absence patterns cannot be told apart (enantiomorphs; I 2 3 / I 21 3;
I 2 2 2 / I 21 21 21): all are reported, the first is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gemmi
import numpy as np
from scipy.special import ndtr, ndtri

from friedel.miller import asu_mapping
from friedel.plugins.symmetry.lattice import SubgroupSetting, sohncke_groups

_PERIOD_NAMES = {2: ("21", "42", "63"), 3: ("31", "62"), 4: ("41",), 6: ("61",)}
_AXES = "abc"


@dataclass
class ScrewAxisTest:
    name: str                  # e.g. "41c"
    axis: int                  # 0, 1, 2
    period: int
    n_present: int = 0
    n_absent: int = 0
    mean_i_present: float = float("nan")
    mean_i_absent: float = float("nan")
    mean_isig_present: float = float("nan")
    mean_isig_absent: float = float("nan")
    score: float = 0.0

    def as_dict(self) -> dict:
        f = lambda x: None if not np.isfinite(x) else round(float(x), 4)  # noqa: E731
        return {"axis": self.name, "score": f(self.score), "n_present": self.n_present, "n_absent": self.n_absent,
                "mean_i_present": f(self.mean_i_present), "mean_i_absent": f(self.mean_i_absent),
                "mean_i_over_sigma_present": f(self.mean_isig_present),
                "mean_i_over_sigma_absent": f(self.mean_isig_absent)}


@dataclass
class AbsenceResult:
    space_group: str                       # chosen (first of the best pattern)
    tests: list
    candidates: list                       # (symbol, score, required test names)
    equivalent: list = field(default_factory=list)  # groups the data cannot tell from the chosen one
    message: str = ""

    def as_dict(self) -> dict:
        return {"space_group": self.space_group, "screw_axes": [t.as_dict() for t in self.tests],
                "space_group_scores": [{"space_group": s, "score": round(float(v), 6), "required": req}
                                       for s, v, req in self.candidates],
                "indistinguishable": self.equivalent, "message": self.message}


def _axial_index(hkl: np.ndarray, rotations, axis: int) -> np.ndarray:
    """For each reflection, |index| along ``axis`` of an equivalent lying on that axis (0 if none)."""
    out = np.zeros(len(hkl), dtype=np.int64)
    others = [i for i in range(3) if i != axis]
    h = np.asarray(hkl, dtype=np.int64)
    for R in rotations:
        g = h @ np.asarray(R, dtype=np.int64)
        on = (g[:, others[0]] == 0) & (g[:, others[1]] == 0) & (g[:, axis] != 0)
        out = np.where((out == 0) & on, np.abs(g[:, axis]), out)
    return out


def _required(sg: gemmi.SpaceGroup, axis: int, period: int, n_max: int = 24) -> bool:
    """Does ``sg`` make every axial reflection with index not a multiple of ``period`` absent?"""
    m = np.array([i for i in range(1, n_max + 1) if i % period != 0])
    hkl = np.zeros((len(m), 3), dtype=np.int32)
    hkl[:, axis] = m
    return bool(np.all(sg.operations().systematic_absences(hkl)))


def _direct_score(isig_pres, isig_abs, cut: float) -> float:
    isig_abs = np.sort(np.asarray(isig_abs, float))
    isig_pres = np.asarray(isig_pres, float)
    z_pres = float(np.mean(isig_pres)) if len(isig_pres) else 0.0
    while len(isig_abs):
        z_abs = float(np.mean(isig_abs))
        if z_abs <= cut:
            break
        if z_pres <= 20 * z_abs:
            return float((1 - ndtr(z_abs)) * ndtr(z_pres))
        isig_abs = isig_abs[:-1]  # a few strong "absent" reflections: drop the strongest, retest
    if z_pres > cut:
        return float(ndtr(z_pres))
    return 0.0


def merge_in_laue_group(hkl, intensity, variance, space_group):
    """(unique hkl, I, sigma) merged with inverse-variance weights in ``space_group``."""
    m = asu_mapping(hkl, space_group, anomalous=False)
    w = 1.0 / np.asarray(variance, float)
    sw = np.bincount(m.group, weights=w, minlength=m.n_groups)
    mean = np.bincount(m.group, weights=w * np.asarray(intensity, float), minlength=m.n_groups) / sw
    return m.unique_hkl, mean, 1.0 / np.sqrt(sw)


def assess_absences(hkl, intensity, variance, setting: SubgroupSetting, significance: float = 0.95
                    ) -> AbsenceResult:
    """Choose the space group of the Laue group ``setting`` from axial intensities.

    ``hkl`` are observations (any multiplicity) indexed in the setting's best basis.
    """
    candidates = sohncke_groups(setting)
    symmorphic = gemmi.SpaceGroup(setting.rotation_group)
    if len(candidates) <= 1 or not _any_test(candidates, symmorphic):
        chosen = candidates[0].xhm() if candidates else symmorphic.xhm()
        others = [c.xhm() for c in candidates[1:]]
        message = "No absences to check"
        if others:
            message = (f"No absences to check: {chosen} cannot be told from {', '.join(others)} by systematic "
                       "absences (the lattice centring makes the same reflections absent); the first is chosen")
        return AbsenceResult(chosen, [], [(c.xhm(), 1.0, []) for c in candidates], others, message)
    cut = float(ndtri(significance))
    rotations = setting.rotations_in_best_setting()
    uhkl, I, sig = merge_in_laue_group(hkl, intensity, variance, symmorphic)
    isig = I / sig
    tests, tested_axes = [], []
    for axis in range(3):
        if any(_equivalent_axes(rotations, axis, other) for other in tested_axes):
            continue  # an equivalent axis (cubic, tetragonal a/b) was tested already
        axial = _axial_index(uhkl, rotations, axis)
        mask = axial > 0
        axis_tests = []
        for period in (2, 3, 4, 6):
            req = [_required(sg, axis, period) for sg in candidates]
            if not any(req) or _required(symmorphic, axis, period):
                continue  # no candidate has it, or the lattice centring alone makes those absent
            name = _PERIOD_NAMES[period][0] if period != 2 else ("42" if _has_order(rotations, axis, 4) else (
                "63" if _has_order(rotations, axis, 6) else "21"))
            if period == 3 and _has_order(rotations, axis, 6):
                name = "62"
            t = ScrewAxisTest(f"{name}{_AXES[axis]}", axis, period)
            present = mask & (axial % period == 0)
            absent = mask & (axial % period != 0)
            t.n_present, t.n_absent = int(present.sum()), int(absent.sum())
            if t.n_present:
                t.mean_i_present, t.mean_isig_present = float(I[present].mean()), float(isig[present].mean())
            if t.n_absent:
                t.mean_i_absent, t.mean_isig_absent = float(I[absent].mean()), float(isig[absent].mean())
            t.score = _direct_score(isig[present], isig[absent], cut) if t.n_absent else 0.0
            axis_tests.append((t, req))
        if axis_tests:
            tested_axes.append(axis)
        tests.extend(axis_tests)
    # an axis with no axial reflection at all tells nothing: it does not take part in the choice
    informative = [(t, req) for t, req in tests if t.n_present + t.n_absent > 0]
    unmeasured = [t.name for t, _req in tests if t.n_present + t.n_absent == 0]
    scored = []
    for k, sg in enumerate(candidates):
        score = 1.0
        required = []
        for t, req in informative:
            if req[k]:
                score *= t.score
                required.append(t.name)
            else:
                score *= 1.0 - t.score
        scored.append((sg.xhm(), score, required))
    best = max(range(len(scored)), key=lambda k: scored[k][1])
    pattern = [req[best] for _t, req in informative]
    equivalent = [candidates[k].xhm() for k in range(len(candidates))
                  if k != best and [req[k] for _t, req in informative] == pattern]
    order = sorted(range(len(scored)), key=lambda k: -scored[k][1])
    message = ""
    if equivalent:
        why = "enantiomorphs or the same absences"
        if unmeasured:
            why += f"; no axial reflections measured for {', '.join(unmeasured)}"
        message = (f"{scored[best][0]} cannot be told from {', '.join(equivalent)} by systematic absences "
                   f"({why}); the first is chosen")
    return AbsenceResult(scored[best][0], [t for t, _r in tests], [scored[k] for k in order], equivalent, message)


def _equivalent_axes(rotations, i: int, j: int) -> bool:
    """Does a rotation of the group take reciprocal axis i onto axis j (h00 -> 0k0)?"""
    e = np.eye(3, dtype=np.int64)
    return any(np.array_equal(np.abs(e[i] @ np.asarray(R, dtype=np.int64)), e[j]) for R in rotations)


def _any_test(candidates, symmorphic) -> bool:
    """Do the candidates differ in any axial absence not already caused by the centring?"""
    for axis in range(3):
        for period in (2, 3, 4, 6):
            if not _required(symmorphic, axis, period) and any(_required(sg, axis, period) for sg in candidates):
                return True
    return False


def _has_order(rotations, axis: int, order: int) -> bool:
    from friedel.plugins.bravais.lattice_search import rotation_axis, rotation_order

    e = np.zeros(3, dtype=np.int64)
    e[axis] = 1
    for R in rotations:
        if rotation_order(R) == order:
            t = rotation_axis(R)
            if np.array_equal(np.abs(t), e):
                return True
    return False
