"""``friedel integrate`` of unindexed, mismatched and damaged inputs, and impossible parameters."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_refused, edit_reflections, run, truncate

IMAGES = ("sim_00001.cbf", "sim_00002.cbf", "sim_00003.cbf")
INPUTS = ("indexed.expt", "indexed.refl")


def integrate(folder, *extra, files=INPUTS):
    return run(["integrate", *files, *extra], folder)


def test_unindexed_experiments(work):
    folder = work("imported.expt", "strong.refl")
    assert_refused(integrate(folder, files=("imported.expt", "strong.refl")), ("crystal", "index"))


def test_mismatched_pair(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "indexed.refl", lambda t: setattr(t, "experiment_identifiers", {0: "x-0"}))
    assert_refused(integrate(folder), "indexed.refl", "does not belong")


def test_nan_centroids(work):
    folder = work(*INPUTS)

    def nan(t):
        xyz = t["xyzobs.px.value"].copy()
        xyz[:4] = np.nan
        t["xyzobs.px.value"] = xyz

    edit_reflections(folder / "indexed.refl", nan)
    assert_refused(integrate(folder), "indexed.refl", "nan")


def test_truncated_reflections(work):
    folder = work(*INPUTS)
    truncate(folder / "indexed.refl", 0.5)
    assert_refused(integrate(folder), "indexed.refl", "truncated")


def test_images_gone(work, tmp_path):
    """indexed.expt names images that are not there any more (moved after processing)."""
    import json

    folder = work(*INPUTS)
    data = json.loads((folder / "indexed.expt").read_text())
    for imageset in data["imageset"]:
        imageset["template"] = str(tmp_path / "moved" / "sim_#####.cbf")
    (folder / "indexed.expt").write_text(json.dumps(data))
    assert_refused(integrate(folder), ("sim_00001.cbf", "image"), ("not found", "does not exist"))


@pytest.mark.parametrize("assignment, name", [
    ("d_min=-1", "d_min"),
    ("prediction.d_max=0", "d_max"),
    ("profile.gaussian_rs.n_sigma=nan", "n_sigma"),
    ("nproc=0", "nproc"),
    ("background.algorithm=magic", "algorithm"),
])
def test_bad_parameters(work, assignment, name):
    assert_refused(integrate(work(*INPUTS), assignment), name)


def test_output_is_a_directory(work):
    folder = work(*INPUTS)
    (folder / "integrated.refl").mkdir()
    assert_refused(integrate(folder), "integrated.refl", "directory")
