"""Build a simulated rotation sweep: true models, reflections, per-image expected counts.

:func:`build_sweep` does everything except rendering pixels (fast, vectorised);
:func:`simulate` renders and writes images in parallel blocks and writes the truth.
"""

from __future__ import annotations

import copy
import datetime
import logging
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from friedel.errors import FriedelError
from friedel.models import Experiment, ExperimentList, ImageSetReference
from friedel.parallel import resolve_nproc, run_blocks
from friedel.prediction import generate_indices, predict_rotation
from friedel.progress import Progress
from friedel.reflection_table import ReflectionTable
from friedel.plugins.simulate import crystals as xtal
from friedel.plugins.simulate import instrument, physics
from friedel.plugins.simulate.params import SimulateParams, resolve_preset
from friedel.plugins.simulate.render import render_block

log = logging.getLogger("friedel")


@dataclass
class Sweep:
    """Everything known about a simulated sweep before its pixels are drawn."""

    params: SimulateParams
    truth: ExperimentList  # true models, one experiment per lattice
    header: ExperimentList  # models as the image headers describe them (no crystal)
    detector_preset: instrument.DetectorPreset
    intensities: xtal.TrueIntensities
    reflections: ReflectionTable  # one row per predicted reflection (all lattices)
    partials: dict  # row, image (0-based), fraction, counts (expected photons on that image)
    scales: np.ndarray  # per-image scale
    b_factors: np.ndarray  # per-image extra B (radiation damage)
    count_cutoff: int
    timings: dict = field(default_factory=dict)


def _beam_centre_mm(p, preset: instrument.DetectorPreset):
    if p.detector.beam_centre is not None:
        return tuple(p.detector.beam_centre)
    nx, ny = preset.image_size
    # near the middle but off the pixel grid's symmetry points, as on a real beamline
    return ((nx / 2 + 1.31) * preset.pixel_size, (ny / 2 - 2.17) * preset.pixel_size)


