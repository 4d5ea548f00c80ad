"""Detector panels: pixel <-> millimetre <-> lab-frame conversions with parallax correction."""

from __future__ import annotations

import numpy as np

from friedel.models.geometry import as_list, unit

_PANEL_KNOWN = (
    "name",
    "type",
    "fast_axis",
    "slow_axis",
    "origin",
    "raw_image_offset",
    "image_size",
    "pixel_size",
    "trusted_range",
    "thickness",
    "material",
    "mu",
    "identifier",
    "mask",
    "gain",
    "pedestal",
    "px_mm_strategy",
)


class Panel:
    """One flat sensor.

    A point (x, y) in millimetres on the panel is at ``origin + x*fast_axis + y*slow_axis``
    in the lab frame. Pixel coordinates put the centre of the first pixel at (0.5, 0.5).
    ``mask`` holds untrusted rectangles ``[x0, y0, x1, y1]`` as in dxtbx files: 0-based,
    half-open (columns x0 <= x < x1, rows y0 <= y < y1; checked against dxtbx's get_mask). With ``thickness`` and ``mu`` (1/mm) set, pixel <-> mm
    conversions correct for parallax (rays penetrate the sensor before being absorbed).
    """

    def __init__(
        self,
        fast_axis=(1.0, 0.0, 0.0),
        slow_axis=(0.0, -1.0, 0.0),
        origin=(0.0, 0.0, -100.0),
        pixel_size=(0.172, 0.172),
        image_size=(100, 100),
        trusted_range=(-1.0, 1.0e6),
        thickness: float = 0.0,
        material: str = "",
        mu: float = 0.0,
        name: str = "Panel",
        type: str = "SENSOR_PAD",
        identifier: str = "",
        mask=(),
        gain: float = 1.0,
        pedestal: float = 0.0,
        raw_image_offset=(0, 0),
        parallax_correction: bool | None = None,
        extra: dict | None = None,
    ):
        self.fast_axis = unit(fast_axis)
        self.slow_axis = unit(slow_axis)
        self.origin = np.asarray(origin, dtype=float)
        self.pixel_size = tuple(float(p) for p in pixel_size)
        self.image_size = tuple(int(n) for n in image_size)
        self.trusted_range = tuple(float(t) for t in trusted_range)
        self.thickness = float(thickness)
        self.material = material
        self.mu = float(mu)
        self.name = name
        self.type = type
        self.identifier = identifier
        self.mask = [list(map(int, m)) for m in mask]
        self.gain = float(gain)
        self.pedestal = float(pedestal)
        self.raw_image_offset = tuple(int(o) for o in raw_image_offset)
        if parallax_correction is None:
            parallax_correction = self.thickness > 0 and self.mu > 0
        self.parallax_correction = bool(parallax_correction)
        self.extra = dict(extra or {})

    # -- frames ---------------------------------------------------------------------------
    @property
    def normal(self) -> np.ndarray:
        """Unit normal of the panel, pointing away from the sample side of the origin."""
        n = unit(np.cross(self.fast_axis, self.slow_axis))
        return n if self.origin @ n >= 0 else -n

    @property
    def d_matrix(self) -> np.ndarray:
        """3x3 matrix with columns fast, slow, origin: lab = D @ (x_mm, y_mm, 1)."""
        return np.column_stack([self.fast_axis, self.slow_axis, self.origin])

    @property
    def distance(self) -> float:
        """Perpendicular distance from the sample to the panel plane, in mm."""
        return float(abs(self.origin @ self.normal))

    @property
    def image_size_mm(self) -> tuple[float, float]:
        return (self.image_size[0] * self.pixel_size[0], self.image_size[1] * self.pixel_size[1])

    # -- parallax -------------------------------------------------------------------------
    def _attenuation_offset(self, lab: np.ndarray) -> np.ndarray:
        """Mean absorption depth along each ray (mm), projected later onto the panel axes."""
        cos_t = (lab @ self.normal) / np.linalg.norm(lab, axis=-1)
        t0, mu = self.thickness, self.mu
        return (1.0 / mu) - (t0 / cos_t + 1.0 / mu) * np.exp(-mu * t0 / cos_t)

    def _parallax_shift(self, xy_mm: np.ndarray) -> np.ndarray:
        lab = self.origin + xy_mm[..., :1] * self.fast_axis + xy_mm[..., 1:2] * self.slow_axis
        depth = self._attenuation_offset(lab)
        length = np.linalg.norm(lab, axis=-1)
        return np.stack(
            [(lab @ self.fast_axis) * depth / length, (lab @ self.slow_axis) * depth / length],
            axis=-1,
        )

    # -- conversions ----------------------------------------------------------------------
    def mm_to_px(self, xy_mm) -> np.ndarray:
        """Millimetre positions where rays hit the surface -> observed pixel coordinates."""
        xy = np.asarray(xy_mm, dtype=float)
        if self.parallax_correction:
            xy = xy + self._parallax_shift(xy)
        return xy / np.asarray(self.pixel_size)

    def px_to_mm(self, xy_px) -> np.ndarray:
        """Observed pixel coordinates -> millimetre positions on the surface (inverse of mm_to_px)."""
        observed = np.asarray(xy_px, dtype=float) * np.asarray(self.pixel_size)
        if not self.parallax_correction:
            return observed
        xy = observed.copy()
        for _ in range(6):  # fixed point; the shift varies slowly so this converges fast
            xy = observed - self._parallax_shift(xy)
        return xy

    def mm_to_lab(self, xy_mm) -> np.ndarray:
        xy = np.asarray(xy_mm, dtype=float)
        return self.origin + xy[..., :1] * self.fast_axis + xy[..., 1:2] * self.slow_axis

    def pixel_to_lab(self, xy_px) -> np.ndarray:
        """Pixel coordinates -> lab-frame positions (mm) of the points on the panel."""
        return self.mm_to_lab(self.px_to_mm(xy_px))

    def ray_intersection(self, s1) -> tuple[np.ndarray, np.ndarray]:
        """Intersect rays from the sample along ``s1`` (n x 3) with the panel plane.

        Returns (xy_mm, valid) where ``valid`` is False for rays that miss the plane on
        the far side or land outside the panel.
        """
        s1 = np.atleast_2d(np.asarray(s1, dtype=float))
        D_inv = np.linalg.inv(self.d_matrix)
        v = s1 @ D_inv.T
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = v[:, :2] / v[:, 2:3]
        w = self.image_size_mm
        valid = (
            (v[:, 2] > 0)
            & (xy[:, 0] >= 0)
            & (xy[:, 1] >= 0)
            & (xy[:, 0] < w[0])
            & (xy[:, 1] < w[1])
        )
        return xy, valid

    def resolution_at_pixel(self, s0, xy_px) -> np.ndarray:
        """d-spacing (Angstrom) at pixel coordinates, for incident beam vector ``s0``."""
        s0 = np.asarray(s0, dtype=float)
        lab = self.pixel_to_lab(xy_px)
        s1 = unit(lab) * np.linalg.norm(s0)
        return 1.0 / np.linalg.norm(s1 - s0, axis=-1)

    def beam_centre_mm(self, s0) -> tuple[float, float]:
        """Where the direct beam meets this panel's plane, in mm (fast, slow)."""
        xy, _ = self.ray_intersection(np.asarray(s0, dtype=float)[None])
        return float(xy[0, 0]), float(xy[0, 1])

    def trusted_mask(self) -> np.ndarray:
        """Boolean (slow, fast) array, True where pixels are outside the untrusted rectangles."""
        good = np.ones((self.image_size[1], self.image_size[0]), dtype=bool)
        for x0, y0, x1, y1 in self.mask:
            good[max(y0, 0) : y1, max(x0, 0) : x1] = False
        return good

    # -- files ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict) -> "Panel":
        strategy = (d.get("px_mm_strategy") or {}).get("type", "SimplePxMmStrategy")
        return cls(
            fast_axis=d["fast_axis"],
            slow_axis=d["slow_axis"],
            origin=d["origin"],
            pixel_size=d["pixel_size"],
            image_size=d["image_size"],
            trusted_range=d.get("trusted_range", (-1.0, 1.0e6)),
            thickness=d.get("thickness", 0.0),
            material=d.get("material", ""),
            mu=d.get("mu", 0.0),
            name=d.get("name", "Panel"),
            type=d.get("type", "SENSOR_PAD"),
            identifier=d.get("identifier", ""),
            mask=d.get("mask", ()),
            gain=d.get("gain", 1.0),
            pedestal=d.get("pedestal", 0.0),
            raw_image_offset=d.get("raw_image_offset", (0, 0)),
            parallax_correction=strategy == "ParallaxCorrectedPxMmStrategy",
            extra={k: v for k, v in d.items() if k not in _PANEL_KNOWN},
        )

    def to_dict(self) -> dict:
        strategy = "ParallaxCorrectedPxMmStrategy" if self.parallax_correction else "SimplePxMmStrategy"
        d = {
            "name": self.name,
            "type": self.type,
            "fast_axis": as_list(self.fast_axis),
            "slow_axis": as_list(self.slow_axis),
            "origin": as_list(self.origin),
            "raw_image_offset": list(self.raw_image_offset),
            "image_size": list(self.image_size),
            "pixel_size": list(self.pixel_size),
            "trusted_range": list(self.trusted_range),
            "thickness": self.thickness,
            "material": self.material,
            "mu": self.mu,
            "identifier": self.identifier,
            "mask": [list(m) for m in self.mask],
            "gain": self.gain,
            "pedestal": self.pedestal,
            "px_mm_strategy": {"type": strategy},
        }
        d.update(self.extra)
        return d

    def __repr__(self) -> str:
        return (
            f"Panel({self.name!r}, {self.image_size[0]}x{self.image_size[1]} px of "
            f"{self.pixel_size[0]:.4f} mm, distance {self.distance:.2f} mm)"
        )


