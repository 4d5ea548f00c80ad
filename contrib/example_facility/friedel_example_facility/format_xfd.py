"""Reader (and writer, for tests) of the Example Facility Detector's ``.xfd`` files.

Layout: the magic line ``XFD1``, then ``key = value`` lines, an empty line, then
``nslow * nfast`` little-endian uint16 pixels. Keys: nfast, nslow, pixel_size_mm,
distance_mm, wavelength_A, beam_x_px, beam_y_px, phi_start_deg, phi_width_deg,
exposure_s, saturation. Pixels at 65535 are dead.
"""

from __future__ import annotations

import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.base import Format, image_number_from_path, simple_detector
from friedel.models import Beam, Goniometer, Scan

MAGIC = b"XFD1\n"


def write_xfd(path, data: np.ndarray, **header) -> None:
    """Write one image; ``header`` holds the keys listed in the module docstring."""
    data = np.asarray(data, dtype="<u2")
    header = {"nfast": data.shape[1], "nslow": data.shape[0], **header}
    text = "".join(f"{k} = {v}\n" for k, v in header.items())
    with open(path, "wb") as handle:
        handle.write(MAGIC + text.encode() + b"\n" + data.tobytes())


class FormatXFD(Format):
    """Example Facility Detector (.xfd: text header + raw uint16)."""

    name = "xfd"
    priority = 50

    @classmethod
    def understand(cls, path) -> bool:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC

    def _read_header(self) -> None:
        with open(self.path, "rb") as handle:
            raw = handle.read(4096)
        text, sep, _ = raw[len(MAGIC):].partition(b"\n\n")
        if not sep:
            raise FileFormatError(f"{self.path}: XFD header is not terminated; the file is truncated")
        h = dict(line.split(" = ", 1) for line in text.decode().splitlines())
        self._offset = len(MAGIC) + len(text) + 2
        self._shape = (int(h["nslow"]), int(h["nfast"]))
        pixel = float(h["pixel_size_mm"])
        self.beam = Beam(direction=(0, 0, 1), wavelength=float(h["wavelength_A"]))
        self.detector = simple_detector(
            distance_mm=float(h["distance_mm"]), beam_xy_px=(float(h["beam_x_px"]), float(h["beam_y_px"])),
            pixel_size=(pixel, pixel), image_size=(self._shape[1], self._shape[0]),
            trusted_range=(-1, float(h["saturation"])), name="XFD",
        )
        self.goniometer = Goniometer(rotation_axis=(1, 0, 0))
        number = image_number_from_path(self.path) or 1
        self.scan = Scan(image_range=(number, number),
                         oscillation=(float(h["phi_start_deg"]), float(h["phi_width_deg"])),
                         exposure_times=[float(h["exposure_s"])], epochs=[0.0])

    def get_raw_data(self, index: int = 0):
        n = self._shape[0] * self._shape[1]
        data = np.fromfile(self.path, dtype="<u2", count=n, offset=self._offset)
        if len(data) != n:
            raise FileFormatError(f"{self.path}: expected {n} pixels, found {len(data)}; the file is truncated")
        return (data.reshape(self._shape).astype(np.int32),)

    def get_static_mask(self):
        return (self.get_raw_data()[0] != 65535,)

    def detector_id(self) -> str:
        return "Example Facility Detector"
