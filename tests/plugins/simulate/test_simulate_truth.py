"""Simulated images checked against their truth (tiny preset: a few seconds in total)."""

from __future__ import annotations

import json

import fabio
import gemmi
import h5py
import numpy as np
import pytest
from scipy.spatial import cKDTree

from friedel.io import read_experiments, read_reflections
from friedel.plugins.simulate.crystals import TrueIntensities, map_to_asu
from friedel.plugins.simulate.params import make_params
from friedel.plugins.simulate.physics import background_map
from friedel.plugins.simulate.sweep import simulate
from friedel.plugins.simulate.truth import read_intensities_mtz


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    params = make_params("tiny", **{
        "output.directory": str(directory), "output.format": "both", "mp.method": "none",
        "header_error.distance": 1.5, "header_error.beam_centre": (2.0, -1.0), "seed": 3,
    })
    summary = simulate(params)
    expt = read_experiments(str(directory / "truth.expt"))
    refl = read_reflections(str(directory / "truth_reflections.refl"))
    n = expt[0].scan.num_images
    images = np.array([fabio.open(str(directory / f"sim_{i:05d}.cbf")).data for i in range(1, n + 1)])
    return {"dir": directory, "summary": summary, "expt": expt, "refl": refl, "images": images, "params": params}


def _isolated_strong(refl, images, min_counts=3000.0, half=6):
    """Rows of strong, fully recorded reflections with no other reflection nearby."""
    xyz = refl["xyzcal.px"]
    n, ny, nx = images.shape
    sel = (refl["counts.expected"] > min_counts) & (refl["partiality"] > 0.995)
    sel &= (xyz[:, 0] > half + 1) & (xyz[:, 0] < nx - half - 1) & (xyz[:, 1] > half + 1) & (xyz[:, 1] < ny - half - 1)
    pts = np.column_stack([xyz[:, 0], xyz[:, 1], xyz[:, 2] * 4])
    neighbours = cKDTree(pts).query_ball_point(pts[sel], 2 * half)
    rows = np.flatnonzero(sel)[np.array([len(p) == 1 for p in neighbours], bool)]
    return rows


def _box_sums(refl, images, rows, scan, half=6):
    """Background-subtracted sums and centroids (x, y px; z frames) of boxes around rows."""
    xyz = refl["xyzcal.px"]
    n = images.shape[0]
    out = []
    width = np.radians(scan.oscillation[1])
    for i in rows:  # a test-side loop over a few hundred spots
        x, y, z = xyz[i]
        sz = refl["sigma_phi"][i] / width
        x0, y0 = int(x) - half, int(y) - half
        z0, z1 = max(int(np.floor(z - 4 * sz)), 0), min(int(np.ceil(z + 4 * sz)) + 1, n)
        box = images[z0:z1, y0:y0 + 2 * half + 1, x0:x0 + 2 * half + 1].astype(float)
        if (box < 0).any():
            out.append([i, np.nan, np.nan, np.nan, np.nan])
            continue
        border = np.concatenate([box[:, 0].ravel(), box[:, -1].ravel(), box[:, :, 0].ravel(), box[:, :, -1].ravel()])
        signal = box - border.mean()
        zz, yy, xx = np.indices(box.shape)
        total = signal.sum()
        out.append([i, (signal * (xx + x0 + 0.5)).sum() / total, (signal * (yy + y0 + 0.5)).sum() / total,
                    (signal * (zz + z0 + 0.5)).sum() / total, total])
    out = np.array(out)
    return out[np.isfinite(out[:, 4])]


def test_spot_centroids_from_pixels_match_the_true_positions(tiny):
    refl, images = tiny["refl"], tiny["images"]
    rows = _isolated_strong(refl, images)
    assert len(rows) > 50
    boxes = _box_sums(refl, images, rows, tiny["expt"][0].scan)
    true = refl["xyzcal.px"][boxes[:, 0].astype(int)]
    dxy = boxes[:, 1:3] - true[:, :2]
    assert np.all(np.abs(np.median(dxy, axis=0)) < 0.05)  # no bias
    assert np.median(np.hypot(dxy[:, 0], dxy[:, 1])) < 0.15  # well under a pixel
    dz = boxes[:, 3] - true[:, 2]
    assert abs(np.median(dz)) < 0.05 and np.median(np.abs(dz)) < 0.1  # images


