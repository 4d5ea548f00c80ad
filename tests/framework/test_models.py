import gemmi
import numpy as np
import pytest

from friedel.models import Beam, Crystal, Goniometer, Panel, Scan
from friedel.models.crystal import B_matrix, cell_from_A
from friedel.models.geometry import axis_angle_matrix


def pilatus_panel(**kw):
    return Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=(-211.0, 220.0, -200.0),
                 pixel_size=(0.172, 0.172), image_size=(2463, 2527), **kw)


def test_beam_s0_points_along_minus_z_with_length_one_over_wavelength():
    beam = Beam(direction=(0, 0, 1), wavelength=0.9795)
    assert np.allclose(beam.s0, [0, 0, -1 / 0.9795])
    beam.s0 = (0.01, 0, -1.0)
    assert beam.wavelength == pytest.approx(1 / np.hypot(0.01, 1.0))


@pytest.mark.parametrize("parallax", [False, True])
def test_pixel_mm_round_trip(parallax):
    panel = pilatus_panel(thickness=0.45 if parallax else 0.0, mu=3.96 if parallax else 0.0, material="Si")
    px = np.array([[10.5, 20.5], [1231.7, 1263.2], [2400.0, 2500.0]])
    assert np.allclose(panel.mm_to_px(panel.px_to_mm(px)), px, atol=1e-6)
    if parallax:
        # rays hitting the sensor obliquely are seen further from the beam centre
        shift = panel.mm_to_px(px * 0.172) - px
        assert np.abs(shift[2]).max() > 0.05


def test_ray_intersection_inverts_pixel_to_lab():
    panel = pilatus_panel()
    px = np.array([[100.25, 200.75], [1500.0, 30.0]])
    lab = panel.pixel_to_lab(px)
    xy, valid = panel.ray_intersection(lab / np.linalg.norm(lab, axis=1, keepdims=True))
    assert valid.all()
    assert np.allclose(panel.mm_to_px(xy), px)
    assert panel.distance == pytest.approx(200.0)


def test_trusted_mask_uses_zero_based_half_open_rectangles():
    # dxtbx: a Pilatus module gap [487, 0, 494, 2527] masks the 7 columns 487..493
    panel = Panel(image_size=(10, 8), mask=[[3, 2, 4, 5]])
    good = panel.trusted_mask()
    assert good.shape == (8, 10)
    assert not good[2:5, 3:4].any() and good.sum() == 80 - 3


def test_multi_axis_goniometer_matches_published_phi_axis():
    # the phi_scan data set (DLS I19-2): phi scan at kappa 55, omega 38; its header axis is known
    g = Goniometer(axes=[(1, 0, 0), (0.914, 0.279, -0.297), (1, 0, 0)], angles=[-80, 55, 38],
                   names=["PHI", "KAPPA", "OMEGA"], scan_axis=0)
    assert np.allclose(g.fixed_rotation, np.eye(3))
    expected = axis_angle_matrix((1, 0, 0), np.radians(38)) @ axis_angle_matrix(
        np.array([0.914, 0.279, -0.297]), np.radians(55))
    assert np.allclose(g.setting_rotation, expected)


def test_scan_frames_and_angles():
    scan = Scan(image_range=(17000, 17004), oscillation=(10.0, 0.5))
    assert scan.angle_from_frame(16999.5) == pytest.approx(10.25)
    assert scan.frame_from_angle(12.5) == pytest.approx(17004.0)
    assert scan.num_images == 5 and not scan.is_still
    sub = scan[1:3]
    assert sub.image_range == (17001, 17002) and sub.oscillation[0] == pytest.approx(10.5)


def test_crystal_cell_orientation_and_space_group():
    U = axis_angle_matrix((1, 2, 3), 0.7)
    crystal = Crystal.from_cell((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2", U)
    cell = crystal.unit_cell
    assert (cell.a, cell.c) == pytest.approx((57.8, 150.0))
    assert np.allclose(crystal.U, U)
    assert crystal.space_group.number == 92
    # B is the cctbx/dxtbx Busing-Levy matrix: upper triangular in this convention
    B = B_matrix(gemmi.UnitCell(10, 11, 12, 80, 95, 100))
    assert np.allclose(np.tril(B.T, -1), 0) or np.allclose(np.triu(B.T, 1), 0)
    assert cell_from_A(B).parameters == pytest.approx((10, 11, 12, 80, 95, 100))
    with pytest.raises(Exception, match="not a space group"):
        crystal.set_space_group("P 7")


def test_crystal_pickles_for_worker_processes():
    """Experiments with a crystal go to worker processes (find_spots nproc=2 on indexed.expt)."""
    import pickle

    from friedel.models.crystal import Crystal

    crystal = Crystal.from_cell((57.8, 57.8, 150.0, 90, 90, 90), "P 41 21 2")
    copy = pickle.loads(pickle.dumps(crystal))
    assert copy.space_group.xhm() == "P 41 21 2" and np.allclose(copy.A, crystal.A)
    assert len(copy.space_group_ops.sym_ops) == 8
