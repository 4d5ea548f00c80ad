"""Example Facility Detector (.xfd): ``XFD1``, ``key = value`` lines, an empty line, raw uint16 pixels."""

import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.base import Format, image_number_from_path, simple_detector
from friedel.models import Beam, Goniometer, Scan

MAGIC = b"XFD1\n"


class FormatXFD(Format):
    """Example Facility Detector (.xfd: text header + raw uint16)."""

    name, priority = "xfd", 50

    @classmethod
    def understand(cls, path) -> bool:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC

    def _read_header(self) -> None:
        with open(self.path, "rb") as handle:
            text = handle.read(4096)[len(MAGIC):].partition(b"\n\n")[0]  # a bad header: friedel says so
        h = {k: float(v) for k, v in (line.split(" = ") for line in text.decode().splitlines())}
        self._offset, self._shape = len(MAGIC) + len(text) + 2, (int(h["nslow"]), int(h["nfast"]))
        self.beam = Beam(direction=(0, 0, 1), wavelength=h["wavelength_A"])
        self.detector = simple_detector(distance_mm=h["distance_mm"], beam_xy_px=(h["beam_x_px"], h["beam_y_px"]),
                                        pixel_size=(h["pixel_size_mm"],) * 2, image_size=self._shape[::-1],
                                        trusted_range=(-1, h["saturation"]), name="XFD")
        self.goniometer = Goniometer(rotation_axis=(1, 0, 0))
        number = image_number_from_path(self.path) or 1  # run_00042.xfd is image 42
        self.scan = Scan(image_range=(number, number), oscillation=(h["phi_start_deg"], h["phi_width_deg"]),
                         exposure_times=[h["exposure_s"]], epochs=[0.0])

    def get_raw_data(self, index: int = 0):
        n = self._shape[0] * self._shape[1]
        data = np.fromfile(self.path, dtype="<u2", count=n, offset=self._offset)
        if len(data) != n:
            raise FileFormatError(f"{self.path}: expected {n} pixels, found {len(data)}; the file is truncated")
        return (data.reshape(self._shape).astype(np.int32),)
