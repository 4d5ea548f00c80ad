"""Refinement recovers known geometry from simulated observations; outliers; shared models;
bad input; the friedel refine command; the real centroid data."""

import copy

import gemmi
import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.flags import Flags
from friedel.io import read_experiments, read_reflections, write_experiments, write_reflections
from friedel.models import ExperimentList, Scan
from friedel.models.crystal import B_matrix
from friedel.models.geometry import axis_angle_matrix
from friedel.plugins.refinement import RefinementParams, refine
from friedel.plugins.refinement.report import format_esd
from refinement_simulation import NOISE_IMAGES, NOISE_PX, make_experiment, observe, observe_still


def static_params(per_degree=100.0):
    """Static refinement on a subset (what these tests are about, in less time)."""
    params = RefinementParams()
    params.parameterisation.scan_varying = "False"
    params.reflections.reflections_per_degree = per_degree
    return params


def perturb(experiments, seed=5):
    """Distance +1 mm, beam centre ~0.5 mm, orientation 0.5 deg, cell +/-1%."""
    rng = np.random.default_rng(seed)
    start = copy.deepcopy(experiments)
    for detector in start.unique("detector"):
        for p in detector:
            p.origin = p.origin + np.array([0.4, -0.3, -1.0])
    for crystal in start.unique("crystal"):
        c = crystal.unit_cell
        R = axis_angle_matrix(rng.standard_normal(3), np.radians(0.5))
        crystal.A = R @ crystal.U @ B_matrix(gemmi.UnitCell(c.a * 1.01, c.b * 1.01, c.c * 0.99, c.alpha, c.beta, c.gamma))
    return start


def orientation_error_deg(a, b):
    R = a.U @ b.U.T
    return np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))


def assert_recovered(truth_crystal, crystal, rmsd, width_deg):
    t, c = truth_crystal.unit_cell, crystal.unit_cell
    for x, y in zip(t.parameters, c.parameters):
        assert abs(x - y) / x < 1e-3
    assert orientation_error_deg(truth_crystal, crystal) < 0.02
    floor_xy = NOISE_PX * 0.172
    assert rmsd[0] < 1.1 * floor_xy and rmsd[1] < 1.1 * floor_xy
    assert rmsd[2] < 1.1 * np.radians(NOISE_IMAGES * width_deg)


@pytest.fixture(scope="module")
def sweep():
    truth = ExperimentList([make_experiment(n_images=60, width=0.5, seed=11)])
    return truth, observe(truth, d_min=2.5, seed=2)


@pytest.mark.parametrize("engine", ["LevMar", "GaussNewton"])
def test_recovers_perturbed_geometry(sweep, engine):
    truth, refl = sweep
    start = perturb(truth)
    params = static_params(per_degree="Auto")
    params.engine = engine
    result = refine(start, refl, params)
    e, t = result.experiments[0], truth[0]
    assert_recovered(t.crystal, e.crystal, result.rmsds[0], 0.5)
    c = e.crystal.unit_cell
    assert c.a == pytest.approx(c.b, abs=1e-9) and c.gamma == pytest.approx(90, abs=1e-9)  # P 41 21 2 kept
    assert e.detector[0].distance == pytest.approx(t.detector[0].distance, abs=0.05)
    bc, bc_true = e.detector[0].beam_centre_mm(e.beam.s0), t.detector[0].beam_centre_mm(t.beam.s0)
    assert np.allclose(bc, bc_true, atol=0.02)
    # the inputs are untouched, the history shows the fit improving
    assert start[0].detector[0].distance == pytest.approx(t.detector[0].distance + 1.0, abs=1e-6)
    assert result.history[0]["rmsd"][0] > 5 * result.history[-1]["rmsd"][0]
    refl_out = result.reflections
    used = refl_out.get_flags(Flags.used_in_refinement)
    # every indexed reflection by default (a 30 deg sweep is not wide), outliers and
    # near-spindle reflections aside
    assert used.sum() > 0.97 * len(refl)
    d = refl_out["xyzcal.px"] - refl_out["xyzobs.px.value"]
    assert np.sqrt(np.mean(d[used, 0] ** 2)) < 1.1 * NOISE_PX
    # cell ESDs are printed crystallographically and are consistent with the actual error
    a_esd = result.cell_esds[0][0]
    assert 0 < a_esd < 0.01 and abs(c.a - t.crystal.unit_cell.a) < 5 * a_esd


