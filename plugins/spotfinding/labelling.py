"""Strong pixels -> spots: connected components and per-spot centroids, boxes and sums.

Strong pixels are kept as a sparse list (panel, frame z, y, x, value). Two pixels belong to
the same spot when they are face neighbours: left/right or up/down on one image, and — for
rotation sweeps — the same pixel on consecutive images. Labelling the whole list at once
makes the result independent of how the images were split into blocks for parallel work.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from friedel.flags import Flags, MaskCode
from friedel.reflection_table import ReflectionTable
from friedel.shoebox import Shoeboxes


#: internal column: position of each spot's brightest pixel (not part of strong.refl)
PEAK_COLUMN = "_peak.px"


class PixelList:
    """Strong pixels of many images: parallel arrays, each pixel once."""

    __slots__ = ("panel", "z", "y", "x", "value")

    def __init__(self, panel, z, y, x, value):
        self.panel = np.asarray(panel, np.int32)
        self.z = np.asarray(z, np.int32)
        self.y = np.asarray(y, np.int32)
        self.x = np.asarray(x, np.int32)
        self.value = np.asarray(value, np.float32)

    @classmethod
    def from_mask(cls, image, strong, panel: int, z: int) -> "PixelList":
        flat = np.flatnonzero(strong)  # faster than a 2D nonzero on large images
        y, x = np.divmod(flat, strong.shape[1])
        return cls(np.full(len(y), panel), np.full(len(y), z), y, x, image.ravel()[flat])

    @classmethod
    def concatenate(cls, parts) -> "PixelList":
        parts = list(parts)
        if not parts:
            return cls([], [], [], [], [])
        return cls(*(np.concatenate([getattr(p, k) for p in parts]) for k in cls.__slots__))

    def __len__(self) -> int:
        return len(self.x)


def label_pixels(pixels: PixelList, connect_frames: bool) -> tuple[np.ndarray, int, np.ndarray]:
    """Connected-component labels of the pixels (in key order), the number of spots, the order.

    Returns ``(labels, n, order)`` where ``order`` sorts the pixels by their linear key
    (panel, z, y, x) and ``labels[k]`` is the spot of pixel ``order[k]``; spots are numbered in
    the order of their first pixel, so the numbering is deterministic.
    """
    n_pix = len(pixels)
    if n_pix == 0:
        return np.zeros(0, np.int64), 0, np.zeros(0, np.int64)
    # strides one larger than the extents, so that +1 never wraps into the next row/frame
    sx = np.int64(pixels.x.max()) + 2
    sy = np.int64(pixels.y.max()) + 2
    z0 = np.int64(pixels.z.min())
    sz = np.int64(pixels.z.max()) - z0 + 2
    key = (((pixels.panel.astype(np.int64) * sz + (pixels.z - z0)) * sy + pixels.y) * sx + pixels.x)
    order = np.argsort(key, kind="stable")
    key = key[order]
    if np.any(key[1:] == key[:-1]):
        raise ValueError("a pixel appears twice in the strong-pixel list")
    steps = [np.int64(1), sx] + ([sx * sy] if connect_frames else [])
    rows, cols = [], []
    for step in steps:
        target = key + step
        j = np.searchsorted(key, target)
        j_clip = np.minimum(j, n_pix - 1)
        hit = key[j_clip] == target
        rows.append(np.flatnonzero(hit))
        cols.append(j_clip[hit])
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n_pix, n_pix))
    n, labels = connected_components(graph, directed=False)
    # renumber spots by first pixel (connected_components already does, but do not rely on it)
    first = np.full(n, n_pix, np.int64)
    np.minimum.at(first, labels, np.arange(n_pix))
    rank = np.empty(n, np.int64)
    rank[np.argsort(first)] = np.arange(n)
    return rank[labels], n, order


@numba.njit(cache=True)
def _spot_moments(labels, x, y, z, w, n_spots):
    """Per spot: weights, first/second moments, bbox and the position of the brightest pixel."""
    sw = np.zeros(n_spots)
    sw2 = np.zeros(n_spots)
    m1 = np.zeros((n_spots, 3))
    m2 = np.zeros((n_spots, 3))
    count = np.zeros(n_spots, np.int64)
    bbox = np.empty((n_spots, 6), np.int32)
    peak = np.zeros((n_spots, 3))
    peak_val = np.full(n_spots, -np.inf)
    for s in range(n_spots):
        bbox[s, 0] = bbox[s, 2] = bbox[s, 4] = 2**31 - 1
        bbox[s, 1] = bbox[s, 3] = bbox[s, 5] = -(2**31)
    for i in range(len(labels)):
        s = labels[i]
        wi = float(w[i])
        c0 = x[i] + 0.5
        c1 = y[i] + 0.5
        c2 = z[i] + 0.5
        sw[s] += wi
        sw2[s] += wi * wi
        m1[s, 0] += wi * c0
        m1[s, 1] += wi * c1
        m1[s, 2] += wi * c2
        count[s] += 1
        bbox[s, 0] = min(bbox[s, 0], x[i])
        bbox[s, 1] = max(bbox[s, 1], x[i] + 1)
        bbox[s, 2] = min(bbox[s, 2], y[i])
        bbox[s, 3] = max(bbox[s, 3], y[i] + 1)
        bbox[s, 4] = min(bbox[s, 4], z[i])
        bbox[s, 5] = max(bbox[s, 5], z[i] + 1)
        if wi > peak_val[s]:
            peak_val[s] = wi
            peak[s, 0] = c0
            peak[s, 1] = c1
            peak[s, 2] = c2
    centroid = np.zeros((n_spots, 3))
    for s in range(n_spots):
        if sw[s] > 0:
            for k in range(3):
                centroid[s, k] = m1[s, k] / sw[s]
    for i in range(len(labels)):
        s = labels[i]
        wi = float(w[i])
        d0 = x[i] + 0.5 - centroid[s, 0]
        d1 = y[i] + 0.5 - centroid[s, 1]
        d2 = z[i] + 0.5 - centroid[s, 2]
        m2[s, 0] += wi * d0 * d0
        m2[s, 1] += wi * d1 * d1
        m2[s, 2] += wi * d2 * d2
    # variance of the centroid: unbiased weighted variance / total weight, plus the
    # variance of a uniform distribution over one pixel (1/12)
    variance = np.full((n_spots, 3), 1.0 / 12.0)
    for s in range(n_spots):
        denom = sw[s] - sw2[s] / sw[s] if sw[s] > 0 else 0.0
        if denom > 0:
            for k in range(3):
                variance[s, k] += m2[s, k] / denom / sw[s]
    return sw, count, centroid, variance, bbox, peak


def spots_from_pixels(pixels: PixelList, connect_frames: bool, experiment_id=0) -> ReflectionTable:
    """Label the pixels and build the strong-spot table (DIALS ``strong.refl`` columns).

    ``experiment_id`` is one id for all spots, or an array giving the experiment of each
    pixel's panel-frame (used for still sets where every image is its own experiment).
    """
    labels, n, order = label_pixels(pixels, connect_frames)
    px = pixels.x[order]
    py = pixels.y[order]
    pz = pixels.z[order]
    pv = pixels.value[order]
    pp = pixels.panel[order]
    sw, count, centroid, variance, bbox, peak = _spot_moments(labels, px, py, pz, pv, n)
    spot_panel = np.zeros(n, np.int64)
    spot_panel[labels] = pp
    ids = np.zeros(n, np.int32)
    if np.ndim(experiment_id) == 0:
        ids[:] = experiment_id
    else:
        ids[labels] = np.asarray(experiment_id)[order]

    shoebox = Shoeboxes(spot_panel, bbox)  # zero-filled
    b = bbox[labels].astype(np.int64)
    nx = b[:, 1] - b[:, 0]
    ny = b[:, 3] - b[:, 2]
    where = shoebox.offsets[labels] + ((pz - b[:, 4]) * ny + (py - b[:, 2])) * nx + (px - b[:, 0])
    shoebox.data[where] = pv
    shoebox.mask[where] = int(MaskCode.valid | MaskCode.foreground)

    table = ReflectionTable()
    table["xyzobs.px.value"] = centroid
    table["xyzobs.px.variance"] = variance
    table["bbox"] = bbox
    table["panel"] = spot_panel
    table["id"] = ids
    table["intensity.sum.value"] = sw
    table["intensity.sum.variance"] = sw.copy()  # Poisson counts, no background subtracted
    table["n_signal"] = count
    table["flags"] = np.full(n, int(Flags.strong), np.int64)
    table["shoebox"] = shoebox
    table[PEAK_COLUMN] = peak  # for the peak-centroid separation filter; dropped before writing
    return table
