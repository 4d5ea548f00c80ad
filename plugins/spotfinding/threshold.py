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

The default, ``dispersion_extended`` (:func:`extended_kernel`), uses the dispersion test only
to outline the spots and then compares each pixel with a background measured *without* them,
so a bright spot keeps its tails (see :class:`DispersionExtendedThreshold`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from friedel.contracts.spotfinding import Threshold

from .params import DispersionParams, GlobalParams  # noqa: F401 - scopes live in params.py


# ---------------------------------------------------------------------------------------
# numba kernels
# ---------------------------------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _is_valid(v, m, lo, hi):
    return m and v > lo and v <= hi


@numba.njit(cache=True, nogil=True)
def _valid_mask(image, mask, lo, hi):
    """Pixels that count: unmasked and inside the trusted range."""
    ny, nx = image.shape
    valid = np.empty((ny, nx), np.bool_)
    for y in range(ny):
        for x in range(nx):
            valid[y, x] = _is_valid(image[y, x], mask[y, x], lo, hi)
    return valid


@numba.njit(cache=True, nogil=True)
def dispersion_kernel(image, mask, lo, hi, kx, ky, gain, n_sigma_b, n_sigma_s, threshold, min_count, out):
    """One pass over the image: sliding-window sums of count, I and I^2, then both tests.

    The box sums come from the same running column sums as the extended kernel's passes
    (:func:`_box_pass`), so the cost per pixel is independent of the kernel size.
    """
    ny, nx = image.shape
    strong2 = n_sigma_s * n_sigma_s * gain
    valid = _valid_mask(image, mask, lo, hi)
    col_n = np.zeros(nx, np.int64)
    col_s = np.zeros(nx, np.float64)
    col_q = np.zeros(nx, np.float64)
    row_n = np.zeros(nx, np.int64)
    row_s = np.zeros(nx, np.float64)
    row_q = np.zeros(nx, np.float64)
    for y in range(ny):
        _box_pass(image, valid, kx, ky, y, col_n, col_s, col_q, row_n, row_s, row_q)
        for x in range(nx):
            n, s, q = row_n[x], row_s[x], row_q[x]
            out[y, x] = False
            if n < min_count or s <= 0.0 or n < 2 or not valid[y, x]:
                continue
            fv = float(image[y, x])
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


def valid_pixels(image, mask, trusted_range) -> np.ndarray:
    lo, hi = trusted_range
    return mask & (image > lo) & (image <= hi)


# ---------------------------------------------------------------------------------------
# plugins
# ---------------------------------------------------------------------------------------
class DispersionThreshold(Threshold):
    """Strong pixels by the local index of dispersion (default; fast one-pass kernel)."""

    name = "dispersion"
    Params = DispersionParams

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
def _update_columns(image, include, r, col_n, col_s, col_q, sign):
    """Add (sign=+1) or remove (-1) row ``r``'s included pixels to the running column sums."""
    for x in range(image.shape[1]):
        if include[r, x]:
            fv = float(image[r, x])
            col_n[x] += sign
            col_s[x] += sign * fv
            col_q[x] += sign * fv * fv


@numba.njit(cache=True, nogil=True)
def _row_box_sums(col_n, col_s, col_q, kx, row_n, row_s, row_q):
    """Box sums along one row: ``row_*[x]`` = sum of ``col_*`` over ``[x-kx, x+kx]`` (clipped)."""
    nx = len(col_n)
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
        row_n[x] = n
        row_s[x] = s
        row_q[x] = q


@numba.njit(cache=True, nogil=True)
def _box_pass(image, include, kx, ky, y, col_n, col_s, col_q, row_n, row_s, row_q):
    """Slide the box to row ``y`` (rows must be visited in order from 0) and fill the row sums."""
    ny = image.shape[0]
    if y == 0:
        col_n[:] = 0
        col_s[:] = 0.0
        col_q[:] = 0.0
        for r in range(min(ky, ny)):
            _update_columns(image, include, r, col_n, col_s, col_q, 1)
    if y + ky < ny:
        _update_columns(image, include, y + ky, col_n, col_s, col_q, 1)
    if y - ky - 1 >= 0:
        _update_columns(image, include, y - ky - 1, col_n, col_s, col_q, -1)
    _row_box_sums(col_n, col_s, col_q, kx, row_n, row_s, row_q)


@numba.njit(cache=True, nogil=True)
def extended_kernel(image, mask, lo, hi, kx, ky, gain, n_sigma_b, n_sigma_s, threshold, min_count, out):
    """The extended dispersion threshold: each pass one running-sum sweep over the image.

    1. dispersion mask: pixels whose ``(2k+1)^2`` box fails the index-of-dispersion test;
    2. erosion by ``r = (k+1)//2`` (a ``(2r+1)^2`` box): the test flags every pixel whose box
       *touches* a spot, so the mask is the spot plus a band about ``k`` wide; eroding it leaves
       the spot.  Masked, untrusted and off-image pixels count as flagged here, so spots next to
       module gaps and image borders are not eroded away;
    3. background: good pixels outside the eroded mask, in a ``(2(k+r)+1)^2`` box; a pixel of the
       eroded mask is strong when it exceeds ``threshold`` and its background mean by
       ``n_sigma_s`` sigmas (mean 0 with fewer than 2 background pixels).

    The spot no longer inflates its own background, so its faint tails are kept (which is what
    makes the centroid of a bright spot unbiased).  Cost per pixel does not depend on box sizes.
    """
    ny, nx = image.shape
    valid = _valid_mask(image, mask, lo, hi)
    col_n = np.zeros(nx, np.int64)
    col_s = np.zeros(nx, np.float64)
    col_q = np.zeros(nx, np.float64)
    row_n = np.zeros(nx, np.int64)
    row_s = np.zeros(nx, np.float64)
    row_q = np.zeros(nx, np.float64)
    # 1. dispersion mask; "clear" = good pixels that are not flagged (what erosion looks for)
    dispersed = np.zeros((ny, nx), np.bool_)
    clear = valid.copy()
    for y in range(ny):
        _box_pass(image, valid, kx, ky, y, col_n, col_s, col_q, row_n, row_s, row_q)
        for x in range(nx):
            m = row_n[x]
            sm = row_s[x]
            if not valid[y, x] or m < min_count or m < 2 or sm <= 0.0:
                continue
            a = m * row_q[x] - sm * sm - gain * sm * (m - 1)
            if a > gain * sm * n_sigma_b * math.sqrt(2.0 * (m - 1)):
                dispersed[y, x] = True
                clear[y, x] = False
    # 2. erosion: a flagged pixel stays if no clear pixel is within r of it
    rx, ry = (kx + 1) // 2, (ky + 1) // 2
    eroded = np.zeros((ny, nx), np.bool_)
    background = valid.copy()
    for y in range(ny):
        _box_pass(image, clear, rx, ry, y, col_n, col_s, col_q, row_n, row_s, row_q)
        for x in range(nx):
            if dispersed[y, x] and row_n[x] == 0:
                eroded[y, x] = True
                background[y, x] = False
    # 3. strong = eroded and above the background measured without the eroded mask
    for y in range(ny):
        _box_pass(image, background, kx + rx, ky + ry, y, col_n, col_s, col_q, row_n, row_s, row_q)
        for x in range(nx):
            out[y, x] = False
            if not eroded[y, x]:
                continue
            fv = float(image[y, x])
            if fv <= threshold:
                continue
            mean = row_s[x] / row_n[x] if row_n[x] >= 2 else 0.0
            if fv >= mean + n_sigma_s * math.sqrt(gain * mean):
                out[y, x] = True


class DispersionExtendedThreshold(Threshold):
    """Extended dispersion threshold (default, as in DIALS): the background of each spot is
    measured without the spot.

    The one-pass test compares a pixel with the mean of a box that contains the spot itself,
    so the spot's tails fail it and a bright spot keeps only its core.  Here the dispersion
    mask (spot plus a band around it) is eroded back to the spot, the background is the mean
    of the good pixels outside it in a larger box, and mask pixels ``sigma_strong`` above that
    background are strong.  See :func:`extended_kernel`.
    """

    name = "dispersion_extended"
    params_from = "dispersion"  # shares spotfinder.threshold.dispersion.* (gain=, kernel_size=, ...)

    def __init__(self, params: DispersionParams | None = None):
        self.params = params or DispersionParams()

    def __call__(self, image, mask, trusted_range=(-np.inf, np.inf)) -> np.ndarray:
        p = self.params
        out = np.empty(image.shape, dtype=bool)
        extended_kernel(
            np.ascontiguousarray(image), np.ascontiguousarray(mask, dtype=bool), float(trusted_range[0]),
            float(trusted_range[1]), int(p.kernel_size[0]), int(p.kernel_size[1]), float(p.gain),
            float(p.sigma_background), float(p.sigma_strong), float(p.global_threshold), int(p.min_local), out,
        )
        return out


class GlobalThreshold(Threshold):
    """Every good pixel above one fixed count threshold is strong (simple, for clean data)."""

    name = "global"
    Params = GlobalParams

    def __call__(self, image, mask, trusted_range=(-np.inf, np.inf)) -> np.ndarray:
        return valid_pixels(image, mask, trusted_range) & (image > self.params.threshold)


THRESHOLDS = [DispersionThreshold, DispersionExtendedThreshold, GlobalThreshold]
