"""Predicting the reflections to integrate, and matching the strong spots to them."""

from __future__ import annotations

import numpy as np

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.prediction import predict_rotation
from friedel.reflection_table import ReflectionTable


def predict_experiment(experiment, experiment_id: int, params) -> ReflectionTable:
    """Every reflection of one rotation experiment in the scan (+ padding), both Ewald crossings.

    ``params`` is the ``prediction`` scope. Uses the scan-varying crystal when present.
    """
    if experiment.is_still:
        raise FriedelError("friedel integrate handles rotation sweeps; this experiment is a still")
    if experiment.crystal is None:
        raise FriedelError("an experiment has no crystal model: integrate indexed and refined experiments")
    d_min = params.d_min or experiment.detector.max_resolution(experiment.beam.s0)
    table = predict_rotation(experiment, d_min, experiment_id=experiment_id, margin_deg=params.padding)
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
