"""Basic error model σ′² = a²·(σ² + (b·I)²), fitted to the spread of symmetry equivalents.

For observations in groups of n ≥ 2 (I+ and I− always apart), the normalised deviation

    δ = (I/g − ⟨I_h⟩) / sqrt(σ′²_scaled − 1/Σ_h w),   σ′_scaled = a·sqrt(σ² + (bI)²)/g

(⟨I_h⟩ the inverse-variance weighted mean, w = 1/σ′²_scaled) should be standard normal when
the sigmas are right. The denominator is the exact standard deviation of a deviation from a
weighted mean; the mature tools use sqrt(n/(n − 1))·σ′ instead, which is right only for equal
weights and makes δ too small (a too low) when equivalents have different Lorentz factors.

a is the slope of the sorted δ against normal quantiles over the central part (|x| < 1.5);
b makes var(δ) equal to one across intensity bins (minimising Σ w·[(0.5 − v)² + 1/v − 1.25],
which is 0 at v = 1). v is the robust variance (median |δ|/0.6745)², consistent with the
central fit of a: with the plain variance, the heavy tails of real data pull the two fits
apart (b grows, a shrinks) until the two-parameter fit fails. The two are alternated to convergence. ISa = 1/(a·b) is the asymptotic I/σ of the strongest data.
"""

from __future__ import annotations

import logging

import attrs
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import ndtri

log = logging.getLogger("friedel")

MIN_REFLECTIONS = 250
N_BINS = 10


@attrs.define
class ErrorModel:
    """Fitted parameters and the table of the fit (per intensity bin)."""

    a: float = 1.0
    b: float = 0.02
    n_reflections: int = 0
    refined: bool = False
    message: str = ""
    table: list = attrs.field(factory=list)  # dicts: i_min, i_max, n, var_uncorrected, var_corrected

    @property
    def isa(self) -> float:
        return 1.0 / (self.a * self.b) if self.a > 0 and self.b > 0 else float("inf")

    def variance(self, intensity, variance):
        """Corrected (unscaled) variance a²·(σ² + (b·I)²)."""
        return self.a**2 * (variance + (self.b * intensity) ** 2)

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "isa": self.isa if np.isfinite(self.isa) else None,
                "n_reflections": self.n_reflections, "refined": self.refined, "message": self.message,
                "table": self.table}

    def summary(self) -> str:
        if not self.refined:
            return f"Error model not refined: {self.message}"
        lines = [f"Error model: a = {self.a:.5f}, b = {self.b:.5f} (from {self.n_reflections} reflections)",
                 (f"Estimated I/sigma asymptotic limit (ISa = 1/(a*b)): {self.isa:.2f}" if self.b >= 1e-4 else
                  "Estimated I/sigma asymptotic limit (ISa = 1/(a*b)): > 10000 (b ~ 0: no error grows with I)")]
        if self.message:
            lines.append(self.message)
        if self.table:
            lines.append(f"{'Intensity range (<Ih>)':>24} {'n_refl':>8} {'Uncorrected var':>16} {'Corrected var':>14}")
            for row in self.table:
                lines.append(f"{row['i_min']:>11.1f} - {row['i_max']:<10.1f} {row['n']:>8d} "
                             f"{row['var_uncorrected']:>16.3f} {row['var_corrected']:>14.3f}")
        return "\n".join(lines)


def _selection(intensity, variance, g, group, use, partiality, min_ih):
    """Rows for the fit, their group sizes and scaled group means (inverse-variance weights)."""
    n_groups = int(group.max()) + 1 if len(group) else 0
    sel = use & (intensity > 0.001) & (partiality > 0.4) & (variance > 0)
    w = np.where(sel, g * g / np.where(variance > 0, variance, 1.0), 0.0)  # weights of scaled I
    scaled = intensity / g
    count = np.bincount(group, weights=sel.astype(float), minlength=n_groups)
    num = np.bincount(group, weights=w * scaled, minlength=n_groups)
    den = np.bincount(group, weights=w, minlength=n_groups)
    mean = np.divide(num, den, out=np.zeros(n_groups), where=den > 0)
    # groups whose intensities are roughly Poisson-like relative to their variance (as the
    # mature tools require: mean I/σ² > 0.85 guards against badly modelled backgrounds)
    ratio = np.bincount(group, weights=np.where(sel, intensity / np.where(variance > 0, variance, 1), 0),
                        minlength=n_groups)
    ratio = np.divide(ratio, count, out=np.zeros(n_groups), where=count > 0)
    good_group = (count >= 2) & (mean > min_ih)
    strict = good_group & (ratio > 0.85)
    if np.count_nonzero(sel & strict[group]) >= MIN_REFLECTIONS:
        good_group = strict
    sel &= good_group[group]
    return sel, count, mean