def test_injected_outliers_are_rejected(sweep):
    truth, refl = sweep
    refl = refl.copy()
    rng = np.random.default_rng(7)
    bad = rng.choice(len(refl), len(refl) // 30, replace=False)
    shift = rng.uniform(4, 12, (len(bad), 2)) * rng.choice([-1, 1], (len(bad), 2)) * 0.172
    mm = refl["xyzobs.mm.value"].copy()
    mm[bad, :2] += shift
    refl["xyzobs.mm.value"] = mm
    params = static_params(per_degree="Auto")
    result = refine(perturb(truth), refl, params)
    flagged = result.reflections.get_flags(Flags.centroid_outlier)
    is_bad = np.zeros(len(refl), bool)
    is_bad[bad] = True
    assert flagged[is_bad].mean() > 0.95
    assert flagged[~is_bad].mean() < 0.01
    # the crystal and sweep 1 still refine (sweep 2's detector stays at its perturbed start)
    for x, y in zip(truth[0].crystal.unit_cell.parameters, result.experiments[0].crystal.unit_cell.parameters):
        assert abs(x - y) / x < 1e-3
    assert max(result.rmsds[0][:2]) < 1.1 * NOISE_PX * 0.172


@pytest.mark.parametrize("algorithm", ["tukey", "sauter_poon"])
def test_other_rejectors_catch_gross_outliers(algorithm):
    from friedel.plugin_manager import get_plugin

    rng = np.random.default_rng(0)
    res = rng.normal(0, 0.04, (2000, 3))
    res[:40, :2] += 1.0
    flags = get_plugin("outlier_rejectors", algorithm)()(res)
    assert flags[:40].all()
    assert flags[40:].mean() < 0.02


def test_two_sweeps_share_crystal_and_detector():
    first = make_experiment(n_images=30, width=0.5, seed=21)
    second = copy.copy(first)
    second.scan = Scan(image_range=(1, 30), oscillation=(90.0, 0.5))
    second.identifier = "second"
    truth = ExperimentList([first, second])
    refl = observe(truth, d_min=2.5, seed=4)
    start = perturb(truth)
    params = static_params()
    results = {}
    for sparse in ("False", "True"):
        params.sparse = sparse
        results[sparse] = refine(start, refl, params)
    result = results["False"]
    e0, e1 = result.experiments
    assert e0.crystal is e1.crystal and e0.detector is e1.detector and e0.beam is e1.beam
    assert set(result.rmsds) == {0, 1}
    for i in (0, 1):
        assert_recovered(truth[0].crystal, result.experiments[i].crystal, result.rmsds[i], 0.5)
    # the sparse normal equations give the same answer
    assert np.allclose(results["True"].experiments[0].crystal.A, e0.crystal.A, rtol=1e-6, atol=1e-10)


def test_still_refines_distance_and_cell_together():
    """A longer cell looks like a shorter detector distance on a still unless each lattice point
    is predicted where it meets the Ewald sphere (the DeltaPsi model): both are recovered from a
    3% error, and the DeltaPsi RMSD reflects the simulated mosaic spread."""
    truth = ExperimentList([make_experiment(n_images=1, still=True, seed=31)])
    refl = observe_still(truth[0], d_min=1.8, mosaic_deg=0.15)
    assert len(refl) > 150
    start = copy.deepcopy(truth)
    start[0].detector[0].origin = start[0].detector[0].origin + np.array([0.3, -0.2, -6.0])  # 200 -> 206 mm
    crystal = start[0].crystal
    crystal.A = crystal.A / 1.03  # cell 3% long
    result = refine(start, refl, RefinementParams())
    refined = result.experiments[0]
    assert abs(refined.detector[0].distance - truth[0].detector[0].distance) < 0.3
    true_cell = np.array(truth[0].crystal.unit_cell.parameters)
    cell = np.array(refined.crystal.unit_cell.parameters)
    assert np.all(np.abs(cell[:3] / true_cell[:3] - 1) < 0.002), cell
    x, y, delta_psi = result.rmsds[0]
    assert x < 1.5 * NOISE_PX * 0.172 and y < 1.5 * NOISE_PX * 0.172
    assert 0 < np.degrees(delta_psi) < 0.15  # the simulated mosaic spread


def test_bad_input_is_a_clear_error(sweep):
    truth, refl = sweep
    unindexed = refl.copy()
    unindexed["id"] = np.full(len(refl), -1, np.int32)
    with pytest.raises(FriedelError, match="no indexed reflections"):
        refine(truth, unindexed)
    no_crystal = copy.deepcopy(truth)
    no_crystal[0].crystal = None
    with pytest.raises(FriedelError, match="no crystal"):
        refine(no_crystal, refl)
    with pytest.raises(FriedelError, match="too few reflections"):
        refine(truth, refl.select(np.arange(4)))


def test_esd_notation():
    assert format_esd(57.84183, 0.00172) == "57.8418(17)"
    assert format_esd(150.00312, 0.0093) == "150.003(9)"
    assert format_esd(90.0, 0.0) == "90.0000"


def test_refine_command_writes_outputs(sweep, in_tmp_dir):
    from friedel.cli.main import main

    truth, refl = sweep
    write_experiments(perturb(truth), "indexed.expt")
    write_reflections(refl, "indexed.refl")
    assert main(["refine", "indexed.expt", "indexed.refl", "max_iterations=20", "reflections_per_degree=100"]) == 0
    refined = read_experiments("refined.expt")
    assert orientation_error_deg(truth[0].crystal, refined[0].crystal) < 0.02
    out = read_reflections("refined.refl")
    assert out.get_flags(Flags.used_in_refinement).sum() > 2500
    log = (in_tmp_dir / "friedel.refine.log").read_text()
    assert "RMSD_X" in log and "RMSDs by experiment" in log
    assert "rejected as outliers" in log and "RMSDs of the static and the scan-varying fit" in log
    import json

    numbers = json.loads((in_tmp_dir / "friedel.refine.json").read_text())
    assert set(numbers["stages"]) == {"static", "scan-varying"}
    assert len(numbers["scan_varying"]["0"]["unit_cells"]) == refined[0].scan.num_images + 1
    assert refined[0].crystal.num_scan_points == refined[0].scan.num_images + 1


def test_refine_command_bad_input_writes_nothing(sweep, in_tmp_dir):
    from friedel.cli.main import main

    truth, refl = sweep
    no_crystal = copy.deepcopy(truth)
    no_crystal[0].crystal = None
    write_experiments(no_crystal, "indexed.expt")
    write_reflections(refl, "indexed.refl")
    assert main(["refine", "indexed.expt", "indexed.refl"]) != 0
    assert not (in_tmp_dir / "refined.expt").exists() and not (in_tmp_dir / "refined.refl").exists()


def test_real_centroid_data(real_data):
    """The 9-image centroid data set: the .refl's indices are in a symmetry-equivalent
    setting of the .expt's crystal, so they are first brought into the crystal's setting."""
    from friedel.observations import map_to_reciprocal_space

    experiments = read_experiments(real_data / "integrated/centroid/integrated.expt")
    refl = read_reflections(real_data / "integrated/centroid/integrated.refl")
    observed = refl.select(refl.get_flags(Flags.indexed))
    map_to_reciprocal_space(experiments, observed)
    fit = np.linalg.lstsq(observed["miller_index"].astype(float), observed["rlp"], rcond=None)[0].T
    M = np.rint(np.linalg.inv(experiments[0].crystal.A) @ fit).astype(int)
    refl["miller_index"] = (refl["miller_index"] @ M.T).astype(np.int32)
    params = RefinementParams()
    params.reflections.use_all_reflections = True
    result = refine(experiments, refl, params)
    c = result.experiments[0].crystal.unit_cell
    assert c.a == pytest.approx(42.27, rel=5e-3) and c.c == pytest.approx(39.67, rel=5e-3)
    assert c.a == pytest.approx(c.b, abs=1e-9)
    x, y, phi = result.rmsds[0]
    assert x / 0.172 < 0.35 and y / 0.172 < 0.35 and np.degrees(phi) / 0.2 < 1.0
    assert result.n_used[0] > 380


def test_auto_reduction_after_outlier_rejection_fixes_detector():
    """Regression: outlier rejection leaves one sweep's own detector with too few reflections for
    its six parameters; auto_reduction.action=fix must fix them and refine the rest (it used to
    fail with mismatched parameter-vector shapes)."""
    first = make_experiment(n_images=40, width=0.5, seed=11)
    second = make_experiment(n_images=40, width=0.5, seed=11, start=20.0)
    second.crystal = first.crystal  # one crystal, two sweeps, two detector models
    truth = ExperimentList([first, second])
    refl = observe(truth, d_min=2.5, seed=4)
    # sweep 2 keeps 32 spots (30 asked for), three of them gross outliers
    rows1 = np.flatnonzero(refl["id"] == 1)
    keep = np.ones(len(refl), bool)
    keep[rows1[32:]] = False
    refl = refl.select(keep)
    bad = np.flatnonzero(refl["id"] == 1)[:3]
    xyz = refl["xyzobs.mm.value"].copy()
    xyz[bad, :2] += 3.0
    refl["xyzobs.mm.value"] = xyz
    start = perturb(truth)
    assert start[0].detector is not start[1].detector
    params = static_params()
    params.parameterisation.auto_reduction.action = "fix"
    params.parameterisation.auto_reduction.min_nref_per_parameter = 30
    result = refine(start, refl, params)
    assert result.n_outliers[1] >= 3
    fixed = {(p.model, p.free) for p in result.parameters if p.model.startswith("detector")}
    assert any(not free for _, free in fixed) and any(free for _, free in fixed)
    # the crystal and sweep 1 still refine (sweep 2's detector stays at its perturbed start)
    for x, y in zip(truth[0].crystal.unit_cell.parameters, result.experiments[0].crystal.unit_cell.parameters):
        assert abs(x - y) / x < 1e-3
    assert max(result.rmsds[0][:2]) < 1.1 * NOISE_PX * 0.172
