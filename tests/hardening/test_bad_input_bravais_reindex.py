"""``friedel refine_bravais_settings`` and ``friedel reindex`` of bad inputs and operators."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_refused, edit_reflections, run, truncate

INPUTS = ("indexed.expt", "indexed.refl")


@pytest.mark.parametrize("op, words", [
    ("-a,b,c", ("left-handed", "hand")),
    ("b,a,c", "left-handed"),
    ("a,b", "change_of_basis_op"),
    ("a,b,a", "singular"),
    ("a+1/2,b,c", ("origin shift", "not valid")),
    ("x*y,b,c", "change_of_basis_op"),
])
def test_bad_change_of_basis(work, op, words):
    assert_refused(run(["reindex", *INPUTS, f"change_of_basis_op={op}"], work(*INPUTS)), words)


def test_space_group_that_does_not_fit_the_cell(work):
    # the tiny crystal is tetragonal (a = b = 79.1, c = 38): not hexagonal
    assert_refused(run(["reindex", *INPUTS, "space_group=P6"], work(*INPUTS)), ("space group", "P 6", "cell"))


def test_unknown_space_group(work):
    assert_refused(run(["reindex", *INPUTS, "space_group=Q42"], work(*INPUTS)), "space_group")


def test_reindex_mismatched_pair(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "indexed.refl", lambda t: setattr(t, "experiment_identifiers", {0: "other-0"}))
    assert_refused(run(["reindex", *INPUTS, "change_of_basis_op=b,c,a"], folder), "indexed.refl", "does not belong")


def test_reindex_without_summary(work):
    assert_refused(run(["reindex", *INPUTS, "change_of_basis_op=auto"], work(*INPUTS)), "bravais_summary.json")


def test_reindex_output_directory(work):
    folder = work(*INPUTS)
    (folder / "reindexed.refl").mkdir()
    assert_refused(run(["reindex", *INPUTS, "change_of_basis_op=b,c,a"], folder), "reindexed.refl", "directory")


def test_bravais_of_unindexed_spots(work):
    folder = work("imported.expt", "strong.refl")
    assert_refused(run(["refine_bravais_settings", "imported.expt", "strong.refl"], folder),
                   ("crystal", "index", "miller"))


def test_bravais_truncated_reflections(work):
    folder = work(*INPUTS)
    truncate(folder / "indexed.refl", 0.4)
    assert_refused(run(["refine_bravais_settings", *INPUTS], folder), "indexed.refl")


def test_bravais_panel_beyond_detector(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "indexed.refl", lambda t: t.__setitem__("panel", np.full(len(t), 9)))
    assert_refused(run(["refine_bravais_settings", *INPUTS], folder), "indexed.refl", "panel")


@pytest.mark.parametrize("assignment", ["lepage_max_delta=-1", "lepage_max_delta=nan", "nproc=0"])
def test_bravais_bad_parameters(work, assignment):
    assert_refused(run(["refine_bravais_settings", *INPUTS, assignment], work(*INPUTS)), assignment.split("=")[0])


def test_bravais_output_folder_is_a_file(work):
    folder = work(*INPUTS)
    (folder / "out").write_text("a file, not a folder")
    assert_refused(run(["refine_bravais_settings", *INPUTS, "output.directory=out"], folder), "out")
