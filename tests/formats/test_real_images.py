"""Every real image in shared/data/real/images: header values and pixel statistics.

Expected numbers are the files' own header values; pixel sums were cross-checked with an
independent reader (fabio for miniCBF, DIALS for the rest) while developing.
"""
import numpy as np
import pytest

from friedel.formats import find_format, open_file, open_images
from friedel.models import Experiment, ImageSetReference

# file, reader, wavelength, distance, beam centre (fast, slow) px, pixel size, image size,
# oscillation (start, width), (min, max, sum) of pixel values, good pixels
CASES = [
    ("images/thaumatin_grid/thau_3_2_0001.cbf.bz2", "minicbf", 0.96859, 351.0, (1261.61, 1306.96), 0.172,
     (2463, 2527), (89.9997, 0.0), (-2, 114000, 20608414), 5697275),
    ("images/image_examples/DLS_I03_smargon_0001.cbf.gz", "fullcbf", 0.97625, 291.47, (1229.3023, 1200.4651),
     0.172, (2463, 2527), (45.0, 0.1), (-2, 336, 36200), 5696687),
    ("images/image_examples/dlsnxs2cbf_therm_0001.cbf.gz", "minicbf", 0.98027, 213.96, (2216.06, 2300.41), 0.075,
     (4148, 4362), (174.0, 0.25), (-2, 404, -1210773), 16840256),
    ("images/image_examples/TIMEPIX_SU_516-stdgoni_0001.img", "smv_timepix_su", 0.0251, 531.85, (246.14, 240.35), 0.055,
     (516, 516), (-65.4, 0.23), (0, 11810, 3613798), 266256),
    ("images/image_examples/simtbx_FormatSMVJHSim_001.img", "smv", 0.02508, 1590.0, (512.0, 512.0), 0.055,
     (1024, 1024), (0.0, 0.0), (0, 873, 2691223), 1048576),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0].split("/")[-1] for c in CASES])
def test_real_image_header_and_pixels(real_data, case):
    rel, reader, wavelength, distance, centre, pixel, size, osc, stats, good = case
    path = real_data / rel
    assert find_format(path).name == reader
    fmt = open_file(path)
    panel = fmt.detector[0]
    assert fmt.beam.wavelength == pytest.approx(wavelength, abs=1e-6)
    assert panel.distance == pytest.approx(distance, abs=1e-6)
    assert fmt.detector.beam_centre_px(fmt.beam.s0) == pytest.approx(centre, abs=1e-3)
    assert panel.pixel_size == pytest.approx((pixel, pixel))
    assert panel.image_size == size
    assert fmt.scan.oscillation == pytest.approx(osc)
    (data,) = fmt.get_raw_data(0)
    assert data.shape == (size[1], size[0])
    assert (int(data.min()), int(data.max()), int(data.sum(dtype=np.int64))) == stats
    if good is not None:  # same number of good pixels as DIALS's mask
        expt = Experiment(beam=fmt.beam, detector=fmt.detector, imageset=ImageSetReference(images=[str(path)]))
        images = open_images(expt)
        assert len(images) == 1
        assert int(images.get_mask(0)[0].sum()) == good


def test_full_cbf_multi_axis_goniometer(real_data):
    fmt = open_file(real_data / "images/image_examples/DLS_I03_smargon_0001.cbf.gz")
    g = fmt.goniometer
    assert g.names == ["GON_PHI", "GON_CHI", "GON_OMEGA"] and g.scan_axis == 2
    assert g.angles == [45.0, 45.0, 45.0]
    # F = R(chi axis, 45) R(phi axis, 45), as DIALS finds for this file
    expected = [[0.707107, 0.5, -0.5], [-0.707107, 0.5, -0.5], [0, 0.707107, 0.707107]]
    assert np.allclose(g.fixed_rotation, expected, atol=1e-6)
    assert fmt.detector[0].thickness == 1.0 and fmt.detector[0].mu == pytest.approx(3.92204, abs=1e-5)


