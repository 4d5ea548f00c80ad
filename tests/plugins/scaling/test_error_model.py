"""The basic error model recovers known a and b from synthetic equivalents."""

from __future__ import annotations

import numpy as np

from friedel.plugins.scaling.error_model import fit_error_model


def synthetic(a_true, b_true, n_groups=6000, mult=6, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.exponential(2000.0, size=n_groups) + 20.0
    group = np.repeat(np.arange(n_groups), mult)
    g = rng.uniform(0.6, 1.4, size=len(group))  # inverse scales, known
    lp = rng.uniform(0.3, 3.0, size=len(group))  # different weights between equivalents
    counts = true[group] * g / lp
    raw_var = counts + 50.0  # Poisson plus background, in counts
    intensity_counts = counts + rng.normal(size=len(group)) * a_true * np.sqrt(raw_var + (b_true * counts) ** 2)
    # corrected (unscaled) units
    intensity = intensity_counts * lp
    variance = raw_var * lp**2
    return intensity, variance, g, group


def test_error_model_recovers_a_and_b():
    intensity, variance, g, group = synthetic(1.3, 0.04)
    use = np.ones(len(group), dtype=bool)
    em = fit_error_model(intensity, variance, g, group, use, np.ones(len(group)), min_ih=25.0)
    assert em.refined
    assert abs(em.a - 1.3) < 0.05
    assert abs(em.b - 0.04) < 0.006
    assert abs(em.isa - 1 / (em.a * em.b)) < 1e-9
    # after correction the normalised deviations have unit variance in every populated bin
    for row in em.table:
        if row["n"] > 500:
            assert 0.8 < row["var_corrected"] < 1.2


def test_error_model_with_honest_sigmas_stays_near_one():
    intensity, variance, g, group = synthetic(1.0, 0.0, seed=2)
    em = fit_error_model(intensity, variance, g, group, np.ones(len(group), bool), np.ones(len(group)))
    assert abs(em.a - 1.0) < 0.03
    assert em.b < 0.01


def test_too_few_reflections_keep_the_sigmas():
    intensity, variance, g, group = synthetic(1.0, 0.02, n_groups=20, mult=3)
    em = fit_error_model(intensity, variance, g, group, np.ones(len(group), bool), np.ones(len(group)))
    assert not em.refined and "insufficient" in em.message
    assert np.allclose(em.variance(intensity, variance), variance)
