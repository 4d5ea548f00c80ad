"""Batch numbers unique across sweeps and lattices, and MTZ batch headers for every image.

CCP4 programs (pointless, aimless) identify an image by its BATCH number, so two sweeps or two
lattices must never share one. Each experiment keeps its own image numbers (plus its scan's
``batch_offset``) when they clash with nothing already assigned; a clashing experiment moves to
the next "epoch" above the largest batch so far, a start that ends in ...01 (1-900 and 1-900
become 1-900 and 1001-1900), so that users can still read the image number off the batch.
"""

from __future__ import annotations

import bisect

import attrs
import gemmi
import numpy as np

from friedel.models.crystal import B_matrix, cell_from_A
from friedel.models.geometry import unit


@attrs.define
class BatchRange:
    """The batches of one experiment: ``first..last`` = image numbers + ``offset``."""

    experiment: int
    first_image: int
    last_image: int
    offset: int

    @property
    def first(self) -> int:
        return self.first_image + self.offset

    @property
    def last(self) -> int:
        return self.last_image + self.offset


def _next_epoch(largest: int) -> int:
    """First batch of the next epoch above ``largest``: a number ending in ...01."""
    rem = largest % 100
    if rem == 99:
        return largest + 2
    if rem == 0:
        return largest + 101
    return largest - rem + 101


def image_range_of(experiment) -> tuple[int, int]:
    """(first, last) image of an experiment; a still (or scan-less) experiment is one image."""
    scan = experiment.scan
    if scan is None:
        return (1, 1)
    return scan.image_range


def assign_batch_ranges(experiments) -> list[BatchRange]:
    """Batch ranges of all experiments, unique and never starting at 0.

    Each scan's own ``batch_offset`` is honoured when the result clashes with nothing.
    """
    assigned: list[BatchRange] = []
    starts: list[int] = []  # sorted first batches of the assigned (disjoint) ranges ...
    ends: list[int] = []  # ... and their last batches, in the same order
    largest = 0
    for i, expt in enumerate(experiments):
        first, last = image_range_of(expt)
        own = int(getattr(expt.scan, "batch_offset", 0) or 0) if expt.scan is not None else 0
        if first + own <= 0:  # batch 0 is not a batch: an image-0 start moves up by one
            own += 1 - (first + own)
        candidate = BatchRange(i, first, last, own)
        # a range that overlaps *or touches* an assigned one moves to the next epoch; the
        # assigned ranges are disjoint, so only the one starting last before our end can clash
        k = bisect.bisect_right(starts, candidate.last + 1) - 1
        if k >= 0 and ends[k] >= candidate.first - 1:
            # stills (one image each) are numbered on consecutively; sweeps start a new epoch
            start = largest + 1 if getattr(expt, "is_still", False) else _next_epoch(largest)
            candidate = BatchRange(i, first, last, start - first)
        k = bisect.bisect_left(starts, candidate.first)
        starts.insert(k, candidate.first)
        ends.insert(k, candidate.last)
        largest = max(largest, candidate.last)
        assigned.append(candidate)
    return assigned


def batch_numbers(reflections, experiments, ranges: list[BatchRange]) -> np.ndarray:
    """BATCH of every reflection: its image (from the observed, else calculated, z) + offset."""
    n = len(reflections)
    if "xyzobs.px.value" in reflections:
        z = np.asarray(reflections["xyzobs.px.value"], dtype=float)[:, 2].copy()
        if "xyzcal.px" in reflections:  # rows without an observed centroid (NaN) use the calculated z
            zcal = np.asarray(reflections["xyzcal.px"], dtype=float)[:, 2]
            bad = ~np.isfinite(z)
            z[bad] = zcal[bad]
    elif "xyzcal.px" in reflections:
        z = np.asarray(reflections["xyzcal.px"], dtype=float)[:, 2]
    else:
        z = np.zeros(n)
    ids = np.asarray(reflections["id"], dtype=np.int64)
    # per-experiment tables, looked up by id (no loop over experiments x reflections)
    first = np.array([r.first_image for r in ranges], dtype=np.int64)
    last = np.array([r.last_image for r in ranges], dtype=np.int64)
    offset = np.array([r.offset for r in ranges], dtype=np.int64)
    row_of = np.full(max(len(experiments), 1), -1, dtype=np.int64)
    row_of[[r.experiment for r in ranges]] = np.arange(len(ranges))
    valid = (ids >= 0) & (ids < len(row_of))
    row = np.where(valid, row_of[np.clip(ids, 0, len(row_of) - 1)], -1)
    valid &= row >= 0
    r = np.clip(row, 0, None)
    image = np.clip(np.floor(np.nan_to_num(z)).astype(np.int64) + 1, first[r], last[r])
    return np.where(valid, image + offset[r], 0)