def test_rayonix_full_cbf_still_geometry(real_data):
    fmt = open_file(real_data / "images/kapton_rayonix340/hit-20181213155134902.cbf")
    assert fmt.goniometer is None and fmt.scan.oscillation[1] == 0
    assert fmt.beam.wavelength == pytest.approx(1.30375729885)
    p = fmt.detector[0]
    assert np.allclose(p.origin, (-170.0, 170.0, -124.0))
    assert p.image_size == (1920, 1920) and p.pixel_size[0] == pytest.approx(0.177083333333)


def test_pilatus_gaps_are_mask_rectangles(real_data):
    fmt = open_file(real_data / "images/thaumatin_grid/thau_3_2_0001.cbf.bz2")
    panel = fmt.detector[0]
    assert len(panel.mask) == 4 + 11  # 5 x 12 modules
    (data,) = fmt.get_raw_data(0)
    assert (data[~panel.trusted_mask()] == -1).all()  # every masked pixel is a gap pixel


# DLS I23 PILATUS 12M: per-row numbers measured with DIALS 3.12 (dials.import + dials.show and
# dxtbx's get_raw_data/get_mask) on this file.  Origins/slow axes of rows 0, 1, 12 and 23 (mm):
I23_ROWS = {
    0: ((185.76, -245.175545, 42.492885), (0.0, -0.143467, -0.989655)),
    1: ((185.76, -250.199655, 6.383279), (0.0, 0.001667, -0.999999)),
    12: ((185.76, -8.763567, -260.416503), (0.0, 0.999462, 0.032798)),
    23: ((185.76, 250.390594, -10.791525), (0.0, -0.063897, 0.997957)),
}
I23_SUMS = [-146940, 47984, 56171, 64337, 76690, 94709, 122278, 114021, 95037, 78730, 74080, 77589, 72671, 76891,
            83656, 85020, 103675, 150425, 102127, 85096, 69456, 69887, 67960, 55532]
I23_GOOD = [379639, 474631, 474618, 474657, 474680, 474590, 474654, 474644, 474662, 474656, 474637, 474648, 474685,
            474702, 474687, 474658, 474673, 474731, 474660, 474697, 474680, 474661, 474636, 474629]


def test_dls_i23_pilatus_12m_is_24_rows_on_a_cylinder(real_data):
    path = real_data / "images/image_examples/DLS_I23_P12M_thau_00001.cbf.gz"
    assert find_format(path).name == "minicbf_dls_i23_12m"
    fmt = open_file(path)
    det = fmt.detector
    assert len(det) == 24
    assert fmt.beam.wavelength == pytest.approx(2.7552)
    assert fmt.scan.oscillation == pytest.approx((-210.0, 0.05))
    for k, (origin, slow) in I23_ROWS.items():
        assert np.allclose(det[k].origin, origin, atol=1e-5)
        assert np.allclose(det[k].slow_axis, slow, atol=1e-6)
    for k, p in enumerate(det):
        assert p.image_size == (2463, 195) and p.name == f"row-{k:02d}"
        assert np.allclose(p.fast_axis, (-1, 0, 0))
        assert p.thickness == pytest.approx(0.32) and p.mu == pytest.approx(76.2976, abs=1e-3)
    # rows 8.344 deg apart, all 250 mm from the cylinder axis (through (0, -0.172, -10) mm)
    angles = np.degrees(np.unwrap([np.arctan2(p.slow_axis[1], -p.slow_axis[2]) for p in det]))
    assert np.allclose(np.diff(angles), 8.344)
    axis_point = np.array([0.0, -0.172, -10.0])
    assert np.allclose([p.normal @ (p.origin - axis_point) for p in det], 250.0)
    # the direct beam lands on row 12 near the header's Beam_xy (1080, 2595 - 12 * 212)
    panel, xy = det.ray_intersection(fmt.beam.s0)
    assert panel[0] == 12
    assert np.allclose(xy[0] / 0.172, (1080.0, 51.0), atol=0.05)
    g = fmt.goniometer
    assert g.names == ["PHI", "KAPPA", "OMEGA"] and g.scan_axis == 2
    assert np.allclose(g.axes[1], (0.642788, -0.766044, 0.0), atol=1e-6)

    data = fmt.get_raw_data(0)
    assert len(data) == 24 and all(d.shape == (195, 2463) for d in data)
    assert [int(d.sum(dtype=np.int64)) for d in data] == I23_SUMS
    assert max(int(d.max()) for d in data) == 12446
    expt = Experiment(beam=fmt.beam, detector=det, imageset=ImageSetReference(images=[str(path)]))
    assert [int(m.sum()) for m in open_images(expt).get_mask(0)] == I23_GOOD


