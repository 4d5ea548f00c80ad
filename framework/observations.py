"""Observed spot positions in millimetres, radians and reciprocal space.

These fill the DIALS columns ``xyzobs.mm.value``/``variance`` (x, y in mm on the panel,
rotation angle in radians), ``s1`` (diffracted beam, length 1/wavelength) and ``rlp``
(reciprocal-lattice point in the crystal frame at zero rotation, so that ``A @ h = rlp``).
"""

from __future__ import annotations

import numpy as np

from friedel.models.geometry import rotate_vectors, unit


def centroids_px_to_mm(experiments, reflections) -> None:
    """Fill ``xyzobs.mm.value``/``variance`` from ``xyzobs.px.value``/``variance``."""
    px = reflections["xyzobs.px.value"]
    var_px = reflections["xyzobs.px.variance"] if "xyzobs.px.variance" in reflections else np.zeros_like(px)
    mm = np.zeros_like(px, dtype=float)
    var = np.zeros_like(px, dtype=float)
    ids = reflections["id"]
    panels = reflections["panel"] if "panel" in reflections else np.zeros(len(px), np.int64)
    for i_expt, expt in enumerate(experiments):
        in_expt = ids == i_expt
        if not in_expt.any():
            continue
        for i_panel, panel in enumerate(expt.detector):
            sel = in_expt & (panels == i_panel)
            if not sel.any():
                continue
            mm[sel, :2] = panel.px_to_mm(px[sel, :2])
            ps = np.asarray(panel.pixel_size)
            var[sel, :2] = var_px[sel, :2] * ps**2
        if expt.scan is not None and not expt.scan.is_still:
            width = np.radians(expt.scan.oscillation[1])
            mm[in_expt, 2] = np.radians(expt.scan.angle_from_frame(px[in_expt, 2]))
            var[in_expt, 2] = var_px[in_expt, 2] * width**2
    reflections["xyzobs.mm.value"] = mm
    reflections["xyzobs.mm.variance"] = var


def map_to_reciprocal_space(experiments, reflections) -> None:
    """Fill ``s1`` and ``rlp`` from ``xyzobs.mm.value`` (computed first if missing)."""
    if "xyzobs.mm.value" not in reflections:
        centroids_px_to_mm(experiments, reflections)
    mm = reflections["xyzobs.mm.value"]
    ids = reflections["id"]
    panels = reflections["panel"] if "panel" in reflections else np.zeros(len(mm), np.int64)
    s1 = np.zeros((len(mm), 3))
    rlp = np.zeros((len(mm), 3))
    for i_expt, expt in enumerate(experiments):
        in_expt = ids == i_expt
        if not in_expt.any():
            continue
        s0 = expt.beam.s0
        for i_panel, panel in enumerate(expt.detector):
            sel = in_expt & (panels == i_panel)
            if sel.any():
                s1[sel] = unit(panel.mm_to_lab(mm[sel, :2])) * np.linalg.norm(s0)
        r = s1[in_expt] - s0
        gonio = expt.goniometer
        if gonio is not None and expt.scan is not None and not expt.scan.is_still:
            r = r @ gonio.setting_rotation  # S^-1 r (S is orthogonal), row-vector form
            r = rotate_vectors(r, gonio.rotation_axis_datum, -mm[in_expt, 2])
            r = r @ gonio.fixed_rotation  # F^-1 r
        rlp[in_expt] = r
    reflections["s1"] = s1
    reflections["rlp"] = rlp
