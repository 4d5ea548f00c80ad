"""Merging of symmetry-equivalent observations and the merging-statistics table.

Used by ``scale`` (the table users read first), ``merge`` (the same table again),
``estimate_resolution`` (CC½ per shell) and ``process``/``report``. The definitions are the
usual ones (Evans 2006; Karplus & Diederichs 2012)::

    Rmerge = ΣΣ|I_i − <I>| / ΣΣ I_i
    Rmeas  = Σ sqrt(n/(n − 1)) Σ|I_i − <I>| / ΣΣ I_i
    Rpim   = Σ sqrt(1/(n − 1)) Σ|I_i − <I>| / ΣΣ I_i

summed over unique reflections measured more than once, with <I> the inverse-variance weighted
mean; CC½ is the Pearson correlation of the weighted means of two random halves of each unique
reflection's observations (seed 0); mean I/σ is the mean over unique reflections of
<I>/σ(<I>), σ(<I>) = (Σ 1/σ_i²)^−½; completeness is measured unique / possible unique in the
shell; CC_anom is the half-data-set correlation of ΔI = I+ − I− over acentric reflections.

>>> import numpy as np
>>> hkl = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, 0, 2]])
>>> m = merge_equivalents(hkl, np.array([10., 12., 11., 5.]), np.ones(4), "P 4 2 2")
>>> m.intensity.tolist(), m.multiplicity.tolist()
([5.0, 11.0], [1, 3])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from friedel.miller import (ResolutionBins, as_space_group, as_unit_cell, asu_mapping, complete_set, d_spacing,
                            hkl_key)
from friedel.prediction import systematically_absent


@dataclass
class Merged:
    """Unique reflections merged from their equivalent observations.

    ``hkl`` rows are ASU indices (with ``anomalous``, the I− half of an acentric index is
    given as the negated ASU index, as merged anomalous arrays list Friedel mates);
    ``group`` maps every input observation to its row here.
    """

    hkl: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray
    multiplicity: np.ndarray
    group: np.ndarray
    centric: np.ndarray
    epsilon: np.ndarray
    plus: np.ndarray
    anomalous: bool


def _weighted_group_means(group, n_groups, intensity, variance):
    with np.errstate(divide="ignore"):
        w = np.where(variance > 0, 1.0 / variance, 0.0)
    sw = np.bincount(group, w, minlength=n_groups)
    swi = np.bincount(group, w * intensity, minlength=n_groups)
    n = np.bincount(group, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sw > 0, swi / sw, np.nan)
        sigma = np.where(sw > 0, 1.0 / np.sqrt(sw), np.nan)
    return mean, sigma, n


def merge_equivalents(hkl, intensity, variance, space_group, anomalous: bool = False) -> Merged:
    """Inverse-variance weighted mean of each set of symmetry-equivalent observations.

    Observations with a non-positive variance get no weight (their group's mean is NaN when
    none of its observations has a usable variance).
    """
    intensity = np.asarray(intensity, dtype=float)
    variance = np.asarray(variance, dtype=float)
    m = asu_mapping(hkl, space_group, anomalous=anomalous)
    mean, sigma, n = _weighted_group_means(m.group, m.n_groups, intensity, variance)
    sg = as_space_group(space_group)
    ops = sg.operations()
    centric = np.asarray(ops.centric_flag_array(m.unique_hkl), dtype=bool) if m.n_groups else np.zeros(0, bool)
    epsilon = np.asarray(ops.epsilon_factor_array(m.unique_hkl), dtype=int) if m.n_groups else np.zeros(0, int)
    out_hkl = np.where(m.unique_plus[:, None], m.unique_hkl, -m.unique_hkl).astype(np.int32)
    return Merged(hkl=out_hkl, intensity=mean, sigma=sigma, multiplicity=n, group=m.group,
                  centric=centric, epsilon=epsilon, plus=m.unique_plus, anomalous=anomalous)


@dataclass
class ShellStatistics:
    """Merging statistics of one resolution shell (or of all the data)."""

    d_max: float
    d_min: float
    n_obs: int = 0
    n_unique: int = 0
    n_possible: int = 0
    multiplicity: float = float("nan")
    completeness: float = float("nan")  # percent
    mean_intensity: float = float("nan")
    mean_i_over_sigma: float = float("nan")
    r_merge: float = float("nan")
    r_meas: float = float("nan")
    r_pim: float = float("nan")
    cc_half: float = float("nan")
    cc_half_n: int = 0
    cc_half_significant: bool = False
    cc_anom: float = float("nan")
    anom_completeness: float = float("nan")  # percent
    anom_multiplicity: float = float("nan")


def _pearson(x, y) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / den) if den > 0 else float("nan")


def cc_significant(cc: float, n: int, level: float = 0.01) -> bool:
    """Whether a correlation of ``n`` pairs is significantly above zero (one-sided t-test)."""
    from scipy.special import stdtr  # scipy.stats would cost ~2 s of import

    if not np.isfinite(cc) or n < 3 or cc >= 1.0:
        return bool(np.isfinite(cc) and cc >= 1.0 and n >= 3)
    t = cc * np.sqrt((n - 2) / (1.0 - cc * cc))
    return bool(stdtr(n - 2, -t) < level)  # one-sided p = P(T > t)


def _random_halves(group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0/1 half of each observation: within each group the observations are shuffled and split
    as evenly as possible (an odd one out goes to a random half)."""
    n = len(group)
    order = np.lexsort((rng.random(n), group))
    g_sorted = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)
    # the odd one out of a group goes to half 0 or 1 at random
    flip = np.repeat(rng.integers(0, 2, len(starts)), counts)
    half_sorted = ((rank + flip) % 2).astype(np.int8)
    half = np.empty(n, np.int8)
    half[order] = half_sorted
    return half