class Detector:
    """A list of panels, with the dxtbx panel hierarchy kept as read (for round trips)."""

    def __init__(self, panels, hierarchy: dict | None = None):
        self.panels: list[Panel] = list(panels)
        self.hierarchy = hierarchy

    def __len__(self) -> int:
        return len(self.panels)

    def __getitem__(self, i) -> Panel:
        return self.panels[i]

    def __iter__(self):
        return iter(self.panels)

    def ray_intersection(self, s1) -> tuple[np.ndarray, np.ndarray]:
        """Panel index (-1 for none) and mm coordinates where each ray in ``s1`` lands."""
        s1 = np.atleast_2d(np.asarray(s1, dtype=float))
        panel = np.full(len(s1), -1, dtype=np.int64)
        xy = np.full((len(s1), 2), np.nan)
        best = np.full(len(s1), np.inf)
        for i, p in enumerate(self.panels):
            pxy, valid = p.ray_intersection(s1)
            # nearest panel along the ray wins where panels overlap in projection
            depth = np.abs(p.mm_to_lab(pxy) @ p.normal) if valid.any() else None
            if depth is None:
                continue
            take = valid & (depth < best)
            panel[take] = i
            xy[take] = pxy[take]
            best[take] = depth[take]
        return panel, xy

    def beam_centre_px(self, s0, panel: int = 0) -> tuple[float, float]:
        p = self.panels[panel]
        xy = p.beam_centre_mm(s0)
        return tuple(float(v) for v in np.asarray(xy) / np.asarray(p.pixel_size))

    def max_resolution(self, s0) -> float:
        """Best d-spacing reached at any panel corner."""
        best = np.inf
        for p in self.panels:
            nx, ny = p.image_size
            corners = np.array([[0, 0], [nx, 0], [0, ny], [nx, ny]], dtype=float)
            best = min(best, float(p.resolution_at_pixel(s0, corners).min()))
        return best

    def _default_hierarchy(self) -> dict:
        root = Panel(
            fast_axis=(1, 0, 0), slow_axis=(0, 1, 0), origin=(0, 0, 0), pixel_size=(0, 0),
            image_size=(0, 0), trusted_range=(0, 0), name="", type="",
        ).to_dict()
        root["children"] = [{"panel": i} for i in range(len(self.panels))]
        return root

    @classmethod
    def from_dict(cls, d: dict) -> "Detector":
        """Panels in the lab frame: dxtbx stores each panel in the frame of its hierarchy group
        (the groups' frames compose down from the root), so the frames are composed here."""
        panels = [Panel.from_dict(p) for p in d["panels"]]
        hierarchy = d.get("hierarchy")
        for i, frame in _panel_parent_frames(hierarchy, len(panels)).items():
            o, f, s, n = frame
            p = panels[i]
            p.origin = o + _in_frame(p.origin, f, s, n)
            p.fast_axis, p.slow_axis = _in_frame(p.fast_axis, f, s, n), _in_frame(p.slow_axis, f, s, n)
        return cls(panels, hierarchy=hierarchy)

    def to_dict(self) -> dict:
        """dxtbx layout: each panel written in the frame of its group in the kept hierarchy."""
        panels = [p.to_dict() for p in self.panels]
        if self.hierarchy is None:
            return {"panels": panels, "hierarchy": self._default_hierarchy()}
        for i, (o, f, s, n) in _panel_parent_frames(self.hierarchy, len(panels)).items():
            p = self.panels[i]
            basis = np.array([f, s, n])
            panels[i]["origin"] = as_list(basis @ (np.asarray(p.origin, float) - o))
            panels[i]["fast_axis"] = as_list(basis @ np.asarray(p.fast_axis, float))
            panels[i]["slow_axis"] = as_list(basis @ np.asarray(p.slow_axis, float))
        return {"panels": panels, "hierarchy": self.hierarchy}

    def __repr__(self) -> str:
        return f"Detector({len(self.panels)} panel(s): {self.panels[0]!r}{' ...' if len(self) > 1 else ''})"