def test_corrected_spot_sums_follow_the_true_intensities(tiny):
    refl, images = tiny["refl"], tiny["images"]
    rows = _isolated_strong(refl, images, min_counts=300.0)
    boxes = _box_sums(refl, images, rows, tiny["expt"][0].scan)
    i = boxes[:, 0].astype(int)
    # sum * lp / (partiality * intensity_scale) estimates I_true (up to scale drift and damage)
    corrected = boxes[:, 4] * refl["lp"][i] / (refl["partiality"][i] * tiny["params"].crystal.intensity_scale)
    true = refl["intensity.true.value"][i]
    assert np.corrcoef(corrected, true)[0, 1] > 0.97
    ratio = np.median(corrected / true)
    assert 0.85 < ratio < 1.1  # drift of +-5 % and a small damage B
    # and the raw sums match the expected recorded photons
    assert 0.95 < np.median(boxes[:, 4] / refl["counts.expected"][i]) < 1.05


def test_background_level_and_poisson_noise(tiny):
    refl, images, expt = tiny["refl"], tiny["images"], tiny["expt"][0]
    bgp = tiny["params"].physics.background
    panel, beam = expt.detector[0], expt.beam
    bg = background_map(panel, beam.s0, bgp.flat, bgp.air, bgp.air_width, bgp.solvent_ring, bgp.ring_d,
                        bgp.ring_width, beam.polarization_normal, beam.polarization_fraction)
    scales = json.loads((tiny["dir"] / "truth.json").read_text())["per_image"]["scale"]
    # pixels far from every reflection with any recorded signal
    far = np.ones(images.shape[1:], bool)
    xy = refl["xyzcal.px"][refl["counts.expected"] > 0.5][:, :2].astype(int)
    for dx in range(-8, 9):
        for dy in range(-8, 9):
            x = np.clip(xy[:, 0] + dx, 0, far.shape[1] - 1)
            y = np.clip(xy[:, 1] + dy, 0, far.shape[0] - 1)
            far[y, x] = False
    far &= images[0] >= 0
    assert far.sum() > 10000
    for k in (0, 5):
        expected = bg[far] * scales[k]
        observed = images[k][far].astype(float)
        assert abs(observed.mean() / expected.mean() - 1) < 0.01
        # Poisson: the variance of (observed - expected) equals the expected mean
        z = (observed - expected) / np.sqrt(expected)
        assert abs(z.mean()) < 0.02 and abs(z.var() - 1) < 0.03
    # the solvent ring is there: brighter at 3.65 A than at 5 A and 3 A (same image)
    d = panel.resolution_at_pixel(beam.s0, np.argwhere(far)[:, ::-1] + 0.5)
    obs = images[0][far]
    ring = obs[np.abs(d - bgp.ring_d) < 0.05].mean()
    assert ring > obs[np.abs(d - 3.0) < 0.05].mean() + 1 and ring > obs[np.abs(d - 5.0) < 0.1].mean() + 1


def test_gaps_header_error_and_truth_files(tiny):
    images, expt = tiny["images"], tiny["expt"]
    panel = expt[0].detector[0]
    # dxtbx rectangles are 0-based, end exclusive
    for x0, y0, x1, y1 in panel.mask:
        assert np.all(images[:, y0:y1, x0:x1] == -1)
    assert np.count_nonzero(images[0] == -1) == 2 * 17 * 487
    header = read_experiments(str(tiny["dir"] / "header.expt"))[0]
    assert header.detector[0].distance == pytest.approx(panel.distance + 1.5)
    bc_true = np.array(expt[0].detector.beam_centre_px(expt[0].beam.s0))
    bc_header = np.array(header.detector.beam_centre_px(header.beam.s0))
    assert np.allclose(bc_header - bc_true, [2.0, -1.0])
    # the CBF headers carry the header geometry
    h = fabio.open(str(tiny["dir"] / "sim_00001.cbf")).header["_array_data.header_contents"]
    assert f"Beam_xy ({bc_header[0]:.2f}, {bc_header[1]:.2f}) pixels" in h
    assert f"Detector_distance {header.detector[0].distance / 1000:.5f} m" in h
    partials = np.load(tiny["dir"] / "truth_partials.npz")
    refl = tiny["refl"]
    assert np.allclose(np.bincount(partials["reflection"], partials["counts"], minlength=len(refl)),
                       refl["counts.expected"])
    assert set(np.unique(partials["image"])) <= set(range(1, images.shape[0] + 1))


