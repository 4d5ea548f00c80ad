"""The example facility package installs with pip and friedel finds its format and threshold."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

PACKAGE = REPO / "contrib" / "example_facility"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-install the package into a private folder (the test environment stays untouched)."""
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(PACKAGE)]
    try:  # build without fetching setuptools when the environment has what it needs
        import setuptools  # noqa: F401
        import wheel  # noqa: F401

        cmd.insert(4, "--no-build-isolation")
    except ImportError:
        pass
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return target


def run_friedel(args, cwd, site):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    return subprocess.run([sys.executable, "-m", "friedel.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def synthetic_image(rng, spots):
    yy, xx = np.mgrid[0:200, 0:240]
    image = rng.poisson(10.0, size=yy.shape).astype(float)
    for x, y in spots:
        image += rng.poisson(400 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.2**2)))
    image[50, 50] = 65535  # a dead pixel, masked by the format
    return image


def test_plugins_lists_the_facility_entries(installed, tmp_path):
    result = run_friedel(["plugins"], tmp_path, installed)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "example_facility" in out and "friedel-example-facility" in out
    assert "xfd" in out and "robust_global" in out


def test_import_and_find_spots_with_the_facility_plugins(installed, tmp_path):
    sys.path.insert(0, str(installed))
    try:
        from friedel_example_facility.format_xfd import write_xfd
    finally:
        sys.path.remove(str(installed))
    rng = np.random.default_rng(1)
    spots = [(30.3, 40.7), (120.5, 100.2), (200.8, 160.4), (80.1, 170.9)]
    for i in (1, 2):
        write_xfd(tmp_path / f"run_{i:05d}.xfd", synthetic_image(rng, spots), pixel_size_mm=0.1, distance_mm=150.0,
                  wavelength_A=1.0, beam_x_px=120.0, beam_y_px=100.0, phi_start_deg=(i - 1) * 0.5,
                  phi_width_deg=0.5, exposure_s=0.1, saturation=60000)
    result = run_friedel(["import", "run_00001.xfd", "run_00002.xfd"], tmp_path, installed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "xfd" in result.stdout.lower()
    result = run_friedel(["find_spots", "imported.expt", "spotfinder.threshold.algorithm=robust_global",
                          "robust_global.n_sigma=8", "min_spot_size=2"], tmp_path, installed)
    assert result.returncode == 0, result.stdout + result.stderr
    from friedel.io import read_reflections

    strong = read_reflections(str(tmp_path / "strong.refl"))
    xy = strong["xyzobs.px.value"][:, :2]
    # every spot found (each once, spanning both images), at the right place, and nothing else
    assert len(strong) == len(spots)
    for x, y in spots:
        assert np.min(np.hypot(xy[:, 0] - (x + 0.5), xy[:, 1] - (y + 0.5))) < 0.3
