"""Real multi-axis sweeps (issue 20, item 1): the L-cysteine miniCBF/imgCIF files of a kappa
goniometer (Omega scan, Phi setting) with the detector on a 30 deg 2theta arm.

Expected geometry is written out from the files' own axis tables (DET_2THETA about +x,
DET_Z along -z at 160 mm, the array's first pixel at (-148.78, -125.56) mm in the detector
frame; GON_PHI along (0.5774, -0.8165, 0) inside GON_OMEGA along +x), not taken from another
program.
"""
import numpy as np
import pytest

from friedel.models import Goniometer
from friedel.plugins.importer.command import import_files
from friedel.plugins.importer.grouping import same_goniometer


def _files(real_data, sweep):
    return sorted(str(p) for p in (real_data / "images" / "l_cysteine").glob(f"l-cyst_0{sweep}_*.cbf.gz"))


def _rot_x(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot(axis, deg):
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    t = np.radians(deg)
    return np.eye(3) + np.sin(t) * K + (1 - np.cos(t)) * K @ K


def test_one_sweep_per_file_set_with_the_header_geometry(real_data):
    one = import_files(_files(real_data, 1))
    assert len(one) == 1  # 15 files whose Omega advances 0.1 deg each: one sweep, not 15
    both = import_files(_files(real_data, 2)[::-1] + _files(real_data, 1))
    assert len(both) == 2
    two_theta = _rot_x(30.0)
    for expt, phi in zip(both, (0.0, 120.0)):
        assert expt.imageset.template.endswith(f"l-cyst_0{1 if phi == 0 else 2}_#####.cbf.gz")
        assert expt.scan.image_range == (1, 15) and expt.scan.oscillation == pytest.approx((-145.0, 0.1))
        assert np.allclose(expt.scan.exposure_times, 0.0964)
        assert np.all(np.diff(expt.scan.epochs) == pytest.approx(0.1, abs=2e-3))  # frame time stamps
        p = expt.detector[0]
        assert np.allclose(p.fast_axis, two_theta @ [0, 1, 0], atol=1e-12)
        assert np.allclose(p.slow_axis, two_theta @ [1, 0, 0], atol=1e-12)
        assert np.allclose(p.origin, two_theta @ [-148.78, -125.56, -160.0], atol=1e-9)
        g = expt.goniometer
        assert np.allclose(g.rotation_axis, [1, 0, 0])
        assert np.allclose(g.fixed_rotation, _rot([0.5774, -0.8165, 0.0], phi), atol=1e-12)
        assert np.allclose(g.setting_rotation, np.eye(3))
        assert g.angles[g.scan_axis] == pytest.approx(-145.0)  # the scan's start, as written by DIALS


def test_scan_axis_angle_is_not_a_goniometer_setting():
    axes, names = [(0.5774, -0.8165, 0.0), (1.0, 0.0, 0.0)], ["GON_PHI", "GON_OMEGA"]
    first = Goniometer(axes=axes, angles=[0.0, -145.0], names=names, scan_axis=1)
    next_image = Goniometer(axes=axes, angles=[0.0, -144.9], names=names, scan_axis=1)
    new_phi = Goniometer(axes=axes, angles=[120.0, -145.0], names=names, scan_axis=1)
    assert same_goniometer(first, next_image)
    assert not same_goniometer(first, new_phi)
    assert not same_goniometer(first, Goniometer(rotation_axis=(1, 0, 0)))
