"""``friedel symmetry`` and ``friedel cosym`` of unintegrated, mismatched and damaged inputs."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_refused, edit_reflections, flip_bytes, outcome_class, run, truncate

INPUTS = ("integrated.expt", "integrated.refl")


@pytest.mark.parametrize("command", ["symmetry", "cosym"])
def test_spots_instead_of_intensities(work, command):
    folder = work("indexed.expt", "indexed.refl")
    assert_refused(run([command, "indexed.expt", "indexed.refl"], folder), ("intensit", "integrat"))


@pytest.mark.parametrize("command", ["symmetry", "cosym"])
def test_mismatched_pair(work, command):
    folder = work(*INPUTS)
    edit_reflections(folder / "integrated.refl", lambda t: setattr(t, "experiment_identifiers", {0: "x-0"}))
    assert_refused(run([command, *INPUTS], folder), "integrated.refl", "does not belong")


def test_nan_intensities_everywhere(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "integrated.refl", lambda t: (
        t.__setitem__("intensity.sum.value", np.full(len(t), np.nan)),
        t.__setitem__("intensity.prf.value", np.full(len(t), np.nan))))
    assert_refused(run(["symmetry", *INPUTS], folder), ("intensit", "reflections"))


def test_truncated_reflections(work):
    folder = work(*INPUTS)
    truncate(folder / "integrated.refl", 0.5)
    assert_refused(run(["symmetry", *INPUTS], folder), "integrated.refl")


def test_flipped_bytes(work):
    folder = work(*INPUTS)
    flip_bytes(folder / "integrated.refl", n=20, seed=7)
    o = run(["symmetry", *INPUTS], folder)
    assert outcome_class(o) in ("clean", "wrong-success") and "internal error" not in o.stderr, o.stderr


@pytest.mark.parametrize("assignment, name", [
    ("d_min=-1", "d_min"),
    ("data.seed=-1", "seed"),  # was "internal error: ValueError: expected non-negative integer"
    ("space_group=P99", "space_group"),
    ("laue_group=P7", "laue_group"),
    ("partiality_threshold=2", "partiality_threshold"),
    ("space_group=P6", "space_group"),  # a tetragonal lattice cannot be hexagonal
])
def test_bad_parameters(work, assignment, name):
    assert_refused(run(["symmetry", *INPUTS, assignment], work(*INPUTS)), name)


def test_output_is_a_directory(work):
    folder = work(*INPUTS)
    (folder / "symmetrized.expt").mkdir()
    assert_refused(run(["symmetry", *INPUTS], folder), "symmetrized.expt", "directory")