class _ShellAccumulator:
    """Vectorised statistics over the unique groups of one mapping, for any subset of groups."""

    def __init__(self, mapping, intensity, variance, rng):
        self.m = mapping
        g, ng = mapping.group, mapping.n_groups
        self.intensity, self.variance = intensity, variance
        self.mean, self.sigma, self.n = _weighted_group_means(g, ng, intensity, variance)
        dev = np.abs(intensity - self.mean[g])
        self.sum_dev = np.bincount(g, dev, minlength=ng)
        self.sum_i = np.bincount(g, intensity, minlength=ng)
        half = _random_halves(g, rng)
        self.half_mean = []
        for h in (0, 1):
            sel = half == h
            mean_h, _, _ = _weighted_group_means(g[sel], ng, intensity[sel], variance[sel])
            self.half_mean.append(mean_h)

    def fill(self, stats: ShellStatistics, groups: np.ndarray) -> None:
        n = self.n[groups]
        stats.n_obs = int(n.sum())
        stats.n_unique = int(len(groups))
        if stats.n_unique:
            stats.multiplicity = stats.n_obs / stats.n_unique
            stats.mean_intensity = float(np.nanmean(self.mean[groups])) if np.isfinite(self.mean[groups]).any() else float("nan")
            with np.errstate(invalid="ignore", divide="ignore"):
                ios = self.mean[groups] / self.sigma[groups]
            ios = ios[np.isfinite(ios)]
            stats.mean_i_over_sigma = float(ios.mean()) if len(ios) else float("nan")
        multi = groups[n > 1]
        if len(multi):
            nm = self.n[multi].astype(float)
            den = self.sum_i[multi].sum()
            if den != 0:
                dev = self.sum_dev[multi]
                stats.r_merge = float(dev.sum() / den)
                stats.r_meas = float((np.sqrt(nm / (nm - 1)) * dev).sum() / den)
                stats.r_pim = float((np.sqrt(1 / (nm - 1)) * dev).sum() / den)
            a, b = self.half_mean[0][multi], self.half_mean[1][multi]
            stats.cc_half = _pearson(a, b)
            stats.cc_half_n = int((np.isfinite(a) & np.isfinite(b)).sum())
            stats.cc_half_significant = cc_significant(stats.cc_half, stats.cc_half_n)


