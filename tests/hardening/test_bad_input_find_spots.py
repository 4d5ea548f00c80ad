"""``friedel find_spots`` on damaged images and experiment files, and impossible parameters."""

from __future__ import annotations

import re

from harness import assert_refused, cbf_binary_offset, edit_cbf_header, flip_bytes, run, truncate

IMAGES = ("sim_00001.cbf", "sim_00002.cbf", "sim_00003.cbf")


def folder_with_images(work):
    """The images and an imported.expt that points at them (import records absolute paths)."""
    import json

    folder = work("imported.expt", *IMAGES)
    data = json.loads((folder / "imported.expt").read_text())
    for imageset in data["imageset"]:
        imageset["template"] = str(folder / "sim_#####.cbf")
    (folder / "imported.expt").write_text(json.dumps(data))
    return folder


def test_flipped_bytes_in_pixels_fail_the_md5(work):
    folder = folder_with_images(work)
    path = folder / "sim_00001.cbf"
    start = cbf_binary_offset(path)
    flip_bytes(path, n=20, start=start, stop=start + 200_000, seed=4)
    # nproc=2: the error comes from a worker process and must still be one line
    assert_refused(run(["find_spots", "imported.expt", "nproc=2"], folder), "sim_00001.cbf", "md5")


def test_left_over_bytes_without_md5(work):
    folder = folder_with_images(work)
    path = folder / "sim_00001.cbf"
    data = path.read_bytes()
    size = int(re.search(rb"X-Binary-Size: (\d+)", data).group(1))
    path.write_bytes(re.sub(rb"Content-MD5:[^\r\n]*\r\n", b"", data))
    edit_cbf_header(path, "X-Binary-Size", str(size + 64))
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "sim_00001.cbf", "left over")


def test_binary_size_beyond_the_file(work):
    folder = folder_with_images(work)
    edit_cbf_header(folder / "sim_00001.cbf", "X-Binary-Size", "99999999")
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "sim_00001.cbf", "truncated")


def test_truncated_image(work):
    folder = folder_with_images(work)
    truncate(folder / "sim_00001.cbf", 0.6)
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "sim_00001.cbf", "truncated")


def test_huge_dimensions_do_not_allocate(work):
    folder = folder_with_images(work)
    path = folder / "sim_00001.cbf"
    edit_cbf_header(path, "X-Binary-Size-Fastest-Dimension", "100000")
    edit_cbf_header(path, "X-Binary-Size-Second-Dimension", "100000")
    edit_cbf_header(path, "X-Binary-Number-of-Elements", "10000000000")
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "sim_00001.cbf", ("pixels", "header"))


def test_image_replaced_by_an_empty_file(work):
    folder = folder_with_images(work)
    (folder / "sim_00001.cbf").write_bytes(b"")
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "sim_00001.cbf", "empty")


def test_image_deleted_after_import(work):
    folder = folder_with_images(work)
    (folder / "sim_00002.cbf").unlink()
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "sim_00002.cbf", ("not found", "does not exist"))


def test_empty_experiment_file(work):
    folder = work(*IMAGES)
    (folder / "imported.expt").write_bytes(b"")
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "imported.expt")


def test_truncated_experiment_file(work):
    folder = folder_with_images(work)
    truncate(folder / "imported.expt", 0.5)
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "imported.expt", ("json", "truncated"))


def test_experiment_file_that_is_not_json(work):
    folder = folder_with_images(work)
    (folder / "imported.expt").write_bytes(b"\x00\x01binary junk\xff" * 10)
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "imported.expt")


def test_reflections_instead_of_experiments(work):
    folder = work("strong.refl", *IMAGES)
    assert_refused(run(["find_spots", "strong.refl"], folder), ".expt")


def test_negative_d_min(work):
    assert_refused(run(["find_spots", "imported.expt", "d_min=-1"], folder_with_images(work)), "d_min")


def test_nan_threshold(work):
    assert_refused(run(["find_spots", "imported.expt", "global_threshold=nan"], folder_with_images(work)),
                   "global_threshold")


def test_zero_processes(work):
    assert_refused(run(["find_spots", "imported.expt", "nproc=0"], folder_with_images(work)), "nproc")


def test_unknown_parameter(work):
    assert_refused(run(["find_spots", "imported.expt", "min_spot_sise=3"], folder_with_images(work)),
                   "min_spot_sise")


def test_output_is_a_directory(work):
    folder = folder_with_images(work)
    (folder / "strong.refl").mkdir()
    assert_refused(run(["find_spots", "imported.expt", "nproc=1"], folder), "strong.refl", "directory")


def test_empty_output_name(work):
    assert_refused(run(["find_spots", "imported.expt", "output.reflections="], folder_with_images(work)),
                   "empty")


def test_flipped_bytes_in_a_real_pilatus_image(real_data, tmp_path):
    """The issue's case: 20 flipped bytes in a real CBF changed most pixels and were accepted."""
    import bz2

    import pytest

    from friedel.errors import FileFormatError
    from friedel.formats.base import open_file

    raw = bz2.open(real_data / "images/thaumatin_grid/thau_3_2_0001.cbf.bz2").read()
    path = tmp_path / "thau_3_2_0001.cbf"
    path.write_bytes(raw)
    start = raw.index(b"\x0c\x1a\x04\xd5") + 4
    flip_bytes(path, n=20, start=start, stop=start + 1_000_000, seed=11)
    with pytest.raises(FileFormatError, match="thau_3_2_0001.cbf.*Content-MD5"):
        open_file(path).get_raw_data(0)
