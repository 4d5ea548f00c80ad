"""``friedel import`` of damaged, empty, unreadable and impossible image files."""

from __future__ import annotations

import bz2
import gzip
import os
from pathlib import Path

import pytest

from harness import (assert_refused, cbf_binary_offset, edit_cbf_header, flip_bytes, run, run_subprocess,
                     truncate)


@pytest.fixture(scope="module")
def nxmx(tmp_path_factory) -> Path:
    """A three-image NXmx master and its data file."""
    folder = tmp_path_factory.mktemp("nxmx")
    o = run(["simulate", "preset=tiny", "scan.n_images=2", "output.format=nxmx", "seed=3"], folder)
    assert o.code == 0, o.stderr
    return folder


def test_empty_file(work):
    folder = work()
    (folder / "empty_0001.cbf").write_bytes(b"")
    assert_refused(run(["import", "empty_0001.cbf"], folder), "empty_0001.cbf", "empty")


def test_unreadable_file(work, monkeypatch):
    folder = work("sim_00001.cbf")
    target = str(folder / "sim_00001.cbf")
    real_open = open

    def refusing_open(file, *args, **kwargs):  # as root, chmod 000 does not stop reading
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(os.fspath(file)) == target:
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    assert_refused(run(["import", "sim_00001.cbf"], folder), "sim_00001.cbf", ("permission", "cannot be read"))


def test_text_file_named_cbf(work):
    folder = work()
    (folder / "notes_0001.cbf").write_text("these are my notes, not an image\n")
    assert_refused(run(["import", "notes_0001.cbf"], folder), "notes_0001.cbf", "no image format reader")


def test_header_cut_short(work):
    folder = work("sim_00001.cbf")
    truncate(folder / "sim_00001.cbf", 600)
    assert_refused(run(["import", "sim_00001.cbf"], folder), "sim_00001.cbf", ("truncated", "lacks"))


def test_corrupt_bz2(work, pipeline):
    folder = work()
    data = bz2.compress((pipeline / "sim_00001.cbf").read_bytes())
    (folder / "sim_00001.cbf.bz2").write_bytes(data)
    flip_bytes(folder / "sim_00001.cbf.bz2", n=20, start=10, stop=200)
    assert_refused(run(["import", "sim_00001.cbf.bz2"], folder), "sim_00001.cbf.bz2", ("bz2", "compressed"))


def test_corrupt_gzip(work, pipeline):
    folder = work()
    data = gzip.compress((pipeline / "sim_00001.cbf").read_bytes())
    (folder / "sim_00001.cbf.gz").write_bytes(data[:10] + b"\xff" * 50 + data[60:])
    assert_refused(run(["import", "sim_00001.cbf.gz"], folder), "sim_00001.cbf.gz", ("gzip", "compressed"))


def test_not_compressed_at_all(work, pipeline):
    folder = work()
    (folder / "sim_00001.cbf.gz").write_bytes((pipeline / "sim_00001.cbf").read_bytes())
    assert_refused(run(["import", "sim_00001.cbf.gz"], folder), "sim_00001.cbf.gz", ("gzip", "compressed"))


def test_truncated_hdf5_master(nxmx, tmp_path):
    master = next(nxmx.glob("*master.h5"))
    copy = tmp_path / master.name
    copy.write_bytes(master.read_bytes())
    for data_file in nxmx.glob("*data*.h5"):
        (tmp_path / data_file.name).write_bytes(data_file.read_bytes())
    truncate(copy, 0.5)
    assert_refused(run(["import", copy.name], tmp_path), copy.name, ("truncated", "hdf5"))


def test_hdf5_that_is_not_nexus(tmp_path):
    import h5py

    with h5py.File(tmp_path / "table.h5", "w") as f:
        f["x"] = [1, 2, 3]
    assert_refused(run(["import", "table.h5"], tmp_path), "table.h5")


def test_named_pipe_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "pipe_0001.cbf")
    o = run_subprocess(["import", "pipe_0001.cbf"], tmp_path, timeout=60)
    assert_refused(o, "pipe_0001.cbf", ("not a regular file", "pipe"))


def test_directory_as_image(work):
    folder = work()
    (folder / "images_0001.cbf").mkdir()
    assert_refused(run(["import", "images_0001.cbf"], folder), "images_0001.cbf", "directory")


def test_missing_file(work):
    assert_refused(run(["import", "nothere_0001.cbf"], work()), "nothere_0001.cbf", ("not found", "does not exist"))


def test_huge_dimensions_header(work):
    folder = work("sim_00001.cbf")
    path = folder / "sim_00001.cbf"
    edit_cbf_header(path, "X-Binary-Size-Fastest-Dimension", "100000")
    edit_cbf_header(path, "X-Binary-Size-Second-Dimension", "100000")
    edit_cbf_header(path, "X-Binary-Number-of-Elements", "10000000000")
    assert_refused(run(["import", "sim_00001.cbf"], folder), "sim_00001.cbf", ("pixels", "header"))


def test_negative_wavelength_override(work):
    folder = work(*(f"sim_0000{i}.cbf" for i in (1, 2, 3)))
    assert_refused(run(["import", "sim_00001.cbf", "wavelength=-1"], folder), "wavelength")


def test_nan_distance_override(work):
    folder = work("sim_00001.cbf")
    assert_refused(run(["import", "sim_00001.cbf", "distance=nan"], folder), "distance")


def test_output_is_a_directory(work):
    folder = work("sim_00001.cbf")
    (folder / "imported.expt").mkdir()
    assert_refused(run(["import", "sim_00001.cbf"], folder), "imported.expt", "directory")


def test_empty_output_name(work):
    folder = work("sim_00001.cbf")
    assert_refused(run(["import", "sim_00001.cbf", "output.experiments="], folder), "empty")
