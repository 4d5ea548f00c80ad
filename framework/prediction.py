"""Where reflections diffract: rotation angles on the Ewald sphere and rays onto the detector.

For a rotation experiment a reciprocal-lattice point ``r0 = F A h`` turns about the datum
axis ``e``; it diffracts where ``|S R(phi) r0 + s0| = |s0|``. Writing ``s0' = S^T s0``
this is ``a cos(phi) + b sin(phi) = d`` with

    a = s0'.r0 - (e.r0)(e.s0'),  b = s0'.(e x r0),  d = -|r0|^2/2 - (e.r0)(e.s0')

so ``phi = atan2(b, a) +/- arccos(d / hypot(a, b))``: two solutions, or none for points in
the blind region near the axis.

Stills: the reciprocal-lattice point ``q = S F A h`` is turned onto the Ewald sphere in the
plane of ``q`` and ``s0`` (the smallest rotation, about ``q x s0``); the angle turned is
DeltaPsi (:func:`ewald_projection`, :func:`predict_stills`).

Scan-varying crystals (``Crystal.A_at_scan_points``, one A per image boundary) are used by
every function here: A is interpolated linearly between scan points at the reflection's own
angle, and the diffracting angle is found by fixed-point iteration (the angle with A at the
previous estimate), which converges in a few steps because A turns by hundredths of a degree
per image.
"""

from __future__ import annotations

import numpy as np

from friedel.flags import Flags
from friedel.models.geometry import rotate_vectors, unit
from friedel.reflection_table import ReflectionTable


SV_ITERATIONS = 6  # fixed-point steps of the diffracting angle with a scan-varying A
SV_TOLERANCE = 1e-7  # radians: crossings still moving this much after the last step are dropped


def rotation_angles(r0: np.ndarray, s0: np.ndarray, axis: np.ndarray):
    """Both diffracting angles (radians, in (-pi, 3pi)) of points ``r0`` (n x 3) about unit ``axis``.

    ``s0`` (3, or n x 3) must be expressed in the same (datum) frame as ``r0``. Returns (phi1, phi2, ok).
    """
    e = unit(axis)
    r0 = np.atleast_2d(r0)
    s0 = np.asarray(s0, dtype=float)
    er = r0 @ e
    es = s0 @ e
    a = np.sum(r0 * s0, axis=-1) - er * es
    b = np.sum(np.cross(e, r0) * s0, axis=-1)
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


# -- predicted positions of given (observed) reflections: rotation and stills ----------------
class Prediction:
    """Predicted X, Y, phi and the intermediate vectors the gradients need."""

    __slots__ = ("xyz", "ok", "r", "s1", "v", "M", "e", "Dinv", "panel", "groups", "is_still", "_T")


def _apply(M, a):
    """``M @ v`` for every vector v in the last axis of ``a``: einsum with a BLAS path for long
    (n, 3) arrays (much faster than matmul there), a batched product for stacks (k, n, 3)."""
    if np.ndim(a) == 2:
        return np.einsum("...i,ji->...j", a, M, optimize=True)
    return a @ M.T


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


def predict(experiment, hkl, panel, phi_obs=None, A=None) -> Prediction:
    """Predict observations of ``hkl`` on their observed ``panel`` (rays are not clipped to it).

    Rotation scans: of the two crossings of the Ewald sphere the one nearest ``phi_obs``
    (radians) is taken. ``A`` (n x 3 x 3) gives each reflection its own crystal matrix (the
    scan-varying refinement does); otherwise a scan-varying crystal is taken at ``phi_obs``
    and a static one as it is. Stills: the lattice point is turned onto the Ewald sphere and
    the third coordinate is DeltaPsi.
    """
    pred = Prediction()
    pred._T = None  # filled by the refinement's gradients on first use
    hkl = np.asarray(hkl, dtype=float)
    crystal, beam, gonio = experiment.crystal, experiment.beam, experiment.goniometer
    s0 = beam.s0
    if A is None and phi_obs is not None and not experiment.is_still:
        A = crystal_A_at_angles(experiment, np.asarray(phi_obs, dtype=float))
    q = hkl @ crystal.A.T if A is None else (A @ hkl[:, :, None])[:, :, 0]
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
        d1 = _nearest_turn(phi1, ref) - ref
        d2 = _nearest_turn(phi2, ref) - ref
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



