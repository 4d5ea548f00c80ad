"""Predicted positions (X, Y mm; phi rad) of indexed observations and their parameter gradients.

Rotation scans: ``r(phi) = S R(e, phi) F A h``; of the two angles where h meets the Ewald
sphere the one nearest the observed angle is taken. The ray ``s1 = s0 + r`` meets panel
p at ``v = D_p^-1 s1``, ``X = v0/v2``, ``Y = v1/v2``.
Stills: the reciprocal-lattice point ``q = S F A h`` is turned onto the Ewald sphere in the
plane of ``q`` and ``s0`` (the smallest rotation, about ``q x s0``); the third "angle" of a
still is the angle turned, DeltaPsi, observed as zero. Without it X, Y alone cannot tell the cell scale from the detector
distance.

For a parameter with derivatives ds0, dr (at fixed phi) and dD, the Ewald condition
``|s0 + r|^2 = |s0|^2`` gives ``dphi = -(r.ds0 + s1.dr) / (s1.(e x r))``, then
``ds1 = ds0 + dr + (e x r) dphi`` and ``dv = D^-1 (ds1 - dD v)``.
"""

from __future__ import annotations

import numpy as np

from friedel.models.geometry import rotate_vectors
from friedel.prediction import rotation_angles


class ExperimentObservations:
    """The observations of one experiment used in refinement (indices into the full table)."""

    def __init__(self, experiment, rows, hkl, panel, obs, var):
        self.experiment = experiment
        self.rows = rows
        self.hkl = np.asarray(hkl, dtype=float)
        self.panel = np.asarray(panel, dtype=np.int64)
        self.obs = np.asarray(obs, dtype=float)
        self.var = np.asarray(var, dtype=float)
        self.is_still = experiment.is_still

    def select(self, keep) -> "ExperimentObservations":
        return ExperimentObservations(self.experiment, self.rows[keep], self.hkl[keep], self.panel[keep],
                                      self.obs[keep], self.var[keep])

    def __len__(self):
        return len(self.rows)


class Prediction:
    """Predicted X, Y, phi and the intermediate vectors the gradients need."""

    __slots__ = ("xyz", "ok", "r", "s1", "v", "M", "e", "Dinv", "panel", "groups", "is_still")


def _apply(M, a):
    """``M @ v`` for every vector v in the last axis of ``a`` (einsum with a BLAS path is much
    faster than matmul's batched 3x3 products on long arrays)."""
    return np.einsum("...i,ji->...j", a, M, optimize=True)


def _ewald_frame(q, s0):
    """|s0|, unit s0, the components of q along and across it, |q|^2 and |q|."""
    n = np.linalg.norm(s0)
    s = s0 / n
    qs = q @ s
    p = q - qs[:, None] * s
    Q2 = np.sum(q * q, axis=1)
    return n, s, qs, p, np.linalg.norm(p, axis=1), Q2, np.sqrt(Q2)