def test_timepix_su_512_is_a_quad_of_four_254_pixel_panels(real_data):
    """Numbers measured with DIALS 3.12 (FormatSMVTimePix_SU_512x512) on this file."""
    path = real_data / "images/image_examples/TIMEPIX_SU_512-stdgoni_0001.img"
    assert find_format(path).name == "smv_timepix_su"
    fmt = open_file(path)
    det = fmt.detector
    assert len(det) == 4
    origins = [(-13.475, 13.145, -531.85), (0.825, 13.145, -531.85), (-13.475, -1.155, -531.85),
               (0.825, -1.155, -531.85)]
    for p, origin, offset in zip(det, origins, [(1, 1), (257, 1), (1, 257), (257, 257)]):
        assert p.image_size == (254, 254) and p.pixel_size == pytest.approx((0.055, 0.055))
        assert np.allclose(p.origin, origin) and p.raw_image_offset == offset
        assert np.allclose(p.fast_axis, (1, 0, 0)) and np.allclose(p.slow_axis, (0, -1, 0))
        assert p.trusted_range == (-1.0, 65535.0) and p.thickness == pytest.approx(0.3)
    # the direct beam hits panel 0 at stored pixel (246, 240), i.e. panel pixel (245, 239)
    panel, xy = det.ray_intersection(fmt.beam.s0)
    assert panel[0] == 0 and np.allclose(xy[0] / 0.055, (245.0, 239.0))
    assert np.allclose(fmt.goniometer.rotation_axis_datum, (-0.754864, -0.655882, 0.0), atol=1e-6)
    assert fmt.beam.polarization_fraction == 0.5
    assert fmt.scan.oscillation == pytest.approx((65.4, 0.23))
    data = fmt.get_raw_data(0)
    assert [d.shape for d in data] == [(254, 254)] * 4
    assert [int(d.sum(dtype=np.int64)) for d in data] == [1441672, 659071, 614669, 505344]
    assert [int(d.max()) for d in data] == [11810, 205, 357, 167]
    expt = Experiment(beam=fmt.beam, detector=det, imageset=ImageSetReference(images=[str(path)]))
    assert [int(m.sum()) for m in open_images(expt).get_mask(0)] == [254 * 254] * 4


def test_timepix_su_516_rotation_axis(real_data):
    fmt = open_file(real_data / "images/image_examples/TIMEPIX_SU_516-stdgoni_0001.img")
    assert len(fmt.detector) == 1
    assert np.allclose(fmt.goniometer.rotation_axis_datum, (0.782563, -0.622571, 0.0), atol=1e-6)


def test_dls_i24_pilatus_rotation_axis_is_vertical(real_data):
    """DIALS gives DLS I24's PILATUS3 6M (S/N 60-0119) a vertical rotation axis (0, 1, 0)."""
    fmt = open_file(real_data / "images/thaumatin_grid/thau_3_2_0001.cbf.bz2")
    assert fmt.header["serial"] == "60-0119"
    assert np.allclose(fmt.goniometer.rotation_axis_datum, (0.0, 1.0, 0.0))
    other = open_file(real_data / "images/image_examples/dlsnxs2cbf_therm_0001.cbf.gz")
    assert np.allclose(other.goniometer.rotation_axis_datum, (1.0, 0.0, 0.0))
