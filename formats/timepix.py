"""TimePix quad electron-diffraction detector of Stockholm University (SMV, ``BEAMLINE=TimePix_SU``).

Four 256 x 256 TimePix chips make a 2 x 2 quad.  Two ways of storing it are in use:

* 512 x 512 images (the chips as read out): the format splits them into four panels of
  254 x 254 pixels, dropping each chip's outermost pixel row and column (the wide pixels
  next to the gaps between chips), and places the panels 260 pixels apart, which leaves the
  physical gap between chips;
* 516 x 516 images (already resampled on a uniform grid): one panel.

Geometry as DIALS 3.12 models these detectors (measured with dials.import / dials.show):
the beam centre ``BEAM_CENTER_X/Y`` is in pixels of the stored image (for the quad: of the
top-left chip, whose first kept pixel is stored pixel 1); the rotation axis, which the
header does not give, is the instrument's fixed axis; 300 um Si sensor; electrons, so
unpolarised (polarisation fraction 0.5) and no parallax attenuation.
"""
from __future__ import annotations

import numpy as np

from friedel.formats.cbf import read_head
from friedel.formats.smv import SMV, parse_smv_header
from friedel.models import Beam, Detector, Goniometer, Panel

# rotation axes of the two set-ups (unit vectors in the laboratory frame)
ROTATION_AXIS_512 = (-0.7548637593860367, -0.6558816240493246, 0.0)
ROTATION_AXIS_516 = (0.7825634081905295, -0.6225708892658111, 0.0)
CHIP = 256        # pixels per chip side as stored
KEPT = 254        # pixels per chip side kept as a panel
PANEL_PITCH = 260  # pixels between the first pixels of neighbouring panels


class TimePixSU(SMV):
    """Stockholm University TimePix quad (SMV): 512x512 files as four 254x254 panels, 516x516 as one."""

    name = "smv_timepix_su"
    priority = 15

    @classmethod
    def understand(cls, path) -> bool:
        if not SMV.understand(path):
            return False
        h = parse_smv_header(read_head(path, 1024))
        return h.get("BEAMLINE", "").upper() == "TIMEPIX_SU" and h.get("SIZE1") in ("512", "516") \
            and h.get("SIZE1") == h.get("SIZE2")

    def _read_header(self) -> None:
        super()._read_header()  # header values, dtype, scan; replace the models
        h = self.header
        self.beam = Beam(direction=(0.0, 0.0, 1.0), wavelength=self.beam.wavelength, polarization_fraction=0.5)
        pixel = float(h["PIXEL_SIZE"])
        distance = float(h["DISTANCE"])
        bx, by = float(h["BEAM_CENTER_X"]), float(h["BEAM_CENTER_Y"])
        common = dict(fast_axis=(1.0, 0.0, 0.0), slow_axis=(0.0, -1.0, 0.0), pixel_size=(pixel, pixel),
                      trusted_range=(-1.0, 65535.0), thickness=0.3, material="Si", mu=0.0,
                      identifier=h.get("DETECTOR_SN", ""))
        self.quad = self.image_size == (2 * CHIP, 2 * CHIP)
        if self.quad:
            first = np.array([-(bx - 1.0) * pixel, (by - 1.0) * pixel, -distance])
            panels = []
            for row in range(2):
                for col in range(2):
                    origin = first + PANEL_PITCH * pixel * np.array([col, -row, 0.0])
                    panels.append(Panel(origin=origin, image_size=(KEPT, KEPT), name=f"Panel{2 * row + col}",
                                        raw_image_offset=(1 + CHIP * col, 1 + CHIP * row), **common))
            self.detector = Detector(panels)
            axis = ROTATION_AXIS_512
        else:
            origin = np.array([-bx * pixel, by * pixel, -distance])
            self.detector = Detector([Panel(origin=origin, image_size=self.image_size, **common)])
            axis = ROTATION_AXIS_516
        self.goniometer = Goniometer(rotation_axis=axis)

    def get_raw_data(self, index: int = 0):
        (full,) = super().get_raw_data(index)
        if not self.quad:
            return (full,)
        return tuple(np.ascontiguousarray(full[y0:y0 + KEPT, x0:x0 + KEPT])
                     for x0, y0 in (p.raw_image_offset for p in self.detector))
