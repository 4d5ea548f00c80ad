"""Model parameterisations: parameter values <-> models, with analytic derivatives of the models.

Each parameterisation owns one model (shared by the experiments in ``experiment_ids``) and
gives the derivatives of the quantities that prediction uses, one kind per model:

* beam:        ``s0``  (k x 3)
* crystal:     ``A``   (k x 3 x 3), A = U B in the lab frame at phi = 0
* detector:    ``D``   (k x n_panels x 3 x 3), D = [fast | slow | origin] of each panel
* goniometer:  ``S``   (k x 3 x 3), the setting rotation

:mod:`friedel.plugins.refinement.prediction` turns these into derivatives of X, Y and phi.
Angles are in mrad, lengths in mm, |s0| in 1/A, cell metric in 1e-5/A^2.
A plugin class has ``name`` and a classmethod ``build(experiments, params)`` returning the
parameterisations of every model of its kind in ``experiments``.
"""

from __future__ import annotations

import logging

import numpy as np

from friedel.models.geometry import axis_angle_matrix, unit
from friedel.plugins.refinement.cell_constraints import MetricModel

log = logging.getLogger("friedel")

MRAD = 1e-3


def cross_matrix(k) -> np.ndarray:
    k = unit(k)
    return np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])


def _rotation_and_derivative(axis, angle_mrad):
    R = axis_angle_matrix(axis, angle_mrad * MRAD)
    return R, cross_matrix(axis) @ R * MRAD


