"""French & Wilson (1978): amplitudes from intensities with a Wilson prior.

The posterior of the true intensity J given a measurement I (standard deviation sigma) and a
Wilson prior of mean Sigma is, in units of sigma (t = J / sigma),

* acentric: prior exp(-J/Sigma)           -> p(t) ~ exp(-(t - h)^2 / 2),        h = I/sigma - sigma/Sigma
* centric:  prior J^-1/2 exp(-J/(2 Sigma)) -> p(t) ~ t^-1/2 exp(-(t - h)^2 / 2), h = I/sigma - sigma/(2 Sigma)

on t >= 0. Their moments are ratios of parabolic cylinder functions,
``int_0^inf t^(nu-1) exp(-t^2/2 + h t) dt = Gamma(nu) exp(h^2/4) D_-nu(-h)``, so E(J), sd(J),
E(F) = E(sqrt J) and sd(F) are computed exactly here (the published tables are these integrals
tabulated in steps of 0.1 in h; the tests check both against them). For large h the exact
ratios lose precision, and the posterior is a normal distribution far from zero: there the
asymptotic series in 1/h are used.

The prior mean Sigma per reflection is epsilon times the standardised median (median / ln 2)
of the merged intensities over epsilon in shells of equal counts in d*^3, interpolated
linearly between shell centres and held flat beyond the end shells.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from scipy import special

#: Rejection limits (as in truncate and DIALS): such measurements give no amplitude.
MIN_I_OVER_SIGMA = -3.7
MIN_H = -4.0
#: Beyond this h the exact ratios are replaced by the asymptotic series (they agree to 1e-4 there).
H_ASYMPTOTIC = 20.0


def _moments(h: np.ndarray, centric: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Posterior E(t), sd(t), E(sqrt t), sd(sqrt t) in units of sigma (t) and sqrt(sigma)."""
    h = np.asarray(h, dtype=float)
    nu0 = 0.5 if centric else 1.0  # the prior's power of t is nu0 - 1

    out = [np.empty_like(h) for _ in range(4)]
    exact = h < H_ASYMPTOTIC
    if np.any(exact):
        he = h[exact]
        # E(t^k) = Gamma(nu0 + k) D_-(nu0+k)(-h) / (Gamma(nu0) D_-nu0(-h)); pbdv is a ufunc
        num_half = special.pbdv(-(nu0 + 0.5), -he)[0]
        num1 = special.pbdv(-(nu0 + 1.0), -he)[0]
        num2 = special.pbdv(-(nu0 + 2.0), -he)[0]
        den = special.pbdv(-nu0, -he)[0]
        g0 = math.gamma(nu0)
        m_half = math.gamma(nu0 + 0.5) / g0 * num_half / den
        m1 = math.gamma(nu0 + 1.0) / g0 * num1 / den
        m2 = math.gamma(nu0 + 2.0) / g0 * num2 / den
        out[0][exact] = m1
        out[1][exact] = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
        out[2][exact] = m_half
        out[3][exact] = np.sqrt(np.maximum(m1 - m_half * m_half, 0.0))
    big = ~exact
    if np.any(big):
        hb = h[big]
        x2 = 1.0 / (hb * hb)
        if centric:
            # series of French & Wilson (1978), appendix, with the h^-6 terms
            ej = hb * (1.0 - 0.5 * x2 - 0.75 * x2**2 - 3.0 * x2**3)
            ef = np.sqrt(hb) * (1.0 - 3.0 / 8.0 * x2 - 87.0 / 128.0 * x2**2 - 2889.0 / 1024.0 * x2**3)
            sf = np.sqrt(hb * (0.25 * x2 + 15.0 / 32.0 * x2**2 + 273.0 / 128.0 * x2**3))
            sj = 2.0 * ef * sf
        else:
            # normal posterior N(h, 1) with a negligible tail below zero
            ej = hb.copy()
            sj = np.ones_like(hb)
            ef = np.sqrt(hb) * (1.0 - x2 / 8.0 - 15.0 / 128.0 * x2**2)
            sf = np.sqrt(np.maximum(hb - ef * ef, 0.0))
        out[0][big], out[1][big], out[2][big], out[3][big] = ej, sj, ef, sf
    return tuple(out)