def build_sweep(params: SimulateParams) -> Sweep:
    """True and header models, true intensities and the expected counts of every reflection
    on every image. Deterministic for a given seed."""
    t0 = time.perf_counter()
    p = resolve_preset(params)
    c, b, d, s = p.crystal, p.beam, p.detector, p.scan
    if c.d_min <= 0:
        raise FriedelError(f"crystal.d_min must be positive, got {c.d_min}")
    if c.mosaicity < 0 or b.divergence < 0:
        raise FriedelError("crystal.mosaicity and beam.divergence must not be negative")
    rng = np.random.default_rng(p.seed)

    beam = instrument.make_beam(b.wavelength, b.polarization_fraction)
    preset = instrument.DETECTOR_PRESETS.get(d.preset)
    if preset is None:
        raise FriedelError(f"unknown detector preset '{d.preset}'")
    centre = _beam_centre_mm(p, preset)
    detector, preset = instrument.make_detector(d.preset, d.distance, centre, b.wavelength, d.count_cutoff)
    gonio = instrument.make_goniometer(s.rotation_axis)
    scan = instrument.make_scan(s.n_images, s.oscillation[0], s.oscillation[1], s.exposure_time)
    cutoff = int(detector[0].trusted_range[1])

    # header models: the same instrument with the deliberate error in distance and beam centre
    e = p.header_error
    h_centre = (centre[0] + e.beam_centre[0] * preset.pixel_size, centre[1] + e.beam_centre[1] * preset.pixel_size)
    h_detector, _ = instrument.make_detector(d.preset, d.distance + e.distance, h_centre, b.wavelength, d.count_cutoff)

    # crystals: the first lattice may be given; the others are random
    lattices = []
    for i in range(c.n_lattices):
        if i == 0 and c.orientation is not None:
            U = np.asarray(c.orientation, float).reshape(3, 3)
            if not np.allclose(U @ U.T, np.eye(3), atol=1e-5) or np.linalg.det(U) < 0:
                raise FriedelError("crystal.orientation must be a proper rotation matrix (9 numbers, row by row)")
        else:
            U = xtal.random_orientation(rng)
        lattices.append(xtal.make_crystal(c.unit_cell, c.space_group, U))
    intensities = xtal.TrueIntensities(c.unit_cell, c.space_group, c.d_min, c.wilson_b,
                                       np.random.default_rng([p.seed, 11]), c.anomalous)

    ph = p.physics
    if ph.crystal_drift or ph.cell_drift:
        # every lattice drifts (each its own axis); the static A is the model at mid-sweep
        drift_rng = np.random.default_rng([p.seed, 13])
        for crystal in lattices:
            crystal.A_at_scan_points = physics.drifting_crystal_A(crystal, s.n_images, ph.crystal_drift,
                                                                  ph.cell_drift, drift_rng)
            crystal.A = crystal.A_at_frames([0.5 * s.n_images], scan)[0]

    truth, header = ExperimentList(), ExperimentList()
    h_beam, h_gonio, h_scan = copy.deepcopy(beam), copy.deepcopy(gonio), copy.deepcopy(scan)
    for i, crystal in enumerate(lattices):
        truth.append(Experiment(beam=beam, detector=detector, goniometer=gonio, scan=scan, crystal=crystal,
                                identifier=f"friedel-simulated-{p.seed}-{i}"))
    header.append(Experiment(beam=h_beam, detector=h_detector, goniometer=h_gonio, scan=h_scan,
                             identifier=f"friedel-simulated-{p.seed}-header"))

    # predictions, with a margin so that tails of reflections centred outside the scan count
    sigma_m = math.radians(math.hypot(c.mosaicity, b.divergence))
    margin = max(1.0, 12 * math.degrees(sigma_m))
    tables = []
    for i, expt in enumerate(truth):
        # screw-axis and glide absences are kept (with zero intensity); lattice-centring
        # absences are not reflections of the lattice at all
        hkl = generate_indices(expt.crystal.A, c.d_min, None)
        hkl = hkl[~_centring_absent(hkl, expt.crystal.space_group_ops)]
        t = predict_rotation(expt, c.d_min, experiment_id=i, hkl=hkl, margin_deg=margin)
        tables.append(t)
    refl = ReflectionTable.concatenate(tables)
    refl.experiment_identifiers = {i: e.identifier for i, e in enumerate(truth)}

    s1 = refl["s1"]
    L, P = physics.lorentz_polarization(beam.s0, s1, gonio.rotation_axis, beam.polarization_normal,
                                        beam.polarization_fraction)
    sigma_phi = physics.rocking_width_phi(beam.s0, s1, gonio.rotation_axis, sigma_m)
    i_true = intensities.lookup(refl["miller_index"])
    lattice_scale = np.where(refl["id"] == 0, 1.0, c.lattice_scale)
    full = c.intensity_scale * lattice_scale * i_true * P / np.maximum(L, 1e-3)

    scales = physics.image_scales(scan.num_images, p.physics.scale_drift, p.seed)
    b_factors = physics.image_b_factors(scan.num_images, p.physics.radiation_damage)
    row, image, frac = physics.image_partials(refl["xyzcal.mm"][:, 2], sigma_phi, scan)
    counts = full[row] * frac * scales[image] * np.exp(-b_factors[image] / (2.0 * refl["d"][row] ** 2))

    refl["intensity.true.value"] = i_true
    refl["lp"] = L / P
    refl["lorentz"] = L
    refl["polarization"] = P
    refl["sigma_phi"] = sigma_phi
    refl["partiality"] = np.bincount(row, frac, minlength=len(refl))
    refl["counts.expected"] = np.bincount(row, counts, minlength=len(refl))
    refl["counts.full"] = full
    cov = physics.spot_covariance_px(detector[0], s1, math.radians(b.divergence), d.psf)
    refl["spot.covariance.px"] = cov
    sweep = Sweep(p, truth, header, preset, intensities, refl,
                  {"row": row, "image": image, "fraction": frac, "counts": counts},
                  scales, b_factors, cutoff)
    sweep.timings["model"] = time.perf_counter() - t0
    return sweep


def _centring_absent(hkl: np.ndarray, ops) -> np.ndarray:
    """Reflections extinguished by lattice centring (e.g. h+k+l odd for I)."""
    absent = np.zeros(len(hkl), bool)
    for t in ops.cen_ops:
        absent |= (hkl.astype(np.int64) @ np.asarray(t, np.int64)) % ops.sym_ops[0].DEN != 0
    return absent


