"""Predicting the reflections to integrate, and matching the strong spots to them."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.prediction import predict_rotation, systematically_absent
from friedel.reflection_table import ReflectionTable


@njit(cache=True)
def _swept_indices(M, s0, e, hmax, inv_d2, lo, hi, out, count_only):
    """Indices whose point M h (datum frame) meets the Ewald sphere at an angle in [lo, hi)."""
    es = e[0] * s0[0] + e[1] * s0[1] + e[2] * s0[2]
    two_pi = 2 * math.pi
    n = 0
    for h in range(-hmax[0], hmax[0] + 1):
        for k in range(-hmax[1], hmax[1] + 1):
            for l in range(-hmax[2], hmax[2] + 1):
                if h == 0 and k == 0 and l == 0:
                    continue
                r0 = M[0, 0] * h + M[0, 1] * k + M[0, 2] * l
                r1 = M[1, 0] * h + M[1, 1] * k + M[1, 2] * l
                r2 = M[2, 0] * h + M[2, 1] * k + M[2, 2] * l
                rr = r0 * r0 + r1 * r1 + r2 * r2
                if rr > inv_d2:
                    continue
                er = e[0] * r0 + e[1] * r1 + e[2] * r2
                a = r0 * s0[0] + r1 * s0[1] + r2 * s0[2] - er * es
                # (e x r) . s0
                b = (e[1] * r2 - e[2] * r1) * s0[0] + (e[2] * r0 - e[0] * r2) * s0[1] + (e[0] * r1 - e[1] * r0) * s0[2]
                d = -0.5 * rr - er * es
                rho = math.hypot(a, b)
                if rho == 0.0 or abs(d / rho) > 1.0:
                    continue
                base = math.atan2(b, a)
                delta = math.acos(d / rho)
                hit = False
                for phi in (base + delta, base - delta):
                    wrapped = lo + ((phi - lo) % two_pi)
                    if wrapped < hi or hi - lo >= two_pi:
                        hit = True
                if hit:
                    if not count_only:
                        out[n, 0] = h
                        out[n, 1] = k
                        out[n, 2] = l
                    n += 1
    return n


def candidate_indices(experiment, d_min: float, margin_deg: float) -> np.ndarray:
    """Miller indices that can diffract within the scan (+ ``margin_deg``), without absences.

    Only the reflections swept through the sphere are kept (for a 20 degree wedge of a long
    cell, a few percent of the resolution sphere), so the exact (scan-varying) prediction
    works on those alone.
    """
    crystal, gonio, scan = experiment.crystal, experiment.goniometer, experiment.scan
    A = crystal.A
    if crystal.A_at_scan_points is not None:
        A = crystal.A_at_frames([0.5 * sum(scan.array_range)], scan)[0]
    M = gonio.fixed_rotation @ A
    s0 = gonio.setting_rotation.T @ experiment.beam.s0
    e = gonio.rotation_axis_datum / np.linalg.norm(gonio.rotation_axis_datum)
    hmax = (np.floor(np.linalg.norm(np.linalg.inv(A), axis=1) / d_min).astype(np.int64) + 1)
    lo = math.radians(scan.oscillation_range[0] - margin_deg)
    hi = math.radians(scan.oscillation_range[1] + margin_deg)
    args = (np.ascontiguousarray(M), np.ascontiguousarray(s0), np.ascontiguousarray(e), hmax, 1.0 / d_min**2, lo, hi)
    n = _swept_indices(*args, np.zeros((0, 3), np.int32), True)
    out = np.zeros((n, 3), np.int32)
    _swept_indices(*args, out, False)
    return out[~systematically_absent(out, crystal.space_group_ops)]


def predict_experiment(experiment, experiment_id: int, params) -> ReflectionTable:
    """Every reflection of one rotation experiment in the scan (+ padding), both Ewald crossings.

    ``params`` is the ``prediction`` scope. Uses the scan-varying crystal when present.
    """
    if experiment.is_still:
        raise FriedelError("friedel integrate handles rotation sweeps; this experiment is a still")
    if experiment.crystal is None:
        raise FriedelError("an experiment has no crystal model: integrate indexed and refined experiments")
    d_min = params.d_min or experiment.detector.max_resolution(experiment.beam.s0)
    # scan-varying models turn over the scan: candidates from the mid-scan model, with room
    varying = experiment.crystal.A_at_scan_points is not None
    hkl = candidate_indices(experiment, d_min * (0.98 if varying else 1.0), params.padding + (2.0 if varying else 0.5))
    table = predict_rotation(experiment, d_min, experiment_id=experiment_id, hkl=hkl, margin_deg=params.padding)
    keep = table["d"] >= d_min
    if params.d_max is not None:
        keep &= table["d"] <= params.d_max
    return table.select(keep)


def _keys(ids, hkl):
    h = np.asarray(hkl, np.int64) + 1024
    return ((np.asarray(ids, np.int64) * 2048 + h[:, 0]) * 2048 + h[:, 1]) * 2048 + h[:, 2]


def reference_spots(reflections: ReflectionTable) -> np.ndarray:
    """Rows of the strong spots usable as reference: indexed, not refinement outliers, hkl != 0."""
    if reflections is None or len(reflections) == 0 or "miller_index" not in reflections:
        return np.zeros(0, np.int64)
    ok = reflections.get_flags(Flags.indexed) & ~reflections.get_flags(Flags.bad_for_refinement, all=False)
    ok &= np.any(reflections["miller_index"] != 0, axis=1) & (reflections["id"] >= 0)
    if "xyzobs.px.value" not in reflections:
        return np.zeros(0, np.int64)
    return np.flatnonzero(ok)


def match_reference(predicted: ReflectionTable, strong: ReflectionTable, rows: np.ndarray,
                    max_frames: float = 3.0, max_pixels: float = 6.0):
    """(predicted rows, strong rows) of strong spots matched to their prediction (same id and hkl,
    nearest in frame, within ``max_frames`` and ``max_pixels``); each prediction used once."""
    if not len(rows) or not len(predicted):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pk = _keys(predicted["id"], predicted["miller_index"])
    order = np.argsort(pk, kind="stable")
    sorted_keys = pk[order]
    sk = _keys(strong["id"][rows], strong["miller_index"][rows])
    obs = strong["xyzobs.px.value"][rows]
    cal = predicted["xyzcal.px"]
    lo = np.searchsorted(sorted_keys, sk, "left")
    hi = np.searchsorted(sorted_keys, sk, "right")
    best = np.full(len(rows), -1, np.int64)
    best_dz = np.full(len(rows), np.inf)
    for k in range(3):  # up to three predictions of one hkl (both crossings, > 360 deg scans)
        cand = lo + k
        has = cand < hi
        idx = order[np.minimum(cand, len(order) - 1)]
        dz = np.abs(cal[idx, 2] - obs[:, 2])
        dxy = np.hypot(cal[idx, 0] - obs[:, 0], cal[idx, 1] - obs[:, 1])
        better = has & (dz < best_dz) & (dz <= max_frames) & (dxy <= max_pixels)
        best[better] = idx[better]
        best_dz[better] = dz[better]
    found = best >= 0
    pred_rows, strong_rows = best[found], rows[found]
    _, first = np.unique(pred_rows, return_index=True)
    return pred_rows[first], strong_rows[first]