def posterior(intensity, sigma, mean_intensity, centric) -> "FrenchWilsonResult":
    """French-Wilson posterior of each reflection.

    Parameters
    ----------
    intensity, sigma : array of float
        Merged intensities and their standard deviations.
    mean_intensity : array of float
        The Wilson prior's mean intensity of each reflection (already times epsilon).
    centric : array of bool

    Returns
    -------
    FrenchWilsonResult
        ``J, sigJ, F, sigF`` (NaN where rejected) and ``accepted``.
    """
    i = np.asarray(intensity, dtype=float)
    s = np.asarray(sigma, dtype=float)
    mean = np.asarray(mean_intensity, dtype=float)
    centric = np.asarray(centric, dtype=bool)
    n = len(i)
    J, sJ, F, sF = (np.full(n, np.nan) for _ in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        i_over_s = i / s
        h = np.where(centric, i_over_s - s / (2.0 * mean), i_over_s - s / mean)
    accepted = (s > 0) & np.isfinite(h) & (mean > 0) & (i_over_s >= MIN_I_OVER_SIGMA) & (h >= MIN_H)
    for is_centric in (False, True):
        sel = accepted & (centric == is_centric)
        if not np.any(sel):
            continue
        ej, sj, ef, sf = _moments(h[sel], is_centric)
        root = np.sqrt(s[sel])
        J[sel], sJ[sel], F[sel], sF[sel] = ej * s[sel], sj * s[sel], ef * root, sf * root
    return FrenchWilsonResult(J=J, sigJ=sJ, F=F, sigF=sF, accepted=accepted)


def flat_prior_amplitudes(intensity, sigma) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes without a Wilson prior (too few reflections to estimate one).

    |F| = sqrt((I + sqrt(I^2 + 2 sigma^2)) / 2), with sigF propagated from sigma through the
    same expression.
    """
    i = np.asarray(intensity, dtype=float)
    s = np.asarray(sigma, dtype=float)
    root = np.sqrt(i * i + 2.0 * s * s)
    F = np.sqrt(0.5 * (i + root))
    with np.errstate(divide="ignore", invalid="ignore"):
        dF_dI = (1.0 + i / root) / (4.0 * F)
    return F, np.abs(dF_dI) * s


@attrs.define
class FrenchWilsonResult:
    J: np.ndarray
    sigJ: np.ndarray
    F: np.ndarray
    sigF: np.ndarray
    accepted: np.ndarray

    @property
    def n_rejected(self) -> int:
        return int(np.count_nonzero(~self.accepted))


@attrs.define
class WilsonPrior:
    """Mean intensity over epsilon as a function of d*^3, from shells of equal counts."""

    d_star_cubed: np.ndarray  # shell centres (mean d*^3 of the shell)
    mean_intensity: np.ndarray  # standardised median of I/epsilon in the shell

    def __call__(self, d) -> np.ndarray:
        x = np.asarray(d, dtype=float) ** -3.0
        # np.interp holds the end values flat beyond the first and last centre
        return np.interp(x, self.d_star_cubed, self.mean_intensity)


def wilson_prior(intensity, d, epsilon, max_bins: int = 60, min_per_bin: int = 20) -> WilsonPrior:
    """The Wilson prior of merged intensities in shells of d*^3 with equal counts.

    Each shell's mean intensity is the median of I/epsilon divided by ln 2 (the median of an
    exponential distribution is its mean times ln 2), which large outliers do not move.
    """
    i = np.asarray(intensity, dtype=float) / np.asarray(epsilon, dtype=float)
    x = np.asarray(d, dtype=float) ** -3.0
    n = len(i)
    n_bins = int(max(1, min(max_bins, n // max(min_per_bin, 1))))
    order = np.argsort(x, kind="stable")
    edges = np.linspace(0, n, n_bins + 1).round().astype(int)
    centres, means = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= lo:
            continue
        idx = order[lo:hi]
        centres.append(float(np.mean(x[idx])))
        means.append(float(np.median(i[idx]) / math.log(2.0)))
    means = np.asarray(means)
    # a shell of mostly negative intensities gives a non-positive median: borrow the
    # smallest positive shell value so that the prior stays a distribution
    positive = means > 0
    if not np.any(positive):
        means[:] = max(float(np.mean(np.abs(i))), 1e-6)
    else:
        means[~positive] = np.min(means[positive])
    return WilsonPrior(np.asarray(centres), means)


def french_wilson(intensity, sigma, d, centric, epsilon, min_reflections: int = 200,
                  max_bins: int = 60, min_per_bin: int = 20) -> FrenchWilsonResult:
    """Amplitudes F, SIGF of merged intensities (French & Wilson 1978).

    With fewer than ``min_reflections`` reflections no prior can be estimated and the flat
    prior expression is used instead (every reflection accepted).
    """
    i = np.asarray(intensity, dtype=float)
    s = np.asarray(sigma, dtype=float)
    eps = np.asarray(epsilon, dtype=float)
    if len(i) < min_reflections:
        F, sF = flat_prior_amplitudes(i, s)
        ok = np.isfinite(F) & (s > 0)
        return FrenchWilsonResult(J=np.where(ok, F * F, np.nan), sigJ=np.where(ok, 2 * F * sF, np.nan),
                                  F=np.where(ok, F, np.nan), sigF=np.where(ok, sF, np.nan), accepted=ok)
    prior = wilson_prior(i, d, eps, max_bins=max_bins, min_per_bin=min_per_bin)
    return posterior(i, s, eps * prior(d), centric)
