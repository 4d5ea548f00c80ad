"""``friedel refine`` of mismatched, damaged and impossible inputs."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_refused, edit_experiments, edit_reflections, run, truncate

INPUTS = ("indexed.expt", "indexed.refl")


def refine(folder, *extra, files=INPUTS):
    return run(["refine", *files, *extra], folder)


def test_reflections_of_another_data_set(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "indexed.refl",
                     lambda t: setattr(t, "experiment_identifiers", {0: "someone-elses-sweep"}))
    assert_refused(refine(folder), "indexed.refl", "does not belong")


def test_spot_finding_output_is_not_indexed(work):
    folder = work("indexed.expt", "strong.refl")
    edit_reflections(folder / "strong.refl", lambda t: setattr(
        t, "experiment_identifiers", dict(t.experiment_identifiers)))  # same identifiers as indexed.expt
    o = refine(folder, files=("indexed.expt", "strong.refl"))
    assert_refused(o, ("indexed", "miller"))


def test_unindexed_experiments(work):
    folder = work("imported.expt", "indexed.refl")
    assert_refused(refine(folder, files=("imported.expt", "indexed.refl")), ("crystal", "indexed"))


def test_crystal_that_does_not_fit_the_spots(work):
    """A cell 30 % too long everywhere: refinement cannot fit it; refused, not written."""
    folder = work(*INPUTS)

    def stretch(d):
        for c in d["crystal"]:
            for k in ("real_space_a", "real_space_b", "real_space_c"):
                c[k] = [1.3 * v for v in c[k]]
            c.pop("A_at_scan_points", None)

    edit_experiments(folder / "indexed.expt", stretch)
    assert_refused(refine(folder), ("rmsd", "cell", "do not fit", "diverge"))


def test_nan_in_observed_positions(work):
    folder = work(*INPUTS)

    def nan(t):
        xyz = t["xyzobs.mm.value"].copy()
        xyz[3, 2] = np.inf
        t["xyzobs.mm.value"] = xyz

    edit_reflections(folder / "indexed.refl", nan)
    assert_refused(refine(folder), "indexed.refl", ("nan", "inf"))


def test_panel_beyond_the_detector(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "indexed.refl", lambda t: t.__setitem__("panel", np.full(len(t), 3)))
    assert_refused(refine(folder), "indexed.refl", "panel")


def test_truncated_experiments(work):
    folder = work(*INPUTS)
    truncate(folder / "indexed.expt", 0.7)
    assert_refused(refine(folder), "indexed.expt")


def test_experiments_without_detector_key(work):
    folder = work(*INPUTS)
    edit_experiments(folder / "indexed.expt", lambda d: d.pop("detector"))
    assert_refused(refine(folder), "indexed.expt")


def test_truncated_reflections(work):
    folder = work(*INPUTS)
    truncate(folder / "indexed.refl", 0.3)
    assert_refused(refine(folder), "indexed.refl")


@pytest.mark.parametrize("assignment, name", [
    ("interval_width_degrees=-3", "interval_width_degrees"),
    ("max_iterations=0", "max_iterations"),
    ("scan_varying=perhaps", "scan_varying"),
    ("crystal.fix=everything", "fix"),
])
def test_bad_parameters(work, assignment, name):
    assert_refused(refine(work(*INPUTS), assignment), name)


def test_output_over_the_input(work):
    assert_refused(refine(work(*INPUTS), "output.reflections=indexed.refl"), "indexed.refl")


def test_output_is_a_directory(work):
    folder = work(*INPUTS)
    (folder / "refined.expt").mkdir()
    assert_refused(refine(folder), "refined.expt", "directory")