@dataclass
class MergingStatistics:
    """Overall and per-shell merging statistics (see the module docstring for definitions)."""

    overall: ShellStatistics
    shells: list[ShellStatistics]
    anomalous: bool
    space_group: str
    unit_cell: tuple
    notes: list[str] = field(default_factory=list)

    @property
    def inner(self) -> ShellStatistics:
        return self.shells[0]

    @property
    def outer(self) -> ShellStatistics:
        return self.shells[-1]

    def as_dict(self) -> dict:
        """Plain numbers for JSON (NaN becomes None)."""

        def clean(d):
            return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}

        return {
            "space_group": self.space_group, "unit_cell": list(self.unit_cell), "anomalous": self.anomalous,
            "overall": clean(asdict(self.overall)), "inner": clean(asdict(self.inner)),
            "outer": clean(asdict(self.outer)), "shells": [clean(asdict(s)) for s in self.shells],
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """The per-shell table and the overall / inner / outer summary, as text."""
        head = (" d_max  d_min   #obs  #uniq   mult.  %comp     <I>  <I/sI>  r_mrg r_meas  r_pim   cc1/2"
                + ("  cc_ano" if self.anomalous else ""))
        lines = [head]

        def fmt(x, spec):
            return format(x, spec) if np.isfinite(x) else " " * (int(spec.split(".")[0]) - 3) + "nan"

        def row(s, label=None):
            star = "*" if s.cc_half_significant else " "
            text = (f"{s.d_max:6.2f} {s.d_min:6.2f} {s.n_obs:6d} {s.n_unique:6d} {fmt(s.multiplicity, '7.2f')} "
                    f"{fmt(s.completeness, '6.2f')} {fmt(s.mean_intensity, '7.1f')} {fmt(s.mean_i_over_sigma, '7.2f')} "
                    f"{fmt(s.r_merge, '6.3f')} {fmt(s.r_meas, '6.3f')} {fmt(s.r_pim, '6.3f')} {fmt(s.cc_half, '7.3f')}{star}")
            if self.anomalous:
                text += f" {fmt(s.cc_anom, '6.3f')}"
            return text + (f"  {label}" if label else "")

        lines += [row(s) for s in self.shells]
        lines.append(row(self.overall, "overall"))
        lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def summary(self) -> str:
        """"Table 1": overall, inner shell and outer shell side by side."""
        cols = [self.overall, self.inner, self.outer]
        rows = [
            ("High resolution limit", "d_min", "{:.2f}"), ("Low resolution limit", "d_max", "{:.2f}"),
            ("Completeness (%)", "completeness", "{:.1f}"), ("Multiplicity", "multiplicity", "{:.2f}"),
            ("I/sigma", "mean_i_over_sigma", "{:.2f}"), ("Rmerge(I)", "r_merge", "{:.3f}"),
            ("Rmeas(I)", "r_meas", "{:.3f}"), ("Rpim(I)", "r_pim", "{:.3f}"), ("CC half", "cc_half", "{:.3f}"),
        ]
        if self.anomalous:
            rows += [("Anomalous completeness (%)", "anom_completeness", "{:.1f}"),
                     ("Anomalous multiplicity", "anom_multiplicity", "{:.2f}"),
                     ("Anomalous correlation", "cc_anom", "{:.3f}")]
        rows += [("Total observations", "n_obs", "{:d}"), ("Total unique", "n_unique", "{:d}")]
        out = [f"{'':28s}{'Overall':>10s}{'Low':>10s}{'High':>10s}"]
        for label, key, spec in rows:
            vals = []
            for c in cols:
                v = getattr(c, key)
                vals.append(spec.format(v) if not (isinstance(v, float) and not np.isfinite(v)) else "nan")
            out.append(f"{label:28s}" + "".join(f"{v:>10s}" for v in vals))
        return "\n".join(out)


def _anomalous_statistics(hkl, intensity, variance, space_group, shell_of, shells, overall,
                          possible_acentric: np.ndarray, rng) -> None:
    """CC_anom, anomalous completeness and multiplicity, per shell and overall (acentrics only)."""
    m = asu_mapping(hkl, space_group, anomalous=True)
    acentric = ~m.centric
    if not acentric.any():
        return
    sel = np.flatnonzero(acentric)
    key, pair = np.unique(hkl_key(m.hkl[sel]), return_inverse=True)
    pair = pair.ravel()
    n_pairs = len(key)
    sign = m.plus[sel]
    I, V = intensity[sel], variance[sel]
    half = _random_halves(m.group[sel], rng)

    def delta(mask):
        mp, _, npl = _weighted_group_means(pair[mask & sign], n_pairs, I[mask & sign], V[mask & sign])
        mm, _, nmi = _weighted_group_means(pair[mask & ~sign], n_pairs, I[mask & ~sign], V[mask & ~sign])
        return mp - mm, npl, nmi

    all_mask = np.ones(len(sel), bool)
    _, n_plus, n_minus = delta(all_mask)
    d0, _, _ = delta(half == 0)
    d1, _, _ = delta(half == 1)
    both = (n_plus > 0) & (n_minus > 0)
    pair_shell = np.full(n_pairs, -1)
    pair_shell[pair] = shell_of[sel]
    n_anom_groups = (n_plus > 0).astype(int) + (n_minus > 0).astype(int)
    for s, stats in list(enumerate(shells)) + [(None, overall)]:
        in_shell = np.ones(n_pairs, bool) if s is None else pair_shell == s
        possible = possible_acentric.sum() if s is None else possible_acentric[s]
        sel_pairs = in_shell & both
        if possible:
            stats.anom_completeness = 100.0 * sel_pairs.sum() / possible
        groups = n_anom_groups[in_shell].sum()
        if groups:
            stats.anom_multiplicity = float((n_plus[in_shell] + n_minus[in_shell]).sum() / groups)
        stats.cc_anom = _pearson(d0[sel_pairs], d1[sel_pairs])


def merging_statistics(hkl, intensity, variance, space_group, unit_cell, anomalous: bool = False, n_bins: int = 20,
                       d_min: float | None = None, d_max: float | None = None, seed: int = 0) -> MergingStatistics:
    """Merging statistics of scaled, unmerged intensities, overall and in ``n_bins`` shells.

    Parameters
    ----------
    hkl : (n, 3) observed Miller indices (any symmetry-equivalent setting)
    intensity, variance : scaled intensities and their variances
    space_group, unit_cell : gemmi objects, a name, or six numbers
    anomalous : also compute the anomalous columns (CC_anom, anomalous completeness/multiplicity)
    d_min, d_max : resolution limits (observations outside are left out)
    """
    sg = as_space_group(space_group)
    cell = as_unit_cell(unit_cell)
    hkl = np.asarray(hkl, dtype=np.int32).reshape(-1, 3)
    intensity = np.asarray(intensity, dtype=float)
    variance = np.asarray(variance, dtype=float)
    keep = np.isfinite(intensity) & np.isfinite(variance) & (variance > 0)
    d_obs = d_spacing(hkl, cell)
    if d_min is not None:
        keep &= d_obs >= d_min - 1e-9
    if d_max is not None:
        keep &= d_obs <= d_max + 1e-9
    notes = []
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} observations outside the limits or without a positive variance left out")
    hkl, intensity, variance, d_obs = hkl[keep], intensity[keep], variance[keep], d_obs[keep]
    if len(hkl) == 0:
        raise ValueError("no observations to compute merging statistics from")
    lo = float(d_min) if d_min is not None else float(d_obs.min())
    hi = float(d_max) if d_max is not None else float(d_obs.max())
    bins = ResolutionBins(d_obs, n_bins=n_bins, d_min=lo, d_max=hi)
    rng = np.random.default_rng(seed)
    mapping = asu_mapping(hkl, sg, anomalous=False)
    acc = _ShellAccumulator(mapping, intensity, variance, rng)
    group_d = d_spacing(mapping.unique_hkl, cell)
    group_shell = bins.assign(group_d)
    # completeness counts measured reflections of the possible set: a systematically absent
    # index that was integrated anyway is in the statistics but not in the count
    present = ~systematically_absent(mapping.unique_hkl, sg.operations())
    possible = complete_set(sg, cell, lo * (1 - 1e-9), hi * (1 + 1e-9))
    possible_shell = bins.assign(d_spacing(possible, cell))
    possible_counts = np.bincount(possible_shell[possible_shell >= 0], minlength=n_bins)
    shells = []
    for s in range(n_bins):
        stats = ShellStatistics(d_max=float(bins.d_max[s]), d_min=float(bins.d_min[s]))
        acc.fill(stats, np.flatnonzero(group_shell == s))
        stats.n_possible = int(possible_counts[s])
        if stats.n_possible:
            stats.completeness = 100.0 * np.count_nonzero(present[group_shell == s]) / stats.n_possible
        shells.append(stats)
    overall = ShellStatistics(d_max=hi, d_min=lo)
    acc.fill(overall, np.arange(mapping.n_groups))
    overall.n_possible = int(len(possible))
    if overall.n_possible:
        overall.completeness = 100.0 * np.count_nonzero(present) / overall.n_possible
    if anomalous:
        if sg.is_centrosymmetric():
            notes.append("centrosymmetric space group: no anomalous statistics")
        else:
            centric = np.asarray(sg.operations().centric_flag_array(possible), dtype=bool)
            possible_acentric = np.bincount(possible_shell[(possible_shell >= 0) & ~centric], minlength=n_bins)
            _anomalous_statistics(hkl, intensity, variance, sg, bins.index, shells, overall, possible_acentric, rng)
    return MergingStatistics(overall=overall, shells=shells, anomalous=anomalous, space_group=sg.xhm(),
                             unit_cell=tuple(cell.parameters), notes=notes)