# -- rendering and writing -----------------------------------------------------------------------
def _image_template(prefix: str, n_images: int) -> tuple[str, int]:
    width = max(5, len(str(n_images)))
    return f"{prefix}_{'#' * width}.cbf", width


def block_ranges(n_images: int, per_block, nproc: int, pixels_per_image: int = 6_000_000) -> list[tuple[int, int]]:
    """0-based [start, stop) image ranges. Auto gives about three blocks per process, but
    at least ~20 M pixels per block so that small detectors are not slowed by start-up."""
    if per_block in (None, "Auto"):
        per_block = max(1, min(25, math.ceil(n_images / (3 * nproc))), math.ceil(2e7 / pixels_per_image))
    per_block = int(per_block)
    return [(a, min(a + per_block, n_images)) for a in range(0, n_images, per_block)]


def _block_tasks(sweep: Sweep, directory: str, blocks) -> tuple[list[dict], list[tuple[str, int]]]:
    p = sweep.params
    header = sweep.header[0]
    panel_true = sweep.truth[0].detector[0]
    h_panel = header.detector[0]
    refl = sweep.reflections
    part = sweep.partials
    order = np.argsort(part["image"], kind="stable")
    img_sorted = part["image"][order]
    row = part["row"][order]
    cov = refl["spot.covariance.px"][row]
    xy = refl["xyzcal.px"][row]
    spots_all = {
        "image_number": (img_sorted + 1).astype(np.int64),
        "x": xy[:, 0].copy(), "y": xy[:, 1].copy(),
        "cxx": cov[:, 0].copy(), "cxy": cov[:, 1].copy(), "cyy": cov[:, 2].copy(),
        "counts": part["counts"][order].astype(np.float64),
    }
    template, width = _image_template(p.output.prefix, header.scan.num_images)
    start = datetime.datetime(2025, 1, 1, 12, 0, 0)
    timestamps = [(start + datetime.timedelta(seconds=i * p.scan.exposure_time)).isoformat(timespec="milliseconds")
                  for i in range(header.scan.num_images)]
    bx, by = h_panel.beam_centre_mm(header.beam.s0)
    cbf_spec = {
        "kind": "cbf", "template": os.path.join(directory, template), "width": width,
        "detector": sweep.detector_preset.description, "pixel_size": list(h_panel.pixel_size),
        "thickness": h_panel.thickness, "wavelength": header.beam.wavelength, "distance": h_panel.distance,
        "beam_xy_px": [bx / h_panel.pixel_size[0], by / h_panel.pixel_size[1]],
        "oscillation": list(header.scan.oscillation), "exposure_time": p.scan.exposure_time,
        "count_cutoff": sweep.count_cutoff, "timestamps": timestamps,
    }
    tasks, data_files = [], []
    for k, (a, b) in enumerate(blocks):
        lo, hi = np.searchsorted(img_sorted, [a, b])
        writers = []
        if p.output.format in ("cbf", "both"):
            writers.append(cbf_spec)
        if p.output.format in ("nxmx", "both"):
            name = f"{p.output.prefix}_data_{k + 1:06d}.h5"
            data_files.append((name, b - a))
            writers.append({"kind": "nxmx", "path": os.path.join(directory, name), "first_image": a + 1,
                            "gap_value": 0xFFFFFFFF})
        tasks.append({
            "images": list(range(a + 1, b + 1)),
            "scales": [float(x) for x in sweep.scales[a:b]],
            "panel": panel_true.to_dict(),
            "s0": sweep.truth[0].beam.s0.tolist(),
            "polarization_normal": sweep.truth[0].beam.polarization_normal.tolist(),
            "polarization_fraction": sweep.truth[0].beam.polarization_fraction,
            "background": {
                "flat": p.physics.background.flat, "air": p.physics.background.air,
                "air_width_deg": p.physics.background.air_width, "ring": p.physics.background.solvent_ring,
                "ring_d": p.physics.background.ring_d, "ring_width": p.physics.background.ring_width,
            },
            "spots": {key: v[lo:hi] for key, v in spots_all.items()},
            "count_cutoff": sweep.count_cutoff,
            "seed": p.seed,
            "n_sub": p.physics.subpixels,
            "writers": writers,
        })
    return tasks, data_files


