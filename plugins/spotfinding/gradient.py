"""Background gradient around each spot (for the ``background_gradient`` filter).

A spot on a powder or ice ring, or on the edge of the beam-stop shadow, sits on a background
that changes steeply across its box. For each spot a plane is fitted to the good pixels of a
border ``background_size`` wide around its bounding box, on the image holding its centroid;
the change of that plane across the box is returned in units of the background's Poisson
sigma.
"""

from __future__ import annotations

import numba
import numpy as np

from friedel.errors import FileFormatError


@numba.njit(cache=True)
def _plane_gradients(image, good, lo, hi, boxes, border, out):
    ny, nx = image.shape
    for k in range(boxes.shape[0]):
        x0, x1, y0, y1 = boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3]
        X0, X1 = max(x0 - border, 0), min(x1 + border, nx)
        Y0, Y1 = max(y0 - border, 0), min(y1 + border, ny)
        cx = 0.5 * (X0 + X1)
        cy = 0.5 * (Y0 + Y1)
        m = np.zeros((3, 3))
        r = np.zeros(3)
        count = 0
        for y in range(Y0, Y1):
            for x in range(X0, X1):
                if x0 <= x < x1 and y0 <= y < y1:
                    continue
                v = image[y, x]
                if not good[y, x] or v <= lo or v > hi:
                    continue
                f = (1.0, x + 0.5 - cx, y + 0.5 - cy)
                for i in range(3):
                    r[i] += f[i] * v
                    for j in range(3):
                        m[i, j] += f[i] * f[j]
                count += 1
        if count < 6:
            out[k] = 0.0
            continue
        det = np.linalg.det(m)
        if abs(det) < 1e-9:
            out[k] = 0.0
            continue
        a, b, c = np.linalg.solve(m, r)
        change = np.sqrt((b * (X1 - X0)) ** 2 + (c * (Y1 - Y0)) ** 2)
        out[k] = change / np.sqrt(max(a, 1.0))


def background_gradient_sigmas(reflections, experiments, border: int, opener=None) -> np.ndarray:
    """Background change across each spot's box, in sigmas of its background."""
    from .finder import default_opener

    opener = opener or default_opener
    out = np.zeros(len(reflections))
    frames = np.floor(reflections["xyzobs.px.value"][:, 2]).astype(np.int64)
    ids = reflections["id"]
    bbox = reflections["bbox"].astype(np.int64)
    for i_expt in np.unique(ids):
        expt = experiments[int(i_expt)]
        images = opener(expt)
        first_frame = expt.scan.image_range[0] - 1 if expt.scan is not None else 0
        in_expt = ids == i_expt
        for frame in np.unique(frames[in_expt]):
            sel = np.flatnonzero(in_expt & (frames == frame))
            index = int(frame - first_frame)
            try:
                raw = images.get_raw_data(index)
                masks = images.get_mask(index)
            except IndexError as exc:
                raise FileFormatError(f"image {index + 1} of experiment {i_expt} is not available: {exc}") from None
            panels = reflections["panel"][sel]
            for p in np.unique(panels):
                rows = sel[panels == p]
                lo, hi = expt.detector[int(p)].trusted_range
                values = np.zeros(len(rows))
                _plane_gradients(np.ascontiguousarray(raw[p]), np.ascontiguousarray(masks[p]), float(lo), float(hi),
                                 np.ascontiguousarray(bbox[rows, :4]), int(border), values)
                out[rows] = values
    return out
