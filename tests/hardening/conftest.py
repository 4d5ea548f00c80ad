"""Inputs of the bad-input tests, built once per session.

A three-image ``tiny`` simulation is taken through import, find_spots and index once
(``pipeline``); the steps after integration get a model integration of the same sweep
(``simulate_integrated``, no pixels) and friedel's own symmetry and scale outputs of it.
Each test copies the files it needs into its own folder (``work``), so a command that
wrongly writes or changes something cannot spoil another test.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import run  # noqa: E402

IMAGES = ("sim_00001.cbf", "sim_00002.cbf", "sim_00003.cbf")


def _ok(args, folder):
    o = run(args, folder)
    assert o.code == 0, f"building the inputs failed: friedel {' '.join(args)}: {o.stderr}"
    return o


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Path:
    """A folder with the images and imported.expt, strong.refl, indexed.expt/.refl,
    integrated.expt/.refl (model integration), symmetrized.* and scaled.*."""
    folder = tmp_path_factory.mktemp("pipeline")
    _ok(["simulate", "preset=tiny", "scan.n_images=3", "seed=1"], folder)
    _ok(["import", *IMAGES], folder)
    _ok(["find_spots", "imported.expt"], folder)
    _ok(["index", "imported.expt", "strong.refl"], folder)
    _integrated(folder)
    _ok(["symmetry", "integrated.expt", "integrated.refl"], folder)
    _ok(["scale", "symmetrized.expt", "symmetrized.refl"], folder)
    for log in folder.glob("friedel.*"):
        log.unlink()
    return folder


def _integrated(folder: Path) -> None:
    from friedel.io import write_experiments, write_reflections
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    experiments, reflections = simulate_integrated(make_params("tiny", **{"scan.n_images": 40, "seed": 2}))
    for name in ("intensity.true.value", "truth.scale", "counts.expected"):
        if name in reflections:
            del reflections[name]
    write_experiments(experiments, str(folder / "integrated.expt"))
    write_reflections(reflections, str(folder / "integrated.refl"))


@pytest.fixture
def work(pipeline, tmp_path):
    """``work("a.expt", "b.refl", ...)`` copies those pipeline files into a fresh folder and returns it."""

    def make(*names: str) -> Path:
        for name in names:
            shutil.copy2(pipeline / name, tmp_path / name)
        return tmp_path

    return make
