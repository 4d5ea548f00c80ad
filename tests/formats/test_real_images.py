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
    ("images/image_examples/DLS_I23_P12M_thau_00001.cbf.gz", "minicbf", 2.7552, 10.0, (1080.0, 2595.0), 0.172,
     (2463, 5071), (-210.0, 0.05), (-2, 12446, 814049), None),
    ("images/image_examples/TIMEPIX_SU_516-stdgoni_0001.img", "smv", 0.0251, 531.85, (246.14, 240.35), 0.055,
     (516, 516), (-65.4, 0.23), (0, 11810, 3613798), 266256),
    ("images/image_examples/TIMEPIX_SU_512-stdgoni_0001.img", "smv", 0.0251, 531.85, (246.0, 240.0), 0.055,
     (512, 512), (65.4, 0.23), (0, 11810, 3357809), None),
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
