"""Scans: image range, oscillation and per-image exposure times."""

from __future__ import annotations

import numpy as np

_KNOWN = (
    "image_range", "batch_offset", "oscillation", "exposure_time", "epochs", "valid_image_ranges",
    "properties",
)


class Scan:
    """A sequence of images ``image_range = (first, last)`` (1-based, inclusive).

    Frame coordinates ``z`` follow DIALS: image ``n`` spans ``[n-1, n)``, so the rotation
    angle at frame ``z`` is ``start + (z - (first - 1)) * width`` (degrees).
    A zero ``oscillation`` width marks stills.
    """

    def __init__(
        self,
        image_range=(1, 1),
        oscillation=(0.0, 0.0),
        exposure_times=None,
        epochs=None,
        batch_offset: int = 0,
        valid_image_ranges: dict | None = None,
        extra: dict | None = None,
    ):
        self.image_range = (int(image_range[0]), int(image_range[1]))
        self.oscillation = (float(oscillation[0]), float(oscillation[1]))
        n = self.num_images
        self.exposure_times = np.asarray(
            exposure_times if exposure_times is not None else np.zeros(n), dtype=float
        )
        self.epochs = np.asarray(epochs if epochs is not None else np.zeros(n), dtype=float)
        self.batch_offset = int(batch_offset)
        self.valid_image_ranges = dict(valid_image_ranges or {})
        self.extra = dict(extra or {})

    @property
    def num_images(self) -> int:
        return self.image_range[1] - self.image_range[0] + 1

    @property
    def array_range(self) -> tuple[int, int]:
        """Frame-coordinate range covered by the scan, ``(first - 1, last)``."""
        return (self.image_range[0] - 1, self.image_range[1])

    @property
    def is_still(self) -> bool:
        return self.oscillation[1] == 0.0

    @property
    def oscillation_range(self) -> tuple[float, float]:
        start, width = self.oscillation
        return (start, start + width * self.num_images)

    def angle_from_frame(self, z) -> np.ndarray:
        """Rotation angle in degrees at frame coordinate(s) ``z``."""
        start, width = self.oscillation
        return start + (np.asarray(z, dtype=float) - self.array_range[0]) * width

    def frame_from_angle(self, phi_deg) -> np.ndarray:
        """Frame coordinate(s) at rotation angle(s) ``phi_deg`` (degrees)."""
        start, width = self.oscillation
        return self.array_range[0] + (np.asarray(phi_deg, dtype=float) - start) / width

    def __getitem__(self, item: slice) -> "Scan":
        """A sub-scan from a slice of image positions (0-based, like a list of the images)."""
        idx = np.arange(self.num_images)[item]
        first = self.image_range[0] + int(idx[0])
        last = self.image_range[0] + int(idx[-1])
        start = self.oscillation[0] + idx[0] * self.oscillation[1]
        return Scan(
            (first, last),
            (start, self.oscillation[1]),
            self.exposure_times[idx] if len(self.exposure_times) == self.num_images else None,
            self.epochs[idx] if len(self.epochs) == self.num_images else None,
            self.batch_offset,
        )

    @classmethod
    def from_dict(cls, d: dict) -> "Scan":
        props = d.get("properties", d)  # newer dxtbx nests per-image values in "properties"
        return cls(
            image_range=d["image_range"],
            oscillation=props.get("oscillation", d.get("oscillation", (0.0, 0.0))),
            exposure_times=props.get("exposure_time"),
            epochs=props.get("epochs"),
            batch_offset=d.get("batch_offset", 0),
            valid_image_ranges=d.get("valid_image_ranges"),
            extra={k: v for k, v in d.items() if k not in _KNOWN},
        )

    def to_dict(self) -> dict:
        d = {
            "image_range": list(self.image_range),
            "batch_offset": self.batch_offset,
            "oscillation": list(self.oscillation),
            "exposure_time": self.exposure_times.tolist(),
            "epochs": self.epochs.tolist(),
            "valid_image_ranges": self.valid_image_ranges,
        }
        d.update(self.extra)
        return d

    def __repr__(self) -> str:
        lo, hi = self.oscillation_range
        return (
            f"Scan(images {self.image_range[0]}-{self.image_range[1]}, "
            f"{self.oscillation[0]:.3f} + {self.oscillation[1]:.3f} deg/image, {lo:.2f}-{hi:.2f} deg)"
        )
