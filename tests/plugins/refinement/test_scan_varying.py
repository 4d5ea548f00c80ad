"""Scan-varying refinement: smoother layout, analytic derivatives, recovery of a drifting crystal,
no change without drift, one crystal per sweep, robustness, files and kernel prediction."""

import copy

import numpy as np
import pytest

from friedel.io import read_experiments, write_experiments
from friedel.models import ExperimentList, Scan
from friedel.plugins.refinement import RefinementParams, refine
from friedel.plugins.refinement.prediction import ExperimentObservations, gradients, predict
from friedel.plugins.refinement.scan_varying import (
    GaussianSmoother,
    ScanVaryingCrystalModel,
    ScanVaryingOrientation,
    ScanVaryingUnitCell,
)
from friedel.plugins.simulate.physics import drifting_crystal_A
from friedel.prediction import predict_rotation
from refinement_simulation import NOISE_PX, make_experiment, observe


def misorientation_deg(U, V):
    return np.degrees(np.arccos(np.clip((np.trace(U @ V.T) - 1) / 2, -1, 1)))


def drifting_sweep(n_images=120, width=0.5, drift=0.3, cell_drift=0.002, seed=11, d_min=3.0):
    e = make_experiment(n_images=n_images, width=width, seed=seed)
    truth = ExperimentList([e])
    c = e.crystal
    if drift or cell_drift:
        c.A_at_scan_points = drifting_crystal_A(c, n_images, drift, cell_drift, np.random.default_rng(3))
        c.A = c.A_at_frames([n_images / 2], e.scan)[0]
    refl = observe(truth, d_min=d_min, seed=2)
    start = copy.deepcopy(truth)
    start[0].crystal.A_at_scan_points = None
    return truth, start, refl


def test_smoother_layout_follows_the_scan_width():
    # 1 interval: 2 values at the ends; 2 intervals: 3; n >= 3: n + 2 values from -0.5 to n + 0.5
    assert GaussianSmoother((0, 90), 1).n_values == 2
    assert GaussianSmoother((0, 180), 2).n_values == 3
    s = GaussianSmoother((0, 3600), 10)
    assert s.n_values == 12 and s.positions[0] == -0.5 and s.positions[-1] == 10.5
    W = s.weights(np.linspace(0, 3600, 77))
    assert np.allclose(W.sum(axis=0), 1.0) and np.all((W > 0).sum(axis=0) <= 3)


def test_analytic_derivatives_match_finite_differences():
    e = make_experiment(n_images=100, width=0.5, seed=3, cell=(54.9, 58.6, 67.4, 90, 90, 90),
                        space_group="P 21 21 21")
    expts = ExperimentList([e])
    refl = observe(expts, d_min=3.0, seed=1).select(np.arange(0, 4000, 7))
    obs = ExperimentObservations(e, np.arange(len(refl)), refl["miller_index"], refl["panel"],
                                 refl["xyzobs.mm.value"], refl["xyzobs.mm.variance"])
    model = ScanVaryingCrystalModel(e.crystal, e, e.scan.array_range, 2)
    frames = e.scan.frame_from_angle(np.degrees(obs.obs[:, 2]))
    for part in (ScanVaryingOrientation(model, [0]), ScanVaryingUnitCell(model, [0])):
        rng = np.random.default_rng(0)
        part.set_values(part.values + rng.normal(0, 0.5 if part.name.endswith("orientation") else 0.01,
                                                   len(part.values)))
        pred = predict(e, obs.hkl, obs.panel, obs.obs[:, 2], A=model.observation_A(frames))
        analytic = part.observation_gradients(pred, obs, e, gradients)
        for k in range(len(part.values)):
            h = 1e-4 * max(1.0, abs(part.values[k]))
            xyz = []
            for sign in (1, -1):
                v = part.values.copy()
                v[k] += sign * h
                part.set_values(v)
                xyz.append(predict(e, obs.hkl, obs.panel, obs.obs[:, 2], A=model.observation_A(frames)).xyz)
                v[k] -= sign * h
                part.set_values(v)
            numeric = (xyz[0] - xyz[1]) / (2 * h)
            scale = np.abs(numeric).max() + 1e-12
            assert np.abs(analytic[k] - numeric).max() < 1e-4 * scale, (part.names[k], k)
    # the cell keeps its orthorhombic constraints at every scan point
    cells = model.cells_at_scan_points()
    assert np.allclose(cells[:, 3:], 90.0)


@pytest.fixture(scope="module")
def drift_result():
    truth, start, refl = drifting_sweep()
    params = RefinementParams()
    params.parameterisation.smoother.interval_width_degrees = 20.0
    params.parameterisation.beam.fix = ["all"]
    params.parameterisation.detector.fix = "all"
    return truth, refl, refine(start, refl, params)