def test_nxmx_files_hold_the_same_pixels_and_geometry(tiny):
    directory, images = tiny["dir"], tiny["images"]
    header = read_experiments(str(directory / "header.expt"))[0]
    with h5py.File(directory / "sim_master.h5", "r") as f:
        assert f["entry/definition"][()] == b"NXmx"
        stack = np.concatenate([f[f"entry/data/{k}"][()] for k in sorted(f["entry/data"])])
        det = f["entry/instrument/detector"]
        bx, by = det["beam_center_x"][()], det["beam_center_y"][()]
        assert np.allclose([bx, by], header.detector.beam_centre_px(header.beam.s0))
        assert det["detector_distance"][()] * 1000 == pytest.approx(header.detector[0].distance)
        assert det["saturation_value"][()] == 1048500
        mask = det["pixel_mask"][()]
        omega = f["entry/sample/transformations/omega"]
        assert np.allclose(omega[()], 0.5 * np.arange(images.shape[0]))
        assert np.allclose(omega.attrs["vector"], [-1, 0, 0])
        assert f["entry/instrument/beam/incident_wavelength"][()] == pytest.approx(header.beam.wavelength)
    assert stack.dtype == np.uint32 and stack.shape == images.shape
    good = images >= 0
    assert np.array_equal(stack[good], images[good].astype(np.uint32))
    assert np.all(stack[~good] == 0xFFFFFFFF) and np.array_equal(mask != 0, images[0] < 0)


def test_symmetry_mates_have_equal_true_intensity_and_absences_are_zero(tiny):
    refl = tiny["refl"]
    sg = gemmi.SpaceGroup("P 43 21 2")
    truth = read_intensities_mtz(str(tiny["dir"] / "truth_intensities.mtz"))
    assert truth["space_group"] == sg.xhm()
    # every observation carries the true intensity of its ASU reflection
    hkl_asu, plus = map_to_asu(refl["miller_index"], sg)
    key = {tuple(h): (ip, im) for h, ip, im in zip(truth["hkl"], truth["I(+)"], truth["I(-)"])}
    absent = np.asarray(sg.operations().systematic_absences(refl["miller_index"]), bool)
    assert absent.any() and np.all(refl["intensity.true.value"][absent] == 0)
    found = [(h in key) for h in map(tuple, hkl_asu)]
    expected = np.array([key[tuple(h)][0 if p else 1] if f else 0.0 for h, p, f in zip(hkl_asu, plus, found)])
    assert np.allclose(refl["intensity.true.value"][~absent], expected[~absent], rtol=1e-5)
    # all symmetry mates of a sample of unique reflections look up the same value
    rng = np.random.default_rng(0)
    t = TrueIntensities((79.1, 79.1, 38.0, 90, 90, 90), "P 43 21 2", 2.5, 20.0, rng, anomalous_fraction=0.1)
    sample = t.hkl[:200]
    values = t.lookup(sample)
    for op in sg.operations().sym_ops:
        mates = np.array([op.apply_to_hkl(list(map(int, h))) for h in sample])
        assert np.allclose(t.lookup(mates), values)
        assert np.allclose(t.lookup(-mates)[t.centric[:200]], values[t.centric[:200]])
    assert np.any(t.i_plus != t.i_minus) and np.all((t.i_plus == t.i_minus)[t.centric])


