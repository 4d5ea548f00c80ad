"""Refine the indexed crystal in every compatible Bravais setting and rank the settings.

For each lattice from :func:`find_lattices` the P1 crystal is transformed to the lattice's
standard setting (``A' = A P^-T``), its cell symmetrised (closest orientation kept), the
Miller indices reindexed (``h' = h P``) and the model refined with the lattice's symmetry
constraints. A setting is recommended by its metric fit and RMSD alone; the intensities of
reflections related by each lattice operation are correlated and shown as information.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.models.crystal import B_matrix, Crystal
from friedel.models.experiment import ExperimentList
from friedel.plugins.bravais.correlation import MergedIntensities, operator_correlation
from friedel.plugins.bravais.lattice_search import LatticeCandidate, find_lattices, rotation_order
from friedel.models.geometry import rotate_vectors
from friedel.prediction import rotation_angles

log = logging.getLogger("friedel")


@dataclass
class BravaisSetting:
    number: int
    candidate: LatticeCandidate
    experiment: object
    reflections: object
    rmsds: tuple                    # x mm, y mm, phi rad
    refined: bool
    correlations: list = field(default_factory=list)  # (order, cc, n pairs) per operation
    recommended: bool = False

    @property
    def lattice(self) -> str:
        return self.candidate.lattice

    @property
    def rmsd_mm(self) -> float:
        return float(np.hypot(self.rmsds[0], self.rmsds[1]))

    @property
    def cc_values(self) -> list[float]:
        return [cc for _o, cc, _n in self.correlations if np.isfinite(cc)]

    @property
    def min_cc(self) -> float:
        return min(self.cc_values, default=float("nan"))

    @property
    def max_cc(self) -> float:
        return max(self.cc_values, default=float("nan"))

    @property
    def n_spots(self) -> int:
        return len(self.reflections)

    @property
    def unit_cell(self) -> gemmi.UnitCell:
        return self.experiment.crystal.unit_cell

    def summary(self) -> dict:
        return {
            "bravais": self.lattice,
            "recommended": bool(self.recommended),
            "max_angular_difference": round(self.candidate.max_delta, 4),
            "rmsd": self.rmsd_mm,
            "rmsds": list(map(float, self.rmsds)),
            "refined": self.refined,
            "min_cc": _json_float(self.min_cc),
            "max_cc": _json_float(self.max_cc),
            "correlation_coefficients": [_json_float(cc) for _o, cc, _n in self.correlations],
            "nspots": self.n_spots,
            "unit_cell": list(self.unit_cell.parameters),
            "volume": self.unit_cell.volume,
            "cb_op": self.candidate.cb_op.as_abc(),
            "space_group": self.candidate.space_group,
        }


def _json_float(x):
    return None if not np.isfinite(x) else float(x)


# -- input --------------------------------------------------------------------------------
def indexed_reflections(reflections, crystal_id: int = 0):
    """Indexed reflections of one crystal with observed centroids, or a FriedelError."""
    if "miller_index" not in reflections or len(reflections) == 0:
        raise FriedelError("the reflections have no Miller indices: index them first (friedel index)")
    hkl = np.asarray(reflections["miller_index"])
    sel = np.any(hkl != 0, axis=1) & (np.asarray(reflections["id"]) == crystal_id)
    if "flags" in reflections:
        sel &= reflections.get_flags(Flags.indexed)
    if not sel.any():
        raise FriedelError(
            f"no indexed reflections for crystal {crystal_id}: give the indexed.refl written by friedel index"
        )
    return reflections.select(sel)


def transformed_crystal(crystal: Crystal, candidate: LatticeCandidate) -> Crystal:
    """The crystal in the candidate's standard setting, with the symmetrised cell and the
    orientation closest to the unconstrained one."""
    A_new = candidate.cb_op.apply_to_A(crystal.A)
    B_sym = B_matrix(candidate.unit_cell)
    # closest rotation to A_new B_sym^-1 (polar decomposition)
    u, _s, vt = np.linalg.svd(A_new @ np.linalg.inv(B_sym))
    U = u @ vt
    return Crystal(U @ B_sym, candidate.space_group)


# -- RMSDs without refinement (only used when no refinement engine is installed) ------------
def model_rmsds(experiment, reflections) -> tuple[float, float, float]:
    """RMSDs (x mm, y mm, phi rad) of observed centroids from the model's predictions
    (for each reflection, the diffraction angle nearest the observed one)."""
    hkl = np.asarray(reflections["miller_index"])
    obs = np.asarray(reflections["xyzobs.mm.value"])
    gonio, beam = experiment.goniometer, experiment.beam
    r0 = (hkl @ experiment.crystal.A.T) @ gonio.fixed_rotation.T
    phi1, phi2, ok = rotation_angles(r0, gonio.setting_rotation.T @ beam.s0, gonio.rotation_axis_datum)
    nearest = lambda p: obs[:, 2] + np.angle(np.exp(1j * (p - obs[:, 2])))  # noqa: E731 - same turn
    p1, p2 = nearest(phi1), nearest(phi2)
    phi = np.where(np.abs(p1 - obs[:, 2]) <= np.abs(p2 - obs[:, 2]), p1, p2)
    r_phi = rotate_vectors(r0, gonio.rotation_axis_datum, phi) @ gonio.setting_rotation.T
    panel, xy = experiment.detector.ray_intersection(beam.s0 + r_phi)
    sel = ok & (panel >= 0)
    if not sel.any():
        return (float("inf"),) * 3
    d = np.column_stack([xy[sel] - obs[sel, :2], phi[sel] - obs[sel, 2]])
    return tuple(float(np.sqrt(np.mean(d[:, i] ** 2))) for i in range(3))


def _refine(experiment, reflections, refinement_params, use_refinement=True):
    """Refine with the lattice constraints; fall back to unrefined RMSDs without an engine."""
    if not use_refinement:
        return experiment, reflections, model_rmsds(experiment, reflections), False
    try:
        from friedel.plugins.refinement import RefinementParams, refine
    except ImportError:
        return experiment, reflections, model_rmsds(experiment, reflections), False
    from friedel.plugins.refinement.params import static_subset_params

    params = static_subset_params(refinement_params)  # static, 100 reflections per degree unless set
    try:
        result = refine(ExperimentList([experiment]), reflections, params)
    except FriedelError as exc:  # e.g. too few reflections for this setting's parameters
        log.warning("Refinement in %s failed (%s); its RMSD is that of the unrefined model",
                    experiment.crystal.space_group_symbol, exc)
        return experiment, reflections, model_rmsds(experiment, reflections), False
    rmsds = result.rmsds.get(0, next(iter(result.rmsds.values())))
    return result.experiments[0], result.reflections, tuple(map(float, rmsds)), True


# -- the whole procedure ------------------------------------------------------------------
def refine_bravais_settings(experiments, reflections, max_delta: float = 5.0, crystal_id: int = 0,
                            refinement_params=None, rmsd_ratio: float = 1.5,
                            intensity_column: str = "intensity.sum.value",
                            use_refinement: bool = True) -> list[BravaisSetting]:
    """Every Bravais setting compatible with the crystal, refined and ranked (lowest symmetry first)."""
    if crystal_id < 0 or crystal_id >= len(experiments):
        raise FriedelError(f"crystal_id={crystal_id} but the experiment list has {len(experiments)} experiments")
    experiment = experiments[crystal_id]
    if experiment.crystal is None:
        raise FriedelError("the experiment has no crystal model: index it first (friedel index)")
    if len(experiment.crystal.space_group_ops.sym_ops) != 1:
        log.info("Input crystal is in %s; its lattice is analysed from the cell alone",
                 experiment.crystal.space_group_symbol)
    refl = indexed_reflections(reflections, crystal_id)
    if "xyzobs.mm.value" not in refl:
        from friedel.observations import centroids_px_to_mm

        centroids_px_to_mm(experiments, refl)
    refl["id"] = np.zeros(len(refl), np.int32)

    candidates = find_lattices(experiment.crystal.unit_cell, max_delta)
    merged = _merged_intensities(experiment.crystal, _intensity_rows(reflections, crystal_id), intensity_column)

    settings = []
    for number, candidate in enumerate(candidates, start=1):
        exp = copy.deepcopy(experiment)
        exp.crystal = transformed_crystal(experiment.crystal, candidate)
        r = refl.copy()
        r["miller_index"] = candidate.cb_op.apply_to_miller_indices(refl["miller_index"])
        exp, r, rmsds, refined = _refine(exp, r, refinement_params, use_refinement)
        correlations = []
        if merged is not None:
            for R in candidate.rotations:
                order = rotation_order(R)
                if order == 1:
                    continue
                cc, n = operator_correlation(merged, R, min_pairs=10)
                correlations.append((order, cc, n))
        settings.append(BravaisSetting(number, candidate, exp, r, rmsds, refined, correlations))
        log.debug("setting %d %s rmsd %.4f mm", number, candidate.lattice, settings[-1].rmsd_mm)
    recommend(settings, rmsd_ratio)
    return settings


def _intensity_rows(reflections, crystal_id):
    """Reflections whose intensities are compared: integrated ones if there are any, else the
    indexed spots (spot-finding intensities)."""
    hkl = np.asarray(reflections["miller_index"])
    sel = np.any(hkl != 0, axis=1) & (np.asarray(reflections["id"]) == crystal_id)
    if "flags" in reflections:
        integrated = reflections.get_flags(Flags.integrated_sum)
        sel &= integrated if (integrated & sel).any() else reflections.get_flags(Flags.indexed)
    return reflections.select(sel)


def _merged_intensities(crystal, refl, column):
    if column not in refl:
        log.info("No %s column: intensity correlations are not computed", column)
        return None
    hkl = np.asarray(refl["miller_index"])
    d = 1.0 / np.linalg.norm(hkl @ crystal.A.T, axis=1)
    merged = MergedIntensities(hkl, np.asarray(refl[column], float), d)
    return merged if len(merged.keys) else None


def recommend(settings: list[BravaisSetting], rmsd_ratio: float = 1.5) -> None:
    """Star the settings whose metric fits: RMSD at most ``rmsd_ratio`` times the triclinic one
    (plus 10% of the triclinic RMSD for noise).

    The Bravais lattice is a property of the metric alone. The intensities decide the point
    group later (``friedel symmetry``), and that may be lower than the lattice's (merohedry: a
    cubic I 21 3 crystal has point group 23 in an m-3m lattice, so the lattice's fourfolds do not
    correlate), so the correlation coefficients are shown as information only. Every candidate
    already has a metric fit (obliquity) within ``lepage_max_delta``.
    """
    triclinic = next((s for s in settings if s.lattice == "aP"), None)
    base = triclinic.rmsd_mm if triclinic is not None else min(s.rmsd_mm for s in settings)
    for s in settings:
        s.recommended = bool(s.rmsd_mm <= rmsd_ratio * base + 0.1 * base)


# -- reporting ------------------------------------------------------------------------------
_FAMILY_OF_SYSTEM = {
    "triclinic": "a", "monoclinic": "m", "orthorhombic": "o", "tetragonal": "t",
    "trigonal": "h", "hexagonal": "h", "cubic": "c",
}


def chiral_space_groups(lattice: str) -> list[str]:
    """Sohncke space groups (standard settings) of a Bravais lattice, e.g. mC -> [C 1 2 1]."""
    names = []
    for number in range(1, 231):
        sg = gemmi.find_spacegroup_by_number(number)
        if not sg.is_sohncke():
            continue
        centring = sg.centring_type()
        family = _FAMILY_OF_SYSTEM[sg.crystal_system_str()]
        if family == "h" and centring == "R":
            symbol = "hR"
        else:
            symbol = family + centring
        if symbol == lattice:
            name = sg.short_name()
            names.append("R" + name[1:] if symbol == "hR" else name)
    return names


def format_table(settings: list[BravaisSetting]) -> str:
    lines = ["Chiral space groups corresponding to each Bravais lattice:"]
    for lattice in dict.fromkeys(s.lattice for s in reversed(settings)):
        lines.append(f"{lattice}: {' '.join(chiral_space_groups(lattice))}")
    header = ("", "Solution", "Metric fit", "rmsd", "min/max cc", "#spots", "lattice", "unit_cell", "volume",
              "cb_op")
    rows = []
    for s in reversed(settings):
        c = s.unit_cell
        cc = "-" if not s.cc_values else f"{s.min_cc:.3f}/{s.max_cc:.3f}"
        rows.append((
            "*" if s.recommended else "", str(s.number), f"{s.candidate.max_delta:.4f}", f"{s.rmsd_mm:.4f}", cc,
            str(s.n_spots), s.lattice,
            " ".join(f"{v:6.1f}" for v in c.parameters), f"{c.volume:.0f}", s.candidate.cb_op.as_abc(),
        ))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    fmt = lambda r: " ".join(v.rjust(w) if i in (1, 2, 3, 5, 8) else v.ljust(w)  # noqa: E731
                             for i, (v, w) in enumerate(zip(r, widths)))
    lines += [fmt(header), fmt(tuple("-" * w for w in widths))] + [fmt(r) for r in rows]
    if not all(s.refined for s in settings):
        lines.append("Note: some settings were not refined (see above): their RMSDs are those of the "
                     "unrefined, symmetrised models.")
    lines.append("* = recommended: the metric fits (RMSD close to the triclinic one; metric fit in degrees, rmsd "
                 "in mm). min/max cc: intensity correlations of the lattice's rotations, for information: the "
                 "point group can be lower than the lattice's (friedel symmetry decides it).")
    return "\n".join(lines)
