import io
import json
import os

import numpy as np
import pytest

from friedel.cli.main import main
from friedel.errors import FriedelError
from friedel.formats import open_images
from friedel.formats.cbf import write_minicbf
from friedel.io import read_experiments
from friedel.plugins.importer.command import ImportParams, import_files, summarise


def write_sweep(folder, prefix, numbers, *, start=0.0, width=0.5, distance=150.0, detector="PILATUS 100K, S/N 1-0001",
                shape=(195, 487), seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for n in numbers:
        data = rng.poisson(1.0, size=shape).astype(np.int32)
        data[0, :5] = -2
        path = os.path.join(folder, f"{prefix}_{n:05d}.cbf")
        write_minicbf(path, data, detector=detector, wavelength=0.9795, distance_mm=distance,
                      beam_xy_px=(240.5, 95.25), start_angle=start + (n - 1) * width, angle_increment=width,
                      exposure_time=0.1, count_cutoff=1000000)
        paths.append(path)
    return paths


def test_one_sweep_with_pixels_and_masks(tmp_path):
    files = write_sweep(str(tmp_path), "x", range(1, 6), start=10.0)
    expts = import_files(files[::-1])  # order of the arguments does not matter
    assert len(expts) == 1
    e = expts[0]
    assert e.imageset.template == str(tmp_path / "x_#####.cbf")
    assert e.scan.image_range == (1, 5) and e.scan.oscillation == pytest.approx((10.0, 0.5))
    assert e.detector.beam_centre_px(e.beam.s0) == pytest.approx((240.5, 95.25))
    images = open_images(e)
    assert len(images) == 5
    (data,) = images.get_raw_data(2)
    assert data.shape == (195, 487) and images.get_path(2).endswith("x_00003.cbf")
    (mask,) = images.get_mask(2)
    assert mask.sum() == 195 * 487 - 5  # the -2 bad pixels


def test_gap_and_geometry_change_start_new_sweeps(tmp_path):
    files = write_sweep(str(tmp_path), "a", [1, 2, 3, 5, 6])
    files += write_sweep(str(tmp_path), "a", [7, 8], distance=200.0)
    expts = import_files(files)
    assert [e.scan.image_range for e in expts] == [(1, 3), (5, 6), (7, 8)]
    assert expts[2].detector[0].distance == pytest.approx(200.0)


def test_stills_become_one_experiment_each_sharing_models(tmp_path):
    files = write_sweep(str(tmp_path), "s", range(1, 4), width=0.0)
    expts = import_files(files)
    assert len(expts) == 3 and len(expts.unique("detector")) == 1 and len(expts.unique("beam")) == 1
    for e, f in zip(expts, files):
        assert e.scan is None and e.goniometer is None
        assert len(open_images(e)) == 1 and open_images(e).get_path(0).endswith(os.path.basename(f))
    assert "stills: 3 image(s), one experiment each" in summarise(expts, "miniCBF")


def test_image_range_and_overrides(tmp_path):
    files = write_sweep(str(tmp_path), "r", range(1, 11))
    params = ImportParams()
    params.image_range = (3, 7)
    params.geometry.beam.wavelength = 1.0
    params.geometry.detector.distance = 180.0
    params.geometry.detector.slow_fast_beam_centre = (100.0, 250.0)
    (e,) = import_files(files, params)
    assert e.scan.image_range == (3, 7) and e.scan.oscillation[0] == pytest.approx(1.0)
    assert len(open_images(e)) == 5 and open_images(e).get_path(0).endswith("r_00003.cbf")
    assert e.beam.wavelength == 1.0 and e.detector[0].distance == pytest.approx(180.0)
    assert e.detector.beam_centre_px(e.beam.s0) == pytest.approx((250.0, 100.0))
    params = ImportParams()
    params.geometry.detector.mosflm_beam_centre = (17.2, 34.4)  # (slow, fast) mm
    (e,) = import_files(files, params)
    assert e.detector.beam_centre_px(e.beam.s0) == pytest.approx((200.0, 100.0))
    params.image_range = (5, 12)
    with pytest.raises(FriedelError, match="outside"):
        import_files(files, params)


def test_command_line_writes_dials_layout_expt(tmp_path, in_tmp_dir):
    files = write_sweep(str(tmp_path), "c", range(1, 4))
    assert main(["import", *files]) == 0
    expts = read_experiments("imported.expt")
    assert len(expts) == 1 and expts[0].scan.num_images == 3 and expts[0].identifier
    summary = json.load(open("friedel.import.json"))  # for friedel report
    assert summary["n_sweeps"] == 1 and summary["experiments"][0]["n_images"] == 3
    assert summary["experiments"][0]["beam_centre_fast_px"] == pytest.approx(240.5)


def test_stdin_file_list(tmp_path, in_tmp_dir, monkeypatch):
    files = write_sweep(str(tmp_path), "i", range(1, 4))
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(files) + "\n"))
    assert main(["import", "-i", "output.experiments=from_stdin.expt"]) == 0
    assert read_experiments("from_stdin.expt")[0].scan.image_range == (1, 3)


def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, in_tmp_dir):
    files = write_sweep(str(tmp_path), "t", range(1, 4))
    # truncated file: header readable, pixels cut short
    raw = open(files[1], "rb").read()
    open(files[1], "wb").write(raw[: len(raw) // 2])
    (e,) = import_files(files)
    with pytest.raises(FriedelError, match="t_00002.cbf.*truncated"):
        open_images(e).get_raw_data(1)
    # a missing file and an unreadable file stop the import, naming the file
    assert main(["import", files[0], str(tmp_path / "missing_00001.cbf")]) != 0
    junk = tmp_path / "junk_00001.cbf"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(FriedelError, match="junk_00001.cbf"):
        import_files([str(junk)])
    # two detectors in one call
    other = write_sweep(str(tmp_path), "o", [1], detector="EIGER 500K, S/N 2-0002", shape=(514, 1030))
    with pytest.raises(FriedelError, match="different detectors"):
        import_files([files[0], *other])
    assert main(["import", files[0], *other]) != 0
    assert not os.path.exists("imported.expt")


def test_two_theta_of_a_plain_minicbf_is_reported_not_silently_dropped(tmp_path, caplog):
    files = write_sweep(str(tmp_path), "tt", range(1, 3))
    for f in files:
        raw = open(f, "rb").read().replace(b"# Detector_2theta 0.0000 deg.", b"# Detector_2theta 30.0000 deg.")
        open(f, "wb").write(raw)
    import logging

    logger = logging.getLogger("friedel")  # does not propagate to the root logger
    logger.addHandler(caplog.handler)
    try:
        (e,) = import_files(files)
    finally:
        logger.removeHandler(caplog.handler)
    assert "Detector_2theta 30 deg but no axis tables" in caplog.text
    assert np.allclose(e.detector[0].normal, [0, 0, 1]) or np.allclose(e.detector[0].normal, [0, 0, -1])
