"""The example facility package, installed with pip as a third party would, adds a format, a
threshold and a spot filter with parameters, and an indexing method in under 100 lines; each runs
through friedel's own commands on a simulated sweep written in the facility's format, and the
results are judged against the simulation's truth."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "contrib" / "example_facility"
SOURCES = sorted((PACKAGE / "friedel_example_facility").glob("*.py"))


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
    result = subprocess.run([sys.executable, "-m", "friedel.cli", *args], cwd=cwd, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def write_xfd(path, data, **header):
    """The facility's file layout (see friedel_example_facility/xfd.py)."""
    data = np.asarray(data, dtype="<u2")
    header = {"nfast": data.shape[1], "nslow": data.shape[0], **header}
    text = "".join(f"{k} = {v}\n" for k, v in header.items())
    Path(path).write_bytes(b"XFD1\n" + text.encode() + b"\n" + data.tobytes())


@pytest.fixture(scope="module")
def xfd_sweep(installed, tmp_path_factory):
    """``friedel simulate tiny`` rewritten as .xfd files with the same geometry, and its truth."""
    from friedel.formats import open_file
    from friedel.io import read_experiments, read_reflections

    work = tmp_path_factory.mktemp("facility")
    run_friedel(["simulate", "tiny", "output.directory=sim", "nproc=1"], work, installed)
    expt = read_experiments(str(work / "sim" / "header.expt"))[0]
    panel = expt.detector[0]
    beam_xy = -np.asarray(panel.origin[:2]) * np.array([1, -1]) / np.asarray(panel.pixel_size)
    start, width = expt.scan.oscillation
    for i, cbf in enumerate(sorted((work / "sim").glob("*.cbf"))):
        data = open_file(cbf).get_raw_data(0)[0]
        data = np.where(data < 0, 65535, np.minimum(data, 65000))  # module gaps: dead pixels
        write_xfd(work / f"run_{i + 1:05d}.xfd", data, pixel_size_mm=panel.pixel_size[0], distance_mm=panel.distance,
                  wavelength_A=expt.beam.wavelength, beam_x_px=beam_xy[0], beam_y_px=beam_xy[1],
                  phi_start_deg=start + i * width, phi_width_deg=width, exposure_s=0.1, saturation=65000)
    truth = read_experiments(str(work / "sim" / "truth.expt"))[0]
    return work, expt, truth, read_reflections(str(work / "sim" / "truth_reflections.refl"))


def test_the_package_is_under_100_lines_and_uses_only_public_api():
    code = [line for f in SOURCES for line in f.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]
    assert len(code) < 100, len(code)
    public = ("friedel.hookspecs", "friedel.contracts", "friedel.phil", "friedel.errors", "friedel.formats.base",
              "friedel.models")
    imports = [line.split()[1] for line in code if line.startswith("from friedel")]
    assert imports and all(name.startswith(public) for name in imports), imports


def test_plugins_lists_the_facility_entries(installed, tmp_path):
    out = run_friedel(["plugins"], tmp_path, installed)
    assert "example_facility" in out and "friedel-example-facility" in out
    for name in ("xfd", "robust_global", "min_counts", "difference_vectors"):
        line = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert "friedel-example-facility" in line
    assert "refused plugins" not in out


def test_format_threshold_filter_and_indexing_method_run_through_friedel(installed, xfd_sweep):
    from friedel.io import read_experiments, read_reflections

    work, header, truth, true_refl = xfd_sweep
    out = run_friedel(["import", *sorted(p.name for p in work.glob("run_*.xfd"))], work, installed)
    assert "xfd" in out.lower()
    imported = read_experiments(str(work / "imported.expt"))[0]
    assert imported.detector[0].distance == pytest.approx(header.detector[0].distance)
    assert np.allclose(imported.detector[0].origin, header.detector[0].origin, atol=1e-3)

    # the threshold and the filter, both with a parameter, chosen and set on the command line
    out = run_friedel(["find_spots", "imported.expt", "spotfinder.threshold.algorithm=robust_global",
                       "robust_global.n_sigma=5", "min_counts.min_counts=300"], work, installed)
    removed = {line.split()[-1]: int(line.split()[1]) for line in out.splitlines() if "spots by filter" in line}
    extracted = int(next(line.split("; ")[1].split()[0] for line in out.splitlines() if "spots extracted" in line))
    strong = read_reflections(str(work / "strong.refl"))
    assert list(removed)[-1] == "min_counts" and removed["min_counts"] > 0  # third-party filters run last
    assert extracted - sum(removed.values()) == len(strong)
    assert strong["intensity.sum.value"].min() >= 300
    # judged against the truth: found spots sit on true reflections, bright true reflections are found
    true_xyz = true_refl["xyzcal.px"]
    distance, _ = cKDTree(true_xyz * [1, 1, 2]).query(strong["xyzobs.px.value"] * [1, 1, 2])
    assert np.mean(distance < 2.0) > 0.95
    bright = true_xyz[(true_refl["counts.expected"] > 3000) & (true_xyz[:, 2] > 0.5) & (true_xyz[:, 2] < 9.5)]
    found, _ = cKDTree(strong["xyzobs.px.value"] * [1, 1, 2]).query(bright * [1, 1, 2])
    assert np.mean(found < 2.0) > 0.9

    # the indexing method, through friedel index (the driver refines its vectors into a lattice)
    out = run_friedel(["index", "imported.expt", "strong.refl", "indexing.method=difference_vectors"], work, installed)
    indexed = read_experiments(str(work / "indexed.expt"))[0].crystal.unit_cell
    assert np.allclose(sorted(indexed.parameters[:3]), sorted(truth.crystal.unit_cell.parameters[:3]), rtol=0.01)
    refl = read_reflections(str(work / "indexed.refl"))
    assert np.mean(np.any(refl["miller_index"] != 0, axis=1)) > 0.9
