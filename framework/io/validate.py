"""Sanity checks of the models read from an ``.expt`` file.

A damaged or hand-edited experiment list can hold numbers no instrument has: a wavelength of
zero, a rotation axis of length zero, a NaN in a panel's origin. Caught when the file is read,
they are a one-line error naming the file and the model; left alone they surfaced deep inside
indexing as "internal error: ValueError: data must be finite".
"""

from __future__ import annotations

import numpy as np

from friedel.errors import FileFormatError


def _finite(values) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=float))))


def _vec(values) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in np.asarray(values, dtype=float).ravel()) + ")"


def _direction(values) -> bool:
    v = np.asarray(values, dtype=float)
    return _finite(v) and float(np.linalg.norm(v)) > 1e-9


def check_models(experiments, path: str) -> None:
    """Raise FileFormatError naming ``path`` and the first impossible model value found."""
    problems = []
    for i, e in enumerate(experiments):
        where = f"experiment {i}"
        b = e.beam
        if b is not None:
            if not (np.isfinite(b.wavelength) and b.wavelength > 0):
                problems.append(f"{where}: beam wavelength {b.wavelength} (must be a positive number of Angstrom)")
            if not _direction(b.direction):
                problems.append(f"{where}: beam direction {_vec(b.direction)} is not a direction")
        if e.detector is not None:
            for k, p in enumerate(e.detector):
                name = f"{where}: panel {k}"
                if not (_finite(p.pixel_size) and min(p.pixel_size) > 0):
                    problems.append(f"{name}: pixel size {p.pixel_size} (must be positive mm)")
                if min(p.image_size) <= 0:
                    problems.append(f"{name}: image size {p.image_size} (must be positive pixels)")
                if not (_direction(p.fast_axis) and _direction(p.slow_axis) and _finite(p.origin)):
                    problems.append(f"{name}: its axes or origin are not finite vectors")
        g = e.goniometer
        if g is not None:
            axis = getattr(g, "rotation_axis", None)
            axis = g.rotation_axis_datum if axis is None else axis
            if not _direction(axis):
                problems.append(f"{where}: rotation axis {_vec(axis)} is not a direction")
        s = e.scan
        if s is not None and not _finite(s.oscillation):
            problems.append(f"{where}: scan oscillation {s.oscillation} is not finite")
        c = e.crystal
        if c is not None:
            A = np.asarray(c.A, dtype=float)
            if not _finite(A) or abs(np.linalg.det(A)) < 1e-15:
                problems.append(f"{where}: the crystal's A matrix is not finite or is singular")
        if problems:
            break
    if problems:
        raise FileFormatError(f"{path}: impossible model value(s): {problems[0]}; the file is damaged or was "
                              "edited wrongly: make it again with the step that wrote it")
