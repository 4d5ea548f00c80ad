"""The incident beam."""

from __future__ import annotations

import numpy as np

from friedel.models.geometry import as_list, unit

_KNOWN = (
    "direction",
    "wavelength",
    "divergence",
    "sigma_divergence",
    "polarization_normal",
    "polarization_fraction",
    "flux",
    "transmission",
)


class Beam:
    """A monochromatic beam.

    ``direction`` points from the sample towards the source (dxtbx convention), so the
    incident wave vector is ``s0 = -direction / wavelength`` (1/Angstrom).
    """

    def __init__(
        self,
        direction=(0.0, 0.0, 1.0),
        wavelength: float = 1.0,
        divergence: float = 0.0,
        sigma_divergence: float = 0.0,
        polarization_normal=(0.0, 1.0, 0.0),
        polarization_fraction: float = 0.999,
        flux: float = 0.0,
        transmission: float = 1.0,
        extra: dict | None = None,
    ):
        direction = np.asarray(direction, dtype=float)
        # keep a stored unit vector bit-for-bit; normalise anything else
        self.direction = direction if abs(np.linalg.norm(direction) - 1) < 1e-12 else unit(direction)
        self.wavelength = float(wavelength)
        self.divergence = float(divergence)
        self.sigma_divergence = float(sigma_divergence)
        self.polarization_normal = np.asarray(polarization_normal, dtype=float)
        self.polarization_fraction = float(polarization_fraction)
        self.flux = float(flux)
        self.transmission = float(transmission)
        self.extra = dict(extra or {})

    @property
    def s0(self) -> np.ndarray:
        """Incident beam vector, length 1/wavelength, pointing from source to sample."""
        return -self.direction / self.wavelength

    @s0.setter
    def s0(self, value) -> None:
        value = np.asarray(value, dtype=float)
        length = np.linalg.norm(value)
        self.wavelength = 1.0 / length
        self.direction = -value / length

    @property
    def unit_s0(self) -> np.ndarray:
        return -self.direction

    @classmethod
    def from_dict(cls, d: dict) -> "Beam":
        extra = {k: v for k, v in d.items() if k not in _KNOWN}
        return cls(
            direction=d["direction"],
            wavelength=d["wavelength"],
            divergence=d.get("divergence", 0.0),
            sigma_divergence=d.get("sigma_divergence", 0.0),
            polarization_normal=d.get("polarization_normal", (0.0, 1.0, 0.0)),
            polarization_fraction=d.get("polarization_fraction", 0.999),
            flux=d.get("flux", 0.0),
            transmission=d.get("transmission", 1.0),
            extra=extra,
        )

    def to_dict(self) -> dict:
        d = {
            "direction": as_list(self.direction),
            "wavelength": self.wavelength,
            "divergence": self.divergence,
            "sigma_divergence": self.sigma_divergence,
            "polarization_normal": as_list(self.polarization_normal),
            "polarization_fraction": self.polarization_fraction,
            "flux": self.flux,
            "transmission": self.transmission,
        }
        d.update(self.extra)
        return d

    def __repr__(self) -> str:
        s0 = ", ".join(f"{x:.6f}" for x in self.s0)
        return f"Beam(wavelength={self.wavelength:.6f} A, s0=({s0}))"