def _check_output(directory: str, p) -> None:
    os.makedirs(directory, exist_ok=True)
    if p.output.overwrite:
        return
    existing = [f for f in os.listdir(directory)
                if f.startswith(p.output.prefix + "_") and (f.endswith(".cbf") or f.endswith(".h5"))]
    if existing:
        raise FriedelError(f"{directory} already holds images named {p.output.prefix}_* ({existing[0]} ...); "
                           "choose another output.directory or output.prefix, or set output.overwrite=True")


def simulate(params: SimulateParams) -> dict:
    """Simulate a sweep and write images and truth to ``params.output.directory``.

    Returns a summary dictionary (counts, timings, file names).
    """
    from friedel.plugins.simulate import truth as truth_io

    t_start = time.perf_counter()
    sweep = build_sweep(params)
    p = sweep.params
    directory = os.path.abspath(p.output.directory)
    _check_output(directory, p)
    n_images = sweep.truth[0].scan.num_images
    nproc = resolve_nproc(p.mp.nproc)
    nx, ny = sweep.truth[0].detector[0].image_size
    blocks = block_ranges(n_images, p.output.images_per_data_file, nproc, nx * ny)
    tasks, data_files = _block_tasks(sweep, directory, blocks)

    # image sets: relative names, resolved against the .expt folder when read
    template, _ = _image_template(p.output.prefix, n_images)
    master = f"{p.output.prefix}_master.h5"
    if p.output.format in ("cbf", "both"):
        imageset = ImageSetReference(template=template)
    else:
        imageset = ImageSetReference(template=master, single_file_indices=list(range(n_images)))
    for e in list(sweep.truth) + list(sweep.header):
        e.imageset = imageset

    c = p.crystal
    log.info("Simulating %s: %s %s, %d lattice(s), %d images of %.3f deg on a %s at %.1f mm, d_min %.2f A",
             p.preset, c.space_group, ", ".join(f"{v:g}" for v in c.unit_cell), c.n_lattices, n_images,
             p.scan.oscillation[1], sweep.detector_preset.description.split(",")[0], p.detector.distance, c.d_min)
    refl = sweep.reflections
    log.info("%d unique reflections, %d predicted observations (%d on the detector inside the scan), "
             "%d image blocks on %d process(es)", len(sweep.intensities), len(refl),
             int(np.count_nonzero(refl["partiality"] > 0.5)), len(blocks), min(nproc, len(blocks)))

    t_render = time.perf_counter()
    with Progress(len(tasks), "Rendering images") as progress:
        results = run_blocks(render_block, tasks, p.mp, on_done=lambda i: progress.advance())
    render_seconds = time.perf_counter() - t_render
    stats = [s for r in results for s in r["stats"]]

    if p.output.format in ("nxmx", "both"):
        from friedel.formats.writers.nxmx import write_master

        write_master(os.path.join(directory, master), data_files, sweep.header[0],
                     count_cutoff=sweep.count_cutoff, pixel_mask=sweep.detector_preset.gap_mask(),
                     exposure_time=p.scan.exposure_time, description=sweep.detector_preset.description)
    files = truth_io.write_truth(sweep, directory, stats)
    total = time.perf_counter() - t_start
    summary = {
        "directory": directory,
        "n_images": n_images,
        "n_reflections": len(refl),
        "n_unique": len(sweep.intensities),
        "n_overloaded_pixels": int(sum(s["n_overloaded"] for s in stats)),
        "mean_pixel_counts": float(np.mean([s["mean_counts"] for s in stats])),
        "seconds_model": sweep.timings["model"],
        "seconds_render": render_seconds,
        "seconds_total": total,
        "files": files,
        "stats": stats,
    }
    cpu = sum(r["cpu_seconds"] for r in results)
    summary["cpu_seconds_render"] = cpu
    log.info("Wrote %d images (%s) and the truth to %s in %.1f s (rendering %.1f s wall, %.2f CPU s per image)",
             n_images, p.output.format, directory, total, render_seconds, cpu / n_images)
    log.info("  %s", ", ".join(sorted(files)))
    return summary
