"""Simulated instruments: detector presets, beam, goniometer and scan models.

Detector presets are real PILATUS geometries: modules of 487 x 195 pixels of 0.172 mm
separated by gaps of 7 pixels (between module columns) and 17 pixels (between module rows).
Gap pixels read -1 in the images and are listed as untrusted rectangles on the panel, in the
dxtbx convention ``[x0, y0, x1, y1]`` (0-based, end exclusive) that real DIALS files use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from friedel.errors import FriedelError
from friedel.models import Beam, Detector, Goniometer, Panel, Scan

MODULE_SIZE = (487, 195)  # fast, slow (pixels)
MODULE_GAP = (7, 17)


@dataclass(frozen=True)
class DetectorPreset:
    name: str
    description: str
    modules: tuple[int, int]  # module columns (fast), rows (slow)
    pixel_size: float = 0.172
    thickness: float = 0.45
    count_cutoff: int = 1048500  # PILATUS3 header "Count_cutoff"

    @property
    def image_size(self) -> tuple[int, int]:
        nf, ns = self.modules
        return (nf * MODULE_SIZE[0] + (nf - 1) * MODULE_GAP[0], ns * MODULE_SIZE[1] + (ns - 1) * MODULE_GAP[1])

    def gap_rectangles(self) -> list[list[int]]:
        """Module gaps as ``[x0, y0, x1, y1]`` (0-based, end exclusive), as in DIALS files."""
        nx, ny = self.image_size
        rects = []
        for i in range(1, self.modules[0]):
            x0 = i * MODULE_SIZE[0] + (i - 1) * MODULE_GAP[0]
            rects.append([x0, 0, x0 + MODULE_GAP[0], ny])
        for j in range(1, self.modules[1]):
            y0 = j * MODULE_SIZE[1] + (j - 1) * MODULE_GAP[1]
            rects.append([0, y0, nx, y0 + MODULE_GAP[1]])
        return rects

    def gap_mask(self) -> np.ndarray:
        """Boolean (slow, fast) array, True in the gaps between modules."""
        nx, ny = self.image_size
        gaps = np.zeros((ny, nx), bool)
        for x0, y0, x1, y1 in self.gap_rectangles():
            gaps[y0:y1, x0:x1] = True
        return gaps


DETECTOR_PRESETS = {
    "pilatus6m": DetectorPreset("pilatus6m", "PILATUS3 6M, S/N 60-0000 (simulated)", (5, 12)),
    "pilatus300k": DetectorPreset("pilatus300k", "PILATUS3 300K, S/N 30-0000 (simulated)", (1, 3)),
}


def silicon_mu(wavelength: float) -> float:
    """Linear attenuation coefficient of silicon (1/mm) at ``wavelength`` (Angstrom).

    Taken from :func:`friedel.formats.attenuation.attenuation_coefficient` (what the image
    readers use); without it, photoabsorption well above the Si K edge scales close to
    lambda^2.8, anchored at 3.8324 /mm for 0.96857 A (DIALS's value for a PILATUS there).
    """
    try:  # the same tables the image readers use, so header models match exactly
        from friedel.formats.attenuation import attenuation_coefficient

        mu = attenuation_coefficient("Si", wavelength)
        if mu > 0:
            return float(mu)
    except ImportError:  # pragma: no cover - formats package without attenuation tables
        pass
    return 3.83238 * (wavelength / 0.96857) ** 2.8


def make_detector(preset: str, distance: float, beam_centre_mm, wavelength: float,
                  count_cutoff: int | None = None) -> tuple[Detector, DetectorPreset]:
    """A single-panel PILATUS detector normal to the beam at ``distance`` mm.

    ``beam_centre_mm`` is where the direct beam meets the panel, in mm (fast, slow) from
    the corner of the first pixel.
    """
    if preset not in DETECTOR_PRESETS:
        raise FriedelError(f"unknown detector preset '{preset}'; choose one of {', '.join(DETECTOR_PRESETS)}")
    if distance <= 0:
        raise FriedelError(f"detector distance must be positive, got {distance} mm")
    p = DETECTOR_PRESETS[preset]
    bx, by = beam_centre_mm
    cutoff = p.count_cutoff if count_cutoff is None else int(count_cutoff)
    panel = Panel(
        fast_axis=(1.0, 0.0, 0.0),
        slow_axis=(0.0, -1.0, 0.0),
        origin=(-bx, by, -distance),
        pixel_size=(p.pixel_size, p.pixel_size),
        image_size=p.image_size,
        trusted_range=(-1.0, float(cutoff)),
        thickness=p.thickness,
        material="Si",
        mu=silicon_mu(wavelength),
        identifier=p.description,
        mask=p.gap_rectangles(),
        parallax_correction=True,
    )
    return Detector([panel]), p


def make_beam(wavelength: float, polarization_fraction: float) -> Beam:
    if wavelength <= 0:
        raise FriedelError(f"wavelength must be positive, got {wavelength} A")
    return Beam(direction=(0.0, 0.0, 1.0), wavelength=wavelength,
                polarization_normal=(0.0, 1.0, 0.0), polarization_fraction=polarization_fraction)


def make_goniometer(axis) -> Goniometer:
    axis = np.asarray(axis, dtype=float)
    if np.linalg.norm(axis) == 0:
        raise FriedelError("rotation axis must be a non-zero vector, e.g. rotation_axis=1,0,0")
    return Goniometer(rotation_axis=axis / np.linalg.norm(axis))


def make_scan(n_images: int, start: float, width: float, exposure_time: float) -> Scan:
    if n_images < 1:
        raise FriedelError(f"n_images must be at least 1, got {n_images}")
    if width <= 0:
        raise FriedelError(f"oscillation width must be positive for a rotation sweep, got {width} deg")
    epochs = 1.7e9 + np.arange(n_images) * exposure_time
    return Scan((1, n_images), (start, width), exposure_times=np.full(n_images, exposure_time), epochs=epochs)
