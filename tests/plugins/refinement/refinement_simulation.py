"""Simulated rotation sweeps with known geometry, for refinement tests."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from friedel.flags import Flags
from friedel.models import Beam, Crystal, Detector, Experiment, ExperimentList, Goniometer, Panel, Scan
from friedel.observations import centroids_px_to_mm
from friedel.prediction import predict_rotation
from friedel.reflection_table import ReflectionTable

NOISE_PX = 0.25  # centroid noise in X and Y (pixels)
NOISE_IMAGES = 0.1  # centroid noise in phi (images)


def make_experiment(cell=(57.8, 57.8, 150.0, 90, 90, 90), space_group="P 41 21 2", seed=0, n_images=100,
                    width=0.5, start=0.0, distance=200.0, panels=1, still=False):
    rng = np.random.default_rng(seed)
    U = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
    crystal = Crystal.from_cell(cell, space_group, U)
    beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=0.9795)
    nx, ny = 2463, 2527
    if panels == 1:
        panel_list = [Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=(-211.5, 217.3, -distance),
                            pixel_size=(0.172, 0.172), image_size=(nx, ny), name="p0")]
    else:  # a row of panels, each a horizontal strip
        h = ny // panels
        panel_list = [Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0),
                            origin=(-211.5, 217.3 - i * h * 0.172, -distance), pixel_size=(0.172, 0.172),
                            image_size=(nx, h), name=f"p{i}") for i in range(panels)]
    detector = Detector(panel_list)
    gonio = Goniometer(rotation_axis=(1.0, 0.0, 0.0))
    scan = Scan(image_range=(1, n_images), oscillation=(start, 0.0 if still else width))
    return Experiment(beam=beam, detector=detector, goniometer=gonio, scan=scan, crystal=crystal,
                      identifier=f"sim-{seed}")


def observe(experiments, d_min=2.0, seed=1, noise_px=NOISE_PX, noise_images=NOISE_IMAGES):
    """Indexed 'observations': predictions of the true models plus Gaussian centroid noise."""
    rng = np.random.default_rng(seed)
    tables = []
    for i, expt in enumerate(experiments):
        t = predict_rotation(expt, d_min, experiment_id=i)
        px = t["xyzcal.px"].copy()
        px[:, 0] += rng.normal(0, noise_px, len(t))
        px[:, 1] += rng.normal(0, noise_px, len(t))
        px[:, 2] += rng.normal(0, noise_images, len(t))
        t["xyzobs.px.value"] = px
        t["xyzobs.px.variance"] = np.tile([noise_px**2, noise_px**2, noise_images**2], (len(t), 1))
        t["flags"] = np.full(len(t), int(Flags.indexed | Flags.strong), np.int64)
        tables.append(t)
    refl = ReflectionTable.concatenate(tables)
    centroids_px_to_mm(experiments, refl)
    return refl


def observe_still(experiment, d_min=2.0, mosaic_deg=0.2, seed=1, noise_px=NOISE_PX):
    """Spots of a still: lattice points within ``mosaic_deg`` of the Ewald sphere, turned onto it
    (the DeltaPsi model), at their detector positions plus Gaussian centroid noise."""
    from friedel.plugins.refinement.prediction import predict
    from friedel.prediction import generate_indices

    rng = np.random.default_rng(seed)
    crystal = experiment.crystal
    hkl = generate_indices(crystal.A, d_min, crystal.space_group_ops)
    pred = predict(experiment, hkl, np.zeros(len(hkl), np.int64))
    panel = experiment.detector[0]
    px = np.full((len(hkl), 2), np.nan)
    px[pred.ok] = panel.mm_to_px(pred.xyz[pred.ok, :2])
    nx, ny = panel.image_size
    keep = (pred.ok & (np.abs(np.degrees(pred.xyz[:, 2])) < mosaic_deg) & (px[:, 0] > 0) & (px[:, 0] < nx)
            & (px[:, 1] > 0) & (px[:, 1] < ny))
    n = int(keep.sum())
    t = ReflectionTable()
    t["miller_index"] = hkl[keep].astype(np.int32)
    t["id"] = np.zeros(n, np.int32)
    t["panel"] = np.zeros(n, np.int64)
    obs = np.zeros((n, 3))
    obs[:, :2] = px[keep] + rng.normal(0, noise_px, (n, 2))
    obs[:, 2] = 0.5
    t["xyzobs.px.value"] = obs
    t["xyzobs.px.variance"] = np.tile([noise_px**2, noise_px**2, 0.0], (n, 1))
    t["flags"] = np.full(n, int(Flags.indexed | Flags.strong), np.int64)
    centroids_px_to_mm(ExperimentList([experiment]), t)
    return t