def _deltas(intensity, variance, g, group, sel, count, a, b, exact=True):
    """Normalised deviations δ of the selected rows from their group means at (a, b)."""
    n_groups = len(count)
    var_s = a * a * (variance + (b * intensity) ** 2) / (g * g)
    w = np.divide(1.0, var_s, out=np.zeros(len(var_s)), where=sel & (var_s > 0))
    scaled = intensity / g
    num = np.bincount(group, weights=w * scaled, minlength=n_groups)
    den = np.bincount(group, weights=w, minlength=n_groups)
    mean = np.divide(num, den, out=np.zeros(n_groups), where=den > 0)
    rows = np.flatnonzero(sel)
    if not exact:  # the mature tools' form: right for equal weights only
        n = count[group[rows]]
        return np.sqrt((n - 1) / n) * (scaled[rows] - mean[group[rows]]) / np.sqrt(var_s[rows]), rows
    # Var(x_i - <x>_w) = σ_i² - 1/Σw exactly for an inverse-variance weighted mean; the
    # equal-weight factor sqrt((n-1)/n) understates δ when the weights differ (they do:
    # Lorentz factors and partialities differ between equivalents), which biases a low
    residual_var = var_s[rows] - 1.0 / den[group[rows]]
    ok = residual_var > 1e-6 * var_s[rows]
    rows = rows[ok]
    delta = (scaled[rows] - mean[group[rows]]) / np.sqrt(residual_var[ok])
    return delta, rows


def _fit_a(delta) -> float:
    """Slope of sorted δ against normal quantiles over |x| < 1.5."""
    d = np.sort(delta)
    n = len(d)
    x = ndtri((np.arange(n) + 0.5) / n)
    central = np.abs(x) < 1.5
    slope, _ = np.polyfit(x[central], d[central], 1)
    return float(slope)


def _bins(ih):
    lo = max(1.0, float(ih.min()))
    hi = float(ih.max())
    if hi <= lo:
        hi = lo * 10
    edges = np.geomspace(lo, hi, N_BINS + 1)
    idx = np.clip(np.searchsorted(edges, ih, side="right") - 1, 0, N_BINS - 1)
    return edges, idx


def _b_objective(b, a, intensity, variance, g, group, sel, count, bin_of_row, robust=True):
    delta, rows = _deltas(intensity, variance, g, group, sel, count, a, b, exact=robust)
    total = 0.0
    idx = bin_of_row[rows]
    order = np.argsort(idx, kind="stable")
    counts = np.bincount(idx, minlength=N_BINS)
    starts = np.concatenate([[0], np.cumsum(counts)])
    abs_delta = np.abs(delta[order])
    for k in range(N_BINS):
        if counts[k] < 2:
            continue
        part = abs_delta[starts[k]:starts[k + 1]]
        v = max(robust_variance(part) if robust else float(np.mean(part**2)), 1e-6)
        total += (counts[k] / len(rows)) * ((0.5 - v) ** 2 + 1.0 / v - 1.25)
    return total


def robust_variance(abs_delta) -> float:
    """Variance of a normal distribution with the same median |δ| (outliers in the tails,
    which would otherwise push b up and, through the central slope, a down, do not count)."""
    return float((np.median(abs_delta) / 0.6744897501960817) ** 2)


def _bin_log_variances(params, intensity, variance, g, group, sel, count, bin_of_row):
    """sqrt(n_k/N)·log v_k for every populated intensity bin (v_k: robust variance of δ)."""
    a, b = abs(params[0]), abs(params[1])
    delta, rows = _deltas(intensity, variance, g, group, sel, count, a, b)
    idx = bin_of_row[rows]
    order = np.argsort(idx, kind="stable")
    counts = np.bincount(idx, minlength=N_BINS)
    starts = np.concatenate([[0], np.cumsum(counts)])
    abs_delta = np.abs(delta[order])
    out = []
    for k in range(N_BINS):
        if counts[k] >= 10:
            v = max(robust_variance(abs_delta[starts[k]:starts[k + 1]]), 1e-6)
            out.append(np.sqrt(counts[k] / len(rows)) * np.log(v))
    return np.array(out)


