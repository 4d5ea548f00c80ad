"""Merging statistics against a direct (looped) computation and against the simulator's truth."""

import numpy as np
import pytest

from friedel.merging_statistics import merge_equivalents, merging_statistics
from friedel.miller import asu_mapping


@pytest.fixture(scope="module")
def integrated():
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    experiments, refl = simulate_integrated(make_params("tiny", **{"crystal.anomalous": 0.1, "scan.n_images": 120}))
    full = refl["partiality"] > 0.95
    refl = refl.select(full)
    factor = refl["lp"] / refl["truth.scale"] / refl["partiality"]
    return experiments[0].crystal, refl, refl["intensity.prf.value"] * factor, refl["intensity.prf.variance"] * factor**2


def test_simulated_integration_has_honest_sigmas(integrated):
    _, refl, _, _ = integrated
    for kind in ("sum", "prf"):
        z = (refl[f"intensity.{kind}.value"] - refl["counts.expected"]) / np.sqrt(refl[f"intensity.{kind}.variance"])
        assert 0.9 < np.std(z) < 1.15
    weak = refl["counts.expected"] < np.median(refl["counts.expected"])
    assert np.var((refl["intensity.prf.value"] - refl["counts.expected"])[weak]) < np.var(
        (refl["intensity.sum.value"] - refl["counts.expected"])[weak])


def test_statistics_equal_a_direct_computation(integrated):
    crystal, refl, intensity, variance = integrated
    stats = merging_statistics(refl["miller_index"], intensity, variance, crystal.space_group, crystal.unit_cell,
                               n_bins=4)
    groups = asu_mapping(refl["miller_index"], crystal.space_group).group
    num = den = num_meas = num_pim = 0.0
    ios = []
    for g in np.unique(groups):
        i, v = intensity[groups == g], variance[groups == g]
        mean = np.sum(i / v) / np.sum(1 / v)
        ios.append(mean * np.sqrt(np.sum(1 / v)))
        if len(i) > 1:
            n, dev = len(i), np.abs(i - mean).sum()
            num, den = num + dev, den + i.sum()
            num_meas += np.sqrt(n / (n - 1)) * dev
            num_pim += np.sqrt(1 / (n - 1)) * dev
    o = stats.overall
    assert o.n_obs == len(refl) and o.n_unique == len(np.unique(groups))
    assert o.r_merge == pytest.approx(num / den, rel=1e-9)
    assert o.r_meas == pytest.approx(num_meas / den, rel=1e-9)
    assert o.r_pim == pytest.approx(num_pim / den, rel=1e-9)
    assert o.mean_i_over_sigma == pytest.approx(np.mean(ios), rel=1e-9)
    assert sum(s.n_obs for s in stats.shells) == o.n_obs
    assert 0 < o.completeness <= 100 and o.cc_half > 0.95
    assert "overall" in stats.table() and "CC half" in stats.summary()


def test_anomalous_signal_is_seen(integrated):
    crystal, refl, intensity, variance = integrated
    stats = merging_statistics(refl["miller_index"], intensity, variance, crystal.space_group, crystal.unit_cell,
                               anomalous=True, n_bins=3)
    assert stats.overall.cc_anom > 0.5
    assert 0 < stats.overall.anom_completeness <= 100
    d = stats.as_dict()
    assert set(d) >= {"overall", "inner", "outer", "shells"}


def test_merged_means_are_weighted_and_close_to_truth(integrated):
    crystal, refl, intensity, variance = integrated
    merged = merge_equivalents(refl["miller_index"], intensity, variance, crystal.space_group, anomalous=True)
    true = np.bincount(merged.group, refl["intensity.true.value"], minlength=len(merged.hkl)) / merged.multiplicity
    assert np.corrcoef(merged.intensity, true)[0, 1] > 0.999
    assert merged.multiplicity.sum() == len(refl)
