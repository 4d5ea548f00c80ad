import numpy as np
import fabio

from friedel.formats.cbf import decode_binary_sections, parse_pilatus_header, read_cbf_bytes, text_part, write_minicbf


def test_write_minicbf_round_trip_and_header(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.poisson(2, size=(195, 487)).astype(np.int32)
    data[:, 100] = -1
    data[5, 7] = 900000
    for name in ("sim_00001.cbf", "sim_00002.cbf.gz", "sim_00003.cbf.bz2"):
        path = tmp_path / name
        write_minicbf(path, data, detector="PILATUS 100K, S/N 1-0000", wavelength=0.97625,
                      distance_mm=190.1, beam_xy_px=(243.5, 97.2), start_angle=12.5,
                      angle_increment=0.1, exposure_time=0.05, count_cutoff=1000000, thickness_mm=1.0)
        raw = read_cbf_bytes(path)
        header = parse_pilatus_header(text_part(raw))
        assert header["wavelength"] == 0.97625
        assert abs(header["distance_mm"] - 190.1) < 1e-9
        assert header["beam_xy_px"] == (243.5, 97.2)
        assert header["pixel_size_mm"] == (0.172, 0.172)
        assert header["thickness_mm"] == 1.0
        assert (header["start_angle"], header["angle_increment"]) == (12.5, 0.1)
        assert header["count_cutoff"] == 1000000
        assert np.array_equal(decode_binary_sections(raw, path)[0].data, data)
        # an independent reader agrees on every pixel
        assert np.array_equal(fabio.open(str(path)).data, data)
