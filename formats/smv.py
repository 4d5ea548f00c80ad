"""SMV (ADSC-style ``.img``): a ``{ KEY=value; }`` text header of HEADER_BYTES, then raw pixels."""
from __future__ import annotations

import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.base import Format, image_number_from_path, simple_detector
from friedel.formats.cbf import read_head
from friedel.models import Beam, Goniometer, Scan

_TYPES = {"unsigned_short": "u2", "unsigned_int": "u4", "signed_int": "i4", "float": "f4", "signed_short": "i2"}


def parse_smv_header(raw: bytes) -> dict:
    text = raw.split(b"}", 1)[0].decode("latin-1").lstrip("{")
    out = {}
    for item in text.split(";"):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip().upper()] = v.strip()
    return out


class SMV(Format):
    """ADSC SMV images (also TimePix and simulated SMV files).

    BEAM_CENTER_X/Y are millimetres along the fast/slow directions from the first pixel corner;
    values larger than the detector itself are taken as pixels (TimePix convention).
    """

    name = "smv"
    priority = 10

    @classmethod
    def understand(cls, path) -> bool:
        head = read_head(path, 128)
        return head.startswith(b"{") and b"HEADER_BYTES=" in head[:64]

    def _read_header(self) -> None:
        head = read_head(self.path, 8192)
        h = parse_smv_header(head)
        self.header = h
        try:
            self.header_bytes = int(h["HEADER_BYTES"])
            n_fast, n_slow = int(h["SIZE1"]), int(h["SIZE2"])
            pixel = float(h["PIXEL_SIZE"])
            wavelength = float(h["WAVELENGTH"])
            distance = float(h["DISTANCE"])
        except (KeyError, ValueError) as exc:
            raise FileFormatError(f"{self.path}: SMV header lacks {exc}") from None
        dtype = _TYPES.get(h.get("TYPE", "unsigned_short"), "u2")
        self.dtype = np.dtype(("<" if "little" in h.get("BYTE_ORDER", "little_endian") else ">") + dtype)
        self.image_size = (n_fast, n_slow)
        bx, by = float(h.get("BEAM_CENTER_X", n_fast * pixel / 2)), float(h.get("BEAM_CENTER_Y", n_slow * pixel / 2))
        if bx > n_fast * pixel or by > n_slow * pixel:  # given in pixels
            beam_px = (bx, by)
        else:
            beam_px = (bx / pixel, by / pixel)
        self.beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=wavelength)
        overload = float(2 ** (8 * self.dtype.itemsize) - 1) if self.dtype.kind == "u" else 1e6
        self.detector = simple_detector(distance_mm=distance, beam_xy_px=beam_px, pixel_size=(pixel, pixel),
                                        image_size=self.image_size, trusted_range=(-1.0, overload),
                                        identifier=h.get("DETECTOR_SN", ""))
        self.goniometer = Goniometer(rotation_axis=(1.0, 0.0, 0.0))
        number = image_number_from_path(self.path) or 1
        self.scan = Scan((number, number), (float(h.get("OSC_START", 0.0)), float(h.get("OSC_RANGE", 0.0))),
                         exposure_times=[float(h.get("TIME", 0.0))], epochs=[0.0])

    def detector_id(self) -> str:
        return f"SMV {self.header.get('BEAMLINE', '')} {self.header.get('DETECTOR_SN', '')}".strip()

    def get_raw_data(self, index: int = 0):
        n = self.image_size[0] * self.image_size[1]
        with open(self.path, "rb") as fh:
            fh.seek(self.header_bytes)
            buf = fh.read(n * self.dtype.itemsize)
        if len(buf) != n * self.dtype.itemsize:
            raise FileFormatError(f"{self.path}: {len(buf)} bytes of pixels, expected {n * self.dtype.itemsize} "
                                  "(file truncated)")
        data = np.frombuffer(buf, dtype=self.dtype).reshape(self.image_size[1], self.image_size[0])
        return (data.astype(np.int32) if self.dtype.kind in "ui" else data.astype(np.float64),)
