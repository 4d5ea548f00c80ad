"""miniCBF files from DECTRIS Pilatus and Eiger detectors (``PILATUS_1.2`` header convention)."""
from __future__ import annotations

import datetime as _dt

import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.attenuation import attenuation_coefficient
from friedel.formats.base import Format, image_number_from_path, module_gap_rectangles, simple_detector
from friedel.formats.cbf import (BINARY_START, check_binary_size, decode_binary_sections, parse_pilatus_header,
                                 read_cbf_bytes, read_head)
from friedel.models import Beam, Goniometer, Scan


def _header_text(path, limit: int = 65536) -> str:
    head = read_head(path, limit)
    end = head.find(BINARY_START)
    return head[: end if end >= 0 else len(head)].decode("latin-1")


def _mime_int(text: str, key: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(key + ":"):
            try:
                return int(line.split(":", 1)[1])
            except ValueError:
                return None
    return None


def _epoch(stamp: str | None) -> float:
    """Seconds since 1970 of a header time stamp, read as UTC (the header names no zone); 0 if absent."""
    if not stamp:
        return 0.0
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y/%b/%d %H:%M:%S.%f"):
        try:
            return _dt.datetime.strptime(stamp.strip().strip("'\""), fmt).replace(tzinfo=_dt.timezone.utc).timestamp()
        except ValueError:
            continue
    return 0.0


# Detectors on beamlines whose rotation axis the header does not describe (the header's
# Oscillation_axis names the detector's X even there), as DIALS 3.12 models them.
ROTATION_AXIS_BY_SERIAL = {
    "60-0119": (0.0, 1.0, 0.0),  # PILATUS3 6M at DLS I24: vertical rotation axis
}


class MiniCBF(Format):
    """Pilatus / Eiger miniCBF (byte-offset compressed, optionally .gz/.bz2).

    Negative pixel values mark inter-module gaps (-1) and bad pixels (-2); they fall outside the
    trusted range (-1, Count_cutoff) and module gaps are also stored as panel mask rectangles.
    """

    name = "minicbf"
    priority = 10

    @classmethod
    def understand(cls, path) -> bool:
        head = read_head(path, 2048)
        return head.startswith(b"###CBF") and b'header_convention "PILATUS' in head or (
            head.startswith(b"###CBF") and b'header_convention "SLS' in head)

    def _read_header(self) -> None:
        text = _header_text(self.path)
        h = parse_pilatus_header(text)
        self.header = h
        missing = [k for k in ("wavelength", "distance_mm", "beam_xy_px", "pixel_size_mm") if k not in h]
        if missing:
            raise FileFormatError(f"{self.path}: miniCBF header lacks {', '.join(missing)}")
        n_fast = _mime_int(text, "X-Binary-Size-Fastest-Dimension")
        n_slow = _mime_int(text, "X-Binary-Size-Second-Dimension")
        if not n_fast or not n_slow:
            raise FileFormatError(f"{self.path}: CBF binary header lacks the image dimensions (truncated file?)")
        n_elements = _mime_int(text, "X-Binary-Number-of-Elements")
        size = _mime_int(text, "X-Binary-Size")
        check_binary_size(self.path, size if size is not None else n_fast * n_slow, n_fast, n_slow,
                          n_elements if n_elements is not None else n_fast * n_slow,
                          "byte_offset" if "BYTE_OFFSET" in text.upper() else "other")
        self.image_size = (n_fast, n_slow)
        wavelength = h["wavelength"]
        self.beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=wavelength,
                         polarization_fraction=0.999)
        material = "Si" if h.get("sensor_material", "Silicon").lower().startswith("si") else h.get("sensor_material", "")
        thickness = h.get("thickness_mm", 0.0)
        cutoff = h.get("count_cutoff", 1_000_000)
        self.detector = simple_detector(
            distance_mm=h["distance_mm"], beam_xy_px=h["beam_xy_px"], pixel_size=h["pixel_size_mm"],
            image_size=self.image_size, trusted_range=(-1.0, float(cutoff)), thickness=thickness,
            material=material, mu=attenuation_coefficient(material, wavelength),
            identifier=h.get("serial", ""), mask=module_gap_rectangles(self.image_size),
        )
        axis = h.get("oscillation_axis", "X.CW").upper()
        direction = -1.0 if "CCW" in axis else 1.0
        vector = {"X": (direction, 0.0, 0.0), "Y": (0.0, direction, 0.0)}.get(axis.strip()[:1], (direction, 0, 0))
        vector = ROTATION_AXIS_BY_SERIAL.get(h.get("serial", ""), vector)
        self.goniometer = Goniometer(rotation_axis=vector)
        number = image_number_from_path(self.path) or 1
        self.scan = Scan(
            image_range=(number, number),
            oscillation=(h.get("start_angle", 0.0), h.get("angle_increment", 0.0)),
            exposure_times=[h.get("exposure_time", 0.0)],
            epochs=[_epoch(h.get("timestamp"))],
        )

    def detector_id(self) -> str:
        return self.header.get("detector", self.name)

    def get_raw_data(self, index: int = 0):
        if index != 0:
            raise FileFormatError(f"{self.path}: holds one image, asked for image {index + 1}")
        raw = read_cbf_bytes(self.path)
        data = decode_binary_sections(raw, self.path)[0].data
        if data.shape != (self.image_size[1], self.image_size[0]):
            raise FileFormatError(f"{self.path}: image is {data.shape}, header says {self.image_size[::-1]}")
        return (data,)
