"""Simulated sweeps for the integration tests, with refined-like inputs built from the truth.

Each sweep is simulated once per session (a few seconds); the reflections handed to
``friedel integrate`` are the spots found on its images, indexed with the true lattice (a
prediction of the truth matched within 2 px / 1 frame), so the tests measure integration
only and do not depend on indexing or refinement.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from friedel.cli.main import main
from friedel.flags import Flags


def _run(args, cwd):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        assert main(args) == 0, f"friedel {' '.join(args)} failed"
    finally:
        os.chdir(old)


def _index_with_truth(directory):
    from friedel.io import read_experiments, read_reflections, write_reflections

    truth = read_reflections(os.path.join(directory, "truth_reflections.refl"))
    strong = read_reflections(os.path.join(directory, "strong.refl"))
    from scipy.spatial import cKDTree

    obs = strong["xyzobs.px.value"].copy()
    cal = truth["xyzcal.px"].copy()
    obs[:, 2] *= 2.0  # one frame counts as two pixels
    cal[:, 2] *= 2.0
    dist, best = cKDTree(cal).query(obs, distance_upper_bound=2.0)
    ok = np.isfinite(dist)
    hkl = np.zeros((len(strong), 3), np.int32)
    ids = np.full(len(strong), -1, np.int32)
    hkl[ok] = truth["miller_index"][best[ok]]
    ids[ok] = truth["id"][best[ok]]
    strong["miller_index"] = hkl
    strong["id"] = ids
    strong.set_flags(ids >= 0, Flags.indexed)
    strong.experiment_identifiers = {}
    strong.assign_identifiers(read_experiments(os.path.join(directory, "truth.expt")))
    write_reflections(strong, os.path.join(directory, "indexed.refl"))


def simulate_sweep(directory, *args):
    _run(["simulate", *args, "output.directory=.", "mp.nproc=1"], directory)
    _run(["find_spots", "truth.expt", "mp.nproc=1"], directory)
    _index_with_truth(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """preset=tiny (lysozyme, PILATUS 300K, 10 x 0.5 deg) with indexed.refl from the truth."""
    return simulate_sweep(tmp_path_factory.mktemp("tiny"), "preset=tiny")


@pytest.fixture(scope="session")
def two_lattice_sweep(tmp_path_factory):
    """Two trypsin lattices in one sweep (6 x 0.5 deg on a PILATUS 300K at 120 mm): many overlaps."""
    return simulate_sweep(tmp_path_factory.mktemp("trypsin2"), "preset=trypsin_2lattice", "scan.n_images=6",
                          "detector.preset=pilatus300k", "detector.distance=120")
