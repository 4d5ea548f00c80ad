"""Synthetic sweeps and still experiments for the spot-finding tests."""

from __future__ import annotations

import numpy as np
import pytest

from friedel.plugins.spotfinding.synthetic import SyntheticImages, SyntheticOpener, synthetic_experiment


def separated_spots(n, shape, n_images, rng, min_distance=12.0, margin=8):
    """Spot positions at least ``min_distance`` px apart in x/y (or 6 frames apart in z)."""
    pts = []
    while len(pts) < n:
        p = np.array([rng.uniform(margin, shape[1] - margin), rng.uniform(margin, shape[0] - margin),
                      rng.uniform(1.0, n_images - 1.0)])
        if all(np.hypot(*(p[:2] - q[:2])) > min_distance or abs(p[2] - q[2]) > 6 for q in pts):
            pts.append(p)
    return np.array(pts)


@pytest.fixture(scope="session")
def sweep():
    """A 20-image sweep: 150 separated spots with intensities spanning ~3 to ~100 sigma."""
    rng = np.random.default_rng(7)
    shape, n_images = (200, 240), 20
    xyz = separated_spots(150, shape, n_images, rng)
    intensity = np.exp(rng.uniform(np.log(20), np.log(5000), len(xyz)))
    images = SyntheticImages(xyz, intensity, shape=shape, n_images=n_images, background=2.0,
                             sigma=(0.9, 0.8), seed=3, gap_columns=[120, 121, 122])
    return images, synthetic_experiment(images), SyntheticOpener(images)
