"""``friedel index`` on damaged or mismatched spot files and impossible parameters."""

from __future__ import annotations

import numpy as np
import pytest

from harness import assert_refused, edit_reflections, flip_bytes, outcome_class, run, truncate

INPUTS = ("imported.expt", "strong.refl")


def index(folder, *extra):
    return run(["index", *INPUTS, *extra], folder)


def test_nan_centroids(work):
    folder = work(*INPUTS)

    def nan(t):
        xyz = t["xyzobs.px.value"].copy()
        xyz[5, 0] = np.nan
        t["xyzobs.px.value"] = xyz

    edit_reflections(folder / "strong.refl", nan)
    assert_refused(index(folder), "strong.refl", "nan")


def test_panel_beyond_the_detector(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "strong.refl", lambda t: t.__setitem__("panel", np.full(len(t), 5)))
    assert_refused(index(folder), "strong.refl", "panel")


def test_spots_outside_the_panel(work):
    folder = work(*INPUTS)

    def move(t):
        xyz = t["xyzobs.px.value"].copy()
        xyz[:, 0] += 3000.0
        t["xyzobs.px.value"] = xyz

    edit_reflections(folder / "strong.refl", move)
    assert_refused(index(folder), "strong.refl", "outside their panel")


def test_spots_on_images_outside_the_scan(work):
    folder = work(*INPUTS)

    def move(t):
        xyz = t["xyzobs.px.value"].copy()
        xyz[:, 2] += 400.0
        t["xyzobs.px.value"] = xyz

    edit_reflections(folder / "strong.refl", move)
    assert_refused(index(folder), "strong.refl", "outside its scan")


def test_spots_of_another_data_set(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "strong.refl",
                     lambda t: setattr(t, "experiment_identifiers", {0: "another-data-set-0000"}))
    assert_refused(index(folder), "strong.refl", "does not belong")


def test_more_experiments_than_given(work):
    folder = work(*INPUTS)
    edit_reflections(folder / "strong.refl", lambda t: (t.__setitem__("id", np.full(len(t), 2)),
                                                        setattr(t, "experiment_identifiers", {})))
    assert_refused(index(folder), "strong.refl", "experiment")


def test_truncated_spot_file(work):
    folder = work(*INPUTS)
    truncate(folder / "strong.refl", 0.5)
    assert_refused(index(folder), "strong.refl")


def test_empty_spot_file(work):
    folder = work(*INPUTS)
    (folder / "strong.refl").write_bytes(b"")
    assert_refused(index(folder), "strong.refl")


def test_experiments_renamed_as_reflections(work):
    folder = work(*INPUTS)
    (folder / "strong.refl").write_bytes((folder / "imported.expt").read_bytes())
    assert_refused(index(folder), "strong.refl")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flipped_bytes_in_the_spot_file(work, seed):
    """Damage anywhere in the file: refused cleanly, or (a flipped low mantissa byte) harmless."""
    folder = work(*INPUTS)
    flip_bytes(folder / "strong.refl", n=20, seed=seed)
    o = index(folder)
    print(f"flipped strong.refl seed {seed}: {outcome_class(o)}: {o.stderr.strip()[:200]}")
    assert outcome_class(o) in ("clean", "wrong-success"), o.stderr
    assert "internal error" not in o.stderr and "Traceback" not in o.stderr


@pytest.mark.parametrize("assignment, name", [
    ("max_cell=-5", "max_cell"),
    ("d_min_start=-1", "d_min_start"),
    ("min_cell=nan", "min_cell"),
    ("unit_cell=79,79,38,90,90", "unit_cell"),
    ("space_group=P7", "space_group"),
    ("unit_cell=79,79,38,90,90,120", ("unit_cell", "space_group")),
])
def test_bad_parameters(work, assignment, name):
    extra = [assignment] + (["space_group=P4"] if assignment.endswith(",120") else [])
    assert_refused(index(work(*INPUTS), *extra), name)


def test_only_experiments(work):
    assert_refused(run(["index", "imported.expt"], work(*INPUTS)), ".refl")


def test_same_file_twice(work):
    assert_refused(run(["index", "imported.expt", "strong.refl", "strong.refl"], work(*INPUTS)), "twice")


def test_output_is_a_directory(work):
    folder = work(*INPUTS)
    (folder / "indexed.refl").mkdir()
    assert_refused(index(folder), "indexed.refl", "directory")


def test_output_names_the_input(work):
    assert_refused(index(work(*INPUTS), "output.reflections=strong.refl"), "strong.refl")


@pytest.mark.parametrize("change, words", [
    (lambda d: d["beam"][0].__setitem__("wavelength", 0.0), "wavelength"),
    (lambda d: d["beam"][0].__setitem__("direction", [0.0, 0.0, 0.0]), "beam direction"),
    (lambda d: d["detector"][0]["panels"][0].__setitem__("pixel_size", [0.0, 0.172]), "pixel size"),
    (lambda d: d["goniometer"][0].__setitem__("rotation_axis", [0.0, 0.0, 0.0]), "rotation axis"),
    (lambda d: d["detector"][0]["panels"][0].__setitem__("origin", [float("nan"), 0.0, -100.0]), "origin"),
])
def test_impossible_models_in_the_experiment_file(work, change, words):
    """A damaged or hand-edited .expt (a zero wavelength, a zero axis) is refused when read, not deep
    inside indexing as "internal error: ValueError: data must be finite"."""
    from harness import edit_experiments

    folder = work(*INPUTS)
    edit_experiments(folder / "imported.expt", change)
    assert_refused(index(folder), "imported.expt", words)
