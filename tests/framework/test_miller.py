"""The reciprocal ASU, M/ISYM and resolution shells agree with gemmi's scalar reference."""

import gemmi
import numpy as np
import pytest

from friedel.miller import ResolutionBins, asu_mapping, complete_set, d_spacing, unmap_isym


@pytest.mark.parametrize("name", ["P 41 21 2", "I 21 3", "C 1 2 1", "P 1", "P 61 2 2", "R 3 :H", "P 3 1 21"])
def test_asu_and_isym_match_gemmi(name):
    sg = gemmi.SpaceGroup(name)
    asu = gemmi.ReciprocalAsu(sg)
    hkl = np.random.default_rng(1).integers(-12, 12, size=(1500, 3)).astype(np.int32)
    hkl = hkl[np.any(hkl != 0, axis=1)]
    m = asu_mapping(hkl, sg, anomalous=True)
    ref = [asu.to_asu([int(v) for v in h], sg.operations()) for h in hkl]
    assert np.array_equal(m.hkl, np.array([r[0] for r in ref]))
    assert np.array_equal(m.isym, np.array([r[1] for r in ref]))
    assert np.array_equal(unmap_isym(m.hkl, m.isym, sg), hkl)
    assert np.array_equal(m.unique_hkl[m.group], m.hkl)


def test_anomalous_groups_keep_bijvoet_mates_apart():
    hkl = np.array([[2, 1, 3], [-2, -1, -3], [1, 2, -3], [1, 0, 0], [-1, 0, 0]])
    merged = asu_mapping(hkl, "P 41 21 2", anomalous=False)
    anom = asu_mapping(hkl, "P 41 21 2", anomalous=True)
    assert merged.n_groups == 2
    # (2,1,3) and (1,2,-3) (operation k,h,-l) are I+ of one index, (-2,-1,-3) its I-;
    # (h,0,0) is centric in P41212
    assert anom.n_groups == 3
    assert anom.centric.tolist() == [False, False, False, True, True]
    assert anom.plus.tolist() == [True, False, True, True, True]


def test_complete_set_counts_and_shells():
    cell = (57.8, 57.8, 150.0, 90, 90, 90)
    unique = complete_set("P 41 21 2", cell, 2.0)
    d = d_spacing(unique, cell)
    assert d.min() >= 2.0 - 1e-6
    bins = ResolutionBins(d, n_bins=10)
    counts = np.bincount(bins.index, minlength=10)
    assert bins.index.min() == 0
    # equal reciprocal volume: the shells hold similar numbers of possible reflections
    assert counts[1:].max() / counts[1:].min() < 1.3
    assert np.all(bins.d_max > bins.d_min) and bins.d_min[-1] == pytest.approx(d.min())
    anom = complete_set("P 41 21 2", cell, 2.0, anomalous=True)
    assert len(unique) < len(anom) < 2 * len(unique)
