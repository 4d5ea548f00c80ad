import bz2

import numpy as np
import pytest

from friedel.errors import FriedelError
from friedel.formats.cbf_codec import compress_byte_offset, decompress_byte_offset


def test_round_trip_all_delta_widths():
    rng = np.random.default_rng(0)
    values = rng.integers(-2**31, 2**31 - 1, size=2000, dtype=np.int64).astype(np.int32)
    values[:12] = [-2**31, 2**31 - 1, -2**31, 0, 1, -1, 127, -127, 128, 40000, -40000, -2]
    values[12:1000] = rng.poisson(3, size=988)  # typical photon counts: 1-byte deltas
    packed = compress_byte_offset(values)
    assert np.array_equal(decompress_byte_offset(packed, values.size), values)
    # small counts cost one byte each
    assert len(compress_byte_offset(rng.poisson(3, size=10000))) == 10000


def test_truncated_stream_is_an_error():
    packed = compress_byte_offset(np.arange(0, 100000, 300, dtype=np.int32))
    with pytest.raises(FriedelError, match="truncated"):
        decompress_byte_offset(packed[:-5], 334)


def test_reencoding_a_real_pilatus_image_gives_identical_bytes(real_data):
    raw = bz2.open(real_data / "images/thaumatin_grid/thau_3_2_0001.cbf.bz2").read()
    start = raw.index(b"\x0c\x1a\x04\xd5") + 4
    n = 2463 * 2527
    pixels = decompress_byte_offset(raw[start:], n)
    assert pixels.min() == -2  # dead pixels / gaps
    assert pixels.max() == 114000
    packed = compress_byte_offset(pixels)
    assert packed == raw[start:start + len(packed)]
