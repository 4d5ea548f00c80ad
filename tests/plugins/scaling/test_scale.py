"""friedel scale on simulated integrated sweeps, judged against the truth."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.io import read_experiments, read_reflections, write_experiments, write_reflections
from friedel.plugins.scaling.params import ScalingParams
from friedel.plugins.scaling.scaler import run_scaling


@pytest.fixture(scope="module")
def scaled(tiny_sweep):
    experiments, refl = copy.deepcopy(tiny_sweep)
    return experiments, refl, run_scaling(experiments, refl, ScalingParams())


def per_image_means(image, values, sel):
    n = image.max() + 1
    count = np.bincount(image[sel], minlength=n)
    ok = count > 20
    return (np.bincount(image[sel], weights=values[sel], minlength=n)[ok] / count[ok]), ok


def test_inverse_scales_follow_the_truth_per_image(scaled):
    experiments, refl, result = scaled
    data = result.data
    truth = refl["truth.scale"][data.rows]
    image = data.image
    sel = result.scaled
    g_img, _ = per_image_means(image, result.g, sel)
    t_img, _ = per_image_means(image, truth, sel)
    assert np.corrcoef(g_img, t_img)[0, 1] >= 0.98
    # within one resolution shell (the overall B is a gauge shared with the merged
    # intensities) the scales follow the truth observation by observation
    shell = sel & (data.d > 2.5) & (data.d < 2.7)
    assert np.corrcoef(result.g[shell], truth[shell])[0, 1] > 0.98


def merged_against_truth(hkl, intensity, variance, true_i, space_group, anomalous=False):
    from friedel.merging_statistics import merge_equivalents

    m = merge_equivalents(hkl, intensity, variance, space_group, anomalous=anomalous)
    n = len(m.intensity)
    true = np.bincount(m.group, weights=true_i, minlength=n) / np.bincount(m.group, minlength=n)
    return m, true


def test_merged_intensities_correlate_with_the_truth_and_sigmas_are_honest(scaled):
    experiments, refl, result = scaled
    data = result.data
    sel = result.scaled
    I = result.intensity[sel] / result.g[sel]
    V = result.variance[sel] / result.g[sel] ** 2
    m, true = merged_against_truth(data.hkl[sel], I, V, refl["intensity.true.value"][data.rows][sel],
                                   data.space_group)
    strong = m.intensity / m.sigma > 10
    assert np.corrcoef(m.intensity[strong], true[strong])[0, 1] >= 0.999
    # sigmas: residuals against the truth, after the one overall scale and B that scaling
    # cannot know, spread as N(0, 1)
    from friedel.miller import d_spacing

    d = d_spacing(m.hkl, experiments[0].crystal.unit_cell)
    ok = strong & (true > 0)
    coef = np.polyfit(1 / d[ok] ** 2, np.log(m.intensity[ok] / true[ok]), 1)
    model = np.exp(np.polyval(coef, 1 / d**2)) * true
    z = (m.intensity - model) / m.sigma
    spread = np.median(np.abs(z[true > 0])) / 0.6745
    assert 0.8 < spread < 1.25
    # the error model with honest simulated sigmas stays close to a = 1
    assert abs(result.error_models[0].a - 1.0) < 0.1


def test_anomalous_differences_follow_the_truth(anomalous_sweep):
    experiments, refl = copy.deepcopy(anomalous_sweep)
    params = ScalingParams(anomalous=True)
    result = run_scaling(experiments, refl, params)
    data = result.data
    sel = result.scaled
    I = result.intensity[sel] / result.g[sel]
    V = result.variance[sel] / result.g[sel] ** 2
    m, true = merged_against_truth(data.hkl[sel], I, V, refl["intensity.true.value"][data.rows][sel],
                                   data.space_group, anomalous=True)
    from friedel.miller import hkl_key

    key = hkl_key(np.where(m.plus[:, None], m.hkl, -m.hkl))
    plus = np.flatnonzero(m.plus & ~m.centric)
    minus = np.flatnonzero(~m.plus)
    common, ip, im = np.intersect1d(key[plus], key[minus], return_indices=True)
    dI = m.intensity[plus[ip]] - m.intensity[minus[im]]
    dT = true[plus[ip]] - true[minus[im]]
    sig = np.hypot(m.sigma[plus[ip]], m.sigma[minus[im]])
    strong = np.abs(dT) > 0
    assert len(common) > 1000
    assert np.corrcoef(dI[strong], dT[strong])[0, 1] > 0.8
    assert np.median(np.abs(dI / sig)) > 1.0  # the signal is well above the noise


def test_command_writes_dials_layout_and_statistics_agree_with_numpy(tiny_sweep, in_tmp_dir):
    from friedel.cli.main import main

    experiments, refl = tiny_sweep
    write_experiments(experiments, "integrated.expt")
    write_reflections(refl, "integrated.refl")
    assert main(["scale", "integrated.expt", "integrated.refl", "full_matrix=False"]) == 0
    out = read_reflections("scaled.refl")
    expts = read_experiments("scaled.expt")
    model = expts[0].scaling_model
    assert model["__id__"] == "physical"
    assert model["configuration_parameters"]["error_model_type"] == "BasicErrorModel"
    for column in ("inverse_scale_factor", "inverse_scale_factor_variance", "intensity.scale.value",
                   "intensity.scale.variance", "Ih_values"):
        assert column in out
    scaled = out.get_flags(Flags.scaled)
    assert scaled.sum() > 0.95 * len(out)
    # independent statistics on the written file
    import gemmi

    g = out["inverse_scale_factor"][scaled]
    I = out["intensity.scale.value"][scaled] / g
    V = out["intensity.scale.variance"][scaled] / g**2
    sg = gemmi.SpaceGroup(expts[0].crystal.space_group.xhm())
    ops, asu = sg.operations(), gemmi.ReciprocalAsu(sg)
    observed, inverse = np.unique(out["miller_index"][scaled], axis=0, return_inverse=True)
    mapped = np.array([asu.to_asu([int(x) for x in h], ops)[0] for h in observed])
    _, group = np.unique(mapped[inverse.ravel()], axis=0, return_inverse=True)
    group = group.ravel()
    n = np.bincount(group)
    w = 1 / V
    mean = np.bincount(group, w * I) / np.bincount(group, w)
    multi = n[group] > 1
    r_merge = np.sum(np.abs(I - mean[group])[multi]) / np.sum(I[multi])
    mean_isig = np.mean(mean / (1 / np.sqrt(np.bincount(group, w))))
    payload = json.load(open("friedel.scale.json"))
    overall = payload["merging_statistics"]["overall"]
    assert overall["n_obs"] == int(scaled.sum())
    assert overall["n_unique"] == len(n)
    assert abs(overall["r_merge"] - r_merge) < 5e-4
    assert abs(overall["mean_i_over_sigma"] - mean_isig) < 0.01 * mean_isig
    log = (in_tmp_dir / "friedel.scale.log").read_text()
    assert "model=auto chose physical" in log and "ISa" in log and "CC half" in log

    assert main(["estimate_resolution", "scaled.expt", "scaled.refl", "misigma=1"]) == 0
    res = json.load(open("friedel.estimate_resolution.json"))
    names = [c["criterion"] for c in res["criteria"]]
    assert names == ["cc_half", "misigma"]
    assert res["criteria"][0]["d_min"] >= overall["d_min"] - 1e-6


def test_two_sweeps_scale_together_and_exclusions_are_flagged(tiny_sweep, in_tmp_dir):
    from friedel.cli.main import main

    experiments, refl = tiny_sweep
    second_e, second_r = copy.deepcopy(tiny_sweep)
    second_r["intensity.sum.value"] = second_r["intensity.sum.value"] * 0.5
    second_r["intensity.prf.value"] = second_r["intensity.prf.value"] * 0.5
    second_r["intensity.sum.variance"] = second_r["intensity.sum.variance"] * 0.25
    second_r["intensity.prf.variance"] = second_r["intensity.prf.variance"] * 0.25
    write_experiments(experiments, "a.expt")
    write_reflections(refl, "a.refl")
    write_experiments(second_e, "b.expt")
    write_reflections(second_r, "b.refl")
    assert main(["scale", "a.expt", "a.refl", "b.expt", "b.refl", "exclude_images=0:1:10",
                 "full_matrix=False", "error_model.model=None"]) == 0
    out = read_reflections("scaled.refl")
    g = out["inverse_scale_factor"]
    ids = out["id"]
    scaled = out.get_flags(Flags.scaled)
    ratio = np.median(g[scaled & (ids == 1)]) / np.median(g[scaled & (ids == 0)])
    assert abs(ratio - 0.5) < 0.02
    z = out["xyzcal.px"][:, 2]
    excluded = (ids == 0) & (z < 10)
    assert np.all(out.get_flags(Flags.user_excluded_in_scaling)[excluded])
    assert not np.any(scaled[excluded])


def _write(experiments, refl, stem):
    write_experiments(experiments, f"{stem}.expt")
    write_reflections(refl, f"{stem}.refl")
    return [f"{stem}.expt", f"{stem}.refl"]


@pytest.mark.parametrize("case", ["p1", "mixed", "single_image", "negative", "no_overlap"])
def test_bad_input_is_one_line_and_writes_nothing(case, tiny_sweep, in_tmp_dir, capsys):
    from friedel.cli.main import main

    experiments, refl = copy.deepcopy(tiny_sweep)
    files = []
    if case == "p1":
        experiments[0].crystal.set_space_group("P 1")
        files = _write(experiments, refl, "in")
    elif case == "mixed":
        other_e, other_r = copy.deepcopy(tiny_sweep)
        other_e[0].crystal.set_space_group("P 4")
        files = _write(experiments, refl, "a") + _write(other_e, other_r, "b")
    elif case == "single_image":
        z = refl["xyzcal.px"][:, 2]
        experiments[0].scan = experiments[0].scan[0:1]
        files = _write(experiments, refl.select(z < 1), "in")
    elif case == "negative":
        for k in ("sum", "prf"):
            refl[f"intensity.{k}.value"] = -np.abs(refl[f"intensity.{k}.value"]) - 1
        files = _write(experiments, refl, "in")
    elif case == "no_overlap":
        other_e, other_r = copy.deepcopy(tiny_sweep)
        hkl = other_r["miller_index"].copy()
        other_r["miller_index"] = hkl * np.array([1, 1, 1]) + np.array([0, 0, 200])
        files = _write(experiments, refl, "a") + _write(other_e, other_r, "b")
    assert main(["scale"] + files) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert not (in_tmp_dir / "scaled.expt").exists() and not (in_tmp_dir / "scaled.refl").exists()


def test_error_is_raised_without_integrated_flags(tiny_sweep):
    experiments, refl = copy.deepcopy(tiny_sweep)
    refl["flags"] = np.zeros(len(refl), dtype=np.int64)
    with pytest.raises(FriedelError, match="integrated"):
        run_scaling(experiments, refl, ScalingParams())
