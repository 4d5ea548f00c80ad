"""``friedel process`` refuses bad images and parameters before any step runs."""

from __future__ import annotations

import pytest

from harness import assert_refused
from harness import run as run_any

IMAGES = ("sim_00001.cbf", "sim_00002.cbf", "sim_00003.cbf")


def run(args, folder):
    """process writes its summary (which step failed, friedel.process.json) also when a step fails."""
    o = run_any(args, folder)
    o.created = [c for c in o.created if c != "friedel.process.json"]
    return o


def test_empty_image(work):
    folder = work(*IMAGES)
    (folder / "sim_00002.cbf").write_bytes(b"")
    assert_refused(run(["process", *IMAGES], folder), "sim_00002.cbf", "empty")


def test_missing_image(work):
    folder = work(*IMAGES)
    assert_refused(run(["process", *IMAGES, "sim_00009.cbf"], folder), "sim_00009.cbf")


@pytest.mark.parametrize("assignments, name", [
    (["d_min=-1"], "d_min"),
    (["unit_cell=79,79,38,90,90"], "unit_cell"),
    (["space_group=P4", "unit_cell=79,79,38,90,90,120"], ("unit_cell", "space_group")),
    (["nproc=-2"], "nproc"),
    (["find_spots.min_spot_sise=2"], "min_spot_sise"),
    (["space_group=P 5"], "space_group"),
])
def test_bad_parameters(work, assignments, name):
    assert_refused(run(["process", *IMAGES, *assignments], work(*IMAGES)), name)


def test_no_images(work):
    assert_refused(run(["process"], work()), ("image", "file"))
