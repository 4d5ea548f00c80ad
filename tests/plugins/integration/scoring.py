"""Scoring integrated reflections against the truth of ``friedel simulate``."""

from __future__ import annotations

import numpy as np

from friedel.flags import Flags


def _key(hkl, ids):
    h = np.asarray(hkl, np.int64) + 512
    return ((np.asarray(ids, np.int64) * 1024 + h[:, 0]) * 1024 + h[:, 1]) * 1024 + h[:, 2]


def match_truth(integrated, truth, max_frames: float = 1.0):
    """(integrated rows, truth rows) of the same reflection: same id and hkl, nearest in frame."""
    tk = _key(truth["miller_index"], truth["id"])
    order = np.argsort(tk, kind="stable")
    sorted_keys = tk[order]
    ik = _key(integrated["miller_index"], integrated["id"])
    lo = np.searchsorted(sorted_keys, ik)
    best = np.full(len(ik), -1)
    best_dz = np.full(len(ik), np.inf)
    for k in range(2):
        cand = np.minimum(lo + k, len(order) - 1)
        rows = order[cand]
        dz = np.abs(truth["xyzcal.px"][rows, 2] - integrated["xyzcal.px"][:, 2])
        better = (sorted_keys[cand] == ik) & (dz < best_dz) & (dz < max_frames)
        best[better] = rows[better]
        best_dz[better] = dz[better]
    found = best >= 0
    return np.flatnonzero(found), best[found]


def score(integrated, truth, kind: str) -> dict:
    """CC with the truth on full reflections, SD of (I - I_true)/sigma, RMS error of the weakest half.

    Summation is compared with the recorded photons (``counts.expected``); profile fitting, which
    like DIALS's estimates the whole reflection, with counts.expected / partiality.
    """
    ir, tr = match_truth(integrated, truth)
    flag = Flags.integrated_sum if kind == "sum" else Flags.integrated_prf
    ok = (integrated["flags"][ir] & int(flag)) != 0
    part = truth["partiality"][tr]
    expected = truth["counts.expected"][tr] / (part if kind == "prf" else 1.0)
    value = integrated[f"intensity.{kind}.value"][ir]
    sigma = np.sqrt(integrated[f"intensity.{kind}.variance"][ir])
    ok &= part > 0.1
    full = ok & (part > 0.99)
    z = (value[ok] - expected[ok]) / sigma[ok]
    order = np.argsort(expected[full])
    weak = order[: len(order) // 2]
    err = value[full][weak] - expected[full][weak]
    return {
        "n": int(ok.sum()),
        "cc_full": float(np.corrcoef(value[full], expected[full])[0, 1]),
        "sd_z": float(np.std(z)),
        "mean_z": float(np.mean(z)),
        "rms_weak": float(np.sqrt(np.mean(err**2))),
        "ratio_strong": float(np.median(value[full][order[-len(order) // 4:]] / expected[full][order[-len(order) // 4:]])),
        "matched_truth_rows": tr[ok],
    }


def measurable_truth(truth, experiment, min_counts: float = 50.0, margin_px: float = 3.0) -> np.ndarray:
    """True reflections with > min_counts photons whose peak is in the scan and at least
    ``margin_px`` from a masked region (module gap) or the panel edge."""
    lo, hi = experiment.scan.array_range
    xyz = truth["xyzcal.px"]
    ok = (xyz[:, 2] >= lo) & (xyz[:, 2] < hi) & (truth["counts.expected"] > min_counts) & (truth["panel"] >= 0)
    for p_index, panel in enumerate(experiment.detector):
        on = truth["panel"] == p_index
        nx, ny = panel.image_size
        x, y = xyz[:, 0], xyz[:, 1]
        inside = (x > margin_px) & (y > margin_px) & (x < nx - margin_px) & (y < ny - margin_px)
        for x0, y0, x1, y1 in panel.mask:
            inside &= ~((x > x0 - margin_px) & (x < x1 + margin_px) & (y > y0 - margin_px) & (y < y1 + margin_px))
        ok &= ~on | inside
    return ok
