"""Parameter gradients of predicted positions (X, Y mm; phi rad or DeltaPsi) of indexed observations.

The positions themselves are predicted by the kernel (:func:`friedel.prediction.predict`,
re-exported here with :func:`ewald_projection` for older imports).

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
from friedel.prediction import (  # noqa: F401 - re-exported: prediction lives in the kernel
    Prediction,
    _apply,
    ewald_projection,
    ewald_projection_derivatives,
    predict,
    rotation_angles,
)


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


def _rotation_hkl_tensor(pred, hkl) -> np.ndarray:
    """``(S R(phi_n) F) (x) h_n`` (n x 3 x 9), cached on the prediction: contracting it with a
    flattened dA gives dr for every observation in one matrix product."""
    cached = getattr(pred, "_T", None)
    if cached is not None:
        return cached
    S, e, phi, F = pred.M
    e = e / np.linalg.norm(e)
    c, s_ = np.cos(phi)[:, None, None], np.sin(phi)[:, None, None]
    K = np.array([[0.0, -e[2], e[1]], [e[2], 0.0, -e[0]], [-e[1], e[0], 0.0]])
    R = np.eye(3) * c + K * s_ + np.outer(e, e) * (1.0 - c)
    M = S @ R @ F  # n x 3 x 3
    T = (M[:, :, :, None] * np.asarray(hkl, dtype=float)[:, None, None, :]).reshape(len(phi), 3, 9)
    pred._T = T
    return T


def gradients(pred: Prediction, hkl, kind: str, deriv: np.ndarray, experiment) -> np.ndarray:
    """d(X, Y, phi)/dp (k x n x 3) for k parameters whose model derivatives are ``deriv``
    ((k x ...) for all observations alike, or (k x n x 3 x 3) per observation for kind "A")."""
    hkl = np.asarray(hkl, dtype=float)
    n = len(hkl)
    k = len(deriv)
    ds0 = np.zeros((k, 1, 3))
    dr = np.zeros((k, n, 3))
    dD_v = None
    if kind == "s0":
        ds0 = deriv[:, None, :]
    elif kind == "A" and not pred.is_still:
        # dr = S R(phi) F dA h = T . vec(dA) with T_n = (S R(phi_n) F) (x) h_n, made once per prediction
        T = _rotation_hkl_tensor(pred, hkl)  # n x 3 x 9
        if deriv.ndim == 4:  # one dA per observation (scan-varying crystal)
            dr = np.einsum("nim,knm->kni", T, deriv.reshape(k, n, 9))
        else:
            dr = np.einsum("nim,km->kni", T, deriv.reshape(k, 9))
    elif kind == "A":
        if deriv.ndim == 4:  # one dA per observation (scan-varying crystal)
            q = (deriv @ hkl[None, :, :, None])[..., 0]
        else:  # dA h (a batched matrix product: much faster than einsum here)
            q = np.swapaxes(deriv @ hkl.T, 1, 2)
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
        dr = np.swapaxes((deriv @ S.T) @ pred.r.T, 1, 2)
    elif kind == "D":
        dD_v = np.empty((k, n, 3))
        for i, rows in pred.groups:
            dD_v[:, rows] = np.swapaxes(deriv[:, i] @ pred.v[rows].T, 1, 2)
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
