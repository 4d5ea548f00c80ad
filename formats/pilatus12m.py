"""The curved PILATUS 12M of Diamond Light Source beamline I23 (miniCBF, 24 module rows).

The detector is a half cylinder: 24 rows of 5 Pilatus modules, each row a flat panel of
2463 x 195 pixels, placed edge to edge around a horizontal cylinder whose axis runs along
the laboratory x axis (parallel to the panels' fast direction).  The file stores the rows
one above the other with 17-pixel gaps (2463 x 5071 pixels), so reading splits the image
into 24 arrays.

Geometry (the model DIALS 3.12 builds for this instrument, measured with dials.import /
dials.show, and checked to move with the header as DIALS moves it):

* cylinder radius 250 mm; each row is tangent to it 16.8 mm from its first pixel row;
* row k's slow axis is (0, sin t, -cos t) with t = -8.2485 + 8.344 k degrees, fast axis -x;
* the cylinder axis passes through (0, (2594 - beam_y) p, -distance), where beam_y is the
  header's ``Beam_xy`` slow coordinate, p the pixel size and distance the header's
  ``Detector_distance``; the fast origin of every row is at x = beam_x p.

The goniometer is the I23 kappa: phi (1, 0, 0), kappa at 50 degrees to it in the x-y
plane, omega (1, 0, 0) scanning; angles from the header.
"""
from __future__ import annotations

import numpy as np

from friedel.errors import FileFormatError
from friedel.formats.attenuation import attenuation_coefficient
from friedel.formats.base import module_gap_rectangles
from friedel.formats.cbf import read_head
from friedel.formats.minicbf import MiniCBF
from friedel.models import Detector, Goniometer, Panel

N_ROWS = 24
ROW_PIXELS = 195
ROW_GAP = 17
RADIUS_MM = 250.0
TANGENT_OFFSET_MM = 16.8
FIRST_ROW_ANGLE_DEG = -8.2485
ROW_PITCH_DEG = 8.344
AXIS_SLOW_REFERENCE_PX = 2594.0
KAPPA_ALPHA_DEG = 50.0


def cylinder_panels(*, beam_xy_px, distance_mm, pixel_size, n_fast, **panel_kw) -> list[Panel]:
    """The 24 flat row panels of the I23 12M for a header beam centre and distance."""
    p_fast, p_slow = pixel_size
    centre = np.array([0.0, (AXIS_SLOW_REFERENCE_PX - beam_xy_px[1]) * p_slow, -distance_mm])
    fast = np.array([-1.0, 0.0, 0.0])
    panels = []
    for k in range(N_ROWS):
        t = np.radians(FIRST_ROW_ANGLE_DEG + ROW_PITCH_DEG * k)
        slow = np.array([0.0, np.sin(t), -np.cos(t)])
        normal = np.cross(fast, slow)  # away from the cylinder axis
        origin = centre + RADIUS_MM * normal - TANGENT_OFFSET_MM * slow
        origin[0] = beam_xy_px[0] * p_fast
        panels.append(Panel(fast_axis=fast, slow_axis=slow, origin=origin, pixel_size=pixel_size,
                            image_size=(n_fast, ROW_PIXELS), name=f"row-{k:02d}", **panel_kw))
    return panels


class PilatusDLS12M(MiniCBF):
    """DLS I23 PILATUS 12M miniCBF: 24 module rows on a cylinder, kappa goniometer."""

    name = "minicbf_dls_i23_12m"
    priority = 15

    @classmethod
    def understand(cls, path) -> bool:
        if not MiniCBF.understand(path):
            return False
        head = read_head(path, 4096)
        return b"PILATUS 12M" in head and b"X-Binary-Size-Second-Dimension: 5071" in head

    def _read_header(self) -> None:
        super()._read_header()  # header values, scan; replace detector and goniometer
        h = self.header
        n_fast, n_slow = self.image_size
        if n_slow != N_ROWS * ROW_PIXELS + (N_ROWS - 1) * ROW_GAP:
            raise FileFormatError(f"{self.path}: a PILATUS 12M image must be 5071 pixels high, not {n_slow}")
        wavelength = self.beam.wavelength
        thickness = h.get("thickness_mm", 0.0)
        self.detector = Detector(cylinder_panels(
            beam_xy_px=h["beam_xy_px"], distance_mm=h["distance_mm"], pixel_size=h["pixel_size_mm"],
            n_fast=n_fast, trusted_range=(-1.0, float(h.get("count_cutoff", 1_000_000))),
            thickness=thickness, material="Si", mu=attenuation_coefficient("Si", wavelength),
            identifier=h.get("serial", ""), mask=module_gap_rectangles((n_fast, ROW_PIXELS)),
        ))
        alpha = np.radians(KAPPA_ALPHA_DEG)
        self.goniometer = Goniometer(
            axes=[(1.0, 0.0, 0.0), (np.cos(alpha), -np.sin(alpha), 0.0), (1.0, 0.0, 0.0)],
            angles=[h.get("phi", 0.0), h.get("kappa", 0.0), h.get("omega", self.scan.oscillation[0])],
            names=["PHI", "KAPPA", "OMEGA"], scan_axis=2,
        )

    def get_raw_data(self, index: int = 0):
        (full,) = super().get_raw_data(index)
        step = ROW_PIXELS + ROW_GAP
        return tuple(np.ascontiguousarray(full[k * step:k * step + ROW_PIXELS]) for k in range(N_ROWS))