def test_wilson_statistics_of_true_intensities():
    t = TrueIntensities((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", 2.0, 25.0, np.random.default_rng(5))
    e2 = t.i_mean / (t.epsilon * np.exp(-25.0 / (2 * t.d**2)))
    acentric, centric = e2[~t.centric], e2[t.centric]
    assert abs(acentric.mean() - 1) < 0.03 and abs((acentric**2).mean() - 2) < 0.15  # <E^4> = 2
    assert abs(centric.mean() - 1) < 0.1 and abs((centric**2).mean() - 3) < 0.6  # <E^4> = 3


def test_asu_mapping_matches_gemmi():
    rng = np.random.default_rng(2)
    for symbol in ("P 1", "C 1 2 1", "P 41 21 2", "I 21 3", "P 31 2 1", "R 3 :H", "P 6 2 2"):
        sg = gemmi.SpaceGroup(symbol)
        asu, ops = gemmi.ReciprocalAsu(sg), sg.operations()
        hkl = rng.integers(-7, 8, (200, 3))
        mapped, plus = map_to_asu(hkl, sg)
        ref = [asu.to_asu(list(map(int, h)), ops) for h in hkl]
        assert np.array_equal(mapped, [r[0] for r in ref])
        centric = np.asarray(ops.centric_flag_array(hkl), bool)
        assert np.array_equal(plus[~centric], np.array([r[1] % 2 == 1 for r in ref])[~centric])


def test_overloads_are_clipped_at_the_count_cutoff(tmp_path):
    params = make_params("tiny", **{"output.directory": str(tmp_path), "mp.method": "none", "scan.n_images": 2,
                                    "detector.count_cutoff": 400})
    summary = simulate(params)
    image = fabio.open(str(tmp_path / "sim_00001.cbf")).data
    assert image.max() == 400 and summary["n_overloaded_pixels"] == np.count_nonzero(
        np.array([fabio.open(str(tmp_path / f"sim_{i:05d}.cbf")).data for i in (1, 2)]) == 400)
    assert read_experiments(str(tmp_path / "truth.expt"))[0].detector[0].trusted_range[1] == 400


def test_two_lattices_share_the_instrument_and_are_both_recorded(tmp_path):
    params = make_params("tiny", **{"output.directory": str(tmp_path), "mp.method": "none", "scan.n_images": 2,
                                    "crystal.n_lattices": 2, "seed": 8})
    simulate(params)
    expt = read_experiments(str(tmp_path / "truth.expt"))
    assert len(expt) == 2 and expt[0].detector is expt[1].detector and expt[0].beam is expt[1].beam
    U0, U1 = expt[0].crystal.U, expt[1].crystal.U
    angle = np.degrees(np.arccos(np.clip((np.trace(U0.T @ U1) - 1) / 2, -1, 1)))
    assert angle > 1.0  # independently oriented
    refl = read_reflections(str(tmp_path / "truth_reflections.refl"))
    full = {i: refl["counts.full"][(refl["id"] == i) & (refl["intensity.true.value"] > 0)] for i in (0, 1)}
    assert len(full[0]) > 100 and len(full[1]) > 100
    # the second lattice is weaker by lattice_scale (per unit true intensity and lp)
    per_unit = {}
    for i in (0, 1):
        sel = (refl["id"] == i) & (refl["intensity.true.value"] > 0)
        per_unit[i] = refl["counts.full"][sel] * refl["lp"][sel] / refl["intensity.true.value"][sel]
    assert np.allclose(per_unit[0], params.crystal.intensity_scale)
    assert np.allclose(per_unit[1], 0.6 * params.crystal.intensity_scale)
    assert set(refl.experiment_identifiers.values()) == {e.identifier for e in expt}


def test_monoclinic_preset_has_the_c2_crystal():
    from friedel.plugins.simulate.sweep import build_sweep

    sweep = build_sweep(make_params("monoclinic_c2", **{"scan.n_images": 5}))
    crystal = sweep.truth[0].crystal
    assert np.allclose(crystal.unit_cell.parameters, (101.6, 45.0, 60.9, 90, 99.0, 90))
    assert crystal.space_group_symbol == "C 1 2 1"
    h = sweep.reflections["miller_index"]
    assert np.all((h[:, 0] + h[:, 1]) % 2 == 0)  # C centring: no h+k odd predicted
