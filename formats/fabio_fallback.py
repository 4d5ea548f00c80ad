"""Fallback reader for single-image formats that fabio reads (TIFF/MarCCD, EDF, MAR345, ...).

It is the least specific reader: any dedicated reader that understands a file wins.  A file
is claimed from its magic number only (the first bytes), for the fabio formats listed in
``FABIO_FORMATS``; CBF, SMV and HDF5 files are left to friedel's own readers.

Models come from the header where the format carries geometry:

* MarCCD TIFF: ``xtal_to_detector`` (mm x 1000), ``beam_x/y`` (px x 1000),
  ``source_wavelength`` (fm), ``pixelsize_x/y`` (nm), ``start_phi``/``end_phi`` (deg x 1000),
  ``exposure_time`` (ms);
* MAR345: ``DISTANCE`` (mm), ``WAVELENGTH`` (A), ``CENTER_X/Y`` (px), ``PIXEL_LENGTH/HEIGHT`` (um),
  ``PHI_START``/``PHI_END`` (deg), ``TIME`` (s);
* EDF with the ESRF keywords: ``SampleDistance`` (m), ``WaveLength`` (m), ``Center_1/2`` (px),
  ``PSize_1/2`` (m), ``ExposureTime`` (s).

Anything missing takes a stated default (``DEFAULTS``; wavelength 1 A, distance 100 mm,
pixel 0.1 mm, beam at the image centre, zero oscillation = a still), listed in
``reader.defaults_used`` and logged as a warning, so an import can be corrected with the
geometry overrides.
"""
from __future__ import annotations

import logging

import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.base import Format, image_number_from_path, simple_detector
from friedel.formats.cbf import read_head
from friedel.models import Beam, Goniometer, Scan

log = logging.getLogger("friedel")

# magic number -> fabio format name (checked in order; longest prefixes first where they overlap)
FABIO_FORMATS = [
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
    (b"\x00\x00\x04\xd2", "mar345"),
    (b"\xd2\x04\x00\x00", "mar345"),
    (b"FORMAT :        86", "bruker100"),
    (b"FORMAT :", "bruker"),
    (b"RAXIS", "raxis"),
    (b"OD SAPPHIRE", "oxd"),
    (b"ESPERANTO FORMAT", "esperanto"),
]

DEFAULTS = {"wavelength": 1.0, "distance_mm": 100.0, "pixel_size_mm": 0.1, "start_angle": 0.0,
            "angle_increment": 0.0, "exposure_time": 0.0}


def _magic(path) -> str | None:
    head = read_head(path, 512)
    for magic, kind in FABIO_FORMATS:
        if head.startswith(magic):
            return kind
    # EDF: a "{" header block with EDF keywords (SMV files also open with "{")
    if head.lstrip().startswith(b"{") and b"HEADER_BYTES" not in head[:64] and (
            b"EDF_" in head or b"ByteOrder" in head or b"DataType" in head):
        return "edf"
    return None


def _float(header: dict, key: str) -> float | None:
    value = header.get(key)
    if value is None:
        return None
    try:
        return float(str(value).split()[0])
    except (TypeError, ValueError, IndexError):
        return None


def header_geometry(header: dict) -> dict:
    """Geometry values (friedel units) found in a fabio header; keys absent when not given."""
    g: dict = {}

    def put(name, value, scale=1.0):
        if value is not None and np.isfinite(value) and name not in g:
            g[name] = value * scale

    # MarCCD (binary TIFF header, integers scaled by 1000 etc.)
    put("distance_mm", _float(header, "xtal_to_detector"), 1e-3)
    put("wavelength", _float(header, "source_wavelength"), 1e-5)  # femtometres -> A
    if _float(header, "pixelsize_x"):
        put("pixel_size_mm", _float(header, "pixelsize_x"), 1e-6)  # nanometres -> mm
    if _float(header, "beam_x") is not None and _float(header, "beam_y") is not None:
        g.setdefault("beam_xy_px", (_float(header, "beam_x") * 1e-3, _float(header, "beam_y") * 1e-3))
    if _float(header, "start_phi") is not None and _float(header, "end_phi") is not None:
        put("start_angle", _float(header, "start_phi"), 1e-3)
        put("angle_increment", _float(header, "end_phi") - _float(header, "start_phi"), 1e-3)
    put("exposure_time", _float(header, "exposure_time"), 1e-3)
    # MAR345
    put("distance_mm", _float(header, "DISTANCE"))
    put("wavelength", _float(header, "WAVELENGTH"))
    if _float(header, "PIXEL_LENGTH"):
        put("pixel_size_mm", _float(header, "PIXEL_LENGTH"), 1e-3)  # um -> mm
    if _float(header, "CENTER_X") is not None and _float(header, "CENTER_Y") is not None:
        g.setdefault("beam_xy_px", (_float(header, "CENTER_X"), _float(header, "CENTER_Y")))
    if _float(header, "PHI_START") is not None and _float(header, "PHI_END") is not None:
        put("start_angle", _float(header, "PHI_START"))
        put("angle_increment", _float(header, "PHI_END") - _float(header, "PHI_START"))
    put("exposure_time", _float(header, "TIME"))
    # EDF, ESRF keywords (SI units)
    put("distance_mm", _float(header, "SampleDistance"), 1e3)
    put("wavelength", _float(header, "WaveLength"), 1e10)
    put("pixel_size_mm", _float(header, "PSize_1"), 1e3)
    if _float(header, "Center_1") is not None and _float(header, "Center_2") is not None:
        g.setdefault("beam_xy_px", (_float(header, "Center_1"), _float(header, "Center_2")))
    put("exposure_time", _float(header, "ExposureTime"))
    return g