def predict_stills(experiment, d_min: float, experiment_id: int = 0, hkl: np.ndarray | None = None,
                   max_delta_psi_deg: float = 0.1) -> ReflectionTable:
    """Predict the spots of a still: lattice points within ``max_delta_psi_deg`` of the Ewald
    sphere (DeltaPsi), turned onto it, that meet the detector.

    Returns ``miller_index, id, panel, s1, xyzcal.mm`` (x, y mm; DeltaPsi rad), ``xyzcal.px``
    (x, y px; z 0), ``d``, ``delpsical.rad`` and the ``predicted`` flag."""
    crystal = experiment.crystal
    if hkl is None:
        hkl = generate_indices(crystal.A, d_min, crystal.space_group_ops)
    hkl = np.asarray(hkl, dtype=np.int32).reshape(-1, 3)
    q = hkl @ crystal.A.T
    gonio = experiment.goniometer
    if gonio is not None:
        q = _apply(gonio.setting_rotation @ gonio.fixed_rotation, q)
    r, psi, ok = ewald_projection(q, experiment.beam.s0)
    ok &= np.abs(psi) <= np.radians(max_delta_psi_deg)
    s1 = experiment.beam.s0 + r[ok]
    panel, xy = experiment.detector.ray_intersection(s1)
    on = panel >= 0
    table = ReflectionTable()
    table["miller_index"] = hkl[ok][on]
    table["id"] = np.full(int(on.sum()), experiment_id, np.int32)
    table["panel"] = panel[on]
    table["s1"] = s1[on]
    table["xyzcal.mm"] = np.column_stack([xy[on], psi[ok][on]])
    px = np.zeros((int(on.sum()), 3))
    for i, p in enumerate(experiment.detector):
        sel = table["panel"] == i
        if sel.any():
            px[sel, :2] = p.mm_to_px(table["xyzcal.mm"][sel, :2])
    table["xyzcal.px"] = px
    table["delpsical.rad"] = psi[ok][on]
    table["d"] = 1.0 / np.linalg.norm(q[ok][on], axis=1)
    table["flags"] = np.full(len(px), int(Flags.predicted), np.int64)
    return table


def _wrap_into(phi, lo, hi):
    """Shift angles by multiples of 2 pi into [lo, lo + 2 pi); flag those inside [lo, hi)."""
    two_pi = 2 * np.pi
    wrapped = lo + np.mod(phi - lo, two_pi)
    return wrapped, wrapped < hi


def _nearest_turn(phi, ref):
    """``phi`` shifted by whole turns to lie within half a turn of ``ref``."""
    return ref + np.mod(phi - ref + np.pi, 2 * np.pi) - np.pi


def crystal_A_at_angles(experiment, phi) -> np.ndarray | None:
    """A (n x 3 x 3) of a scan-varying crystal at rotation angles ``phi`` (radians); None for
    a static crystal (or stills), whose single ``crystal.A`` applies everywhere."""
    crystal, scan = experiment.crystal, experiment.scan
    if crystal is None or not crystal.is_scan_varying_for(scan):
        return None
    return crystal.A_at_frames(scan.frame_from_angle(np.degrees(phi)), scan)


def _sv_angles(experiment, hkl, phi_start):
    """Diffracting angles of ``hkl`` with a scan-varying crystal, starting from ``phi_start``
    (the same pass through the sphere is followed: each step takes the root nearest the last)."""
    gonio, beam = experiment.goniometer, experiment.beam
    S, F = gonio.setting_rotation, gonio.fixed_rotation
    axis = gonio.rotation_axis_datum
    s0_datum = S.T @ beam.s0
    h = np.asarray(hkl, dtype=float)
    phi = np.asarray(phi_start, dtype=float).copy()
    ok = np.ones(len(h), bool)
    step = np.zeros(len(h))
    for _ in range(SV_ITERATIONS):
        A = crystal_A_at_angles(experiment, phi)
        r0 = np.einsum("nij,nj->ni", A, h) @ F.T
        p1, p2, good = rotation_angles(r0, s0_datum, axis)
        p1, p2 = _nearest_turn(p1, phi), _nearest_turn(p2, phi)
        new = np.where(good, np.where(np.abs(p1 - phi) <= np.abs(p2 - phi), p1, p2), phi)
        step, phi = np.abs(new - phi), new
        ok &= good
    # near-tangent crossings (almost along the axis) may not settle; they are not predicted
    return phi, ok & (step < SV_TOLERANCE)


