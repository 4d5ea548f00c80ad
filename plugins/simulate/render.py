"""Rendering images: spots into pixels (numba), background, Poisson noise, overloads, gaps.

:func:`render_block` is the unit of parallel work (one block of consecutive images, run
through :func:`friedel.parallel.run_blocks`). It receives only plain data: the panel as a
dictionary, the expected photon counts of every (reflection, image) pair in the block with
the spot position and covariance, and what to write. Each image has its own random stream
seeded by ``(seed, image number)``, so results do not depend on how images are blocked.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from numba import njit

from friedel.models import Panel
from friedel.plugins.simulate.physics import background_map

MAX_HALF_BOX = 24  # pixels; a spot's box never exceeds (2 * 24 + 1)^2 pixels


@njit(cache=True, nogil=True)
def add_spots(image, x, y, cxx, cxy, cyy, counts, n_sub):
    """Add Gaussian spots integrated over pixels to ``image`` (float32, slow x fast).

    Spot ``j`` has centre (``x[j]``, ``y[j]``) in pixel coordinates (the first pixel spans
    [0, 1)), covariance [[cxx, cxy], [cxy, cyy]] px^2 and ``counts[j]`` expected photons in
    total; each pixel's value is the Gaussian integrated over the pixel (``n_sub`` x
    ``n_sub`` midpoint samples), normalised over a box of +/-4.5 sigma.
    """
    ny, nx = image.shape
    size = 2 * MAX_HALF_BOX + 1
    buf = np.empty((size, size), np.float64)
    for j in range(x.size):
        c = counts[j]
        if c <= 0.0:
            continue
        det = cxx[j] * cyy[j] - cxy[j] * cxy[j]
        ixx = cyy[j] / det
        ixy = -cxy[j] / det
        iyy = cxx[j] / det
        hx = min(int(math.ceil(4.5 * math.sqrt(cxx[j]))) + 1, MAX_HALF_BOX)
        hy = min(int(math.ceil(4.5 * math.sqrt(cyy[j]))) + 1, MAX_HALF_BOX)
        cx = int(math.floor(x[j]))
        cy = int(math.floor(y[j]))
        total = 0.0
        for a in range(2 * hy + 1):
            py = cy - hy + a
            for b in range(2 * hx + 1):
                px = cx - hx + b
                w = 0.0
                for sy in range(n_sub):
                    dy = py + (sy + 0.5) / n_sub - y[j]
                    for sx in range(n_sub):
                        dx = px + (sx + 0.5) / n_sub - x[j]
                        w += math.exp(-0.5 * (ixx * dx * dx + 2.0 * ixy * dx * dy + iyy * dy * dy))
                buf[a, b] = w
                total += w
        if total <= 0.0:
            continue
        scale = c / total
        for a in range(2 * hy + 1):
            py = cy - hy + a
            if py < 0 or py >= ny:
                continue
            for b in range(2 * hx + 1):
                px = cx - hx + b
                if px < 0 or px >= nx:
                    continue
                image[py, px] += buf[a, b] * scale


@njit(cache=True, nogil=True)
def _splitmix64(state):
    """One step of the splitmix64 generator: (new state, 64 random bits)."""
    state = (state + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = state
    z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    return state, z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def poisson_image(expected, gaps, count_cutoff, seed):
    """Poisson counts for every pixel of ``expected`` (float32, slow x fast).

    Small means (< 30, i.e. almost every pixel) are drawn by inversion from one uniform
    of a splitmix64 stream (exact, and several times faster than numpy's generator here);
    larger means use numba's Poisson generator seeded from the same stream. Counts at or
    above ``count_cutoff`` are clipped to it (overloads) and gap pixels are set to -1.
    Returns (image int32, number of overloaded pixels, sum and number of good pixels).
    """
    ny, nx = expected.shape
    out = np.empty((ny, nx), np.int32)
    state = np.uint64(seed)
    state, bits = _splitmix64(state)
    np.random.seed(np.int64(bits >> np.uint64(33)))
    n_over = 0
    total = 0.0
    n_good = 0
    for i in range(ny):
        for j in range(nx):
            if gaps[i, j]:
                out[i, j] = -1
                continue
            lam = expected[i, j]
            if lam <= 0.0:
                k = 0
            elif lam < 30.0:
                state, bits = _splitmix64(state)
                u = (bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                p = math.exp(-lam)
                c = p
                k = 0
                while u > c and k < 200:
                    k += 1
                    p *= lam / k
                    c += p
            else:
                k = np.random.poisson(lam)
            if k >= count_cutoff:
                k = count_cutoff
                n_over += 1
            out[i, j] = k
            total += k
            n_good += 1
    return out, n_over, total, n_good


def image_seed(seed: int, image_number: int) -> int:
    """A 63-bit seed for one image, independent of how images are split into blocks."""
    return int(np.random.SeedSequence([int(seed), 1000 + int(image_number)]).generate_state(1, np.uint64)[0] >> 1)


def render_block(task: dict) -> dict:
    """Render, noise and write the images of one block; returns per-image statistics."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    panel = Panel.from_dict(task["panel"])
    bgp = task["background"]
    bg = background_map(panel, task["s0"], bgp["flat"], bgp["air"], bgp["air_width_deg"], bgp["ring"],
                        bgp["ring_d"], bgp["ring_width"], task["polarization_normal"],
                        task["polarization_fraction"])
    gaps = np.zeros(bg.shape, bool)
    for x0, y0, x1, y1 in panel.mask:
        gaps[y0:y1, x0:x1] = True
    spots = task["spots"]
    cutoff = int(task["count_cutoff"])
    writers = [make_block_writer(w, len(task["images"]), bg.shape) for w in task["writers"]]
    stats = []
    try:
        for k, (image_number, scale) in enumerate(zip(task["images"], task["scales"])):
            sel = spots["image_number"] == image_number
            expected = bg * np.float32(scale)
            add_spots(expected, spots["x"][sel], spots["y"][sel], spots["cxx"][sel], spots["cxy"][sel],
                      spots["cyy"][sel], spots["counts"][sel], int(task["n_sub"]))
            image, n_over, total, n_good = poisson_image(expected, gaps, cutoff,
                                                         image_seed(task["seed"], image_number))
            for w in writers:
                w.add(k, image_number, image)
            stats.append({
                "image": int(image_number),
                "n_overloaded": int(n_over),
                "mean_counts": float(total / max(n_good, 1)),
                "expected_spot_counts": float(spots["counts"][sel].sum()),
            })
        for w in writers:
            w.close()
    except BaseException:
        for w in writers:
            w.abort()
        raise
    return {"stats": stats, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0,
            "pid": os.getpid()}


# -- writers used inside blocks ----------------------------------------------------------------
class _CbfBlockWriter:
    def __init__(self, spec: dict):
        self.spec = spec

    def add(self, k: int, image_number: int, image: np.ndarray) -> None:
        from friedel.formats.cbf import write_minicbf

        s = self.spec
        start, width = s["oscillation"]
        write_minicbf(
            s["template"].replace("#" * s["width"], f"{image_number:0{s['width']}d}"),
            image,
            detector=s["detector"],
            pixel_size=tuple(s["pixel_size"]),
            thickness_mm=s["thickness"],
            wavelength=s["wavelength"],
            distance_mm=s["distance"],
            beam_xy_px=tuple(s["beam_xy_px"]),
            start_angle=start + (image_number - 1) * width,
            angle_increment=width,
            exposure_time=s["exposure_time"],
            count_cutoff=s["count_cutoff"],
            timestamp=s["timestamps"][image_number - 1],
            comment="simulated by friedel simulate",
        )

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _NxmxBlockWriter:
    def __init__(self, spec: dict, n_images: int, shape):
        from friedel.formats.writers.nxmx import DataFileWriter

        self.writer = DataFileWriter(spec["path"], n_images, shape, spec["first_image"], spec["gap_value"])

    def add(self, k: int, image_number: int, image: np.ndarray) -> None:
        self.writer.write(k, image)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


def make_block_writer(spec: dict, n_images: int, shape):
    if spec["kind"] == "cbf":
        return _CbfBlockWriter(spec)
    if spec["kind"] == "nxmx":
        return _NxmxBlockWriter(spec, n_images, shape)
    raise ValueError(f"unknown image writer {spec['kind']}")
