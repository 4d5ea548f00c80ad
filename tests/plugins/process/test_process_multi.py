"""friedel process on several crystals of one protein: separate indexing, cosym, one merged MTZ.

Two crystals of a P 43 protein (the ``tiny`` preset's lysozyme cell with the space group
lowered to P 43, so that the tetragonal lattice has an indexing ambiguity, h,-k,-l), in two
orientations, 10 degrees each. The two sweeps share the protein (the same seed: the same true
intensities) but not the lattice, so joint indexing indexes one sweep and only a fifth of the
other (by chance): process must index them separately, and cosym must find the Laue group 4/m
and put both data sets in one indexing before scaling. With these orientations the indexer
gives the two crystals inconsistent bases (checked below against the truth), so the test
fails if cosym leaves the ambiguity unresolved: the merged intensities would then correlate
with the truth at about 0.5 in either indexing.
"""

import contextlib
import glob
import io
import os

import gemmi
import numpy as np
import pytest

from friedel.cli.main import main

ORIENTATIONS = (
    "0.367096,-0.134961,-0.920340,-0.389595,-0.920761,-0.020375,-0.844663,0.366040,-0.390588",
    "0.722959,0.282460,0.630513,0.490400,-0.852636,-0.180334,0.486661,0.439578,-0.754939",
)


@pytest.fixture(scope="module")
def two_crystals(tmp_path_factory):
    """Process folder after ``friedel process`` on two simulated crystals, and the captured log."""
    root = tmp_path_factory.mktemp("multi")
    here = os.getcwd()
    try:
        os.chdir(root)
        for i, orientation in enumerate(ORIENTATIONS, start=1):
            assert main(["simulate", "preset=tiny", "seed=1", "crystal.space_group=P43",
                         f"crystal.orientation={orientation}", "scan.n_images=20", f"output.prefix=xtal{i}",
                         f"output.directory=crystal{i}", "mp.method=none"]) == 0
        images = sorted(glob.glob("crystal1/*.cbf")) + sorted(glob.glob("crystal2/*.cbf"))
        os.makedirs("run")
        os.chdir("run")
        terminal = io.StringIO()
        with contextlib.redirect_stdout(terminal):  # -q: the steps it runs are quiet too
            code = main(["process", *[os.path.join("..", f) for f in images], "nproc=1", "-q"])
        log = open("friedel.process.log", encoding="utf-8").read()
    finally:
        os.chdir(here)
    assert code == 0, log[-3000:]
    return root, log, terminal.getvalue()


def _miller_matrix(found, truth):
    """M with h_true = M h_found (A_found = A_true M), rounded to integers."""
    return np.rint(np.linalg.solve(truth.A, found.A)).astype(int)


def test_the_sweeps_are_indexed_separately_and_reconciled_by_cosym(two_crystals):
    from friedel.io import read_experiments

    root, log, terminal = two_crystals
    assert "indexing the sweeps separately" in log
    # with -q only warnings reach the terminal: no step headers, tables or summary
    assert "== friedel" not in terminal and "Space group" not in terminal and "cosym" not in terminal
    assert "cosym makes their indexing consistent" in log
    run = root / "run"
    integrated = read_experiments(str(next(run.glob("*_integrate")) / "integrated.expt"))
    truths = [read_experiments(str(root / f"crystal{i}" / "truth.expt")).crystals[0] for i in (1, 2)]
    assert len(integrated.crystals) == 2
    # before cosym, the second crystal's indexing differs from the first's by an operation
    # outside the Laue group 4/m: the ambiguity is really there for cosym to resolve
    m1, m2 = (_miller_matrix(c, t) for c, t in zip(integrated.crystals, truths))
    laue = [np.array(op.rot).T // 24 for op in gemmi.SpaceGroup("P 43").operations().sym_ops]
    laue += [-g for g in laue]
    relation = m2 @ np.linalg.inv(m1)
    assert not any(np.allclose(relation, g) for g in laue), \
        "the indexer now gives these two crystals consistent bases: choose orientations that it does not"


def test_the_merged_mtz_has_the_laue_group_and_matches_the_truth(two_crystals):
    from friedel.plugins.demo.command import compare_with_truth

    root, _, _ = two_crystals
    run = root / "run"
    mtz = gemmi.read_mtz_file(str(next(run.glob("*_merge")) / "merged.mtz"))
    # P 41 and P 43 have the same absences: the point group is what the data can tell
    assert mtz.spacegroup.point_group_hm() == "4"
    here = os.getcwd()
    try:
        os.chdir(run)
        result = compare_with_truth(".", str(root / "crystal1"))
    finally:
        os.chdir(here)
    # both crystals in one indexing (which of the two is arbitrary): CC with the truth as high
    # as one crystal gives (inconsistent indexing would give about 0.5 in either)
    assert result["cc_truth"] > 0.99, result
    assert result["n_matched"] > 5000
    a, b, c = result["unit_cell"][:3]
    assert abs(a - 79.1) < 0.3 and abs(b - 79.1) < 0.3 and abs(c - 38.0) < 0.2
