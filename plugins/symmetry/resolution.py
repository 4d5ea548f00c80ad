"""A resolution limit chosen from the data: where <I>/<sigma> or CC1/2 fall below a threshold.

Both are computed in shells of equal counts on the P1-merged data; each limit is the
interpolated crossing of its threshold (from low to high resolution); the higher-resolution
of the two is used (as DIALS does), none if neither falls off.
"""

from __future__ import annotations

import numpy as np


def _crossing(s2_mid: np.ndarray, values: np.ndarray, threshold: float) -> float | None:
    """1/d^2 where ``values`` first falls below ``threshold`` (None if it never does)."""
    ok = np.isfinite(values)
    s2_mid, values = s2_mid[ok], values[ok]
    if not len(values) or values.min() >= threshold:
        return None
    below = int(np.argmax(values < threshold))
    if below == 0:
        return float(s2_mid[0])
    x0, x1, y0, y1 = s2_mid[below - 1], s2_mid[below], values[below - 1], values[below]
    return float(x0 + (y0 - threshold) * (x1 - x0) / (y0 - y1))


def shell_statistics(d_obs, intensity, variance, group, n_bins: int = 20, rng=None):
    """Per shell (low to high resolution): 1/d^2 mid-point, <I>/<sigma> of merged data, CC1/2."""
    rng = np.random.default_rng(230) if rng is None else rng
    d_obs = np.asarray(d_obs, float)
    group = np.asarray(group)
    n_groups = int(group.max()) + 1 if len(group) else 0
    w = 1.0 / np.asarray(variance, float)
    sw = np.bincount(group, weights=w, minlength=n_groups)
    mean = np.bincount(group, weights=w * intensity, minlength=n_groups) / np.maximum(sw, 1e-300)
    sig = 1.0 / np.sqrt(np.maximum(sw, 1e-300))
    d_group = np.zeros(n_groups)
    d_group[group] = d_obs
    # random halves: each observation goes to half 0 or 1, balanced within a reflection
    order = rng.permutation(len(group))
    rank = np.empty(len(group), dtype=np.int64)
    sorted_groups = group[order]
    idx = np.argsort(sorted_groups, kind="stable")
    counts = np.bincount(group, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos_in_group = np.arange(len(group)) - starts[sorted_groups[idx]]
    rank[order[idx]] = pos_in_group
    half = rank % 2
    h_sum = np.zeros((2, n_groups))
    h_n = np.zeros((2, n_groups))
    np.add.at(h_sum, (half, group), intensity)
    np.add.at(h_n, (half, group), 1)
    both = (h_n[0] > 0) & (h_n[1] > 0)
    h_mean = h_sum / np.maximum(h_n, 1)

    s2 = 1.0 / d_group**2
    n_bins = max(1, min(n_bins, n_groups // 30))
    edges = np.quantile(s2, np.linspace(0, 1, n_bins + 1))
    shell = np.clip(np.searchsorted(edges, s2, side="right") - 1, 0, n_bins - 1)
    mids, isig, cc = [], [], []
    for b in range(n_bins):
        sel = shell == b
        mids.append(float(np.mean(s2[sel])) if sel.any() else np.nan)
        isig.append(float(np.mean(mean[sel]) / np.mean(sig[sel])) if sel.any() else np.nan)
        pair = sel & both
        if pair.sum() >= 10 and np.std(h_mean[0, pair]) > 0 and np.std(h_mean[1, pair]) > 0:
            cc.append(float(np.corrcoef(h_mean[0, pair], h_mean[1, pair])[0, 1]))
        else:
            cc.append(np.nan)
    return np.array(mids), np.array(isig), np.array(cc)


def _combined_limit(d_isig, d_cc, mids, isig, cc) -> float | None:
    """The higher-resolution (smaller d) of the two limits; a criterion that never falls off
    lifts the limit only as far as it could be evaluated. CC1/2 needs repeated observations,
    so on a low-multiplicity sweep it may exist in the low-resolution shells alone: it then
    says nothing about the high-resolution data, and <I>/<sigma> decides alone."""
    if d_isig is not None and d_cc is not None:
        return min(d_isig, d_cc)
    if d_isig is None and d_cc is None:
        return None
    found, other_values = (d_isig, cc) if d_isig is not None else (d_cc, isig)
    evaluable = np.isfinite(other_values) & np.isfinite(mids)
    if not evaluable.any():
        return found
    reach = float(1 / np.sqrt(mids[evaluable].max()))  # the highest resolution the other criterion saw
    # the other criterion stayed above its threshold up to `reach`: the data are good at least that far
    return None if reach <= found else found


def auto_d_min(d_obs, intensity, variance, group, min_i_mean_over_sigma_mean: float = 4.0,
               min_cc_half: float = 0.6, rng=None) -> tuple[float | None, dict]:
    """The data's resolution limit (None: use everything) and the numbers behind it."""
    mids, isig, cc = shell_statistics(d_obs, intensity, variance, group, rng=rng)
    limits = {}
    x = _crossing(mids, isig, min_i_mean_over_sigma_mean)
    limits["i_mean_over_sigma_mean"] = None if x is None else float(1 / np.sqrt(x))
    x = _crossing(mids, cc, min_cc_half)
    limits["cc_half"] = None if x is None else float(1 / np.sqrt(x))
    d_min = _combined_limit(limits["i_mean_over_sigma_mean"], limits["cc_half"], mids, isig, cc)
    info = {"shell_d": [float(1 / np.sqrt(m)) if np.isfinite(m) and m > 0 else None for m in mids],
            "i_mean_over_sigma_mean": [None if not np.isfinite(v) else float(v) for v in isig],
            "cc_half": [None if not np.isfinite(v) else float(v) for v in cc],
            "limits": limits, "d_min": d_min}
    return d_min, info
