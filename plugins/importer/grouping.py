"""Group image files into rotation sweeps and still sets.

Files of a sweep share a template (``name_#####.cbf``: the last run of digits in the file name
is the image number), have consecutive numbers, contiguous oscillation and equal geometry.
A gap, a geometry change or a break in the oscillation starts a new sweep; zero-width images
(and files without a goniometer) are stills.

"Equal geometry" for the goniometer means the same rotation axis, fixed rotation and setting
rotation (what the goniometer does to the crystal).  The angle of the *scan* axis of a
multi-axis goniometer changes from image to image by design: it belongs to the scan, not to
the goniometer setting, so it is not compared (a kappa sweep whose ``Omega`` advances
0.1 deg per file is one sweep, not one sweep per file).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from friedel.errors import FriedelError
from friedel.formats.base import Format

_DIGITS = re.compile(r"(\d+)(?=\D*$)")


def template_of(path: str) -> tuple[str | None, int | None]:
    """(template with '#' for the image number, the number) of a file path."""
    directory, name = os.path.split(os.path.abspath(path))
    base, suffix = name, ""
    for s in (".gz", ".bz2"):
        if base.endswith(s):
            base, suffix = base[: -len(s)], s
    m = _DIGITS.search(base)
    if not m:
        return None, None
    template = base[: m.start()] + "#" * (m.end() - m.start()) + base[m.end():] + suffix
    return os.path.join(directory, template), int(m.group(1))


def _flatten(d, out):
    if isinstance(d, dict):
        for k in sorted(d):
            if k not in ("identifier",):
                _flatten(d[k], out)
    elif isinstance(d, (list, tuple)):
        for v in d:
            _flatten(v, out)
    elif isinstance(d, (int, float, np.floating, np.integer)) and not isinstance(d, bool):
        out.append(float(d))
    else:
        out.append(d)
    return out


def same_model(a, b, tol: float = 1e-6) -> bool:
    """Models equal within ``tol`` (relative to magnitude) in every number, exactly in the rest."""
    if a is None or b is None:
        return a is None and b is None
    fa, fb = _flatten(a.to_dict(), []), _flatten(b.to_dict(), [])
    if len(fa) != len(fb):
        return False
    for x, y in zip(fa, fb):
        if isinstance(x, float) and isinstance(y, float):
            if abs(x - y) > tol * max(1.0, abs(x), abs(y)):
                return False
        elif x != y:
            return False
    return True


def same_goniometer(a, b, tol: float = 1e-6) -> bool:
    """Same rotation axis, fixed rotation and setting rotation (the scan-axis angle is ignored).

    For a multi-axis goniometer the fixed rotation comes from the axes inside the scan axis and
    the setting rotation from those outside it; the scan axis's own angle is the scan's start
    and is not part of the setting.  The axis names and order must also agree.
    """
    if a is None or b is None:
        return a is None and b is None
    if a.is_multi_axis != b.is_multi_axis:
        return False
    if a.is_multi_axis and (len(a.axes) != len(b.axes) or a.scan_axis != b.scan_axis
                            or list(a.names or []) != list(b.names or [])):
        return False
    return all(np.allclose(x, y, rtol=0.0, atol=tol) for x, y in (
        (a.rotation_axis_datum, b.rotation_axis_datum),
        (a.fixed_rotation, b.fixed_rotation),
        (a.setting_rotation, b.setting_rotation)))


@dataclass
class Sweep:
    """Consecutive single-image files (or one container) forming one rotation scan."""
    readers: list[Format] = field(default_factory=list)
    template: str | None = None
    numbers: list[int] = field(default_factory=list)


@dataclass
class Stills:
    readers: list[Format] = field(default_factory=list)


def is_still(reader: Format) -> bool:
    return reader.goniometer is None or reader.scan is None or reader.scan.oscillation[1] == 0.0


def _continues(sweep: Sweep, reader: Format, number: int, template: str) -> bool:
    last = sweep.readers[-1]
    if template != sweep.template or number != sweep.numbers[-1] + 1:
        return False
    start, width = last.scan.oscillation
    new_start, new_width = reader.scan.oscillation
    if abs(new_width - width) > 1e-6 * max(1.0, abs(width)) or abs(new_start - (start + width)) > 1e-3 * abs(width) + 1e-6:
        return False
    return (same_model(last.beam, reader.beam) and same_model(last.detector, reader.detector)
            and same_goniometer(last.goniometer, reader.goniometer))


def group_files(readers: list[Format]) -> list[Sweep | Stills]:
    """Sweeps (in template/number order) and still sets (one per distinct geometry)."""
    groups: list[Sweep | Stills] = []
    singles = []
    for r in readers:
        if r.is_container:
            if is_still(r):
                groups.append(Stills([r]))
            else:
                groups.append(Sweep([r], r.path, list(range(r.scan.image_range[0], r.scan.image_range[1] + 1))))
            continue
        template, number = template_of(r.path)
        singles.append((template or r.path, number if number is not None else 0, r))
    singles.sort(key=lambda t: (t[0], t[1]))
    stills: list[Stills] = []
    current: Sweep | None = None
    for template, number, r in singles:
        if is_still(r):
            for s in stills:
                if same_model(s.readers[0].beam, r.beam) and same_model(s.readers[0].detector, r.detector):
                    s.readers.append(r)
                    break
            else:
                stills.append(Stills([r]))
            continue
        if current is not None and _continues(current, r, number, template):
            current.readers.append(r)
            current.numbers.append(number)
        else:
            if "#" not in template:
                raise FriedelError(f"{r.path}: cannot make a sweep template (no image number in the file name)")
            current = Sweep([r], template, [number])
            groups.append(current)
    return groups + stills


def check_single_detector(readers: list[Format]) -> None:
    """Refuse one import call over files from different detectors (naming two of them)."""
    first = readers[0]
    for r in readers[1:]:
        if r.detector_id() != first.detector_id() or type(r) is not type(first) and not (
                len(r.detector) == len(first.detector)
                and r.detector[0].image_size == first.detector[0].image_size):
            raise FriedelError(
                f"files from different detectors in one import: {first.path} ({first.detector_id()}) and "
                f"{r.path} ({r.detector_id()}); import them separately")