# -- batch headers -------------------------------------------------------------------------------
def cambridge_frame(experiment) -> np.ndarray:
    """Rows X, Y, Z of the Cambridge (MOSFLM) frame in the lab frame.

    Z is the rotation axis, X the beam direction made perpendicular to it (the "idealised"
    beam), Y completes a right-handed set. Stills (no goniometer) use the lab x axis as Z.
    """
    beam = unit(experiment.beam.unit_s0)
    gonio = experiment.goniometer
    z = unit(gonio.rotation_axis) if gonio is not None else np.array([1.0, 0.0, 0.0])
    x = beam - (beam @ z) * z
    x = unit(x) if np.linalg.norm(x) > 1e-9 else unit(np.cross(z, [0.0, 1.0, 0.0]))
    return np.array([x, np.cross(z, x), z])


def crystal_A_at(experiment, z: float) -> np.ndarray:
    """The crystal's A matrix at frame ``z`` (scan-varying models interpolated linearly)."""
    crystal = experiment.crystal
    points = crystal.A_at_scan_points
    if points is None or len(points) < 2 or experiment.scan is None:
        return crystal.A
    t = float(np.clip(z - experiment.scan.array_range[0], 0.0, len(points) - 1.0))
    i0 = min(int(np.floor(t)), len(points) - 2)
    f = t - i0
    return points[i0] * (1.0 - f) + points[i0 + 1] * f


def orientation_in_cambridge_frame(experiment, A: np.ndarray) -> np.ndarray:
    """MOSFLM U (A = U B with Busing-Levy B) of the crystal at phi = 0, in the Cambridge frame."""
    U = A @ np.linalg.inv(B_matrix(cell_from_A(A)))
    gonio = experiment.goniometer
    if gonio is not None:  # the crystal at the scan's datum: setting and fixed rotations applied
        U = gonio.setting_rotation @ gonio.fixed_rotation @ U
    return cambridge_frame(experiment) @ U


def make_batch_headers(experiments, ranges: list[BatchRange], dataset_ids: list[int]) -> list[gemmi.Mtz.Batch]:
    """One header per image of every experiment (images without reflections included).

    The fields are those pointless and aimless read: dataset link, cell and orientation at the
    image centre, phi start/end/range, scan axis, source vector, wavelength, detector distance
    and limits (panel 0).
    """
    headers = []
    for r, dataset_id in zip(ranges, dataset_ids):
        expt = experiments[r.experiment]
        scan = expt.scan
        frame = cambridge_frame(expt)
        source = frame @ (-unit(expt.beam.unit_s0))  # sample -> source, Cambridge frame
        axis = frame @ unit(expt.goniometer.rotation_axis) if expt.goniometer is not None else np.array([0, 0, 1.0])
        ideal_source = np.zeros(3)
        ideal_source[int(np.argmax(np.abs(source)))] = np.sign(source[int(np.argmax(np.abs(source)))])
        panel = expt.detector[0] if expt.detector is not None else None
        mosaicity = float(expt.crystal.extra.get("mosaicity", 0.0) or 0.0)
        width = scan.oscillation[1] if scan is not None else 0.0
        for image in range(r.first_image, r.last_image + 1):
            z_centre = image - 0.5  # frame coordinate of the image centre
            A = crystal_A_at(expt, z_centre)
            cell = cell_from_A(A)
            U = orientation_in_cambridge_frame(expt, A)
            b = gemmi.Mtz.Batch()
            b.number = image + r.offset
            b.title = f"Batch {b.number}"
            b.axes = ["AXIS"]
            ints = b.ints
            for k in range(4, 10):
                ints[k] = -1  # lbcell: cell refinement flags as DIALS writes them
            ints[12] = 1  # ncryst
            ints[14] = 2  # ldtype: 3-D data
            ints[15] = 1  # jsaxs: scan axis number
            ints[17] = 1  # ngonax
            ints[19] = 1  # ndet
            ints[20] = int(dataset_id)
            f = np.zeros(len(b.floats))
            f[0:6] = [cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma]
            f[6:15] = U.T.ravel()  # column-major (Fortran) order
            f[21] = mosaicity
            if scan is not None:
                phi0 = float(scan.angle_from_frame(image - 1))
                f[36], f[37] = phi0, phi0 + width
            f[38:41] = axis  # scan axis
            f[43] = 1.0  # bscale (newer gemmi no longer sets it)
            f[47] = width
            f[59:62] = axis  # goniostat axis 1 (e1)
            f[80:83] = ideal_source
            f[83:86] = source
            f[86] = float(expt.beam.wavelength)
            if panel is not None:
                f[111] = float(panel.distance)
                f[114] = float(panel.image_size[0])  # detlm: 0..NX, 0..NY pixels
                f[116] = float(panel.image_size[1])
            floats = b.floats
            for k in np.flatnonzero(f):  # BatchFloats takes single items only
                floats[int(k)] = float(f[k])
            headers.append(b)
    return headers
