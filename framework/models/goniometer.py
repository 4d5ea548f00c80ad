"""Rotation goniometers (single axis, or multi-axis with one scan axis)."""

from __future__ import annotations

import numpy as np

from friedel.models.geometry import as_list, axis_angle_matrix, unit

_IDENTITY = np.eye(3)


class Goniometer:
    """A rotation axis with fixed and setting rotations (dxtbx conventions).

    A vector ``r`` fixed to the crystal is at ``S @ R(axis, phi) @ F @ r`` in the lab frame at
    rotation angle ``phi``, where F is the fixed rotation (axes inside the scan axis), S the
    setting rotation (axes outside it) and ``axis`` the datum rotation axis.
    A multi-axis goniometer keeps its ``axes``/``angles``/``names``/``scan_axis`` and derives
    F, S and the scan axis from them; axes are listed innermost first.
    """

    def __init__(
        self,
        rotation_axis=(1.0, 0.0, 0.0),
        fixed_rotation=_IDENTITY,
        setting_rotation=_IDENTITY,
        axes=None,
        angles=None,
        names=None,
        scan_axis: int | None = None,
        extra: dict | None = None,
    ):
        self.extra = dict(extra or {})
        self.axes = None if axes is None else [np.asarray(a, dtype=float) for a in axes]  # as given; unit() on use
        self.angles = None if angles is None else [float(a) for a in angles]
        self.names = None if names is None else list(names)
        self.scan_axis = scan_axis
        if self.axes is not None:
            self._derive_from_axes()
        else:
            self.rotation_axis_datum = unit(rotation_axis)
            self.fixed_rotation = np.asarray(fixed_rotation, dtype=float).reshape(3, 3)
            self.setting_rotation = np.asarray(setting_rotation, dtype=float).reshape(3, 3)

    @property
    def is_multi_axis(self) -> bool:
        return self.axes is not None

    def _derive_from_axes(self) -> None:
        fixed = np.eye(3)
        for axis, angle in zip(self.axes[: self.scan_axis], self.angles[: self.scan_axis]):
            fixed = axis_angle_matrix(axis, np.radians(angle)) @ fixed
        setting = np.eye(3)
        for axis, angle in zip(self.axes[self.scan_axis + 1 :], self.angles[self.scan_axis + 1 :]):
            setting = axis_angle_matrix(axis, np.radians(angle)) @ setting
        self.fixed_rotation = fixed
        self.setting_rotation = setting
        self.rotation_axis_datum = unit(self.axes[self.scan_axis])

    @property
    def rotation_axis(self) -> np.ndarray:
        """The scan axis in the lab frame (setting rotation applied)."""
        return self.setting_rotation @ self.rotation_axis_datum

    def rotation_matrix(self, phi_rad) -> np.ndarray:
        """Full lab-frame rotation ``S R(phi) F`` (3x3, or n x 3 x 3 for an array of angles)."""
        R = axis_angle_matrix(self.rotation_axis_datum, phi_rad)
        return self.setting_rotation @ R @ self.fixed_rotation

    @classmethod
    def from_dict(cls, d: dict) -> "Goniometer":
        if "axes" in d:
            known = ("axes", "angles", "names", "scan_axis")
            return cls(
                axes=d["axes"],
                angles=d["angles"],
                names=d.get("names"),
                scan_axis=int(d["scan_axis"]),
                extra={k: v for k, v in d.items() if k not in known},
            )
        known = ("rotation_axis", "fixed_rotation", "setting_rotation")
        return cls(
            rotation_axis=d["rotation_axis"],
            fixed_rotation=d.get("fixed_rotation", _IDENTITY.ravel()),
            setting_rotation=d.get("setting_rotation", _IDENTITY.ravel()),
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_dict(self) -> dict:
        if self.is_multi_axis:
            d = {
                "axes": [as_list(a) for a in self.axes],
                "angles": list(self.angles),
                "names": list(self.names) if self.names is not None else [""] * len(self.axes),
                "scan_axis": int(self.scan_axis),
            }
        else:
            d = {
                "rotation_axis": as_list(self.rotation_axis_datum),
                "fixed_rotation": as_list(self.fixed_rotation.ravel()),
                "setting_rotation": as_list(self.setting_rotation.ravel()),
            }
        d.update(self.extra)
        return d

    def __repr__(self) -> str:
        axis = ", ".join(f"{x:.4f}" for x in self.rotation_axis)
        kind = f"multi-axis {self.names}" if self.is_multi_axis else "single axis"
        return f"Goniometer({kind}, rotation axis ({axis}))"
