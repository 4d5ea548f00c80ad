"""Real data: one L-cysteine sweep (PILATUS 2M on a 2theta arm, kappa goniometer, 15 x 0.1 deg)
goes import -> find_spots -> index -> refine -> integrate."""

from __future__ import annotations

import os

import numpy as np
import pytest

from friedel.cli.main import main
from friedel.flags import Flags
from friedel.io import read_experiments, read_reflections


def _step(args):
    return main(args) == 0


@pytest.mark.slow
def test_l_cysteine_sweep_integrates(real_data, tmp_path):
    images = sorted(str(p) for p in (real_data / "images" / "l_cysteine").glob("l-cyst_01_*.cbf.gz"))
    if len(images) < 10:
        pytest.skip("L-cysteine images not found")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        for args in (["import", *images], ["find_spots", "imported.expt", "mp.nproc=1"],
                     ["index", "imported.expt", "strong.refl"], ["refine", "indexed.expt", "indexed.refl"]):
            if not _step(args):
                pytest.skip(f"upstream step friedel {args[0]} did not manage this sweep")
        assert main(["integrate", "refined.expt", "refined.refl", "mp.nproc=1"]) == 0
    finally:
        os.chdir(old)
    experiments = read_experiments(tmp_path / "integrated.expt")
    t = read_reflections(tmp_path / "integrated.refl")
    prof = experiments[0].profile
    assert 0.02 < prof["sigma_b"] < 0.3 and 0.01 < prof["sigma_m"] < 0.5, prof
    summed = (t["flags"] & int(Flags.integrated_sum)) != 0
    assert summed.sum() >= 30
    i_over_sigma = t["intensity.sum.value"][summed] / np.sqrt(t["intensity.sum.variance"][summed])
    assert np.median(i_over_sigma) > 5
    # profile fitting estimates the whole reflection, summation the recorded part: compare on full ones
    both = summed & ((t["flags"] & int(Flags.integrated_prf)) != 0) & (t["partiality"] > 0.99)
    if both.sum() >= 10:
        assert np.corrcoef(t["intensity.sum.value"][both], t["intensity.prf.value"][both])[0, 1] > 0.9
