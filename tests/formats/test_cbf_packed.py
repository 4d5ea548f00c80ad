"""CBF_PACKED / CBF_PACKED_V2 decompression (CCP4-style packing) against files CBFlib wrote."""
from pathlib import Path

import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.formats import find_format, open_file, open_images
from friedel.formats.cbf import decode_binary_sections, read_cbf_bytes
from friedel.models import Experiment, ImageSetReference

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name", ["packed_v1", "packed_v2", "packed_v2flat"])
def test_packed_fixtures_decode_exactly(name):
    path = DATA / f"{name}.cbf"
    (section,) = decode_binary_sections(read_cbf_bytes(path), path)
    expected = np.load(DATA / "packed_expected.npy")
    assert section.data.shape == expected.shape == (23, 37)
    assert np.array_equal(section.data, expected)
    # the extremes survive: full-range jumps wrap exactly as the encoder wrapped them
    assert section.data[3, 5] == 2**31 - 1 and section.data[3, 6] == -2**31


def test_truncated_packed_data_is_an_error(tmp_path):
    raw = (DATA / "packed_v2.cbf").read_bytes()
    start = raw.index(b"\x0c\x1a\x04\xd5") + 4
    bad = tmp_path / "short.cbf"
    bad.write_bytes(raw[:start + 300])
    with pytest.raises(FriedelError, match="short.cbf"):
        decode_binary_sections(read_cbf_bytes(bad), bad)


def test_rayonix_kapton_still_pixels(real_data):
    """The LCLS Rayonix MX340 still (full CBF, x-CBF_PACKED): same pixels as DIALS 3.12 reads.

    Reference numbers measured with dxtbx (FormatCBFFullStill) on this file: min 0,
    max 31096, sum 3410756158, 9009 zero pixels, all 3686400 pixels inside the trusted
    range (-1, 65535); first pixels 731, 31096, 0, 10.
    """
    path = real_data / "images/kapton_rayonix340/hit-20181213155134902.cbf"
    assert find_format(path).name == "fullcbf"
    fmt = open_file(path)
    (data,) = fmt.get_raw_data(0)
    assert data.shape == (1920, 1920) and data.dtype == np.int32
    assert (int(data.min()), int(data.max()), int(data.sum(dtype=np.int64))) == (0, 31096, 3410756158)
    assert int((data == 0).sum()) == 9009
    assert data[0, :4].tolist() == [731, 31096, 0, 10]
    assert fmt.detector[0].trusted_range == (-1.0, 65535.0)
    expt = Experiment(beam=fmt.beam, detector=fmt.detector, imageset=ImageSetReference(images=[str(path)]))
    assert int(open_images(expt).get_mask(0)[0].sum()) == 1920 * 1920
