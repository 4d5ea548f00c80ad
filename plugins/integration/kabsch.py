"""The Kabsch (2010) reciprocal-space frame of each reflection, linearised on the detector.

A profile is a distribution in (c1, c2, c3): c1, c2 are the angles of a pixel's ray from the
diffracted beam s1 along e1 = s1 x s0 and e2 = s1 x e1; c3 = zeta (phi' - phi). Across a
shoebox (a few pixels) the map pixel -> (c1, c2) is linear to a few parts in 1e4, so each
reflection carries its 2 x 2 Jacobian and the per-pixel kernels need no detector geometry.
"""

from __future__ import annotations

import numpy as np

from friedel.contracts.integration import LocalFrames


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def kabsch_basis(s0, s1, axis):
    """(e1, e2, zeta) of every row of ``s1`` (n x 3) for beam ``s0`` and rotation ``axis`` (lab)."""
    s1 = np.atleast_2d(s1)
    e1 = _unit(np.cross(s1, s0))
    e2 = _unit(np.cross(s1, e1))
    zeta = e1 @ np.asarray(axis, float)
    return e1, e2, zeta


def local_frames(experiment, table) -> LocalFrames:
    """Kabsch frames of the rows of ``table`` (``s1``, ``panel``, ``xyzcal.px``) in one experiment.

    The Jacobian comes from central differences of half a pixel through the panel's own
    pixel -> lab mapping (parallax included), so it is consistent with ``xyzcal.px``.
    """
    s0 = experiment.beam.s0
    s1 = np.asarray(table["s1"], float)
    n = len(s1)
    axis = experiment.goniometer.rotation_axis if experiment.goniometer is not None else np.array([1.0, 0, 0])
    e1, e2, zeta = kabsch_basis(s0, s1, axis) if n else (np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))
    centre = np.asarray(table["xyzcal.px"], float).copy()
    jac = np.zeros((n, 2, 2))
    panel = np.asarray(table["panel"])
    length = np.linalg.norm(s0)
    h = 0.5
    for p_index, panel_model in enumerate(experiment.detector):
        rows = np.flatnonzero(panel == p_index)
        if not len(rows):
            continue
        xy = centre[rows, :2]
        for k, shift in enumerate((np.array([h, 0.0]), np.array([0.0, h]))):
            plus = _unit(panel_model.pixel_to_lab(xy + shift)) * length
            minus = _unit(panel_model.pixel_to_lab(xy - shift)) * length
            ds = (plus - minus) / (2 * h) / length
            jac[rows, 0, k] = np.einsum("ij,ij->i", e1[rows], ds)
            jac[rows, 1, k] = np.einsum("ij,ij->i", e2[rows], ds)
    scan = experiment.scan
    dphi = np.radians(scan.oscillation[1]) if scan is not None else 0.0
    return LocalFrames(centre=centre, jacobian=jac, zeta=np.asarray(zeta, float), dphi=float(dphi), s1=s1)