def _perpendicular(v) -> np.ndarray:
    v = unit(v)
    trial = np.array([1.0, 0.0, 0.0]) if abs(v[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    return unit(np.cross(v, trial))


def _experiments_using(experiments, attribute):
    """(model, [experiment ids]) for each distinct model of one kind, in first-use order."""
    out = {}
    for i, e in enumerate(experiments):
        m = getattr(e, attribute)
        if m is None:
            continue
        out.setdefault(id(m), (m, []))[1].append(i)
    return list(out.values())


def _build_per_crystal(cls, experiments, params, fixed_when):
    """One parameterisation per distinct crystal, all fixed when ``crystal.fix`` is in ``fixed_when``."""
    fix_all = params.parameterisation.crystal.fix in fixed_when
    out = []
    for crystal, ids in _experiments_using(experiments, "crystal"):
        p = cls(crystal, ids)
        if fix_all:
            p.fix(p.names)
        out.append(p)
    return out


class ModelParameterisation:
    """Common bookkeeping: names, values, which are free."""

    name = ""
    kind = ""  # the derivative kind this parameterisation produces

    def __init__(self, model, experiment_ids, names, values, label=""):
        self.model = model
        self.experiment_ids = list(experiment_ids)
        self.names = list(names)
        self.values = np.asarray(values, dtype=float).copy()
        self.free = np.ones(len(self.names), bool)
        self.label = label or self.name

    @property
    def n_free(self) -> int:
        return int(self.free.sum())

    def fix(self, which) -> None:
        for n in which:
            self.free[self.names.index(n)] = False

    def set_values(self, values) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def derivatives(self, experiment) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def summary_values(self) -> dict:
        """Derived quantities worth reporting (e.g. the cell), name -> value."""
        return {}


# -- beam -------------------------------------------------------------------------------------
class BeamParameterisation(ModelParameterisation):
    """Beam direction as two tilts (mrad) of the initial s0, and |s0| = 1/wavelength.

    Mu1 tilts s0 within the plane of s0 and the rotation axis, Mu2 out of it.
    """

    name = "beam"
    kind = "s0"

    def __init__(self, beam, experiment_ids, spindle=None):
        self.u0 = unit(beam.s0)
        if spindle is None or abs(abs(unit(spindle) @ self.u0) - 1) < 1e-6:
            spindle = _perpendicular(self.u0)
        self.axis1 = unit(np.cross(self.u0, spindle))  # tilting about it keeps s0 in the spindle plane
        self.axis2 = unit(np.cross(self.u0, self.axis1))  # lies in the spindle plane
        super().__init__(beam, experiment_ids, ["Mu1", "Mu2", "nu"], [0.0, 0.0, np.linalg.norm(beam.s0)])

    def _parts(self):
        R1, dR1 = _rotation_and_derivative(self.axis1, self.values[0])
        R2, dR2 = _rotation_and_derivative(self.axis2, self.values[1])
        return R1, dR1, R2, dR2

    def set_values(self, values) -> None:
        self.values = np.asarray(values, dtype=float).copy()
        R1, _, R2, _ = self._parts()
        self.model.s0 = self.values[2] * (R2 @ R1 @ self.u0)

    def derivatives(self, experiment=None) -> np.ndarray:
        R1, dR1, R2, dR2 = self._parts()
        nu = self.values[2]
        return np.array([nu * R2 @ dR1 @ self.u0, nu * dR2 @ R1 @ self.u0, R2 @ R1 @ self.u0])

    def summary_values(self) -> dict:
        return {"wavelength": self.model.wavelength}

    @classmethod
    def build(cls, experiments, params):
        fix = set(params.parameterisation.beam.fix or [])
        out = []
        for beam, ids in _experiments_using(experiments, "beam"):
            gonio = next((experiments[i].goniometer for i in ids if experiments[i].goniometer is not None), None)
            p = cls(beam, ids, None if gonio is None else gonio.rotation_axis)
            if "all" in fix:
                p.fix(p.names)
            if "in_spindle_plane" in fix:
                p.fix(["Mu2"])
            if "out_spindle_plane" in fix:
                p.fix(["Mu1"])
            if "wavelength" in fix:
                p.fix(["nu"])
            out.append(p)
        return out


# -- crystal ----------------------------------------------------------------------------------
class CrystalOrientationParameterisation(ModelParameterisation):
    """U = Phi3 Phi2 Phi1 U0: small rotations (mrad) about the lab x, y and z axes."""

    name = "crystal_orientation"
    kind = "A"
    AXES = np.eye(3)

    def __init__(self, crystal, experiment_ids):
        super().__init__(crystal, experiment_ids, ["Phi1", "Phi2", "Phi3"], [0.0, 0.0, 0.0])

    def _phi(self, values):
        return [_rotation_and_derivative(a, v) for a, v in zip(self.AXES, values)]

    def _total(self, values):
        (R1, _), (R2, _), (R3, _) = self._phi(values)
        return R3 @ R2 @ R1

    def set_values(self, values) -> None:
        values = np.asarray(values, dtype=float)
        # A = Phi(p) U0 B; the cell parameterisation may have changed B, so rotate the current A
        change = self._total(values) @ self._total(self.values).T
        self.model.A = change @ self.model.A
        self.values = values.copy()

    def derivatives(self, experiment=None) -> np.ndarray:
        (R1, d1), (R2, d2), (R3, d3) = self._phi(self.values)
        total_T = (R3 @ R2 @ R1).T
        A = self.model.A  # = Phi U0 B, so dPhi U0 B = dPhi Phi^T A
        return np.array([R3 @ R2 @ d1 @ total_T @ A, R3 @ d2 @ R1 @ total_T @ A, d3 @ R2 @ R1 @ total_T @ A])

    @classmethod
    def build(cls, experiments, params):
        return _build_per_crystal(cls, experiments, params, fixed_when=("orientation", "all"))


class CrystalUnitCellParameterisation(ModelParameterisation):
    """The free parameters of the reciprocal metric allowed by the crystal's space group.

    On construction the cell is symmetrised (group average of the metric), so a cell that
    was nearly tetragonal becomes exactly tetragonal; the orientation U is kept.
    """

    name = "crystal_unit_cell"
    kind = "A"

    def __init__(self, crystal, experiment_ids):
        self.metric_model = MetricModel(crystal.space_group_ops)
        B0 = crystal.B
        U = crystal.A @ np.linalg.inv(B0)
        p = self.metric_model.parameters_from_B(B0)
        names = [f"g*_{i + 1}" for i in range(len(p))]
        super().__init__(crystal, experiment_ids, names, p)
        self._B = self.metric_model.B(p)
        crystal.A = U @ self._B

    def set_values(self, values) -> None:
        U = self.model.A @ np.linalg.inv(self._B)
        self.values = np.asarray(values, dtype=float).copy()
        self._B = self.metric_model.B(self.values)
        self.model.A = U @ self._B

    def derivatives(self, experiment=None) -> np.ndarray:
        U = self.model.A @ np.linalg.inv(self._B)
        return U[None] @ self.metric_model.dB(self.values)

    def cell_jacobian(self) -> np.ndarray:
        """d(a, b, c, alpha, beta, gamma)/d(parameters) (6 x k), by central differences of the
        cell functions of the metric (only used to propagate ESDs)."""
        def cell(p):
            G = np.linalg.inv(self.metric_model.metric(p))
            a, b, c = np.sqrt(np.diag(G))
            return np.array([a, b, c,
                             np.degrees(np.arccos(G[1, 2] / (b * c))),
                             np.degrees(np.arccos(G[0, 2] / (a * c))),
                             np.degrees(np.arccos(G[0, 1] / (a * b)))])
        J = np.zeros((6, len(self.values)))
        for k in range(len(self.values)):
            h = 1e-6 * max(1.0, abs(self.values[k]))
            up, down = self.values.copy(), self.values.copy()
            up[k] += h
            down[k] -= h
            J[:, k] = (cell(up) - cell(down)) / (2 * h)
        return J

    @classmethod
    def build(cls, experiments, params):
        return _build_per_crystal(cls, experiments, params, fixed_when=("cell", "all"))


# -- detector ---------------------------------------------------------------------------------
class DetectorGroupParameterisation(ModelParameterisation):
    """A rigid group of panels: distance along the group normal and two in-plane shifts (mm),
    rotations about the normal (Tau1) and the two in-plane axes (Tau2, Tau3) in mrad, all
    about the point where the beam meets the plane of the group's first panel."""

    name = "detector"
    kind = "D"

    def __init__(self, detector, experiment_ids, panels, s0, label="detector"):
        self.panels = list(panels)
        first = detector[self.panels[0]]
        n = first.normal
        self.normal = n
        self.d1 = unit(first.fast_axis - (first.fast_axis @ n) * n)
        self.d2 = unit(np.cross(n, self.d1))
        # frame origin: the beam's intersection with the plane (or the foot of the normal)
        u = unit(s0)
        denom = u @ n
        dist0 = first.origin @ n
        self.origin0 = u * dist0 / denom if abs(denom) > 1e-3 else dist0 * n
        self.dist0 = float(dist0)
        self.offsets0 = {i: detector[i].origin - self.origin0 for i in self.panels}
        self.fast0 = {i: detector[i].fast_axis.copy() for i in self.panels}
        self.slow0 = {i: detector[i].slow_axis.copy() for i in self.panels}
        self.n_panels = len(detector)
        names = ["Dist", "Shift1", "Shift2", "Tau1", "Tau2", "Tau3"]
        super().__init__(detector, experiment_ids, names, [self.dist0, 0, 0, 0, 0, 0], label)

    def _rotation(self):
        R1, d1 = _rotation_and_derivative(self.normal, self.values[3])
        R2, d2 = _rotation_and_derivative(self.d1, self.values[4])
        R3, d3 = _rotation_and_derivative(self.d2, self.values[5])
        return R1 @ R2 @ R3, [d1 @ R2 @ R3, R1 @ d2 @ R3, R1 @ R2 @ d3]

    def _centre(self):
        v = self.values
        return self.origin0 + (v[0] - self.dist0) * self.normal + v[1] * self.d1 + v[2] * self.d2

    def set_values(self, values) -> None:
        self.values = np.asarray(values, dtype=float).copy()
        R, _ = self._rotation()
        centre = self._centre()
        for i in self.panels:
            panel = self.model[i]
            panel.fast_axis = R @ self.fast0[i]
            panel.slow_axis = R @ self.slow0[i]
            panel.origin = centre + R @ self.offsets0[i]

    def derivatives(self, experiment=None) -> np.ndarray:
        _, dRs = self._rotation()
        dD = np.zeros((6, self.n_panels, 3, 3))
        for i in self.panels:
            dD[0, i, :, 2] = self.normal
            dD[1, i, :, 2] = self.d1
            dD[2, i, :, 2] = self.d2
            for k, dR in enumerate(dRs):
                dD[3 + k, i] = np.column_stack([dR @ self.fast0[i], dR @ self.slow0[i], dR @ self.offsets0[i]])
        return dD

    def summary_values(self) -> dict:
        return {"distance": float(self._centre() @ self.normal)}

    @staticmethod
    def _hierarchy_groups(detector, level):
        """Panel groups: the nodes of the stored hierarchy at ``level`` (0 = the whole detector)."""
        root = detector.hierarchy
        if not root:
            return [list(range(len(detector)))]

        def panels_below(node):
            if "panel" in node:
                return [int(node["panel"])]
            return [p for child in node.get("children", []) for p in panels_below(child)]

        nodes = [root]
        for _ in range(level):
            nxt = []
            for node in nodes:
                nxt.extend(node.get("children", []) if "children" in node else [node])
            nodes = nxt
        return [g for g in (panels_below(n) for n in nodes) if g]

    @classmethod
    def build(cls, experiments, params):
        dp = params.parameterisation.detector
        out = []
        for detector, ids in _experiments_using(experiments, "detector"):
            s0 = experiments[ids[0]].beam.s0
            if dp.panels == "multiple":
                groups = [[i] for i in range(len(detector))]
            elif dp.panels == "hierarchical":
                groups = cls._hierarchy_groups(detector, dp.hierarchy_level)
            else:
                groups = [list(range(len(detector)))]
            for g in groups:
                label = "detector" if len(groups) == 1 else f"detector group {g[0]}-{g[-1]}"
                p = cls(detector, ids, g, s0, label)
                if dp.fix == "all":
                    p.fix(p.names)
                elif dp.fix == "position":
                    p.fix(["Dist", "Shift1", "Shift2"])
                elif dp.fix == "orientation":
                    p.fix(["Tau1", "Tau2", "Tau3"])
                elif dp.fix == "distance":
                    p.fix(["Dist"])
                out.append(p)
        return out


# -- goniometer -------------------------------------------------------------------------------
class GoniometerParameterisation(ModelParameterisation):
    """Tilts (mrad) of the rotation axis: the setting rotation becomes R2 R1 S0, with axes
    perpendicular to the lab rotation axis."""

    name = "goniometer"
    kind = "S"

    def __init__(self, goniometer, experiment_ids, s0):
        self.S0 = goniometer.setting_rotation.copy()
        e = goniometer.rotation_axis
        self.axis1 = unit(np.cross(e, s0)) if np.linalg.norm(np.cross(e, s0)) > 1e-6 else _perpendicular(e)
        self.axis2 = unit(np.cross(e, self.axis1))
        super().__init__(goniometer, experiment_ids, ["Gamma1", "Gamma2"], [0.0, 0.0])

    def _parts(self):
        R1, d1 = _rotation_and_derivative(self.axis1, self.values[0])
        R2, d2 = _rotation_and_derivative(self.axis2, self.values[1])
        return R1, d1, R2, d2

    def set_values(self, values) -> None:
        self.values = np.asarray(values, dtype=float).copy()
        R1, _, R2, _ = self._parts()
        self.model.setting_rotation = R2 @ R1 @ self.S0

    def derivatives(self, experiment=None) -> np.ndarray:
        R1, d1, R2, d2 = self._parts()
        return np.array([R2 @ d1 @ self.S0, d2 @ R1 @ self.S0])

    @classmethod
    def build(cls, experiments, params):
        if params.parameterisation.goniometer.fix == "all":
            return []
        out = []
        for gonio, ids in _experiments_using(experiments, "goniometer"):
            if gonio.is_multi_axis:
                log.info("Multi-axis goniometer: its rotation axis is not refined")
                continue
            if all(experiments[i].is_still for i in ids):
                continue
            out.append(cls(gonio, ids, experiments[ids[0]].beam.s0))
        return out


BUILT_IN = [
    BeamParameterisation,
    CrystalOrientationParameterisation,
    CrystalUnitCellParameterisation,
    DetectorGroupParameterisation,
    GoniometerParameterisation,
]