def test_drift_is_recovered_at_every_image(drift_result):
    """A crystal turning by 0.3 deg and growing by 0.2% over a 60 deg sweep: the scan-varying model
    (detector and beam known) gives the true orientation at every image boundary within 0.01 deg,
    the cell within 0.02%, and RMSDs at the noise level, well below the static fit's."""
    truth, refl, result = drift_result
    crystal = result.experiments[0].crystal
    assert crystal.num_scan_points == 121
    errors = [misorientation_deg(u, v) for u, v in zip(truth[0].crystal.U_at_scan_points(), crystal.U_at_scan_points())]
    assert max(errors) < 0.01, max(errors)
    true_cells = np.array([truth[0].crystal.unit_cell_at_scan_point(i).parameters for i in range(121)])
    cells = np.array([crystal.unit_cell_at_scan_point(i).parameters for i in range(121)])
    assert np.all(np.abs(cells[:, :3] / true_cells[:, :3] - 1) < 2e-4)
    static, varying = result.stages["static"][0], result.stages["scan-varying"][0]
    assert varying[0] < 0.9 * static[0] and varying[2] < 0.9 * static[2]
    assert varying[0] < 1.05 * NOISE_PX * 0.172
    assert result.scan_varying[0]["n_intervals"] == 3
    assert max(result.scan_varying[0]["orientation_change_deg"]) == pytest.approx(0.3, abs=0.02)


def test_refined_predictions_and_files_use_the_scan_points(drift_result, tmp_path):
    truth, refl, result = drift_result
    out = result.reflections
    from friedel.flags import Flags

    used = out.get_flags(Flags.used_in_refinement)
    d = out["xyzcal.px"][used] - out["xyzobs.px.value"][used]
    assert np.sqrt(np.mean(d[:, 0] ** 2)) < 1.05 * NOISE_PX
    assert np.allclose(np.linalg.norm(out["s1"][used], axis=1), np.linalg.norm(result.experiments[0].beam.s0))
    # A_at_scan_points survives a round trip through refined.expt in DIALS's layout (9 numbers a point)
    write_experiments(result.experiments, str(tmp_path / "refined.expt"))
    import json

    raw = json.loads((tmp_path / "refined.expt").read_text())["crystal"][0]["A_at_scan_points"]
    assert len(raw) == 121 and len(raw[0]) == 9
    back = read_experiments(str(tmp_path / "refined.expt"))
    assert np.allclose(back[0].crystal.A_at_scan_points, result.experiments[0].crystal.A_at_scan_points)
    # the kernel predicts with the per-image model: positions agree with the true drifting crystal
    pred = predict_rotation(back[0], d_min=3.0)
    true = predict_rotation(truth[0], d_min=3.0)
    key = lambda t: {tuple(h) + (round(p, 2),): xyz for h, p, xyz in  # noqa: E731
                     zip(t["miller_index"].tolist(), t["xyzcal.mm"][:, 2], t["xyzcal.px"])}
    a, b = key(pred), key(true)
    common = list(set(a) & set(b))
    assert len(common) > 0.9 * len(b)
    diff = np.array([a[k] - b[k] for k in common])
    assert np.median(np.abs(diff[:, :2])) < 0.1  # pixels


def test_no_drift_changes_nothing_that_matters():
    truth, start, refl = drifting_sweep(n_images=80, drift=0.0, cell_drift=0.0)
    result = refine(start, refl, RefinementParams())
    static, varying = result.stages["static"][0], result.stages.get("scan-varying", {}).get(0, result.rmsds[0])
    assert np.allclose(varying, static, rtol=0.01)
    crystal = result.experiments[0].crystal
    if crystal.A_at_scan_points is not None:
        U = crystal.U_at_scan_points()
        # an apparent turn well below any mosaic spread (noise, and the near-degeneracy of a
        # phi-dependent crystal turn with a tilt of beam and detector)
        assert max(misorientation_deg(u, U[0]) for u in U) < 0.02
        cells = np.array([crystal.unit_cell_at_scan_point(i).parameters for i in range(crystal.num_scan_points)])
        assert np.all(np.ptp(cells[:, :3], axis=0) < 1e-3 * cells[0, :3])
    assert misorientation_deg(crystal.U, truth[0].crystal.U) < 0.02


def test_two_sweeps_of_one_crystal_get_one_model_each():
    first = make_experiment(n_images=60, width=0.5, seed=21)
    second = copy.copy(first)
    second.scan = Scan(image_range=(1, 60), oscillation=(90.0, 0.5))
    second.identifier = "second"
    truth = ExperimentList([first, second])
    refl = observe(truth, d_min=3.0, seed=4)
    result = refine(copy.deepcopy(truth), refl, RefinementParams())
    e0, e1 = result.experiments
    assert e0.crystal is not e1.crystal  # split for the scan-varying stage
    assert e0.detector is e1.detector and e0.beam is e1.beam  # still shared
    assert e0.crystal.num_scan_points == 61 and e1.crystal.num_scan_points == 61


