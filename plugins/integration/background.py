"""Background models of integration (the ``background_algorithms`` extension point).

* ``simple``: a constant per box (``constant3d``) or per frame of the box (``constant2d``)
  from the background pixels, after outlier rejection (``nsigma``: iterated +/- n standard
  deviations; ``tukey``: outside the inner fences; ``null``: none).
* ``glm``: the same constant fitted as a robust Poisson generalised linear model
  (Cantoni & Ronchetti 2001): Huber's psi of the Pearson residuals (y - mu)/sqrt(mu), with
  the Fisher-consistency term E_mu[psi] computed exactly under Poisson, so that at low counts
  (a few photons per pixel) the estimate is unbiased yet a neighbour's tail or a zinger does
  not drag it. This is the default for photon-counting detectors.
* ``null``: zero background (tests, simulated data without background).
* ``auto``: ``glm`` when every panel counts photons (gain 1, a PAD sensor), else ``simple``.

Only pixels marked valid | background and not overlapped are used; used pixels get
``background_used``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from friedel.contracts.integration import BackgroundModel
from friedel.plugins.integration.params import GlmParams, SimpleParams  # noqa: F401 - cheap module

from .shoeboxes import BACKGROUND, BACKGROUND_USED, OVERLAPPED, VALID

_USABLE = VALID | BACKGROUND


@njit(cache=True)
def _usable(mask, i):
    return (mask[i] & (_USABLE | OVERLAPPED)) == _USABLE


# --------------------------------------------------------------------------------------------
# simple: mean after outlier rejection
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _simple_level(values, keep, outlier, n_sigma, tukey_k):
    """Mean and variance of the kept values after rejection (keep updated in place)."""
    n = len(values)
    if outlier == 1:  # nsigma, iterated
        for _ in range(20):
            s = 0.0
            m = 0
            for i in range(n):
                if keep[i]:
                    s += values[i]
                    m += 1
            if m < 2:
                break
            mean = s / m
            v = 0.0
            for i in range(n):
                if keep[i]:
                    v += (values[i] - mean) ** 2
            sd = math.sqrt(v / (m - 1))
            changed = False
            for i in range(n):
                if keep[i] and abs(values[i] - mean) > n_sigma * sd:
                    keep[i] = False
                    changed = True
            if not changed:
                break
    elif outlier == 2 and n >= 4:  # tukey fences
        ordered = np.sort(values)
        q1 = ordered[int(0.25 * (n - 1))]
        q3 = ordered[int(0.75 * (n - 1))]
        iqr = q3 - q1
        for i in range(n):
            if values[i] < q1 - tukey_k * iqr or values[i] > q3 + tukey_k * iqr:
                keep[i] = False
    s = 0.0
    m = 0
    for i in range(n):
        if keep[i]:
            s += values[i]
            m += 1
    if m == 0:
        return 0.0, 0.0, 0
    mean = s / m
    v = 0.0
    for i in range(n):
        if keep[i]:
            v += (values[i] - mean) ** 2
    var = v / (m - 1) if m > 1 else mean
    return mean, var, m


# --------------------------------------------------------------------------------------------
# glm: robust Poisson constant
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def _expected_psi(mu, c):
    """E[psi_c((Y - mu)/sqrt(mu))] and P(|residual| < c) for Y ~ Poisson(mu)."""
    if mu > 300.0:
        return 0.0, 0.8  # Normal limit: symmetric; the slope term only sets the step size
    root = math.sqrt(mu)
    lo = mu - c * root
    hi = mu + c * root
    p = math.exp(-mu)
    cdf = 0.0
    e = 0.0
    inside = 0.0
    y = 0
    while y <= hi:
        if y < lo:
            e -= c * p
        else:
            e += p * (y - mu) / root
            inside += p
        cdf += p
        y += 1
        p *= mu / y
    e += c * (1.0 - cdf)
    return e, inside


@njit(cache=True)
def _glm_level(values, c):
    n = len(values)
    s = 0.0
    for i in range(n):
        s += values[i]
    mu = max(s / n, 1e-3)
    for _ in range(50):
        root = math.sqrt(mu)
        u = 0.0
        inside = 0
        for i in range(n):
            r = (values[i] - mu) / root
            if r > c:
                u += c
            elif r < -c:
                u -= c
            else:
                u += r
                inside += 1
        e, p_in = _expected_psi(mu, c)
        u -= n * e
        slope = max(inside, p_in * n, 1.0)
        step = root * u / slope
        new = mu + step
        if new <= 0.0:
            new = 0.5 * mu
        if abs(new - mu) <= 1e-5 * max(mu, 1e-3):
            mu = new
            break
        mu = new
        if mu < 1e-8:
            mu = 0.0
            break
    return mu


# --------------------------------------------------------------------------------------------
# the per-window kernel shared by both models
# --------------------------------------------------------------------------------------------
@njit(cache=True)
def constant_background(data, mask, offsets, shapes, background, method, per_frame, outlier, n_sigma,
                        tukey_k, tuning, min_pixels):
    """Fit a constant per box (per_frame False) or per frame; method 0 simple, 1 glm."""
    n = len(offsets) - 1
    ok = np.zeros(n, np.bool_)
    mean_out = np.zeros(n)
    var_out = np.zeros(n)
    for b in range(n):
        start = offsets[b]
        nz, ny, nx = shapes[b, 0], shapes[b, 1], shapes[b, 2]
        plane = ny * nx
        groups = nz if per_frame else 1
        size = plane if per_frame else nz * plane
        good = True
        levels = np.zeros(groups)
        variances = np.zeros(groups)
        for g in range(groups):
            first = start + g * size
            idx = np.empty(size, np.int64)
            m = 0
            for i in range(first, first + size):
                if _usable(mask, i):
                    idx[m] = i
                    m += 1
            if m < min_pixels:
                good = False
                break
            values = np.empty(m)
            for k in range(m):
                values[k] = data[idx[k]]
            keep = np.ones(m, np.bool_)
            if method == 0:
                level, var, used = _simple_level(values, keep, outlier, n_sigma, tukey_k)
                if used < min_pixels:
                    good = False
                    break
                variances[g] = var / used
            else:
                level = _glm_level(values, tuning)
                used = m
                variances[g] = max(level, 1e-12) / m
            levels[g] = level
            for k in range(m):
                if keep[k]:
                    mask[idx[k]] |= BACKGROUND_USED
        if not good:
            continue
        ok[b] = True
        total = 0.0
        for g in range(groups):
            for i in range(start + g * size, start + (g + 1) * size):
                background[i] = levels[g]
            total += levels[g]
        mean_out[b] = total / groups
        v = 0.0
        for g in range(groups):
            v += variances[g]
        var_out[b] = v / (groups * groups)
    return ok, mean_out, var_out


# --------------------------------------------------------------------------------------------
# plugins
# --------------------------------------------------------------------------------------------
class SimpleBackground(BackgroundModel):
    """Constant background (per box or per frame) with outlier rejection (nsigma, tukey or none)."""

    name = "simple"
    Params = SimpleParams

    def __call__(self, data, mask, offsets, shapes, background):
        p = self.params
        outlier = {"null": 0, "nsigma": 1, "tukey": 2}[p.outlier]
        return constant_background(data, mask, offsets, shapes, background, 0, p.model == "constant2d", outlier,
                                   float(p.n_sigma), float(p.tukey_k), 0.0, int(p.min_pixels))


class GlmBackground(BackgroundModel):
    """Robust Poisson GLM constant background (Huber psi, Fisher-consistent under Poisson)."""

    name = "glm"
    Params = GlmParams

    def __call__(self, data, mask, offsets, shapes, background):
        p = self.params
        return constant_background(data, mask, offsets, shapes, background, 1, p.model == "constant2d", 0,
                                   0.0, 0.0, float(p.tuning_constant), int(p.min_pixels))


class NullBackground(BackgroundModel):
    """Zero background (for tests and background-free simulations)."""

    name = "null"

    def __call__(self, data, mask, offsets, shapes, background):
        n = len(offsets) - 1
        background[:] = 0.0
        return np.ones(n, bool), np.zeros(n), np.zeros(n)


def counting_detector(detector) -> bool:
    """True when every panel counts photons (gain 1 and a pixel-array sensor)."""
    return all(p.gain == 1.0 and "PAD" in (p.type or "").upper() for p in detector)


class AutoBackground(BackgroundModel):
    """glm on photon-counting detectors (gain 1, PAD sensors), simple otherwise."""

    name = "auto"

    def __init__(self, *, experiment, background_scope):
        super().__init__(None, experiment=experiment, background_scope=background_scope)
        from friedel.plugin_manager import build_plugin

        self.chosen = "glm" if counting_detector(experiment.detector) else "simple"
        self.model = build_plugin("background_algorithms", self.chosen, background_scope, experiment=experiment,
                                  background_scope=background_scope)

    def __call__(self, data, mask, offsets, shapes, background):
        return self.model(data, mask, offsets, shapes, background)


BUILT_IN = [AutoBackground, SimpleBackground, GlmBackground, NullBackground]