def _fit_jointly(intensity, variance, g, group, sel, count, bin_of_row, a0, b0):
    """a and b together, so that every intensity bin has unit (robust) variance of δ.

    Alternating a (from the pooled central slope) and b (from the bins) has a spurious fixed
    point when the tails are heavy: one bin too wide and another too narrow pool to slope 1.
    """
    from scipy.optimize import least_squares

    res = least_squares(_bin_log_variances, x0=[a0, b0], x_scale=[1.0, 0.01], method="lm",
                        args=(intensity, variance, g, group, sel, count, bin_of_row))
    a, b = abs(float(res.x[0])), abs(float(res.x[1]))
    return a, b


def fit_error_model(intensity, variance, g, group, use, partiality, min_ih: float = 25.0,
                    fixed_a: float | None = None, fixed_b: float | None = None,
                    max_cycles: int = 20, method: str = "robust") -> ErrorModel:
    """Fit a and b (see the module docstring) to unscaled ``intensity``/``variance`` and scales ``g``.

    ``group`` must keep I+ and I− apart. ``method="robust"`` (default) uses the exact
    deviations from weighted means and robust bin variances; ``method="dials"`` the
    equal-weight deviations and plain variances of the mature tools, for comparison. Returns an unrefined model (a = 1, b = 0) with a
    message when there are fewer than 250 usable reflections.
    """
    sel, count, mean = _selection(intensity, variance, g, group, use, partiality, min_ih)
    n_sel = int(np.count_nonzero(sel))
    if n_sel < MIN_REFLECTIONS:
        return ErrorModel(a=1.0, b=0.0, n_reflections=n_sel, refined=False,
                          message=f"insufficient reflections ({n_sel} < {MIN_REFLECTIONS}) to perform error "
                                  "modelling; the integration sigmas are kept")
    ih_row = mean[group]
    edges, bin_of_row = _bins(ih_row[sel])
    full_bins = np.zeros(len(intensity), dtype=np.int64)
    full_bins[sel] = bin_of_row
    robust = method == "robust"
    a = 1.0 if fixed_a is None else fixed_a
    b = 0.02 if fixed_b is None else fixed_b

    def refine_b(a_now, b_now):
        if fixed_b is not None:
            return fixed_b
        res = minimize_scalar(_b_objective, bounds=(0.0, 0.5), method="bounded",
                              args=(a_now, intensity, variance, g, group, sel, count, full_bins, robust),
                              options={"xatol": 1e-5})
        return float(res.x) if res.success else b_now

    message = ""
    if robust and fixed_a is None and fixed_b is None:
        a, b = _fit_jointly(intensity, variance, g, group, sel, count, full_bins, a, b)
        max_cycles = 0
    for _ in range(max_cycles):
        a_old, b_old = a, b
        if fixed_a is None:
            delta, _ = _deltas(intensity, variance, g, group, sel, count, a, b, exact=robust)
            a = a * _fit_a(delta)
        b = refine_b(a, b)
        if abs(a - a_old) < 1e-4 * max(a, 1e-6) and abs(b - b_old) < 1e-5:
            break
    if fixed_a is None and (not np.isfinite(a) or a < 0.4):
        message = "Two-parameter error model refinement failed; refined b with fixed a = 1.0"
        a = 1.0
        b = refine_b(a, 0.02)
    model = ErrorModel(a=float(a), b=float(b), n_reflections=n_sel, refined=True, message=message)
    d0, rows0 = _deltas(intensity, variance, g, group, sel, count, 1.0, 0.0, exact=robust)
    d1, rows1 = _deltas(intensity, variance, g, group, sel, count, model.a, model.b, exact=robust)
    idx0, idx1 = full_bins[rows0], full_bins[rows1]
    for k in range(N_BINS):
        m0, m1 = idx0 == k, idx1 == k
        if np.count_nonzero(m0) < 2 or np.count_nonzero(m1) < 2:
            continue
        model.table.append({"i_min": float(edges[k]), "i_max": float(edges[k + 1]), "n": int(m1.sum()),
                            "var_uncorrected": robust_variance(np.abs(d0[m0])),
                            "var_corrected": robust_variance(np.abs(d1[m1]))})
    return model
