"""Spot finding against the truth on synthetic sweeps (Gaussian spots on Poisson background)."""

import numpy as np
from scipy.spatial import cKDTree

from friedel.parallel import MpParams
from friedel.plugins.spotfinding.finder import SpotfinderParams, find_spots


def true_i_over_sigma(images):
    """Summed intensity over its sigma within the 3-sigma ellipse (Poisson spot + background)."""
    sxy, sz = images.sigma
    n_px = np.pi * (3 * sxy) ** 2 * (6 * sz)
    return images.intensity / np.sqrt(images.intensity + n_px * images.background)


def match(found_xyz, true_xyz, radius=2.0):
    d, j = cKDTree(true_xyz).query(found_xyz)
    return d, j, d < radius


def run(experiments, opener, **mp):
    params = SpotfinderParams()
    params.mp = MpParams(**mp) if mp else MpParams(method="none")
    return find_spots(experiments, params, opener=opener)


def test_recovers_strong_reflections_with_accurate_centroids(sweep):
    images, experiments, opener = sweep
    result = run(experiments, opener)
    found = result.reflections["xyzobs.px.value"]
    d, j, near = match(found, images.xyz)
    strong = true_i_over_sigma(images) > 10
    on_gap = np.abs(images.xyz[:, 0] - 121.5) < 4  # spots cut by the module gap are not whole
    recovered = np.zeros(len(images.xyz), bool)
    recovered[j[near]] = True
    target = strong & ~on_gap
    assert target.sum() > 60
    assert recovered[target].mean() >= 0.95
    assert np.median(d[near]) < 0.3
    assert (~near).mean() < 0.05
    # z is a frame coordinate: a spot centred on frame 7.3 lies on image 8
    assert np.median(np.abs(found[near, 2] - images.xyz[j[near], 2])) < 0.3


def test_parallel_blocks_give_identical_spots(sweep):
    images, experiments, opener = sweep
    serial = run(experiments, opener)
    parallel = run(experiments, opener, method="multiprocessing", nproc=2)
    a, b = serial.reflections, parallel.reflections
    spanning = (a["bbox"][:, 4] < 10) & (a["bbox"][:, 5] > 10)  # crosses the 2-block boundary
    assert spanning.sum() > 5
    assert sorted(a.keys()) == sorted(b.keys())
    for k in a.keys():
        if k == "shoebox":
            assert a[k] == b[k]
        else:
            assert np.array_equal(a[k], b[k]), k
    assert serial.removed == parallel.removed


def test_scan_range_restricts_images(sweep):
    images, experiments, opener = sweep
    params = SpotfinderParams(scan_range=[(3, 8)])
    params.mp.method = "none"
    result = find_spots(experiments, params, opener=opener)
    z = result.reflections["bbox"][:, 4:]
    assert len(result.reflections) > 10
    assert z.min() >= 2 and z.max() <= 8
    assert [row[1] for row in result.per_image] == list(range(3, 9))
