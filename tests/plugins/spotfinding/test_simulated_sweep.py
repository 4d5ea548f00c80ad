"""Recovery targets on a sweep written by ``friedel simulate`` (miniCBF files, known truth)."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from friedel.cli.main import main
from friedel.formats.images import open_images
from friedel.io import read_experiments, read_reflections
from friedel.plugin_manager import registry


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    if "simulate" not in registry("commands"):
        pytest.skip("friedel simulate is not installed")
    folder = tmp_path_factory.mktemp("tiny")
    assert main(["simulate", "preset=tiny", f"output.directory={folder}", "nproc=1"]) == 0
    return folder


def true_i_over_sigma(truth, experiment, images):
    """Expected counts over their Poisson sigma, with the local background under the spot."""
    xyz, counts = truth["xyzcal.px"], truth["counts.expected"]
    n_img = experiment.scan.num_images
    frame = np.clip(np.floor(xyz[:, 2]).astype(int), 0, n_img - 1)
    background = np.zeros(len(xyz))
    for i in np.unique(frame):
        img = images.get_raw_data(int(i))[0].astype(float)
        good = img >= 0
        med = np.median(img[good])
        smooth = ndimage.uniform_filter(np.where(good, np.minimum(img, 3 * med + 5), med), 25)
        sel = frame == i
        yi = np.clip(xyz[sel, 1].astype(int), 0, img.shape[0] - 1)
        xi = np.clip(xyz[sel, 0].astype(int), 0, img.shape[1] - 1)
        background[sel] = smooth[yi, xi]
    cov = truth["spot.covariance.px"]
    frames = np.maximum(1, 6 * truth["sigma_phi"] / np.radians(experiment.scan.oscillation[1]))
    n_px = np.pi * 9 * np.sqrt(np.abs(cov[:, 0] * cov[:, 2])) * frames
    return counts / np.sqrt(counts + n_px * background)


def test_recovery_of_simulated_reflections(simulated, monkeypatch):
    monkeypatch.chdir(simulated)
    assert main(["find_spots", "header.expt", "nproc=1"]) == 0
    experiment = read_experiments("header.expt")[0]
    truth = read_reflections("truth_reflections.refl")
    found = read_reflections("strong.refl")["xyzobs.px.value"]
    images = open_images(experiment)
    xyz = truth["xyzcal.px"]
    n_img = experiment.scan.num_images

    # reflections that can be whole spots: inside the sweep, on good pixels, not overlapping
    good = ndimage.binary_erosion(images.get_mask(0)[0], np.ones((5, 5), bool))
    ny, nx = good.shape
    on_detector = (xyz[:, 0] >= 0) & (xyz[:, 1] >= 0) & (xyz[:, 0] < nx) & (xyz[:, 1] < ny)
    xi = np.clip(xyz[:, 0].astype(int), 0, nx - 1)
    yi = np.clip(xyz[:, 1].astype(int), 0, ny - 1)
    crowded = np.zeros(len(xyz), bool)
    for a, b in cKDTree(xyz).query_pairs(4.0):
        crowded[a] = crowded[b] = True
    whole = on_detector & good[yi, xi] & (xyz[:, 2] > 1) & (xyz[:, 2] < n_img - 1) & ~crowded
    target = whole & (true_i_over_sigma(truth, experiment, images) > 10)
    assert target.sum() > 500

    distance, _ = cKDTree(found).query(xyz[target])
    assert (distance < 2.0).mean() >= 0.95
    assert np.median(distance[distance < 2.0]) < 0.3
    to_truth, _ = cKDTree(xyz).query(found)
    assert (to_truth > 3.0).mean() < 0.05