def ewald_projection(q, s0):
    """Lattice points ``q`` (n, 3) turned onto the Ewald sphere in the plane of ``q`` and ``s0``.

    The turned point keeps its length ``Q`` and lies at angle ``theta_r`` from ``s0`` with
    ``cos(theta_r) = -Q / (2 |s0|)`` (the Ewald condition), so
    ``r = -(Q^2 / 2n) s + sqrt(Q^2 - Q^4 / 4n^2) w`` with ``s = unit(s0)``, ``n = |s0|`` and ``w``
    the unit component of ``q`` perpendicular to ``s0``. DeltaPsi is the angle turned,
    ``theta_q - theta_r``. Returns ``(r, psi, ok)``; points beyond the limiting sphere or along
    the beam are not ok.
    """
    n, s, qs, p, P, Q2, Q = _ewald_frame(q, s0)
    ok = (P > 0) & (Q < 2.0 * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = p / np.where(P > 0, P, 1.0)[:, None]
        beta = np.sqrt(np.maximum(Q2 - Q2 * Q2 / (4.0 * n * n), 0.0))
        r = (-Q2 / (2.0 * n))[:, None] * s + beta[:, None] * w
        psi = np.arctan2(P, qs) - np.arccos(np.clip(-Q / (2.0 * n), -1.0, 1.0))
    return np.where(ok[:, None], r, q), np.where(ok, psi, 0.0), ok


def ewald_projection_derivatives(q, s0, dq, ds0):
    """Derivatives ``(dr (k, n, 3), dpsi (k, n))`` of :func:`ewald_projection` for changes
    ``dq`` (k, n, 3) of the lattice points and ``ds0`` (k, 1, 3) of the beam."""
    n, s, qs, p, P, Q2, Q = _ewald_frame(q, s0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = p / P[:, None]
        beta = np.sqrt(np.maximum(Q2 - Q2 * Q2 / (4.0 * n * n), 0.0))
        alpha = -Q2 / (2.0 * n)
        dn = ds0 @ s  # (k, 1)
        ds = (ds0 - dn[..., None] * s) / n  # (k, 1, 3)
        dQ = np.einsum("kni,ni->kn", dq, q) / Q
        dqs = dq @ s + np.einsum("kmi,ni->kn", ds, q)
        dp = dq - dqs[..., None] * s - qs[None, :, None] * ds
        dP = np.einsum("kni,ni->kn", dp, w)
        dw = (dp - dP[..., None] * w) / P[:, None]
        dalpha = -Q * dQ / n + Q2 * dn / (2.0 * n * n)
        dbeta = (Q * dQ * (1.0 - Q2 / (2.0 * n * n)) + Q2 * Q2 * dn / (4.0 * n**3)) / beta
        dr = dalpha[..., None] * s + alpha[None, :, None] * ds + dbeta[..., None] * w + beta[None, :, None] * dw
        dtheta_q = (qs * dP - P * dqs) / Q2
        c = -Q / (2.0 * n)
        dc = -dQ / (2.0 * n) + Q * dn / (2.0 * n * n)
        dtheta_r = -dc / np.sqrt(1.0 - c * c)
    return dr, dtheta_q - dtheta_r


def _panel_matrices(detector):
    D = np.array([p.d_matrix for p in detector])
    return D, np.linalg.inv(D)


def predict(experiment, hkl, panel, phi_obs=None) -> Prediction:
    """Predict observations of ``hkl`` on their observed ``panel`` (rays are not clipped to it)."""
    pred = Prediction()
    hkl = np.asarray(hkl, dtype=float)
    crystal, beam, gonio = experiment.crystal, experiment.beam, experiment.goniometer
    s0 = beam.s0
    n = len(hkl)
    q = hkl @ crystal.A.T
    pred.is_still = experiment.is_still
    if pred.is_still:
        SF = None
        if gonio is not None:
            SF = gonio.setting_rotation @ gonio.fixed_rotation
            q = _apply(SF, q)
        r, phi, ok = ewald_projection(q, s0)
        s1 = s0 + r
        pred.M = (SF, q)
        pred.e = None
    else:
        S, F = gonio.setting_rotation, gonio.fixed_rotation
        e_datum = gonio.rotation_axis_datum
        r0 = _apply(F, q)
        phi1, phi2, ok = rotation_angles(r0, S.T @ s0, e_datum)
        ref = phi_obs if phi_obs is not None else phi1
        # nearest of the two solutions, each shifted by whole turns next to the observation
        d1 = np.mod(phi1 - ref + np.pi, 2 * np.pi) - np.pi
        d2 = np.mod(phi2 - ref + np.pi, 2 * np.pi) - np.pi
        phi = ref + np.where(np.abs(d1) <= np.abs(d2), d1, d2)
        phi = np.where(ok, phi, ref)
        r = _apply(S, rotate_vectors(r0, e_datum, phi))
        s1 = s0 + r
        pred.M = (S, e_datum, phi, F)  # r = S R(e, phi) F q, applied to vectors without n x 3 x 3 matrices
        pred.e = gonio.rotation_axis
    D, Dinv = _panel_matrices(experiment.detector)
    panel = np.asarray(panel)
    groups = _panel_groups(panel, len(D))
    v = np.empty_like(s1)
    for i, rows in groups:
        v[rows] = _apply(Dinv[i], s1[rows])
    ok &= v[:, 2] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        x = v[:, 0] / v[:, 2]
        y = v[:, 1] / v[:, 2]
    pred.xyz = np.column_stack([x, y, phi])
    pred.ok = ok
    pred.r, pred.s1, pred.v, pred.Dinv, pred.panel, pred.groups = r, s1, v, Dinv, panel, groups
    return pred


def _panel_groups(panel, n_panels):
    """(panel, rows) for each panel that has rows; a slice when all rows are on one panel."""
    if n_panels == 1:
        return [(0, slice(None))]
    return [(i, np.flatnonzero(panel == i)) for i in np.unique(panel)]


def gradients(pred: Prediction, hkl, kind: str, deriv: np.ndarray, experiment) -> np.ndarray:
    """d(X, Y, phi)/dp (k x n x 3) for k parameters whose model derivatives are ``deriv``."""
    hkl = np.asarray(hkl, dtype=float)
    n = len(hkl)
    k = len(deriv)
    ds0 = np.zeros((k, 1, 3))
    dr = np.zeros((k, n, 3))
    dD_v = None
    if kind == "s0":
        ds0 = deriv[:, None, :]
    elif kind == "A":
        q = np.einsum("kij,nj->kni", deriv, hkl, optimize=True)  # dA h
        if pred.is_still:
            SF = pred.M[0]
            if SF is not None:
                q = _apply(SF, q)
        else:
            S, e_datum, phi, F = pred.M
            q = _apply(F, q)
            if phi is not None:
                q = rotate_vectors(q, e_datum, phi)
            q = _apply(S, q)
        dr = q
    elif kind == "S":
        if pred.is_still:
            raise ValueError("the goniometer of a still is not refined")
        S = experiment.goniometer.setting_rotation
        dr = np.einsum("kij,nj->kni", deriv @ S.T, pred.r, optimize=True)
    elif kind == "D":
        dD_v = np.empty((k, n, 3))
        for i, rows in pred.groups:
            dD_v[:, rows] = np.einsum("kij,nj->kni", deriv[:, i], pred.v[rows], optimize=True)
    else:
        raise ValueError(f"unknown derivative kind {kind!r}")
    out = np.zeros((k, n, 3))
    if kind == "D":
        ds1 = np.zeros((k, n, 3))
    elif pred.is_still:  # dr above is the change of the lattice point before it meets the sphere
        dr, dpsi = ewald_projection_derivatives(pred.M[1], experiment.beam.s0, dr, ds0)
        out[:, :, 2] = dpsi
        ds1 = ds0 + dr
    else:
        e_x_r = np.cross(pred.e, pred.r)
        denom = np.sum(pred.s1 * e_x_r, axis=1)
        dphi = -(np.einsum("kni,ni->kn", np.broadcast_to(ds0, dr.shape), pred.r) + np.einsum("kni,ni->kn", dr, pred.s1)) / denom
        out[:, :, 2] = dphi
        ds1 = ds0 + dr + e_x_r[None] * dphi[:, :, None]
    rhs = ds1 if dD_v is None else ds1 - dD_v
    dv = np.empty((k, n, 3))
    for i, rows in pred.groups:
        dv[:, rows] = _apply(pred.Dinv[i], rhs[:, rows])
    v = pred.v
    out[:, :, 0] = (dv[:, :, 0] - dv[:, :, 2] * (v[:, 0] / v[:, 2])) / v[:, 2]
    out[:, :, 1] = (dv[:, :, 1] - dv[:, :, 2] * (v[:, 1] / v[:, 2])) / v[:, 2]
    return out