def predict_rotation(experiment, d_min: float, experiment_id: int = 0, hkl: np.ndarray | None = None,
                     margin_deg: float = 0.0) -> ReflectionTable:
    """Predict every reflection recorded in a rotation scan (both passes through the sphere).

    Returns a table with ``miller_index, id, panel, s1, xyzcal.mm`` (x, y mm; phi rad),
    ``xyzcal.px`` (x, y px; frame z), ``entering``, ``d`` and the ``predicted`` flag.
    A scan-varying crystal (``A_at_scan_points`` at the image boundaries) is used at each
    reflection's own angle; otherwise the static ``crystal.A``.
    """
    crystal, beam, gonio, scan = experiment.crystal, experiment.beam, experiment.goniometer, experiment.scan
    varying = crystal.is_scan_varying_for(scan)
    A_static = crystal.A
    if varying:  # candidates from the mid-scan model, with room for the model's turn over the scan
        A_static = crystal.A_at_frames([0.5 * sum(scan.array_range)], scan)[0]
    if hkl is None:
        hkl = generate_indices(A_static, d_min * (0.98 if varying else 1.0), crystal.space_group_ops)
    S, F = gonio.setting_rotation, gonio.fixed_rotation
    axis = gonio.rotation_axis_datum
    s0_datum = S.T @ beam.s0
    r0 = (hkl @ A_static.T) @ F.T
    phi1, phi2, ok = rotation_angles(r0, s0_datum, axis)
    extra = 5.0 if varying else 0.0
    lo, hi = np.radians(scan.oscillation_range[0] - margin_deg), np.radians(scan.oscillation_range[1] + margin_deg)
    if varying:
        # only candidates within a few degrees of the scan are followed to their crossing
        lo_c, hi_c = lo - np.radians(extra), hi + np.radians(extra)
        oks = []
        settled = []
        for phi in (phi1, phi2):
            wrapped, near = _wrap_into(phi, lo_c, hi_c)
            if hi_c - lo_c > 2 * np.pi:
                near[:] = True
            sel = np.flatnonzero(ok & near)
            out = np.full(len(phi), np.nan)
            good = np.zeros(len(phi), bool)
            out[sel], good[sel] = _sv_angles(experiment, hkl[sel], wrapped[sel])
            settled.append(np.where(good, out, 0.0))
            oks.append(good)
        phi1, phi2 = settled
    else:
        oks = (ok, ok)
    rows_h, rows_phi = [], []
    for phi, ok in zip((phi1, phi2), oks):
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
    if varying and hi - lo > 2 * np.pi:  # crossings shifted by a turn settle with the A there
        phi, settled = _sv_angles(experiment, h, phi)
        keep = settled & (phi >= lo) & (phi < hi)
        h, phi = h[keep], phi[keep]
    table = predict_at_angles(experiment, h, phi, experiment_id)
    if varying:  # the same crossing found from both starting roots
        key = np.column_stack([table["miller_index"], np.round(table["xyzcal.mm"][:, 2] * 1e6)])
        _, first = np.unique(key, axis=0, return_index=True)
        if len(first) < len(table):
            table = table.select(np.sort(first))
        if d_min:
            table = table.select(table["d"] >= d_min)
    return table


def predict_at_angles(experiment, hkl: np.ndarray, phi: np.ndarray, experiment_id: int = 0) -> ReflectionTable:
    """Rays and detector positions of reflections ``hkl`` diffracting at angles ``phi`` (radians).

    A scan-varying crystal is taken at each reflection's angle."""
    crystal, beam, gonio, detector = experiment.crystal, experiment.beam, experiment.goniometer, experiment.detector
    hkl = np.asarray(hkl, dtype=np.int32).reshape(-1, 3)
    s0 = beam.s0
    A = crystal_A_at_angles(experiment, np.broadcast_to(np.asarray(phi, dtype=float), (len(hkl),)))
    r0 = (hkl @ crystal.A.T) if A is None else np.einsum("nij,nj->ni", A, hkl.astype(float))
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
