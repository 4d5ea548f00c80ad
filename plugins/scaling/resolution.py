"""Resolution estimates from merging statistics in fine resolution shells.

CC1/2 is fitted with the tanh curve CC½(s) = ½(1 − tanh((s − s0)/r)), s = 1/d² (the shape
users know from the mature tools), over the shells where CC½ is significant, and the limit is
where the fit crosses ``cc_half`` (default 0.3): s = s0 + r·atanh(1 − 2·cc_half).
⟨I/σ⟩ of unmerged (``isigma``) and merged (``misigma``) data are fitted as a cubic in s of
log(value); completeness as a cubic in s. Each criterion's limit is the first crossing from
low to high resolution; when a criterion is never crossed, the limit is the data's.
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy.optimize import curve_fit

N_GRID = 2000


@attrs.define
class ResolutionCriterion:
    name: str
    limit: float  # the cutoff value of the criterion
    d_min: float | None  # suggested limit (Angstrom)
    note: str = ""
    s: list = attrs.field(factory=list)  # 1/d^2 of the shells used
    values: list = attrs.field(factory=list)
    fit: list = attrs.field(factory=list)

    def as_dict(self) -> dict:
        return {"criterion": self.name, "limit": self.limit, "d_min": self.d_min, "note": self.note,
                "s": self.s, "values": self.values, "fit": self.fit}


def tanh_curve(s, s0, r):
    return 0.5 * (1.0 - np.tanh((s - s0) / r))


def fit_cc_half(s, cc, limit: float = 0.3):
    """Fit the tanh curve to (s, CC½); returns (s at the limit or None, fitted values, note)."""
    s, cc = np.asarray(s, float), np.asarray(cc, float)
    ok = np.isfinite(s) & np.isfinite(cc)
    s, cc = s[ok], cc[ok]
    if len(s) < 3:
        return None, np.full(len(s), np.nan), "fewer than 3 significant shells"
    span = max(float(s.max() - s.min()), 1e-6)
    below = np.flatnonzero(cc < 0.5)
    s0_start = float(s[below[0]]) if len(below) else float(s.max())
    try:
        (s0, r), _ = curve_fit(tanh_curve, s, np.clip(cc, -0.5, 1.0), p0=[s0_start, span / 4],
                               bounds=([s.min() - 10 * span, 1e-6 * span], [s.max() + 100 * span, 100 * span]),
                               maxfev=5000)
    except (RuntimeError, ValueError):
        return None, np.full(len(s), np.nan), "tanh fit failed"
    fitted = tanh_curve(s, s0, r)
    return float(s0 + r * np.arctanh(1.0 - 2.0 * limit)), fitted, ""


def _crossing(s, fit_fn, limit, decreasing=True):
    grid = np.linspace(s.min(), s.max(), N_GRID)
    values = fit_fn(grid)
    below = values < limit if decreasing else values > limit
    idx = np.flatnonzero(below)
    if not len(idx):
        return None
    return float(grid[idx[0]])


def fit_log_cubic(s, y, limit):
    """Cubic fit of log(y) in s; returns (s of the first crossing of ``limit`` or None, fitted)."""
    s, y = np.asarray(s, float), np.asarray(y, float)
    ok = np.isfinite(s) & np.isfinite(y) & (y > 0)
    if ok.sum() < 4:
        return None, np.full(len(s), np.nan)
    coef = np.polyfit(s[ok], np.log(y[ok]), 3)
    fitted = np.exp(np.polyval(coef, s))
    return _crossing(s[ok], lambda x: np.exp(np.polyval(coef, x)), limit), fitted


def fit_cubic(s, y, limit):
    s, y = np.asarray(s, float), np.asarray(y, float)
    ok = np.isfinite(s) & np.isfinite(y)
    if ok.sum() < 4:
        return None, np.full(len(s), np.nan)
    coef = np.polyfit(s[ok], y[ok], 3)
    return _crossing(s[ok], lambda x: np.polyval(coef, x), limit), np.polyval(coef, s)


#: a shell needs this many pairs of half-data-set means before a non-significant CC1/2 counts as noise
MIN_PAIRS = 20


def _noise_edge(shells, significant: np.ndarray) -> float:
    """Where CC1/2 has too few pairs to judge (multiplicity near 1), the data end where the merged
    <I/sigma> of two shells in a row is below 1 (noise) beyond the last significant CC1/2 shell."""
    if not significant.any():
        return float(shells[-1].d_min)
    last = int(np.flatnonzero(significant).max())
    misigma = np.array([sh.mean_i_over_sigma for sh in shells], dtype=float)
    noise = ~(misigma > 1.0)  # NaN counts as noise
    for k in range(last + 1, len(shells) - 1):
        if noise[k] and noise[k + 1]:
            return float(shells[k - 1].d_min)
    return float(shells[-1].d_min)


def estimate(shells, isigma_unmerged, data_d_min: float, cc_half: float | None = 0.3,
             isigma: float | None = None, misigma: float | None = None,
             completeness: float | None = None) -> list[ResolutionCriterion]:
    """Suggested limits for each requested criterion from merging-statistics ``shells``.

    ``isigma_unmerged`` is the mean unmerged I/σ of each shell (same order as ``shells``).
    """
    s_all = np.array([0.5 * (sh.d_max ** -2 + sh.d_min ** -2) for sh in shells])  # shell centres in 1/d^2
    out = []

    def to_d(s_cross, s_used):
        if s_cross is None:
            return data_d_min, "never crossed: the data limit"
        if s_cross >= s_used.max() or s_cross <= 0:
            return data_d_min, "beyond the data: the data limit"
        return float(1.0 / np.sqrt(s_cross)), ""

    if cc_half is not None:
        cc = np.array([sh.cc_half for sh in shells])
        sig = np.array([sh.cc_half_significant for sh in shells])
        use = sig & np.isfinite(cc)
        s_used = s_all[use]
        # CC1/2 needs repeated observations: on a low-multiplicity sweep it stops short of the
        # data limit, and it cannot vouch for the data beyond the last shell it was computed in
        # (a CC1/2 that is not significantly above zero measures noise: such shells do not count)
        # the evaluable range ends where two shells in a row measured a CC1/2 that is not
        # significant (one may be chance; shells with too few pairs to tell are passed over)
        pairs = np.array([getattr(sh, "cc_half_n", MIN_PAIRS) for sh in shells])
        known = np.flatnonzero(np.isfinite(cc) & (sig | (pairs >= MIN_PAIRS)))
        failing = ~sig[known]
        two = np.flatnonzero(failing[:-1] & failing[1:]) if len(known) > 1 else np.zeros(0, int)
        if len(two):
            good = known[: two[0]][sig[known[: two[0]]]]
            evaluable_d = float(shells[good.max()].d_min) if len(good) else data_d_min
        else:
            evaluable_d = _noise_edge(shells, use)
        short = evaluable_d > data_d_min * 1.01
        short_note = (f"CC1/2 is significant only to {evaluable_d:.2f} A (beyond, too few repeated "
                      "observations or no correlation): the limit is set there")
        if np.all(cc[np.isfinite(cc)] >= cc_half):
            d, note, fitted = data_d_min, "CC1/2 above the limit in every shell: the data limit", cc[use] * np.nan
            if short:
                d, note = evaluable_d, short_note
        else:
            s_cross, fitted, note = fit_cc_half(s_used, cc[use], cc_half)
            d, note2 = to_d(s_cross, s_all) if len(s_used) else (data_d_min, "")
            note = note or note2
            if short and d < evaluable_d:
                d, note = evaluable_d, short_note
        out.append(ResolutionCriterion("cc_half", cc_half, d, note, s_used.tolist(), cc[use].tolist(),
                                       [float(x) for x in fitted]))
    for name, limit, values, fitter in (
        ("isigma", isigma, np.asarray(isigma_unmerged, float), fit_log_cubic),
        ("misigma", misigma, np.array([sh.mean_i_over_sigma for sh in shells]), fit_log_cubic),
        ("completeness", completeness, np.array([sh.completeness for sh in shells]), fit_cubic),
    ):
        if limit is None:
            continue
        if np.all(values[np.isfinite(values)] >= limit):
            d, note, fitted = data_d_min, f"{name} above the limit in every shell: the data limit", values * np.nan
        else:
            s_cross, fitted = fitter(s_all, values, limit)
            d, note = to_d(s_cross, s_all)
        out.append(ResolutionCriterion(name, limit, d, note, s_all.tolist(), values.tolist(),
                                       [float(x) for x in fitted]))
    return out


def unmerged_isigma_per_shell(d, intensity, variance, stats) -> np.ndarray:
    """Mean unmerged I/σ of the observations in each shell of ``stats`` (MergingStatistics)."""
    from friedel.miller import ResolutionBins

    shells = stats.shells
    bins = ResolutionBins(d, n_bins=len(shells), d_min=shells[-1].d_min, d_max=shells[0].d_max)
    isig = intensity / np.sqrt(variance)
    ok = bins.index >= 0
    n = np.bincount(bins.index[ok], minlength=len(shells))
    total = np.bincount(bins.index[ok], weights=isig[ok], minlength=len(shells))
    return np.divide(total, n, out=np.full(len(shells), np.nan), where=n > 0)


def criteria_table(criteria: list[ResolutionCriterion]) -> str:
    lines = []
    for c in criteria:
        d = f"{c.d_min:.2f}" if c.d_min is not None else "n/a"
        lines.append(f"Resolution {c.name} (limit {c.limit:g}): {d}" + (f"  ({c.note})" if c.note else ""))
    return "\n".join(lines)
