"""Choice of intensities: profile, summation, or their combination at the Imid that agrees best.

For ``intensity_choice=combine`` the candidates are Imid = 0 (profile only), 1 (summation
only), the mean intensity (at least 10) and Imax/10, Imax/100, ... while above that mean;
each is scored by Rmeas of the scaled intensities over the scaled, non-outlier rows, and
the lowest Rmeas wins (CC1/2 is shown beside it).
"""

from __future__ import annotations

import attrs
import numpy as np

from friedel.plugins.scaling.data import combined_intensities


@attrs.define
class Choice:
    label: str
    imid: float | None
    r_meas: float
    cc_half: float


def rmeas_cchalf(intensity, variance, g, group, use, seed: int = 0) -> tuple[float, float]:
    """Rmeas and CC1/2 (random halves) of scaled intensities over the ``use`` rows."""
    sel = np.flatnonzero(use & (variance > 0))
    if len(sel) < 3:
        return float("nan"), float("nan")
    I = intensity[sel] / g[sel]
    w = g[sel] ** 2 / variance[sel]
    grp = np.unique(group[sel], return_inverse=True)[1].ravel()
    m = int(grp.max()) + 1
    n = np.bincount(grp, minlength=m).astype(float)
    mean = np.bincount(grp, weights=w * I, minlength=m) / np.bincount(grp, weights=w, minlength=m)
    dev = np.abs(I - mean[grp])
    multi = n[grp] > 1
    num = np.bincount(grp[multi], weights=dev[multi], minlength=m)
    factor = np.sqrt(np.divide(n, n - 1, out=np.zeros(m), where=n > 1))
    denom = np.sum(I[multi])
    r_meas = float(np.sum(factor * num) / denom) if denom > 0 else float("nan")
    # CC1/2: each group's observations split at random into two halves
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(grp)), grp))
    rank = np.empty(len(grp), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(n.astype(int))[:-1]])
    rank[order] = np.arange(len(grp)) - starts[grp[order]]
    half = rank % 2
    s0 = np.bincount(grp, weights=np.where(half == 0, I, 0), minlength=m)
    s1 = np.bincount(grp, weights=np.where(half == 1, I, 0), minlength=m)
    c0 = np.bincount(grp, weights=(half == 0).astype(float), minlength=m)
    c1 = np.bincount(grp, weights=(half == 1).astype(float), minlength=m)
    ok = (c0 > 0) & (c1 > 0)
    if ok.sum() < 3:
        return r_meas, float("nan")
    cc = float(np.corrcoef(s0[ok] / c0[ok], s1[ok] / c1[ok])[0, 1])
    return r_meas, cc


def imid_candidates(intensity) -> list[float]:
    """Imid values to try: 0, 1, max(10, mean I), then Imax/10^k while above the mean."""
    positive = intensity[np.isfinite(intensity)]
    avg = max(10.0, float(np.mean(positive))) if len(positive) else 10.0
    out = [0.0, 1.0, avg]
    imax = float(np.max(positive)) if len(positive) else 0.0
    value = imax / 10.0
    while value > avg:
        out.append(value)
        value /= 10.0
    return out


def choose_imid(data, g, use) -> tuple[float, list[Choice]]:
    """The Imid of the lowest Rmeas, and the table of every candidate."""
    both = data.prf_ok & data.sum_ok & use
    if not np.any(both):
        return (0.0 if np.any(data.prf_ok) else 1.0), []
    choices = []
    for imid in imid_candidates(data.i_sum[both]):
        i, v = combined_intensities(data, "combine", imid)
        label = "profile" if imid == 0 else ("sum" if imid == 1 else f"Imid {imid:.2f}")
        r, cc = rmeas_cchalf(i, v, g, data.group, use)
        choices.append(Choice(label=label, imid=imid, r_meas=r, cc_half=cc))
    finite = [c for c in choices if np.isfinite(c.r_meas)]
    best = min(finite, key=lambda c: c.r_meas) if finite else choices[0]
    return best.imid, choices


def choice_table(choices: list[Choice]) -> str:
    lines = [f"{'Combination':>16} {'CC1/2':>8} {'Rmeas':>8}"]
    for c in choices:
        lines.append(f"{c.label:>16} {c.cc_half:8.5f} {c.r_meas:8.5f}")
    return "\n".join(lines)
