"""Summation integration and the observed centroid of each shoebox (numba).

I = sum over valid foreground pixels of (C - B);
Var(I) = |I| + |B_sum| + n_fg^2 Var(B level) — Poisson counts plus the error of the
background level, which for a constant Poisson background is |B_sum| n_fg / n_bg (DIALS's
formula) and otherwise what the background model says.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .shoeboxes import BACKGROUND, BACKGROUND_USED, FOREGROUND, OVERLAPPED, VALID


@njit(cache=True)
def summation(data, mask, background, offsets, shapes, bbox, bg_var_of_mean):
    """Per box: intensity, variance, background sum, pixel counts and centroid."""
    n = len(offsets) - 1
    intensity = np.zeros(n)
    variance = np.zeros(n)
    bsum = np.zeros(n)
    bsum_var = np.zeros(n)
    n_valid = np.zeros(n, np.int32)
    n_bg = np.zeros(n, np.int32)
    n_bg_used = np.zeros(n, np.int32)
    n_fg = np.zeros(n, np.int32)
    n_fg_valid = np.zeros(n, np.int32)
    n_fg_overlap = np.zeros(n, np.int32)
    n_bg_overlap = np.zeros(n, np.int32)
    centroid = np.zeros((n, 3))
    centroid_var = np.zeros((n, 3))
    for b in range(n):
        nz, ny, nx = shapes[b, 0], shapes[b, 1], shapes[b, 2]
        x0, y0, z0 = bbox[b, 0], bbox[b, 2], bbox[b, 4]
        i = offsets[b]
        s = 0.0
        sb = 0.0
        sw = 0.0
        sx = 0.0
        sy = 0.0
        sz = 0.0
        sxx = 0.0
        syy = 0.0
        szz = 0.0
        for z in range(nz):
            for y in range(ny):
                for x in range(nx):
                    m = mask[i]
                    if m & VALID:
                        n_valid[b] += 1
                    if m & FOREGROUND:
                        n_fg[b] += 1
                        if m & OVERLAPPED:
                            n_fg_overlap[b] += 1
                        if m & VALID:
                            n_fg_valid[b] += 1
                            v = data[i] - background[i]
                            s += v
                            sb += background[i]
                            if v > 0:
                                px = x0 + x + 0.5
                                py = y0 + y + 0.5
                                pz = z0 + z + 0.5
                                sw += v
                                sx += v * px
                                sy += v * py
                                sz += v * pz
                                sxx += v * px * px
                                syy += v * py * py
                                szz += v * pz * pz
                    elif m & BACKGROUND:
                        n_bg[b] += 1
                        if m & BACKGROUND_USED:
                            n_bg_used[b] += 1
                        if m & OVERLAPPED:
                            n_bg_overlap[b] += 1
                    i += 1
        intensity[b] = s
        bsum[b] = sb
        bsum_var[b] = n_fg_valid[b] * n_fg_valid[b] * bg_var_of_mean[b]
        variance[b] = abs(s) + abs(sb) + bsum_var[b]
        if sw > 0:
            mx, my, mz = sx / sw, sy / sw, sz / sw
            centroid[b, 0] = mx
            centroid[b, 1] = my
            centroid[b, 2] = mz
            # variance of the mean position: spot variance / counts, at least a uniform pixel's
            centroid_var[b, 0] = max(sxx / sw - mx * mx, 1.0 / 12.0) / max(sw, 1.0)
            centroid_var[b, 1] = max(syy / sw - my * my, 1.0 / 12.0) / max(sw, 1.0)
            centroid_var[b, 2] = max(szz / sw - mz * mz, 1.0 / 12.0) / max(sw, 1.0)
        else:
            centroid[b, 0] = -1.0
    return (intensity, variance, bsum, bsum_var, n_valid, n_bg, n_bg_used, n_fg, n_fg_valid, n_fg_overlap,
            n_bg_overlap, centroid, centroid_var)


@njit(cache=True)
def frame_sums(data, mask, background, offsets, shapes, use):
    """Background-subtracted valid-foreground counts of boxes ``use`` on each of their frames:
    (box, frame within the box, counts), for the rocking-width estimate."""
    n = len(offsets) - 1
    total = 0
    for b in range(n):
        if use[b]:
            total += shapes[b, 0]
    box = np.empty(total, np.int64)
    frame = np.empty(total, np.int64)
    value = np.empty(total)
    k = 0
    for b in range(n):
        if not use[b]:
            continue
        nz, plane = shapes[b, 0], shapes[b, 1] * shapes[b, 2]
        for z in range(nz):
            s = 0.0
            start = offsets[b] + z * plane
            for i in range(start, start + plane):
                if (mask[i] & (VALID | FOREGROUND)) == (VALID | FOREGROUND):
                    s += data[i] - background[i]
            box[k] = b
            frame[k] = z
            value[k] = s
            k += 1
    return box, frame, value
