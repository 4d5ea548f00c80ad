"""Simulated 'indexed' rotation data in an arbitrary primitive (P1) setting, with intensities
that obey the true space group, for Bravais-setting tests."""

from __future__ import annotations

import gemmi
import numpy as np
from scipy.spatial.transform import Rotation

from friedel.flags import Flags
from friedel.models import Beam, Crystal, Detector, Experiment, ExperimentList, Goniometer, Panel, Scan
from friedel.observations import centroids_px_to_mm
from friedel.prediction import predict_rotation

#: conventional -> primitive basis (columns: primitive vectors in conventional coordinates)
PRIMITIVE = {
    "P": np.eye(3),
    "C": np.array([[1, 1, 0], [-1, 1, 0], [0, 0, 2]]) / 2,
    "I": np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]]) / 2,
    "F": np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]) / 2,
}
#: a unimodular matrix that makes the setting far from reduced
SCRAMBLE = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]])

CASES = {
    "thaumatin": ((57.8, 57.8, 150.2, 90, 90, 90), "P 41 21 2"),
    "insulin": ((77.9, 77.9, 77.9, 90, 90, 90), "I 21 3"),
    "trypsin": ((54.9, 58.6, 67.4, 90, 90, 90), "P 21 21 21"),
    "c2": ((101.6, 45.0, 60.9, 90, 99.0, 90), "C 1 2 1"),
    "p41": ((57.8, 57.8, 150.2, 90, 90, 90), "P 41"),  # Laue 4/m in a 4/mmm lattice: ambiguous
}


def symmetric_intensities(hkl: np.ndarray, space_group: str, rng) -> np.ndarray:
    """Wilson-like intensities, equal for symmetry equivalents and Friedel mates."""
    ops = gemmi.SpaceGroup(space_group).operations()
    rots = [np.array(op.rot, dtype=np.int64) // op.DEN for op in ops.sym_ops]
    h = np.asarray(hkl, dtype=np.int64)
    keys = []
    for R in rots:
        for sign in (1, -1):
            e = sign * (h @ R) + 512
            keys.append((e[:, 0] * 1024 + e[:, 1]) * 1024 + e[:, 2])
    canonical = np.max(keys, axis=0)
    unique, inverse = np.unique(canonical, return_inverse=True)
    return rng.exponential(1000.0, len(unique))[inverse]


def simulated_indexed(case: str, seed: int = 0, d_min: float = 3.0, n_images: int = 60, width: float = 0.5,
                      noise_px: float = 0.2, noise_images: float = 0.1, triclinic: bool = True):
    """(experiments with a P1 crystal in a scrambled primitive setting, indexed reflections, truth);
    with ``triclinic=False`` the crystal and indices stay in the true space group and setting."""
    cell, space_group = CASES[case]
    rng = np.random.default_rng(seed)
    U = Rotation.random(random_state=rng.integers(1 << 31)).as_matrix()
    true_crystal = Crystal.from_cell(cell, space_group, U)
    beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=0.9795)
    panel = Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=(-211.5, 217.3, -200.0),
                  pixel_size=(0.172, 0.172), image_size=(2463, 2527), name="p0")
    experiment = Experiment(beam=beam, detector=Detector([panel]), goniometer=Goniometer(rotation_axis=(1.0, 0, 0)),
                            scan=Scan(image_range=(1, n_images), oscillation=(0.0, width)),
                            crystal=true_crystal, identifier=f"sim-{case}")
    table = predict_rotation(experiment, d_min)
    hkl_true = np.asarray(table["miller_index"])

    # observations
    px = table["xyzcal.px"].copy()
    px[:, 0] += rng.normal(0, noise_px, len(table))
    px[:, 1] += rng.normal(0, noise_px, len(table))
    px[:, 2] += rng.normal(0, noise_images, len(table))
    table["xyzobs.px.value"] = px
    table["xyzobs.px.variance"] = np.tile([noise_px**2, noise_px**2, noise_images**2], (len(table), 1))
    intensity = symmetric_intensities(hkl_true, space_group, rng)
    intensity *= np.exp(-2 * 20.0 / (4 * np.asarray(table["d"]) ** 2))  # B = 20
    table["intensity.sum.value"] = intensity + rng.normal(0, 0.05 * intensity + 1.0)
    table["intensity.sum.variance"] = (0.05 * intensity + 1.0) ** 2
    table["flags"] = np.full(len(table), int(Flags.indexed | Flags.strong), np.int64)

    if not triclinic:
        experiment.crystal = Crystal(true_crystal.A, space_group)
        experiments = ExperimentList([experiment])
        centroids_px_to_mm(experiments, table)
        return experiments, table, true_crystal
    # the crystal as triclinic indexing would find it: primitive, in a non-reduced setting
    P = PRIMITIVE[space_group[0]] @ SCRAMBLE
    p1 = Crystal(true_crystal.A @ np.linalg.inv(P).T, "P 1")
    hkl_p1 = hkl_true @ P
    assert np.allclose(hkl_p1, np.rint(hkl_p1))
    table["miller_index"] = np.rint(hkl_p1).astype(np.int32)
    experiment.crystal = p1
    experiments = ExperimentList([experiment])
    centroids_px_to_mm(experiments, table)
    return experiments, table, true_crystal