def test_blank_ends_sparse_data_short_wedge_and_stills_are_handled():
    # blank images at both ends: the model spans the observed images, the file keeps every scan point
    truth, start, refl = drifting_sweep(n_images=80, drift=0.2, cell_drift=0.0)
    z = refl["xyzobs.px.value"][:, 2]
    result = refine(start, refl.select((z > 10) & (z < 70)), RefinementParams())
    assert any("spans images 11-70" in n for n in result.notes)
    assert result.experiments[0].crystal.num_scan_points == 81
    # too few reflections for a scan-varying model: it stays static, saying why
    few = refl.select(np.arange(0, len(refl), 150))
    result = refine(start, few, RefinementParams())
    assert result.experiments[0].crystal.A_at_scan_points is None
    assert any("stays static" in n for n in result.notes)
    # a wedge shorter than one interval gets one interval
    truth, start, refl = drifting_sweep(n_images=20, drift=0.05, cell_drift=0.0)
    result = refine(start, refl, RefinementParams())
    assert any("shorter than one" in n for n in result.notes)
    # stills are never scan-varying
    still = make_experiment(n_images=1, still=True, seed=31)
    from refinement_simulation import observe_still

    result = refine(ExperimentList([still]), observe_still(still, d_min=2.0), RefinementParams())
    assert result.experiments[0].crystal.A_at_scan_points is None and "scan-varying" not in result.stages


def test_a_worse_scan_varying_fit_is_not_kept(monkeypatch):
    from friedel.plugins.refinement import scan_varying_stage

    truth, start, refl = drifting_sweep(n_images=60, drift=0.0, cell_drift=0.0)
    monkeypatch.setattr(scan_varying_stage, "better_than_static", lambda sv, static, params: (False, "kept static"))
    result = refine(start, refl, RefinementParams())
    assert result.experiments[0].crystal.A_at_scan_points is None and "kept static" in result.notes


def test_distance_runaway_is_reported():
    truth, start, refl = drifting_sweep(n_images=40, drift=0.0, cell_drift=0.0)
    for p in start[0].detector:
        p.origin = p.origin + np.array([0.0, 0.0, -10.0])  # 200 -> 210 mm: refinement moves it back 5%
    params = RefinementParams()
    params.parameterisation.scan_varying = "False"
    result = refine(start, refl, params)
    assert any("moved the distance" in n for n in result.notes)


def test_kernel_predicts_stills_where_lattice_points_meet_the_sphere():
    from friedel.prediction import predict_stills

    still = make_experiment(n_images=1, still=True, seed=31)
    table = predict_stills(still, d_min=2.0, max_delta_psi_deg=0.1)
    assert len(table) > 50
    s0 = still.beam.s0
    assert np.allclose(np.linalg.norm(table["s1"], axis=1), np.linalg.norm(s0))
    assert np.all(np.abs(np.degrees(table["delpsical.rad"])) <= 0.1)
    # the re-export keeps indexing's import working
    from friedel.plugins.refinement.prediction import ewald_projection, predict as old_predict
    from friedel.prediction import ewald_projection as kernel_projection, predict as kernel_predict

    assert old_predict is kernel_predict and ewald_projection is kernel_projection


def test_real_l_cysteine_sweeps_refine_scan_varying(real_data, in_tmp_dir):
    """import -> find_spots -> index -> refine on the two real 15-image L-cysteine sweeps: the
    default keeps these 1.5 deg wedges (46 and 27 indexed spots) static and says why in one line
    each; scan_varying=True gives each sweep its own crystal with A at every image boundary."""
    import glob

    from friedel.cli.main import main

    images = sorted(glob.glob(str(real_data / "images/l_cysteine/l-cyst_0*.cbf.gz")))
    if not images:
        pytest.skip("L-cysteine images not found")
    assert main(["import", *images]) == 0
    assert main(["find_spots", "imported.expt"]) == 0
    assert main(["index", "imported.expt", "strong.refl"]) == 0
    assert main(["refine", "indexed.expt", "indexed.refl"]) == 0
    log = (in_tmp_dir / "friedel.refine.log").read_text()
    static = read_experiments("refined.expt")
    if all(e.crystal.A_at_scan_points is None for e in static):
        assert "stays static" in log
    assert main(["refine", "indexed.expt", "indexed.refl", "scan_varying=True",
                 "output.experiments=sv.expt", "output.reflections=sv.refl"]) == 0
    sv = read_experiments("sv.expt")
    for e in sv:
        assert e.crystal.num_scan_points == e.scan.num_images + 1
    if len(sv) > 1:
        assert sv[0].crystal is not sv[1].crystal