def _in_frame(v, f, s, n) -> np.ndarray:
    """Lab-frame vector of ``v`` given in the frame with axes ``f``, ``s``, ``n``."""
    v = np.asarray(v, float)
    return v[0] * f + v[1] * s + v[2] * n


def _panel_parent_frames(hierarchy: dict | None, n_panels: int) -> dict:
    """``{panel index: (origin, fast, slow, normal)}`` of the lab frame of each panel's group.

    Only panels whose group frame is not the lab frame itself are listed. A group's
    ``origin``/``fast_axis``/``slow_axis`` are given in its parent's frame (the root's in the
    lab frame); the normal is fast x slow.
    """
    out: dict = {}
    if not hierarchy:
        return out

    def visit(node, o, f, s, n):
        go = o + _in_frame(node.get("origin", (0, 0, 0)), f, s, n)
        gf = _in_frame(node.get("fast_axis", (1, 0, 0)), f, s, n)
        gs = _in_frame(node.get("slow_axis", (0, 1, 0)), f, s, n)
        gf = gf / np.linalg.norm(gf)
        gs = gs / np.linalg.norm(gs)
        gn = np.cross(gf, gs)
        identity = np.allclose(go, 0) and np.allclose(gf, (1, 0, 0)) and np.allclose(gs, (0, 1, 0))
        for child in node.get("children", []):
            if "panel" in child:
                i = int(child["panel"])
                if 0 <= i < n_panels and not identity:
                    out[i] = (go, gf, gs, gn)
            else:
                visit(child, go, gf, gs, gn)

    visit(hierarchy, np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0]))
    return out
