"""Outlier rejection on position residuals (plugins of ``refinement.outlier.algorithm``).

A rejector is constructed with its ``Params`` (or defaults) and called with the residuals
of one group of reflections, ``(n, k)`` (X, Y mm and, for rotation data, phi rad), and
their variances; it returns a boolean array, True for outliers.
"""

from __future__ import annotations

import numpy as np

from friedel.contracts.refinement import OutlierRejector
from friedel.phil import param, scope, types


def _chi2_ppf(q, dof):
    """Quantile of chi-squared (scipy.special: importing scipy.stats takes seconds)."""
    from scipy.special import chdtri

    return chdtri(dof, 1.0 - q)


class NullRejector(OutlierRejector):
    """No outlier rejection."""

    name = "null"

    def __call__(self, residuals, variances=None):
        return np.zeros(len(residuals), bool)


@scope
class TukeyParams:
    iqr_multiplier: float = param(1.5, type=types.Float(min=0.0),
                                  help="Reject residuals beyond this many interquartile ranges outside the quartiles")


class TukeyRejector(OutlierRejector):
    """Tukey's fences on each residual component separately (X, Y, phi)."""

    name = "tukey"
    Params = TukeyParams

    def describe(self) -> str:
        return f"a residual beyond {self.params.iqr_multiplier:g} interquartile ranges outside the quartiles"

    def __call__(self, residuals, variances=None):
        q1, q3 = np.percentile(residuals, [25, 75], axis=0)
        iqr = q3 - q1
        k = self.params.iqr_multiplier
        return np.any((residuals < q1 - k * iqr) | (residuals > q3 + k * iqr), axis=1)


@scope
class SauterPoonParams:
    expected_false: float = param(0.5, type=types.Float(min=0.0),
                                  help="Reject positional residuals larger than any that a set of this size "
                                  "would show more often than this many times by chance")
    px_size: float | None = param(None, help="Ignore residuals below this size (mm); None: no floor",
                                  expert_level=1)


class SauterPoonRejector(OutlierRejector):
    """Positional residuals on the detector, after Sauter & Poon (2010): the in-plane residual
    length of well-measured spots follows a Rayleigh distribution, whose scale is estimated
    robustly from the median; spots in the tail where fewer than ``expected_false`` of this
    many spots are expected by chance are rejected."""

    name = "sauter_poon"
    Params = SauterPoonParams

    def describe(self) -> str:
        return (f"an in-plane residual in the Rayleigh tail where fewer than {self.params.expected_false:g} "
                "are expected by chance")

    def __call__(self, residuals, variances=None):
        d = np.hypot(residuals[:, 0] - np.median(residuals[:, 0]), residuals[:, 1] - np.median(residuals[:, 1]))
        sigma = np.median(d) / np.sqrt(2 * np.log(2))
        n = len(d)
        if sigma <= 0 or n < 2:
            return np.zeros(n, bool)
        # P(D > t) = exp(-t^2 / 2 sigma^2) = expected_false / n
        cutoff = sigma * np.sqrt(2 * np.log(n / max(self.params.expected_false, 1e-9)))
        if self.params.px_size is not None:
            cutoff = max(cutoff, self.params.px_size)
        return d > cutoff


@scope
class McdParams:
    threshold_probability: float = param(0.999, type=types.Float(min=0.5),
                                         help="Reject beyond this quantile of chi-squared of the robust "
                                         "Mahalanobis distance")
    alpha: float = param(0.5, type=types.Float(min=0.5),
                         help="Fraction of the data the robust estimate is made from", expert_level=1)
    n_trials: int = param(200, type=types.Int(min=1), help="Random starting subsets", expert_level=1)
    seed: int = param(0, help="Seed of the random subsets", expert_level=1)


def _cstep(X, mean, cov, h):
    d2 = _mahalanobis2(X, mean, cov)
    idx = np.argpartition(d2, h - 1)[:h]
    sub = X[idx]
    return sub.mean(axis=0), np.cov(sub, rowvar=False), idx


def fast_mcd(X, alpha=0.5, n_trials=500, seed=0, max_subset=1500):
    """Minimum Covariance Determinant (Rousseeuw & Van Driessen 1999, FAST-MCD).

    Returns (location, scatter) of the h = alpha n points with the smallest covariance
    determinant, consistency-corrected and reweighted (97.5% chi-squared cut)."""
    rng = np.random.default_rng(seed)
    n, p = X.shape
    h = int(np.ceil(alpha * (n + p + 1)))
    h = min(max(h, p + 1), n)
    sample = X if n <= max_subset else X[rng.choice(n, max_subset, replace=False)]
    h_s = min(max(int(np.ceil(alpha * (len(sample) + p + 1))), p + 1), len(sample))
    candidates = []
    for _ in range(n_trials):
        idx = rng.choice(len(sample), p + 1, replace=False)
        sub = sample[idx]
        mean, cov = sub.mean(axis=0), np.cov(sub, rowvar=False)
        for _ in range(2):
            mean, cov, _ = _cstep(sample, mean, cov, h_s)
        candidates.append((np.linalg.det(cov), mean, cov))
    candidates.sort(key=lambda c: c[0])
    def converge(data, mean, cov, h_data):
        det_old = np.inf
        for _ in range(100):
            mean, cov, _ = _cstep(data, mean, cov, h_data)
            det = np.linalg.det(cov)
            if det >= det_old * (1 - 1e-12):
                break
            det_old = det
        return det, mean, cov

    # the ten best starts are refined on the sample, the best of them on all the data
    best = min((converge(sample, m, c, h_s) for _, m, c in candidates[:10]), key=lambda b: b[0])
    _, mean, cov = converge(X, best[1], best[2], h) if len(sample) < n else best
    # consistency: scale so the median squared distance matches chi2(p)
    d2 = _mahalanobis2(X, mean, cov)
    cov = cov * np.median(d2) / _chi2_ppf(0.5, p)
    # reweighting step
    keep = _mahalanobis2(X, mean, cov) <= _chi2_ppf(0.975, p)
    if keep.sum() > p + 1:
        mean = X[keep].mean(axis=0)
        cov = np.cov(X[keep], rowvar=False)
        d2 = _mahalanobis2(X, mean, cov)
        cov = cov * np.median(d2) / _chi2_ppf(0.5, p)
    return mean, cov


def _mahalanobis2(X, mean, cov):
    diff = X - mean
    return np.sum((diff @ np.linalg.pinv(cov)) * diff, axis=1)


class McdRejector(OutlierRejector):
    """Robust Mahalanobis distance of the residual vectors from the Minimum Covariance
    Determinant estimate of their location and scatter (FAST-MCD)."""

    name = "mcd"
    Params = McdParams

    def describe(self) -> str:
        return (f"robust Mahalanobis distance of the (X, Y, phi) residuals beyond the "
                f"{self.params.threshold_probability:g} quantile of chi-squared")

    def __call__(self, residuals, variances=None):
        X = np.asarray(residuals, dtype=float)
        n, p = X.shape
        if n <= 2 * p + 2:
            return np.zeros(n, bool)
        # scale columns (mm vs rad) so determinants stay well conditioned
        scale = np.maximum(np.median(np.abs(X - np.median(X, axis=0)), axis=0), 1e-12)
        Xs = X / scale
        mean, cov = fast_mcd(Xs, self.params.alpha, self.params.n_trials, self.params.seed)
        return _mahalanobis2(Xs, mean, cov) > _chi2_ppf(self.params.threshold_probability, p)


BUILT_IN = [McdRejector, TukeyRejector, SauterPoonRejector, NullRejector]
