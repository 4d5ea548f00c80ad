"""``friedel merge`` and ``friedel export`` of bad inputs and parameters."""

from __future__ import annotations

import pytest

from harness import assert_refused, edit_reflections, run, truncate

INPUTS = ("scaled.expt", "scaled.refl")


@pytest.mark.parametrize("command", ["merge", "export"])
def test_spots_instead_of_intensities(work, command):
    folder = work("indexed.expt", "indexed.refl")
    assert_refused(run([command, "indexed.expt", "indexed.refl"], folder), ("intensit", "integrat", "scale"))


@pytest.mark.parametrize("command", ["merge", "export"])
def test_mismatched_pair(work, command):
    folder = work(*INPUTS)
    edit_reflections(folder / "scaled.refl", lambda t: setattr(t, "experiment_identifiers", {0: "x-0"}))
    assert_refused(run([command, *INPUTS], folder), "scaled.refl", "does not belong")


@pytest.mark.parametrize("command", ["merge", "export"])
def test_truncated(work, command):
    folder = work(*INPUTS)
    truncate(folder / "scaled.refl", 0.5)
    assert_refused(run([command, *INPUTS], folder), "scaled.refl")


def test_merge_of_unscaled_data(work):
    folder = work("integrated.expt", "integrated.refl")
    assert_refused(run(["merge", "integrated.expt", "integrated.refl"], folder), ("scale", "allow_unscaled"))


@pytest.mark.parametrize("command, assignment, name", [
    ("merge", "d_min=-1", "d_min"),
    ("merge", "unit_cell=1,2,3", "unit_cell"),
    ("merge", "n_bins=0", "n_bins"),
    ("export", "format=xds", "format"),
    ("export", "d_max=nan", "d_max"),
    ("export", "unit_cell=79,79,38,90,90,200", "unit_cell"),
])
def test_bad_parameters(work, command, assignment, name):
    assert_refused(run([command, *INPUTS, assignment], work(*INPUTS)), name)


def test_merge_output_is_a_directory(work):
    folder = work(*INPUTS)
    (folder / "merged.mtz").mkdir()
    assert_refused(run(["merge", *INPUTS], folder), "merged.mtz", "directory")


def test_export_empty_output_name(work):
    assert_refused(run(["export", *INPUTS, "mtz.hklout="], work(*INPUTS)), "hklout")


def test_export_existing_output_kept(work):
    """An existing output is not overwritten without overwrite=True."""
    folder = work(*INPUTS)
    (folder / "scaled_unmerged.mtz").write_bytes(b"precious")
    o = run(["export", *INPUTS], folder)
    assert (folder / "scaled_unmerged.mtz").read_bytes() == b"precious"
    assert_refused(o, ("exists", "overwrite"))


def test_combine_the_same_data_twice(work):
    folder = work(*INPUTS)
    o = run(["combine_experiments", "scaled.expt", "scaled.expt", "scaled.refl", "scaled.refl"], folder)
    assert_refused(o, "scaled.expt", "twice")


def test_combine_mismatched_pair(work):
    folder = work(*INPUTS, "indexed.expt", "indexed.refl")  # two data sets, reflection files swapped
    o = run(["combine_experiments", "scaled.expt", "indexed.expt", "indexed.refl", "scaled.refl"], folder)
    assert_refused(o, "does not belong")
