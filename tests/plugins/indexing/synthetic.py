"""Synthetic strong-spot lists with known truth, for fast indexing tests.

Spots are the predicted positions of a crystal of known cell and random orientation on a
Pilatus-6M-like detector, with centroid noise and optional false spots.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from friedel.flags import Flags
from friedel.models import Beam, Crystal, Detector, Experiment, ExperimentList, Goniometer, Panel, Scan
from friedel.prediction import predict_rotation
from friedel.reflection_table import ReflectionTable


#: detector sizes (pixels) of a PILATUS 6M and 2M (0.172 mm pixels)
PILATUS = {"6M": (2463, 2527), "2M": (1475, 1679)}


def geometry(n_images=20, width_deg=0.5, start_deg=0.0, distance=200.0, wavelength=0.9795,
             fixed_rotation=None, axis=(1.0, 0.0, 0.0), detector="6M", tilt_deg=0.0):
    """Beam, detector (beam at the centre; ``tilt_deg`` turns it about the vertical axis through
    the beam centre), goniometer and scan of one sweep."""
    (nx, ny), px = PILATUS[detector], 0.172
    c, s = np.cos(np.radians(tilt_deg)), np.sin(np.radians(tilt_deg))
    fast, slow = np.array([c, 0.0, -s]), np.array([0.0, -1.0, 0.0])
    origin = np.array([0.0, 0.0, -distance]) - fast * nx * px / 2 - slow * ny * px / 2
    panel = Panel(fast_axis=fast, slow_axis=slow, origin=origin, pixel_size=(px, px), image_size=(nx, ny),
                  trusted_range=(-1, 1e6))
    gonio = Goniometer(rotation_axis=axis, fixed_rotation=np.eye(3) if fixed_rotation is None else fixed_rotation)
    return Experiment(beam=Beam(direction=(0, 0, 1), wavelength=wavelength), detector=Detector([panel]),
                      goniometer=gonio, scan=Scan(image_range=(1, n_images), oscillation=(start_deg, width_deg)))


def random_U(seed):
    return Rotation.random(random_state=seed).as_matrix()


def spots(experiment, crystal, d_min, seed=0, sigma_px=0.3, sigma_frame=0.1, n_false=0, experiment_id=0):
    """Strong-spot table (xyzobs.px.value etc.) of ``crystal`` seen in ``experiment``, with the truth
    in ``true_miller_index`` (0,0,0 for false spots)."""
    rng = np.random.default_rng(seed)
    e = Experiment(beam=experiment.beam, detector=experiment.detector, goniometer=experiment.goniometer,
                   scan=experiment.scan, crystal=crystal)
    pred = predict_rotation(e, d_min)
    xyz = pred["xyzcal.px"].copy()
    xyz[:, :2] += rng.normal(0, sigma_px, (len(xyz), 2))
    xyz[:, 2] += rng.normal(0, sigma_frame, len(xyz))
    hkl = pred["miller_index"]
    if n_false:
        nx, ny = experiment.detector[0].image_size
        n_img = experiment.scan.num_images
        false = np.column_stack([rng.uniform(0, nx, n_false), rng.uniform(0, ny, n_false),
                                 rng.uniform(0, n_img, n_false)])
        xyz = np.vstack([xyz, false])
        hkl = np.vstack([hkl, np.zeros((n_false, 3), np.int32)])
    n = len(xyz)
    return ReflectionTable({
        "xyzobs.px.value": xyz,
        "xyzobs.px.variance": np.tile([0.09, 0.09, 0.01], (n, 1)),
        "panel": np.zeros(n, np.int64),
        "id": np.full(n, experiment_id, np.int32),
        "flags": np.full(n, int(Flags.strong), np.int64),
        "true_miller_index": hkl,
    })


#: d-spacings (A) of the strongest powder rings of hexagonal ice
ICE_RINGS = (3.897, 3.669, 3.441, 2.671, 2.249, 2.072, 1.948, 1.918, 1.883, 1.721)


def ice_ring_spots(experiment, n, seed=0, experiment_id=0):
    """Strong-spot table of ``n`` spots on ice rings: random ring, azimuth and image (the truth
    ``true_miller_index`` is (0, 0, 0): they belong to no lattice)."""
    rng = np.random.default_rng(seed)
    wavelength = experiment.beam.wavelength
    d = rng.choice(ICE_RINGS, n) * (1 + rng.normal(0, 0.002, n))
    two_theta = 2 * np.arcsin(wavelength / (2 * d))
    azimuth = rng.uniform(0, 2 * np.pi, n)
    s1 = np.column_stack([np.sin(two_theta) * np.cos(azimuth), np.sin(two_theta) * np.sin(azimuth),
                          -np.cos(two_theta)]) / wavelength
    panel, xy = experiment.detector.ray_intersection(s1)
    xy = experiment.detector[0].mm_to_px(xy[panel >= 0])
    xyz = np.column_stack([xy, rng.uniform(0, experiment.scan.num_images, len(xy))])
    m = len(xyz)
    return ReflectionTable({
        "xyzobs.px.value": xyz,
        "xyzobs.px.variance": np.tile([0.09, 0.09, 0.01], (m, 1)),
        "panel": np.zeros(m, np.int64),
        "id": np.full(m, experiment_id, np.int32),
        "flags": np.full(m, int(Flags.strong), np.int64),
        "true_miller_index": np.zeros((m, 3), np.int32),
    })


def sweep(cell, space_group="P 1", seed=0, d_min=2.5, n_false=0, **geometry_kwargs):
    """(experiments, spots, true crystal) of one synthetic sweep."""
    expt = geometry(**geometry_kwargs)
    crystal = Crystal.from_cell(cell, space_group, random_U(seed))
    table = spots(expt, crystal, d_min, seed=seed, n_false=n_false)
    return ExperimentList([expt]), table, crystal
