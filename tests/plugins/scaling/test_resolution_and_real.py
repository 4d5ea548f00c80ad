"""Resolution fits, ΔCC½ filtering, and scaling of real integrated data (L-cysteine, CuNiR stills)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from friedel.io import read_experiments, read_reflections
from friedel.plugins.scaling.resolution import estimate, fit_cc_half, tanh_curve

from .scaling_simulation import simulated


def test_tanh_fit_recovers_the_crossing():
    s = np.linspace(0.02, 0.5, 40)
    s0, r = 0.3, 0.05
    cc = tanh_curve(s, s0, r) + np.random.default_rng(0).normal(scale=0.01, size=len(s))
    s_cross, fitted, note = fit_cc_half(s, cc, 0.3)
    expected = s0 + r * np.arctanh(0.4)
    assert note == "" and abs(s_cross - expected) < 0.01
    assert np.max(np.abs(fitted - tanh_curve(s, s0, r))) < 0.03


def test_estimate_reports_each_criterion():
    from friedel.merging_statistics import ShellStatistics

    s_edges = np.linspace(0.01, 0.5, 31)
    shells = []
    for lo, hi in zip(s_edges[:-1], s_edges[1:]):
        sc = 0.5 * (lo + hi)
        sh = ShellStatistics(d_max=lo ** -0.5, d_min=hi ** -0.5)
        sh.cc_half = float(tanh_curve(sc, 0.3, 0.04))
        sh.cc_half_significant = sh.cc_half > 0.05
        sh.mean_i_over_sigma = float(40 * np.exp(-sc / 0.08))
        sh.completeness = 100.0 - 60 * sc
        shells.append(sh)
    isig = np.array([sh.mean_i_over_sigma / 2 for sh in shells])
    crit = {c.name: c for c in estimate(shells, isig, shells[-1].d_min, cc_half=0.3, isigma=2.0, misigma=1.0,
                                        completeness=90.0)}
    assert abs(crit["cc_half"].d_min - (0.3 + 0.04 * np.arctanh(0.4)) ** -0.5) < 0.03
    # misigma: 40 exp(-s/0.08) = 1 at s = 0.08 ln 40
    assert abs(crit["misigma"].d_min - (0.08 * np.log(40)) ** -0.5) < 0.05
    assert abs(crit["completeness"].d_min - (10 / 60) ** -0.5) < 0.05
    # unmerged I/sigma is half the merged here: 20 exp(-s/0.08) = 2 at s = 0.08 ln 10
    assert abs(crit["isigma"].d_min - (0.08 * np.log(10)) ** -0.5) < 0.05


def test_deltacchalf_filtering_removes_the_bad_data_set(in_tmp_dir):
    from friedel.cli.main import main
    from friedel.io import write_experiments, write_reflections

    base_e, base_r = simulated(24, seed=1)
    rng = np.random.default_rng(0)
    files = []
    for k in range(4):
        e, r = copy.deepcopy((base_e, base_r))
        for c in ("sum", "prf"):
            r[f"intensity.{c}.value"] = r[f"intensity.{c}.value"] + rng.normal(size=len(r)) * np.sqrt(
                r[f"intensity.{c}.variance"])
            r[f"intensity.{c}.variance"] = 2 * r[f"intensity.{c}.variance"]
            if k == 3:  # one data set with intensities unrelated to the others'
                r[f"intensity.{c}.value"] = r[f"intensity.{c}.value"] * rng.lognormal(0, 0.7, len(r))
        write_experiments(e, f"d{k}.expt")
        write_reflections(r, f"d{k}.refl")
        files += [f"d{k}.expt", f"d{k}.refl"]
    assert main(["scale", *files, "filtering.method=deltacchalf", "stdcutoff=1.0", "max_percent_removed=30",
                 "full_matrix=False"]) == 0
    out = read_reflections("scaled.refl")
    from friedel.flags import Flags

    removed = out.get_flags(Flags.user_excluded_in_scaling)
    assert np.all(removed[out["id"] == 3])
    assert not np.any(removed[out["id"] == 0])


def test_two_real_l_cysteine_sweeps_scale_together(real_data, in_tmp_dir):
    from friedel.cli.main import main

    d = real_data / "integrated" / "l_cysteine"
    files = [str(d / f"{k}_integrated.{x}") for k in (20, 25) for x in ("expt", "refl")]
    assert main(["scale", *files]) == 0
    payload = json.load(open("friedel.scale.json"))
    overall = payload["merging_statistics"]["overall"]
    assert payload["n_datasets"] == 2 and [m["model"] for m in payload["datasets"]] == ["physical", "physical"]
    assert overall["cc_half"] > 0.99 and overall["r_meas"] < 0.05
    assert overall["d_min"] < 0.62  # the data reach ~0.59 A
    em = payload["error_models"][0]
    assert em["refined"] and 0.5 < em["a"] < 3 and 0 < em["b"] < 0.1
    g = read_reflections("scaled.refl")["inverse_scale_factor"]
    assert np.all(np.isfinite(g)) and np.all(g > 0)
    expts = read_experiments("scaled.expt")
    assert expts[0].scaling_model["scale"]["n_parameters"] == 14  # 180 degrees at 15


def test_cunir_stills_scale_with_kb(real_data, in_tmp_dir):
    from friedel.cli.main import main

    d = real_data / "integrated" / "ssx_CuNiR"
    assert main(["scale", str(d / "integrated.expt"), str(d / "integrated.refl")]) == 0
    expts = read_experiments("scaled.expt")
    assert [e.scaling_model["__id__"] for e in expts] == ["KB"] * 5
    log = (in_tmp_dir / "friedel.scale.log").read_text()
    assert "model=auto chose KB for 5 data set(s)" in log
    g = read_reflections("scaled.refl")["inverse_scale_factor"]
    assert np.all(np.isfinite(g)) and np.all(g > 0)
    bs = [e.scaling_model["decay"]["parameters"][0] for e in expts]
    assert max(abs(b) for b in bs) < 10  # restrained: five stills overlap very little


def test_weak_sweep_gets_a_cc_half_limit_inside_the_data(in_tmp_dir):
    from friedel.cli.main import main
    from friedel.io import write_experiments, write_reflections

    experiments, refl = simulated(60, crystal__intensity_scale=4.0, crystal__wilson_b=30.0)
    write_experiments(experiments, "weak.expt")
    write_reflections(refl, "weak.refl")
    assert main(["scale", "weak.expt", "weak.refl", "full_matrix=False"]) == 0
    assert main(["estimate_resolution", "scaled.expt", "scaled.refl", "n_bins=20"]) == 0
    res = json.load(open("friedel.estimate_resolution.json"))
    d_cc = res["criteria"][0]["d_min"]
    assert 2.05 < d_cc < 3.5
    # the shells on either side of the suggestion are on either side of CC1/2 = 0.3
    shells = res["shells"]
    inner = [s["cc_half"] for s in shells if s["d_min"] > d_cc * 1.08]
    outer = [s["cc_half"] for s in shells if s["d_max"] < d_cc / 1.08]
    assert np.median(inner) > 0.3 > np.median(outer)


def test_cc_half_limit_stops_where_the_correlation_stops():
    """Data that end sharply (a low-multiplicity sweep recorded beyond the diffraction limit):
    CC1/2 is ~1 and significant to 1.6 A, then noise. The limit is 1.6 A, not the detector edge."""
    from friedel.merging_statistics import ShellStatistics

    edges = np.linspace(1 / 3.0**2, 1 / 1.1**2, 41) ** -0.5
    shells = []
    for k, (hi, lo) in enumerate(zip(edges[:-1], edges[1:])):
        signal = lo >= 1.6
        # one chance 'significant' shell among the noise must not extend the limit
        shells.append(ShellStatistics(d_max=float(hi), d_min=float(lo), cc_half=0.99 if signal else 0.02,
                                      cc_half_significant=bool(signal or k == 35), cc_half_n=100,
                                      mean_i_over_sigma=10.0,
                                      completeness=90.0))
    (cc,) = estimate(shells, np.full(len(shells), 5.0), data_d_min=1.1)
    assert cc.d_min == pytest.approx(min(s.d_min for s in shells if s.d_min >= 1.6), abs=1e-6)
    assert "significant only to" in cc.note


def test_without_pairs_the_limit_is_where_merged_i_over_sigma_becomes_noise():
    """Multiplicity ~1 at high resolution: CC1/2 has too few pairs there, so merged <I/sigma>
    (noise below 1) ends the data; a sparse data set with signal everywhere keeps all of it."""
    from friedel.merging_statistics import ShellStatistics

    edges = np.linspace(1 / 3.0**2, 1 / 1.1**2, 41) ** -0.5

    def shells(noise_beyond):
        out = []
        for hi, lo in zip(edges[:-1], edges[1:]):
            signal = lo >= 1.6
            out.append(ShellStatistics(d_max=float(hi), d_min=float(lo), cc_half=0.99 if signal else 0.1,
                                       cc_half_significant=bool(signal), cc_half_n=100 if signal else 5,
                                       mean_i_over_sigma=8.0 if signal or not noise_beyond else 0.2))
        return out

    (cc,) = estimate(shells(True), np.full(40, 5.0), data_d_min=1.1)
    assert cc.d_min == pytest.approx(min(s.d_min for s in shells(True) if s.d_min >= 1.6), abs=1e-6)
    (cc,) = estimate(shells(False), np.full(40, 5.0), data_d_min=1.1)
    assert cc.d_min == pytest.approx(1.1, abs=0.01)
