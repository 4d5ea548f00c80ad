"""Simulated integrated and 'scaled' data for the export and merge tests (no images, seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from friedel.io import write_experiments, write_reflections


def scaled_like(experiments, reflections):
    """The table as scaling with the true scales would leave it: intensity.scale = the profile
    intensity corrected for LP, QE and partiality (the simulator's profile intensities are of
    the recorded part), inverse_scale_factor = the true inverse scale of each observation."""
    r = reflections.copy()
    corr = r["lp"] / r["qe"] / r["partiality"]
    r["intensity.scale.value"] = r["intensity.prf.value"] * corr
    r["intensity.scale.variance"] = r["intensity.prf.variance"] * corr**2
    r["inverse_scale_factor"] = r["truth.scale"]
    r["inverse_scale_factor_variance"] = (0.01 * r["truth.scale"]) ** 2
    return experiments, r


@pytest.fixture(scope="session")
def tiny_integrated():
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    return simulate_integrated(make_params("tiny"))


@pytest.fixture(scope="session")
def two_lattices():
    """Two lattices on the same 6 images (trypsin, P212121, d_min 3 A)."""
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    return simulate_integrated(make_params("trypsin_2lattice", **{"scan.n_images": 6, "crystal.d_min": 3.0}))


@pytest.fixture
def tiny_files(in_tmp_dir, tiny_integrated):
    """integrated.expt/.refl and scaled.expt/.refl of the tiny simulation in the test's folder."""
    experiments, reflections = tiny_integrated
    write_experiments(experiments, "integrated.expt")
    write_reflections(reflections, "integrated.refl")
    e, r = scaled_like(experiments, reflections)
    write_experiments(e, "scaled.expt")
    write_reflections(r, "scaled.refl")
    return in_tmp_dir


def read_mtz_table(path):
    import gemmi

    mtz = gemmi.read_mtz_file(str(path))
    return mtz, np.array(mtz, copy=False), mtz.column_labels()
