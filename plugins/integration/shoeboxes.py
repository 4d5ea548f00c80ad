"""Shoebox pixels: foreground test, overlap painting and extraction of one frame (numba).

Boxes of a window live in flat arrays (``offsets``; box shape (nz, ny, nx), C order). A pixel
is foreground if any of its four corners lies inside the disc |J (corner - centre)| <= r
(the DIALS rule), on every frame of the box. Overlaps are found image-volume style: for the
frame being read, every reflection active on it paints its foreground into a count image;
a foreground pixel counted twice is shared (``overlapped``, fg-fg), and a background pixel
counted at all is another reflection's peak (``overlapped``, not usable as background).
"""

from __future__ import annotations

import numpy as np
from numba import njit

VALID = 1
BACKGROUND = 2
FOREGROUND = 4
BACKGROUND_USED = 16
OVERLAPPED = 32


@njit(cache=True, inline="always")
def _is_foreground(x, y, cx, cy, j00, j01, j10, j11, r2):
    for dy in (0.0, 1.0):
        for dx in (0.0, 1.0):
            u = x + dx - cx
            v = y + dy - cy
            c1 = j00 * u + j01 * v
            c2 = j10 * u + j11 * v
            if c1 * c1 + c2 * c2 <= r2:
                return True
    return False


@njit(cache=True)
def foreground_spans(bbox, centre, jac, radius2):
    """The 2-D foreground of every box, once, as one span [start, stop) of columns per box row.

    The foreground disc is convex, so on each row of pixels it is one run; a gap (possible
    only for extremely sheared ellipses) is filled. Returns (offsets into the rows, spans
    (total rows, 2) int16 of column offsets within the box).
    """
    n = len(bbox)
    offsets = np.zeros(n + 1, np.int64)
    for r in range(n):
        offsets[r + 1] = offsets[r] + (bbox[r, 3] - bbox[r, 2])
    spans = np.zeros((offsets[n], 2), np.int16)
    for r in range(n):
        cx, cy = centre[r, 0], centre[r, 1]
        j00, j01, j10, j11 = jac[r, 0, 0], jac[r, 0, 1], jac[r, 1, 0], jac[r, 1, 1]
        r2 = radius2[r]
        nx = bbox[r, 1] - bbox[r, 0]
        k = offsets[r]
        for y in range(bbox[r, 2], bbox[r, 3]):
            first = -1
            last = -1
            for xx in range(nx):
                if _is_foreground(bbox[r, 0] + xx, y, cx, cy, j00, j01, j10, j11, r2):
                    if first < 0:
                        first = xx
                    last = xx
            if first >= 0:
                spans[k, 0] = first
                spans[k, 1] = last + 1
            k += 1
    return offsets, spans


@njit(cache=True)
def paint_foreground(count, rows, bbox, span_offsets, spans, sign):
    """Add ``sign`` to ``count`` (ny, nx) at the foreground pixels of reflections ``rows``."""
    ny, nx = count.shape
    for r in rows:
        x0 = bbox[r, 0]
        k = span_offsets[r]
        for y in range(bbox[r, 2], bbox[r, 3]):
            if 0 <= y < ny:
                for x in range(max(x0 + spans[k, 0], 0), min(x0 + spans[k, 1], nx)):
                    count[y, x] += sign
            k += 1


@njit(cache=True)
def extract_frame(frame, image, good, count, rows, job_rows, bbox, offsets, span_offsets, spans, data, mask,
                  overloaded, gain, pedestal, trusted_low, trusted_high):
    """Copy frame ``frame`` of one panel into the window's boxes ``rows`` (``job_rows`` maps them
    to the job's foreground spans).

    A pixel is valid where the static mask ``good`` allows it (panel masks, module gaps) and
    its raw value is inside the trusted range (low, high]; foreground pixels above the range
    mark their reflection ``overloaded``.
    """
    ny_img, nx_img = image.shape
    for r in rows:
        x0, x1, y0, y1, z0 = bbox[r, 0], bbox[r, 1], bbox[r, 2], bbox[r, 3], bbox[r, 4]
        nx = x1 - x0
        ny = y1 - y0
        base = offsets[r] + (frame - z0) * ny * nx
        k = span_offsets[job_rows[r]]
        for yy in range(ny):
            y = y0 + yy
            xs = spans[k + yy, 0]
            xe = spans[k + yy, 1]
            for xx in range(nx):
                x = x0 + xx
                i = base + yy * nx + xx
                fg = xs <= xx < xe
                code = FOREGROUND if fg else BACKGROUND
                if 0 <= y < ny_img and 0 <= x < nx_img:
                    raw = image[y, x]
                    data[i] = (raw - pedestal) / gain
                    if good[y, x] and trusted_low < raw <= trusted_high:
                        code |= VALID
                    elif fg and raw > trusted_high:
                        overloaded[r] = True
                    c = count[y, x]
                    if (fg and c > 1) or ((not fg) and c > 0):
                        code |= OVERLAPPED
                else:
                    data[i] = 0.0
                mask[i] = code
