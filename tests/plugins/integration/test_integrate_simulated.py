"""friedel integrate on a simulated sweep, scored against the truth of every reflection."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from friedel.cli.main import main
from friedel.flags import Flags
from friedel.io import read_experiments, read_reflections

from .scoring import match_truth, measurable_truth, score


def integrate_in(directory, *args, out="integrated"):
    old = os.getcwd()
    os.chdir(directory)
    try:
        rc = main(["integrate", "truth.expt", "indexed.refl", "mp.nproc=1", f"output.experiments={out}.expt",
                   f"output.reflections={out}.refl", *args])
    finally:
        os.chdir(old)
    return rc


@pytest.fixture(scope="module")
def tiny_integrated(tiny_sweep):
    assert integrate_in(tiny_sweep) == 0
    return (read_experiments(tiny_sweep / "integrated.expt"), read_reflections(tiny_sweep / "integrated.refl"),
            read_reflections(tiny_sweep / "truth_reflections.refl"), read_experiments(tiny_sweep / "truth.expt"))


def test_summation_matches_the_recorded_photons(tiny_integrated):
    _, integrated, truth, _ = tiny_integrated
    s = score(integrated, truth, "sum")
    assert s["cc_full"] >= 0.999
    assert 0.9 <= s["sd_z"] <= 1.15, s
    assert abs(s["ratio_strong"] - 1) < 0.01, s  # raw summed counts = expected recorded photons


def test_profile_fitting_is_honest_and_beats_summation_on_weak_reflections(tiny_integrated):
    _, integrated, truth, _ = tiny_integrated
    s = score(integrated, truth, "sum")
    p = score(integrated, truth, "prf")
    assert p["cc_full"] >= 0.999
    assert 0.9 <= p["sd_z"] <= 1.15, p
    assert abs(p["ratio_strong"] - 1) < 0.01, p
    assert p["rms_weak"] < 0.99 * s["rms_weak"], (p["rms_weak"], s["rms_weak"])


def test_every_measurable_true_reflection_is_integrated(tiny_integrated):
    _, integrated, truth, truth_expts = tiny_integrated
    want = measurable_truth(truth, truth_expts[0])
    ir, tr = match_truth(integrated, truth)
    got = np.zeros(len(truth), bool)
    got[tr[(integrated["flags"][ir] & int(Flags.integrated)) != 0]] = True
    assert want.sum() > 1500
    assert got[want].mean() >= 0.98, got[want].mean()


def test_profile_model_is_estimated_from_the_strong_spots(tiny_integrated):
    experiments, _, truth, _ = tiny_integrated
    prof = experiments[0].profile
    assert prof["__id__"] == "gaussian_rs" and prof["n_sigma"] == 3
    true_sigma_m = math.hypot(0.05, 0.025)  # mosaicity and divergence of the simulation (degrees)
    assert abs(prof["sigma_m"] / true_sigma_m - 1) < 0.15, prof
    # sigma_b is the radial rms of the spot (incl. detector point spread) seen from the sample
    panel = experiments[0].detector[0]
    cov = truth["spot.covariance.px"]
    radial_px = np.median(np.sqrt(cov[:, 0] + cov[:, 2]))
    expected = math.degrees(radial_px * panel.pixel_size[0] / panel.distance)
    assert abs(prof["sigma_b"] / expected - 1) < 0.2, (prof["sigma_b"], expected)


def test_columns_flags_and_corrections_are_dials_compatible(tiny_integrated, tiny_sweep):
    _, integrated, truth, _ = tiny_integrated
    for name in ("miller_index", "id", "panel", "flags", "s1", "xyzcal.px", "xyzcal.mm", "xyzobs.px.value",
                 "xyzobs.px.variance", "xyzobs.mm.value", "bbox", "d", "zeta", "partiality", "lp", "qe",
                 "intensity.sum.value", "intensity.sum.variance", "intensity.prf.value", "intensity.prf.variance",
                 "profile.correlation", "background.mean", "background.sum.value", "num_pixels.valid",
                 "num_pixels.foreground", "num_pixels.background", "num_pixels.background_used", "entering",
                 "partial_id", "imageset_id"):
        assert name in integrated, name
    flags = integrated["flags"]
    assert np.all(flags & int(Flags.integrated))
    assert np.all(flags & int(Flags.predicted))
    assert (flags & int(Flags.used_in_modelling)).sum() > 500
    ir, tr = match_truth(integrated, truth)
    assert np.allclose(integrated["lp"][ir], truth["lp"][tr], rtol=1e-6)
    assert np.abs(integrated["partiality"][ir] - truth["partiality"][tr]).mean() < 0.01
    qe = integrated["qe"]
    assert np.all((qe > 0.5) & (qe <= 1.0))
    # observed centroids of strong reflections sit on the true positions
    strong = integrated["intensity.sum.value"][ir] > 1000
    d = integrated["xyzobs.px.value"][ir][strong, :2] - truth["xyzcal.px"][tr][strong, :2]
    assert np.sqrt(np.mean(d**2)) < 0.1
    report = json.loads((tiny_sweep / "friedel.integrate.json").read_text())
    e = report["experiments"][0]
    assert len(e["per_image"]) == 10 and len(e["per_resolution"]) >= 10
    assert e["overall"]["n_sum"] == int((flags & int(Flags.integrated_sum)).astype(bool).sum())


def test_jobs_and_windows_do_not_change_the_result(tiny_sweep, tiny_integrated):
    """Boxes crossing job boundaries are integrated whole; tiny windows give the same numbers."""
    _, ref, _, _ = tiny_integrated
    assert integrate_in(tiny_sweep, "mp.method=none", "block.size=3", "max_window_mb=0.05", out="blocked") == 0
    blocked = read_reflections(tiny_sweep / "blocked.refl")
    assert len(blocked) == len(ref)
    for name in ("intensity.sum.value", "intensity.prf.value", "background.mean"):
        assert np.allclose(blocked[name], ref[name], rtol=1e-5, atol=1e-3), name


def test_summation_only_and_given_profile(tiny_sweep):
    assert integrate_in(tiny_sweep, "profile.fitting=False", "sigma_b=0.06", "sigma_m=0.06",
                        "background.algorithm=simple", out="sumonly") == 0
    experiments = read_experiments(tiny_sweep / "sumonly.expt")
    t = read_reflections(tiny_sweep / "sumonly.refl")
    assert experiments[0].profile["sigma_b"] == pytest.approx(0.06)
    assert "intensity.prf.value" not in t
    assert not np.any(t["flags"] & int(Flags.integrated_prf))
    truth = read_reflections(tiny_sweep / "truth_reflections.refl")
    s = score(t, truth, "sum")
    assert s["cc_full"] >= 0.999 and 0.9 <= s["sd_z"] <= 1.15


def test_bad_input_gives_one_line_errors(tiny_sweep, capsys):
    assert integrate_in(tiny_sweep, "sigma_b=0.05") == 1  # sigma_m missing
    assert "sigma_m" in capsys.readouterr().err
    old = os.getcwd()
    os.chdir(tiny_sweep)
    try:
        assert main(["integrate", "truth.expt"]) == 1
        assert main(["integrate", "truth.expt", "indexed.refl", "output.reflections=indexed.refl"]) == 1
    finally:
        os.chdir(old)


def test_excluded_images_are_left_out(tiny_sweep):
    assert integrate_in(tiny_sweep, "exclude_images=5,5", out="excluded") == 0
    t = read_reflections(tiny_sweep / "excluded.refl")
    z = t["xyzcal.px"][:, 2]
    assert len(t) > 2000
    assert not np.any((z >= 4) & (z < 5))  # image 5 spans frames [4, 5)
    report = json.loads((tiny_sweep / "friedel.integrate.json").read_text())
    assert report["counts"]["excluded_images"] > 100
    # a reflection reaching into image 5 from image 4 keeps only its valid pixels: no summation
    crossing = (t["bbox"][:, 4] <= 4) & (t["bbox"][:, 5] > 4)
    assert not np.any(t["flags"][crossing] & int(Flags.integrated_sum))



def test_scan_varying_crystal_is_used(tiny_sweep, tiny_integrated):
    """A crystal with A at every scan point (here constant) predicts and integrates as the static one."""
    from friedel.io import write_experiments

    _, ref, _, _ = tiny_integrated
    experiments = read_experiments(tiny_sweep / "truth.expt")
    crystal = experiments[0].crystal
    crystal.A_at_scan_points = np.repeat(crystal.A[None], experiments[0].scan.num_images + 1, axis=0)
    write_experiments(experiments, tiny_sweep / "sv.expt")
    old = os.getcwd()
    os.chdir(tiny_sweep)
    try:
        assert main(["integrate", "sv.expt", "indexed.refl", "mp.nproc=1", "output.experiments=sv_int.expt",
                     "output.reflections=sv_int.refl"]) == 0
    finally:
        os.chdir(old)
    t = read_reflections(tiny_sweep / "sv_int.refl")
    assert abs(len(t) - len(ref)) <= 0.01 * len(ref)
    assert read_experiments(tiny_sweep / "sv_int.expt")[0].crystal.A_at_scan_points is not None
