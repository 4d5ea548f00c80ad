"""``friedel scale`` and ``friedel estimate_resolution`` of bad inputs and parameters."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_refused, edit_reflections, run, truncate

INPUTS = ("symmetrized.expt", "symmetrized.refl")


def scale(folder, *extra, files=INPUTS):
    return run(["scale", *files, *extra], folder)


def test_spots_instead_of_intensities(work):
    folder = work("indexed.expt", "indexed.refl")
    assert_refused(scale(folder, files=("indexed.expt", "indexed.refl")), ("intensit", "integrat", "symmetry"))


def test_mismatched_pair(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "symmetrized.refl", lambda t: setattr(t, "experiment_identifiers", {0: "x-0"}))
    assert_refused(scale(folder), "symmetrized.refl", "does not belong")


def test_negative_variances(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "symmetrized.refl", lambda t: (
        t.__setitem__("intensity.sum.variance", -np.abs(t["intensity.sum.variance"]) - 1),
        t.__setitem__("intensity.prf.variance", -np.abs(t["intensity.prf.variance"]) - 1)))
    assert_refused(scale(folder), ("variance", "reflections", "intensit"))


def test_truncated_reflections(work):
    folder = work(*INPUTS)
    truncate(folder / "symmetrized.refl", 0.5)
    assert_refused(scale(folder), "symmetrized.refl")


def test_experiments_file_of_zero_bytes(work):
    folder = work(*INPUTS)
    (folder / "symmetrized.expt").write_bytes(b"")
    assert_refused(scale(folder), "symmetrized.expt")


@pytest.mark.parametrize("assignment, name", [
    ("d_min=-1", "d_min"),
    ("d_min=0", "d_min"),  # was a ZeroDivisionError
    ("space_group=nonsense", "space_group"),
    ("model=quadratic", "model"),
    ("error_model=maybe", "error_model"),
    ("space_group=P6", "space_group"),
])
def test_bad_parameters(work, assignment, name):
    assert_refused(scale(work(*INPUTS), assignment), name)


def test_output_is_a_directory(work):
    folder = work(*INPUTS)
    (folder / "scaled.refl").mkdir()
    assert_refused(scale(folder), "scaled.refl", "directory")


def test_estimate_resolution_of_unscaled_data(work):
    folder = work("indexed.expt", "indexed.refl")
    assert_refused(run(["estimate_resolution", "indexed.expt", "indexed.refl"], folder), ("intensit", "scale"))
