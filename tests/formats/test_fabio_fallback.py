"""The fabio fallback reader on small TIFF and EDF images written with fabio in the test."""
import fabio
import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.formats import find_format, open_file, open_images
from friedel.models import Experiment, ImageSetReference


def _pattern(shape=(60, 80), dtype=np.uint16):
    rng = np.random.default_rng(3)
    data = rng.poisson(5.0, size=shape)
    data[10, 20] = 4000  # a "spot"
    data[0, 0] = np.iinfo(dtype).max if np.dtype(dtype).kind in "ui" else 1e9  # saturated
    return data.astype(dtype)


def test_edf_with_esrf_geometry_keywords(tmp_path):
    data = _pattern(dtype=np.int32)
    path = tmp_path / "sample_0007.edf"
    header = {"SampleDistance": "0.1235", "WaveLength": "1.0332e-10", "PSize_1": "7.5e-05",
              "PSize_2": "7.5e-05", "Center_1": "40.5", "Center_2": "30.25", "ExposureTime": "0.5"}
    fabio.edfimage.EdfImage(data=data, header=header).write(str(path))
    assert find_format(path).name == "fabio"
    fmt = open_file(path)
    assert fmt.defaults_used == ["angle_increment", "start_angle"]
    assert fmt.beam.wavelength == pytest.approx(1.0332)
    panel = fmt.detector[0]
    assert panel.distance == pytest.approx(123.5)
    assert panel.pixel_size == pytest.approx((0.075, 0.075))
    assert panel.image_size == (80, 60)
    assert fmt.detector.beam_centre_px(fmt.beam.s0) == pytest.approx((40.5, 30.25))
    assert fmt.goniometer is None and fmt.scan.oscillation == (0.0, 0.0)  # a still
    assert fmt.scan.image_range == (7, 7) and fmt.scan.exposure_times[0] == pytest.approx(0.5)
    (pixels,) = fmt.get_raw_data(0)
    assert pixels.dtype == np.int32 and np.array_equal(pixels, data)


def test_plain_tiff_takes_stated_defaults_and_masks_saturation(tmp_path):
    data = _pattern()
    path = tmp_path / "frame_001.tif"
    fabio.tifimage.TifImage(data=data).write(str(path))
    fmt = open_file(path)
    assert fmt.name == "fabio" and fmt.kind == "tif"
    assert set(fmt.defaults_used) >= {"wavelength", "distance_mm", "pixel_size_mm", "beam_xy_px"}
    assert fmt.beam.wavelength == 1.0 and fmt.detector[0].distance == pytest.approx(100.0)
    assert fmt.detector.beam_centre_px(fmt.beam.s0) == pytest.approx((40.0, 30.0))
    expt = Experiment(beam=fmt.beam, detector=fmt.detector, imageset=ImageSetReference(images=[str(path)]))
    images = open_images(expt)
    (pixels,) = images.get_raw_data(0)
    assert np.array_equal(pixels, data) and pixels[10, 20] == 4000
    (mask,) = images.get_mask(0)
    assert not mask[0, 0] and mask.sum() == data.size - 1  # only the saturated pixel is untrusted


def test_fabio_does_not_claim_other_formats_or_garbage(tmp_path, real_data):
    assert find_format(real_data / "images/thaumatin_grid/thau_3_2_0001.cbf.bz2").name == "minicbf"
    assert find_format(real_data / "images/image_examples/simtbx_FormatSMVJHSim_001.img").name == "smv"
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00" + b"\x01" * 20)  # TIFF magic, nothing behind it
    with pytest.raises(FriedelError, match="junk.tif"):
        open_file(junk)
