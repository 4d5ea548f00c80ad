"""Where reflections diffract: rotation angles on the Ewald sphere and rays onto the detector.

For a rotation experiment a reciprocal-lattice point ``r0 = F A h`` turns about the datum
axis ``e``; it diffracts where ``|S R(phi) r0 + s0| = |s0|``. Writing ``s0' = S^T s0``
this is ``a cos(phi) + b sin(phi) = d`` with

    a = s0'.r0 - (e.r0)(e.s0'),  b = s0'.(e x r0),  d = -|r0|^2/2 - (e.r0)(e.s0')

so ``phi = atan2(b, a) +/- arccos(d / hypot(a, b))``: two solutions, or none for points in
the blind region near the axis.
"""

from __future__ import annotations

import numpy as np

from friedel.flags import Flags
from friedel.models.geometry import rotate_vectors, unit
from friedel.reflection_table import ReflectionTable


def rotation_angles(r0: np.ndarray, s0: np.ndarray, axis: np.ndarray):
    """Both diffracting angles (radians, in (-pi, 3pi)) of points ``r0`` (n x 3) about unit ``axis``.

    ``s0`` must be expressed in the same (datum) frame as ``r0``. Returns (phi1, phi2, ok).
    """
    e = unit(axis)
    r0 = np.atleast_2d(r0)
    er = r0 @ e
    es = float(e @ s0)
    a = r0 @ s0 - er * es
    b = np.cross(e, r0) @ s0
    d = -0.5 * np.einsum("ij,ij->i", r0, r0) - er * es
    rho = np.hypot(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_arg = d / rho
    ok = np.abs(cos_arg) <= 1.0
    base = np.arctan2(b, a)
    delta = np.arccos(np.clip(cos_arg, -1.0, 1.0))
    return base + delta, base - delta, ok


def generate_indices(A: np.ndarray, d_min: float, space_group_ops=None) -> np.ndarray:
    """All Miller indices with d >= d_min (not 0,0,0), without systematic absences."""
    direct = np.linalg.inv(A)  # rows a, b, c
    hmax = np.floor(np.linalg.norm(direct, axis=1) / d_min).astype(int) + 1
    grids = np.meshgrid(*[np.arange(-m, m + 1) for m in hmax], indexing="ij")
    hkl = np.stack([g.ravel() for g in grids], axis=1)
    r = hkl @ A.T
    keep = (np.einsum("ij,ij->i", r, r) <= 1.0 / d_min**2) & np.any(hkl != 0, axis=1)
    hkl = hkl[keep]
    if space_group_ops is not None:
        hkl = hkl[~systematically_absent(hkl, space_group_ops)]
    return hkl.astype(np.int32)


def systematically_absent(hkl: np.ndarray, ops) -> np.ndarray:
    """Vectorised gemmi ``is_systematically_absent``: some operation maps h onto itself
    (h R = h) with a phase shift h.t that is not a whole number of turns."""
    hkl = np.asarray(hkl, dtype=np.int64)
    absent = np.zeros(len(hkl), bool)
    for op in ops:
        R = np.array(op.rot, dtype=np.int64)  # scaled by op.DEN (24)
        t = np.array(op.tran, dtype=np.int64)
        invariant = np.all(hkl @ R == hkl * op.DEN, axis=1)
        absent |= invariant & ((hkl @ t) % op.DEN != 0)
    return absent


def _wrap_into(phi, lo, hi):
    """Shift angles by multiples of 2 pi into [lo, lo + 2 pi); flag those inside [lo, hi)."""
    two_pi = 2 * np.pi
    wrapped = lo + np.mod(phi - lo, two_pi)
    return wrapped, wrapped < hi


def predict_rotation(experiment, d_min: float, experiment_id: int = 0, hkl: np.ndarray | None = None,
                     margin_deg: float = 0.0) -> ReflectionTable:
    """Predict every reflection recorded in a rotation scan (both passes through the sphere).

    Returns a table with ``miller_index, id, panel, s1, xyzcal.mm`` (x, y mm; phi rad),
    ``xyzcal.px`` (x, y px; frame z), ``entering``, ``d`` and the ``predicted`` flag.
    A scan-static crystal model is used.
    """
    crystal, beam, gonio, scan = experiment.crystal, experiment.beam, experiment.goniometer, experiment.scan
    if hkl is None:
        hkl = generate_indices(crystal.A, d_min, crystal.space_group_ops)
    S, F = gonio.setting_rotation, gonio.fixed_rotation
    axis = gonio.rotation_axis_datum
    s0_datum = S.T @ beam.s0
    r0 = (hkl @ crystal.A.T) @ F.T
    phi1, phi2, ok = rotation_angles(r0, s0_datum, axis)
    lo, hi = np.radians(scan.oscillation_range[0] - margin_deg), np.radians(scan.oscillation_range[1] + margin_deg)
    rows_h, rows_phi = [], []
    for phi in (phi1, phi2):
        wrapped, inside = _wrap_into(phi, lo, hi)
        sel = ok & inside
        rows_h.append(hkl[sel])
        rows_phi.append(wrapped[sel])
        # a wide scan (> 360 deg) can see a reflection again one turn later
        if hi - lo > 2 * np.pi:
            again = ok & (wrapped + 2 * np.pi < hi)
            rows_h.append(hkl[again])
            rows_phi.append(wrapped[again] + 2 * np.pi)
    h = np.concatenate(rows_h)
    phi = np.concatenate(rows_phi)
    return predict_at_angles(experiment, h, phi, experiment_id)


def predict_at_angles(experiment, hkl: np.ndarray, phi: np.ndarray, experiment_id: int = 0) -> ReflectionTable:
    """Rays and detector positions of reflections ``hkl`` diffracting at angles ``phi`` (radians)."""
    crystal, beam, gonio, detector = experiment.crystal, experiment.beam, experiment.goniometer, experiment.detector
    hkl = np.asarray(hkl, dtype=np.int32).reshape(-1, 3)
    s0 = beam.s0
    r0 = (hkl @ crystal.A.T)
    if gonio is not None:
        r0 = r0 @ gonio.fixed_rotation.T
        r_phi = rotate_vectors(r0, gonio.rotation_axis_datum, phi) @ gonio.setting_rotation.T
    else:
        r_phi = r0
    s1 = s0 + r_phi
    panel, xy = detector.ray_intersection(s1)
    on_detector = panel >= 0
    table = ReflectionTable()
    table["miller_index"] = hkl[on_detector]
    table["id"] = np.full(on_detector.sum(), experiment_id, np.int32)
    table["panel"] = panel[on_detector]
    table["s1"] = s1[on_detector]
    phi = np.broadcast_to(np.asarray(phi, dtype=float), (len(hkl),))[on_detector]
    xy = xy[on_detector]
    table["xyzcal.mm"] = np.column_stack([xy, phi])
    px = np.zeros((len(xy), 3))
    for i, p in enumerate(detector):
        sel = table["panel"] == i
        if sel.any():
            px[sel, :2] = p.mm_to_px(xy[sel])
    scan = experiment.scan
    if scan is not None and not scan.is_still:
        px[:, 2] = scan.frame_from_angle(np.degrees(phi))
    table["xyzcal.px"] = px
    if gonio is not None:
        # entering: the point moves into the Ewald sphere as phi increases
        table["entering"] = (table["s1"] @ np.cross(s0, gonio.rotation_axis)) < 0
    else:
        table["entering"] = np.zeros(len(px), bool)
    table["d"] = 1.0 / np.linalg.norm(r_phi[on_detector], axis=1)
    table["flags"] = np.full(len(px), int(Flags.predicted), np.int64)
    return table
