"""friedel search_beam_position: a beam centre 1.5 mm off is found to within 0.1 mm."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from friedel.cli.main import main
from friedel.errors import FriedelError
from friedel.io import read_experiments, read_reflections
from friedel.plugins.indexing.beam_search import search_beam_position, shift_beam_centre
from friedel.plugins.indexing.params import SearchBeamPositionParams

from . import synthetic as syn

PX = 0.172  # mm


@pytest.fixture(scope="module")
def thaumatin_sweep():
    """A 10-degree thaumatin sweep to 3.5 A (the beam centre of its geometry is the truth)."""
    return syn.sweep((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", seed=7, d_min=3.5, n_images=10, width_deg=1.0)


def beam_centre_mm(experiments):
    e = experiments[0]
    return np.array(e.detector.beam_centre_px(e.beam.s0)) * PX


@pytest.mark.parametrize("error_mm", [(1.2, -0.9), (-1.5, 0.0), (0.5, 1.414)])
def test_beam_centre_search_recovers_shift(thaumatin_sweep, error_mm):
    expts, refl, _ = thaumatin_sweep
    wrong = copy.deepcopy(expts)
    shift_beam_centre(wrong, error_mm)  # 1.5 mm off
    found, moved = search_beam_position(wrong, refl, SearchBeamPositionParams())
    assert np.hypot(*(np.asarray(found) + error_mm)) < 0.1
    assert np.hypot(*(beam_centre_mm(moved) - beam_centre_mm(expts))) < 0.1
    assert np.hypot(*(beam_centre_mm(wrong) - beam_centre_mm(expts))) == pytest.approx(1.5, abs=1e-3)


def test_right_beam_centre_stays_put(thaumatin_sweep):
    expts, refl, _ = thaumatin_sweep
    found, _ = search_beam_position(expts, refl, SearchBeamPositionParams())
    assert np.hypot(*found) < 0.03


def test_beam_centre_search_on_a_narrow_real_wedge(real_data):
    """centroid: 1.8 degrees of real data. Its header centre is already close (refinement after
    indexing moves it by about 0.15 mm); a copy moved 1.5 mm away must come back to the same point."""
    folder = real_data / "spots" / "centroid"
    expts = read_experiments(folder / "imported.expt")
    refl = read_reflections(folder / "strong.refl")
    p = SearchBeamPositionParams()
    at_header, _ = search_beam_position(expts, refl, p)
    assert np.hypot(*at_header) < 0.25
    for error in [(1.5, 0.0), (-1.06, 1.06)]:
        wrong = copy.deepcopy(expts)
        shift_beam_centre(wrong, error)
        found, _ = search_beam_position(wrong, refl, p)
        assert np.hypot(*(np.asarray(found) + error - at_header)) < 0.1


def test_command_writes_optimised_experiments(real_data, in_tmp_dir):
    folder = real_data / "spots" / "centroid"
    assert main(["search_beam_position", str(folder / "imported.expt"), str(folder / "strong.refl")]) == 0
    before = read_experiments(folder / "imported.expt")
    after = read_experiments(in_tmp_dir / "optimised.expt")
    moved = np.hypot(*(beam_centre_mm(after) - beam_centre_mm(before)))
    assert 0.0 < moved < 0.25
    # only the beam centre moves: the detector distance and axes are kept
    p0, p1 = before[0].detector[0], after[0].detector[0]
    assert np.allclose(p0.fast_axis, p1.fast_axis) and np.allclose(p0.slow_axis, p1.slow_axis)
    assert float(p0.origin @ p0.normal) == pytest.approx(float(p1.origin @ p1.normal))


def test_too_few_spots_is_explained(thaumatin_sweep):
    expts, refl, _ = thaumatin_sweep
    with pytest.raises(FriedelError, match="only 10 spots"):
        search_beam_position(expts, refl.select(np.arange(10)), SearchBeamPositionParams())


def test_simulated_images_header_centre_off_by_1_5_mm(in_tmp_dir):
    """The whole way: images from ``friedel simulate`` whose header beam centre is 1.5 mm off
    (6.17 px along each axis of a PILATUS 300K), spots found on them, the centre searched."""
    from friedel.plugin_manager import registry

    if "simulate" not in registry("commands"):
        pytest.skip("friedel simulate is not installed")
    assert main(["simulate", "preset=tiny", "header_error.beam_centre=6.17,-6.17", "output.directory=.",
                 "nproc=1"]) == 0
    assert main(["find_spots", "header.expt", "nproc=1"]) == 0
    assert main(["search_beam_position", "header.expt", "strong.refl"]) == 0
    truth = beam_centre_mm(read_experiments("truth.expt"))
    assert np.hypot(*(beam_centre_mm(read_experiments("header.expt")) - truth)) == pytest.approx(1.5, abs=0.01)
    assert np.hypot(*(beam_centre_mm(read_experiments("optimised.expt")) - truth)) < 0.1


def test_several_stills_are_refused(real_data):
    folder = real_data / "spots" / "i24_lyso_still"
    expts = read_experiments(folder / "imported.expt")
    with pytest.raises(FriedelError, match="4 stills"):
        search_beam_position(expts, read_reflections(folder / "strong.refl"), SearchBeamPositionParams())
