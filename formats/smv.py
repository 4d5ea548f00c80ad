"""SMV (ADSC-style ``.img``): a ``{ KEY=value; }`` text header of HEADER_BYTES, then raw pixels.

Beam centre conventions of the header (pixel size ``p``, ``n_slow`` rows; the pixel (fast,
slow) coordinates of friedel/DIALS put the first pixel's outer corner at (0, 0)):

* ``DENZO_X_BEAM``/``DENZO_Y_BEAM`` (Denzo/HKL2000): mm from the first pixel's corner, X along
  the *slow* direction, Y along the *fast* one.  Unambiguous; used when present.
* ``BEAM_CENTER_X``/``BEAM_CENTER_Y`` (ADSC, ADXV convention): mm with the origin at the corner
  of the *last* row, X along fast, Y up the image (against slow), so the beam is at
  ``fast = X / p``, ``slow = n_slow - Y / p`` pixels.  On real ADSC headers the two pairs agree
  (``DENZO_X_BEAM = n_slow p - BEAM_CENTER_Y``, ``DENZO_Y_BEAM = BEAM_CENTER_X``).
* values larger than the detector are pixels (TimePix-style headers).
"""
from __future__ import annotations

import datetime as _dt
import re

import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.base import Format, image_number_from_path, simple_detector
from friedel.formats.cbf import read_head
from friedel.models import Beam, Goniometer, Scan

_TYPES = {"unsigned_short": "u2", "unsigned_int": "u4", "signed_int": "i4", "float": "f4", "signed_short": "i2"}


def smv_epoch(date: str | None) -> float:
    """Seconds since 1970 (UTC) of an SMV ``DATE`` such as ``Thu Apr 17 07:45:15 2008``; 0 if absent."""
    if not date:
        return 0.0
    try:
        stamp = _dt.datetime.strptime(" ".join(date.split()), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return 0.0
    return stamp.replace(tzinfo=_dt.timezone.utc).timestamp()


def beam_centre_px(h: dict, image_size, pixel: float) -> tuple[float, float]:
    """(fast, slow) pixel position of the direct beam from an SMV header (conventions above)."""
    n_fast, n_slow = image_size

    def number(key):
        try:
            return float(h[key])
        except (KeyError, ValueError):
            return None

    dx, dy = number("DENZO_X_BEAM"), number("DENZO_Y_BEAM")
    if dx is not None and dy is not None and 0 <= dy <= n_fast * pixel and 0 <= dx <= n_slow * pixel:
        return dy / pixel, dx / pixel
    bx, by = number("BEAM_CENTER_X"), number("BEAM_CENTER_Y")
    if bx is None or by is None:
        return n_fast / 2.0, n_slow / 2.0
    if bx > n_fast * pixel or by > n_slow * pixel:  # given in pixels
        return bx, by
    return bx / pixel, n_slow - by / pixel


def parse_smv_header(raw: bytes) -> dict:
    """``KEY=value`` items of the ``{...}`` header, keys upper-cased.

    Items end with ``;``; a line break also ends one (some writers omit the ``;``, e.g.
    ``DIALS_ORIGIN=...`` in simulated headers).
    """
    text = raw.split(b"}", 1)[0].decode("latin-1").lstrip("{")
    out = {}
    for item in re.split(r"[;\n]", text):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip().upper()] = v.strip()
    return out


class SMV(Format):
    """ADSC SMV images (also TimePix and simulated SMV files).

    The beam centre comes from DENZO_X_BEAM/DENZO_Y_BEAM when present, else from
    BEAM_CENTER_X/Y in the ADXV convention (see the module docstring); values larger than the
    detector itself are taken as pixels (TimePix convention).
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
        beam_px = beam_centre_px(h, self.image_size, pixel)
        # electrons (wavelengths of a few hundredths of an Angstrom) are unpolarised
        self.beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=wavelength,
                         polarization_fraction=0.5 if wavelength < 0.1 else 0.999)
        overload = float(2 ** (8 * self.dtype.itemsize) - 1) if self.dtype.kind == "u" else 1e6
        self.detector = simple_detector(distance_mm=distance, beam_xy_px=beam_px, pixel_size=(pixel, pixel),
                                        image_size=self.image_size, trusted_range=(-1.0, overload),
                                        identifier=h.get("DETECTOR_SN", ""))
        self.goniometer = Goniometer(rotation_axis=(1.0, 0.0, 0.0))
        number = image_number_from_path(self.path) or 1
        self.scan = Scan((number, number), (float(h.get("OSC_START", 0.0)), float(h.get("OSC_RANGE", 0.0))),
                         exposure_times=[float(h.get("TIME", 0.0))], epochs=[smv_epoch(h.get("DATE"))])

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
