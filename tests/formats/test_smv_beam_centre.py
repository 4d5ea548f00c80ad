"""SMV beam centre conventions (issue 20, item 2).

The beam centre read from an SMV header is checked against the data itself (the centre of
symmetry of a simulated electron-diffraction still, whose nearly flat Ewald sphere makes the
pattern centrosymmetric about the direct beam) and against the other beam-centre fields the
same header carries, never against another program's reading.
"""
import numpy as np
import pytest
from scipy import ndimage

from friedel.formats.base import open_file
from friedel.formats.smv import beam_centre_px, parse_smv_header


def _centre_of_symmetry(image: np.ndarray) -> tuple[float, float]:
    """(fast, slow) px about which the spot pattern is centrosymmetric (first pixel corner = 0)."""
    spots = np.clip(image - ndimage.median_filter(image, 15), 0, None)
    cc = np.fft.ifft2(np.fft.fft2(spots) * np.conj(np.fft.fft2(spots[::-1, ::-1]))).real
    peak = np.unravel_index(np.argmax(cc), cc.shape)
    shift = []
    for axis, n in enumerate(cc.shape):
        lo, hi = list(peak), list(peak)
        lo[axis], hi[axis] = (peak[axis] - 1) % n, (peak[axis] + 1) % n
        a, b, c = cc[tuple(lo)], cc[peak], cc[tuple(hi)]
        shift.append((peak[axis] + n // 2) % n - n // 2 + 0.5 * (a - c) / (a - 2 * b + c))
    # spots[i] == spots[2c - 1 - i] (pixel i centred at i + 0.5) => the correlation peaks at N - 2c
    (n_slow, n_fast) = image.shape
    return (n_fast - shift[1]) / 2.0, (n_slow - shift[0]) / 2.0


def test_simulated_smv_beam_centre_is_the_centre_of_its_pattern(real_data):
    path = real_data / "images" / "image_examples" / "simtbx_FormatSMVJHSim_001.img"
    reader = open_file(path)
    (image,) = reader.get_raw_data()
    fast, slow = reader.detector.beam_centre_px(reader.beam.s0)
    sym_fast, sym_slow = _centre_of_symmetry(image.astype(float))
    assert abs(fast - sym_fast) < 0.1 and abs(slow - sym_slow) < 0.1, (fast, slow, sym_fast, sym_slow)
    # the simulator wrote the same geometry in three other conventions; all agree
    h = reader.header
    assert np.allclose(reader.detector[0].origin, [float(v) for v in h["DIALS_ORIGIN"].split(",")])
    assert fast == pytest.approx(float(h["XDS_ORGX"]) - 0.5)  # XDS: first pixel centred at 1.0
    assert fast * 0.055 == pytest.approx(float(h["MOSFLM_CENTER_Y"]) + 0.5 * 0.055)
    assert reader.beam.polarization_fraction == 0.5  # 0.025 A: electrons, unpolarised


# a real ADSC Quantum 315r header (ALS 8.3.1, from the CCP4 wiki's SMV page): the ADXV-convention
# BEAM_CENTER_X/Y and the Denzo-convention DENZO_X/Y_BEAM describe the same beam position
ADSC = dict(HEADER_BYTES="512", DIM="2", BYTE_ORDER="little_endian", TYPE="unsigned_short", SIZE1="3072",
            SIZE2="3072", PIXEL_SIZE="0.102592", BEAMLINE="ALS831", DETECTOR_SN="926",
            DATE="Thu Apr 17 07:45:15 2008", TIME="0.674101", DISTANCE="150.05", OSC_START="0.000",
            OSC_RANGE="1.000", WAVELENGTH="1.115872", BEAM_CENTER_X="156.27", BEAM_CENTER_Y="156.52",
            DENZO_X_BEAM="158.64", DENZO_Y_BEAM="156.27")


def _write_smv(path, header: dict) -> None:
    text = "{\n" + "".join(f"{k}={v};\n" for k, v in header.items()) + "}\n"
    n = int(header["SIZE1"]) * int(header["SIZE2"])
    path.write_bytes(text.encode().ljust(int(header["HEADER_BYTES"]), b" ") + np.zeros(n, "<u2").tobytes())


def test_adsc_beam_centre_conventions_agree(tmp_path):
    h = parse_smv_header(("{" + "".join(f"{k}={v};" for k, v in ADSC.items()) + "}").encode())
    with_denzo = beam_centre_px(h, (3072, 3072), 0.102592)
    without = dict(h)
    del without["DENZO_X_BEAM"], without["DENZO_Y_BEAM"]
    adxv_only = beam_centre_px(without, (3072, 3072), 0.102592)
    # fast = BEAM_CENTER_X, slow measured from the far edge; Denzo's X is slow, Y is fast
    assert np.allclose(with_denzo, (156.27 / 0.102592, 158.64 / 0.102592))
    assert np.allclose(adxv_only, with_denzo, atol=0.05)  # the header rounds to 0.01 mm
    _write_smv(tmp_path / "adsc_001.img", {k: v for k, v in ADSC.items() if not k.startswith("DENZO")})
    reader = open_file(tmp_path / "adsc_001.img")
    assert np.allclose(reader.detector.beam_centre_px(reader.beam.s0), adxv_only)
    assert reader.scan.epochs[0] == pytest.approx(1208418315.0)  # DATE read as UTC
