"""Threshold algorithms: which pixels of one image are "strong" (belong to a spot).

Every algorithm is a plugin class (hook ``friedel_spotfinder_thresholds``) constructed with
its ``Params`` and called as ``algorithm(image, mask, trusted_range) -> bool array``, where
``image`` is one panel (slow, fast), ``mask`` is True for good pixels and pixels outside
``trusted_range`` (low bound exclusive, so Pilatus gaps at -1 are bad; high bound inclusive)
are ignored too.

The dispersion test
-------------------
For photon-counting data the background in a small box is Poisson: its variance equals its
mean (times the detector gain), so the *index of dispersion* ``D = var / mean`` is ~gain.
A pixel is strong when, over the ``(2k+1)^2`` box around it (masked pixels excluded),

* ``D > gain * (1 + sigma_background * sqrt(2 / (n - 1)))`` — the box is not just noise, and
* ``I - mean > sigma_strong * sqrt(gain * mean)`` — the pixel stands out of the box, and
* ``I > global_threshold`` and the box holds at least ``min_local`` good pixels.

With ``n`` good pixels, ``s = sum I`` and ``q = sum I^2`` both tests become polynomial
(no division, no square root of a variance), which is what the kernel evaluates.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .params import DispersionParams, GlobalParams  # noqa: F401 - scopes live in params.py


# ---------------------------------------------------------------------------------------
# numba kernels
# ---------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _is_valid(v, m, lo, hi):
    return m and v > lo and v <= hi


@numba.njit(cache=True, nogil=True)
def dispersion_kernel(image, mask, lo, hi, kx, ky, gain, n_sigma_b, n_sigma_s, threshold, min_count, out):
    """One pass over the image: sliding-window sums of count, I and I^2, then both tests.

    Column sums over the ``2*ky+1`` rows around the current row are updated by adding the
    row entering the window and removing the one leaving it (a running summed-area table),
    so the cost per pixel is independent of the kernel size.
    """
    ny, nx = image.shape
    strong2 = n_sigma_s * n_sigma_s * gain
    col_n = np.zeros(nx, np.int64)
    col_s = np.zeros(nx, np.float64)
    col_q = np.zeros(nx, np.float64)
    for r in range(min(ky, ny)):
        for x in range(nx):
            v = image[r, x]
            if _is_valid(v, mask[r, x], lo, hi):
                fv = float(v)
                col_n[x] += 1
                col_s[x] += fv
                col_q[x] += fv * fv
    for y in range(ny):
        r_in = y + ky
        if r_in < ny:
            for x in range(nx):
                v = image[r_in, x]
                if _is_valid(v, mask[r_in, x], lo, hi):
                    fv = float(v)
                    col_n[x] += 1
                    col_s[x] += fv
                    col_q[x] += fv * fv
        r_out = y - ky - 1
        if r_out >= 0:
            for x in range(nx):
                v = image[r_out, x]
                if _is_valid(v, mask[r_out, x], lo, hi):
                    fv = float(v)
                    col_n[x] -= 1
                    col_s[x] -= fv
                    col_q[x] -= fv * fv
        n = 0
        s = 0.0
        q = 0.0
        for x in range(min(kx, nx)):
            n += col_n[x]
            s += col_s[x]
            q += col_q[x]
        for x in range(nx):
            c_in = x + kx
            if c_in < nx:
                n += col_n[c_in]
                s += col_s[c_in]
                q += col_q[c_in]
            c_out = x - kx - 1
            if c_out >= 0:
                n -= col_n[c_out]
                s -= col_s[c_out]
                q -= col_q[c_out]
            out[y, x] = False
            v = image[y, x]
            if n < min_count or s <= 0.0 or n < 2 or not _is_valid(v, mask[y, x], lo, hi):
                continue
            fv = float(v)
            if fv <= threshold:
                continue
            # strong test first (rejects almost every background pixel), squared to avoid a
            # square root: n I - s > sigma_s sqrt(gain s n)
            d = n * fv - s
            if d <= 0.0 or d * d <= strong2 * s * n:
                continue
            # background test: n q - s^2 - gain s (n-1) > gain s sigma_b sqrt(2 (n-1))
            a = n * q - s * s - gain * s * (n - 1)
            if a > gain * s * n_sigma_b * math.sqrt(2.0 * (n - 1)):
                out[y, x] = True


@numba.njit(cache=True, nogil=True)
def local_sums(image, valid, kx, ky):
    """Count, sum and sum of squares of ``valid`` pixels in the box around every pixel."""
    ny, nx = image.shape
    cn = np.zeros((ny + 1, nx + 1), np.int64)
    cs = np.zeros((ny + 1, nx + 1), np.float64)
    cq = np.zeros((ny + 1, nx + 1), np.float64)
    for y in range(ny):
        rn = 0
        rs = 0.0
        rq = 0.0
        for x in range(nx):
            if valid[y, x]:
                fv = float(image[y, x])
                rn += 1
                rs += fv
                rq += fv * fv
            cn[y + 1, x + 1] = cn[y, x + 1] + rn
            cs[y + 1, x + 1] = cs[y, x + 1] + rs
            cq[y + 1, x + 1] = cq[y, x + 1] + rq
    n = np.empty((ny, nx), np.int64)
    s = np.empty((ny, nx), np.float64)
    q = np.empty((ny, nx), np.float64)
    for y in range(ny):
        y0 = max(y - ky, 0)
        y1 = min(y + ky + 1, ny)
        for x in range(nx):
            x0 = max(x - kx, 0)
            x1 = min(x + kx + 1, nx)
            n[y, x] = cn[y1, x1] - cn[y0, x1] - cn[y1, x0] + cn[y0, x0]
            s[y, x] = cs[y1, x1] - cs[y0, x1] - cs[y1, x0] + cs[y0, x0]
            q[y, x] = cq[y1, x1] - cq[y0, x1] - cq[y1, x0] + cq[y0, x0]
    return n, s, q


def valid_pixels(image, mask, trusted_range) -> np.ndarray:
    lo, hi = trusted_range
    return mask & (image > lo) & (image <= hi)


# ---------------------------------------------------------------------------------------
# plugins
# ---------------------------------------------------------------------------------------
class DispersionThreshold:
    """Strong pixels by the local index of dispersion (default; fast one-pass kernel)."""

    name = "dispersion"
    Params = DispersionParams

    def __init__(self, params: DispersionParams | None = None):
        self.params = params or DispersionParams()

    def __call__(self, image, mask, trusted_range=(-np.inf, np.inf)) -> np.ndarray:
        p = self.params
        out = np.empty(image.shape, dtype=bool)
        mask = np.ascontiguousarray(mask, dtype=bool)
        dispersion_kernel(
            np.ascontiguousarray(image), mask, float(trusted_range[0]), float(trusted_range[1]),
            int(p.kernel_size[0]), int(p.kernel_size[1]), float(p.gain), float(p.sigma_background),
            float(p.sigma_strong), float(p.global_threshold), int(p.min_local), out,
        )
        return out


@numba.njit(cache=True, nogil=True)
def _extended_tests(image, valid, n, s, q, gain, n_sigma_b, threshold, min_count, out):
    """First pass of the extended algorithm: dispersion test and pixel above the local mean."""
    ny, nx = image.shape
    for y in range(ny):
        for x in range(nx):
            out[y, x] = False
            m = n[y, x]
            sm = s[y, x]
            if not valid[y, x] or m < min_count or m < 2 or sm <= 0.0:
                continue
            fv = float(image[y, x])
            if fv <= threshold or m * fv <= sm:
                continue
            a = m * q[y, x] - sm * sm - gain * sm * (m - 1)
            if a > gain * sm * n_sigma_b * math.sqrt(2.0 * (m - 1)):
                out[y, x] = True


@numba.njit(cache=True, nogil=True)
def _strong_over_background(image, candidate, n, s, gain, n_sigma_s, threshold, min_count, out):
    ny, nx = image.shape
    for y in range(ny):
        for x in range(nx):
            out[y, x] = False
            if not candidate[y, x]:
                continue
            m = n[y, x]
            sm = s[y, x]
            if m < min_count or sm <= 0.0:
                continue
            fv = float(image[y, x])
            mean = sm / m
            if fv > threshold and fv - mean > n_sigma_s * math.sqrt(gain * mean):
                out[y, x] = True


class DispersionExtendedThreshold:
    """Two-pass dispersion threshold for weak, extended spots.

    Pass 1 marks pixels whose neighbourhood is over-dispersed and which lie above the local
    mean; these (grown by one pixel) are the spot candidates. Pass 2 measures the background
    in a box twice as large *excluding* the candidates, so that the spot no longer inflates
    its own background, and keeps candidates that are ``sigma_strong`` above it.
    """

    name = "dispersion_extended"
    params_from = "dispersion"  # shares spotfinder.threshold.dispersion.* (gain=, kernel_size=, ...)

    def __init__(self, params: DispersionParams | None = None):
        self.params = params or DispersionParams()

    def __call__(self, image, mask, trusted_range=(-np.inf, np.inf)) -> np.ndarray:
        from scipy import ndimage

        p = self.params
        image = np.ascontiguousarray(image)
        valid = np.ascontiguousarray(valid_pixels(image, mask, trusted_range))
        kx, ky = int(p.kernel_size[0]), int(p.kernel_size[1])
        n, s, q = local_sums(image, valid, kx, ky)
        first = np.empty(image.shape, bool)
        _extended_tests(image, valid, n, s, q, float(p.gain), float(p.sigma_background),
                        float(p.global_threshold), int(p.min_local), first)
        candidate = ndimage.binary_dilation(first, structure=np.ones((3, 3), bool)) & valid
        background = valid & ~candidate
        n2, s2, _ = local_sums(image, background, 2 * kx + 1, 2 * ky + 1)
        out = np.empty(image.shape, bool)
        _strong_over_background(image, candidate, n2, s2, float(p.gain), float(p.sigma_strong),
                                float(p.global_threshold), max(int(p.min_local), 2), out)
        return out


class GlobalThreshold:
    """Every good pixel above one fixed count threshold is strong (simple, for clean data)."""

    name = "global"
    Params = GlobalParams

    def __init__(self, params: GlobalParams | None = None):
        self.params = params or GlobalParams()

    def __call__(self, image, mask, trusted_range=(-np.inf, np.inf)) -> np.ndarray:
        return valid_pixels(image, mask, trusted_range) & (image > self.params.threshold)


THRESHOLDS = [DispersionThreshold, DispersionExtendedThreshold, GlobalThreshold]