class FabioImage(Format):
    """Any single-image format fabio reads (TIFF/MarCCD, EDF, MAR345, Bruker, R-AXIS, ...): fallback."""

    name = "fabio"
    priority = 1

    @classmethod
    def understand(cls, path) -> bool:
        return _magic(path) is not None

    def _open(self):
        import fabio

        try:
            return fabio.open(self.path)
        except Exception as exc:  # fabio raises many kinds of errors on bad files
            raise FileFormatError(f"{self.path}: fabio cannot read this file ({type(exc).__name__}: {exc}); "
                                  "it is truncated, corrupt or not an image") from None

    def _read_header(self) -> None:
        img = self._open()
        self.kind = _magic(self.path)
        if img.nframes != 1:
            raise FileFormatError(f"{self.path}: holds {img.nframes} frames; the fabio reader takes single images")
        shape = img.shape if getattr(img, "shape", None) else img.data.shape
        if len(shape) != 2:
            raise FileFormatError(f"{self.path}: image is not two-dimensional (shape {shape})")
        self.image_size = (int(shape[1]), int(shape[0]))
        self.dtype = np.dtype(img.dtype if getattr(img, "dtype", None) is not None else img.data.dtype)
        g = header_geometry(dict(img.header))
        self.defaults_used = sorted(k for k in (*DEFAULTS, "beam_xy_px") if k not in g)
        for k, v in DEFAULTS.items():
            g.setdefault(k, v)
        g.setdefault("beam_xy_px", (self.image_size[0] / 2.0, self.image_size[1] / 2.0))
        self.geometry = g
        if self.defaults_used:
            log.warning("%s: %s header lacks %s; using defaults (override with geometry.* parameters)",
                        self.path, self.kind, ", ".join(self.defaults_used))
        if g["wavelength"] <= 0 or g["distance_mm"] <= 0 or g["pixel_size_mm"] <= 0:
            raise FileFormatError(f"{self.path}: header gives a non-positive wavelength, distance or pixel size")
        if self.dtype.kind == "u":
            high = float(np.iinfo(self.dtype).max - 1)  # the largest value marks saturation
        elif self.dtype.kind == "i":
            high = float(np.iinfo(self.dtype).max - 1)
        else:
            high = 1e9
        pixel = g["pixel_size_mm"]
        self.beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=g["wavelength"])
        self.detector = simple_detector(distance_mm=g["distance_mm"], beam_xy_px=g["beam_xy_px"],
                                        pixel_size=(pixel, pixel), image_size=self.image_size,
                                        trusted_range=(-1.0, high))
        width = g["angle_increment"]
        self.goniometer = Goniometer(rotation_axis=(1.0, 0.0, 0.0)) if width != 0 else None
        number = image_number_from_path(self.path) or 1
        self.scan = Scan((number, number), (g["start_angle"], width), exposure_times=[g["exposure_time"]],
                         epochs=[0.0])

    def detector_id(self) -> str:
        return f"fabio {self.kind} {self.image_size[0]}x{self.image_size[1]}"

    def get_raw_data(self, index: int = 0):
        if index != 0:
            raise FileFormatError(f"{self.path}: holds one image, asked for image {index + 1}")
        data = np.asarray(self._open().data)
        if data.shape != (self.image_size[1], self.image_size[0]):
            raise FileFormatError(f"{self.path}: image is {data.shape}, header says {self.image_size[::-1]}")
        if data.dtype.kind in "ui" and data.dtype.itemsize <= 4 and not (data.dtype.kind == "u" and data.dtype.itemsize == 4):
            return (data.astype(np.int32),)
        if data.dtype.kind in "ui":
            return (data.astype(np.int64),)
        return (data.astype(np.float64),)
