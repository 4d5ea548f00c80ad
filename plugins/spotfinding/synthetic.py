"""Synthetic images with known spots (Gaussian in x, y and rotation) on Poisson background.

Used by the tests and the benchmark to check spot finding against the truth without image
files. Images are regenerated deterministically from ``(seed, image index)``, so a worker
process can make its own copy of any image.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf

from friedel.models import Beam, Detector, Experiment, ExperimentList, Goniometer, ImageSetReference, Panel, Scan


def _pixel_fractions(edges_lo, centre, sigma):
    """Fraction of a 1D Gaussian falling in [lo, lo + 1)."""
    a = (edges_lo - centre) / (np.sqrt(2.0) * sigma)
    b = (edges_lo + 1.0 - centre) / (np.sqrt(2.0) * sigma)
    return 0.5 * (erf(b) - erf(a))


class SyntheticImages:
    """``n_images`` images of ``shape`` (slow, fast) with spots at ``xyz`` (px, px, frame).

    ``intensity`` is each spot's total expected counts, ``sigma`` its (x/y, z) width.
    Columns listed in ``gap_columns`` read -1 like Pilatus module gaps (and are masked).
    """

    def __init__(self, xyz, intensity, shape=(256, 256), n_images=10, background=1.0,
                 sigma=(1.0, 0.7), seed=0, gap_columns=(), first_frame=0):
        self.xyz = np.asarray(xyz, float).reshape(-1, 3)
        self.intensity = np.asarray(intensity, float)
        self.shape = tuple(shape)
        self.n_images = int(n_images)
        self.background = float(background)
        self.sigma = tuple(float(s) for s in sigma)
        self.seed = int(seed)
        self.gap_columns = np.asarray(gap_columns, int)
        self.first_frame = int(first_frame)

    def __len__(self) -> int:
        return self.n_images

    def expected(self, i: int) -> np.ndarray:
        """Expected counts on image ``i`` (0-based; frame ``first_frame + i``)."""
        ny, nx = self.shape
        img = np.full(self.shape, self.background)
        sxy, sz = self.sigma
        z0 = self.first_frame + i
        fz = _pixel_fractions(np.float64(z0), self.xyz[:, 2], sz)
        near = fz > 1e-6
        if not near.any():
            return img
        xyz, amp = self.xyz[near], self.intensity[near] * fz[near]
        r = int(np.ceil(4 * sxy))
        off = np.arange(-r, r + 1)
        px = np.floor(xyz[:, 0])[:, None] + off[None, :]  # (n, w)
        py = np.floor(xyz[:, 1])[:, None] + off[None, :]
        fx = _pixel_fractions(px, xyz[:, :1], sxy)
        fy = _pixel_fractions(py, xyz[:, 1:2], sxy)
        values = amp[:, None, None] * fy[:, :, None] * fx[:, None, :]
        X = np.broadcast_to(px[:, None, :], values.shape)
        Y = np.broadcast_to(py[:, :, None], values.shape)
        inside = (X >= 0) & (X < nx) & (Y >= 0) & (Y < ny)
        np.add.at(img, (Y[inside].astype(int), X[inside].astype(int)), values[inside])
        return img

    def get_raw_data(self, i: int):
        rng = np.random.default_rng([self.seed, i])
        img = rng.poisson(self.expected(i)).astype(np.int32)
        if len(self.gap_columns):
            img[:, self.gap_columns] = -1
        return (img,)

    def get_mask(self, i: int):
        mask = np.ones(self.shape, bool)
        if len(self.gap_columns):
            mask[:, self.gap_columns] = False
        return (mask,)


class SyntheticOpener:
    """Picklable ``opener(experiment) -> images`` returning one fixed synthetic image set."""

    def __init__(self, images: SyntheticImages):
        self.images = images

    def __call__(self, experiment):
        return self.images


def synthetic_experiment(images: SyntheticImages, oscillation=(0.0, 0.1), still: bool = False,
                         distance: float = 150.0, pixel_size: float = 0.172) -> ExperimentList:
    """A one-panel experiment whose detector matches ``images`` (beam at the image centre)."""
    ny, nx = images.shape
    origin = (-nx / 2 * pixel_size, ny / 2 * pixel_size, -distance)
    panel = Panel(fast_axis=(1, 0, 0), slow_axis=(0, -1, 0), origin=origin, pixel_size=(pixel_size, pixel_size),
                  image_size=(nx, ny), trusted_range=(-1, 1e6))
    first = images.first_frame + 1
    scan = Scan((first, first + images.n_images - 1), (oscillation[0], 0.0 if still else oscillation[1]))
    names = [f"synthetic_{n:05d}.cbf" for n in range(first, first + images.n_images)]
    expt = Experiment(
        beam=Beam(direction=(0, 0, 1), wavelength=1.0),
        detector=Detector([panel]),
        goniometer=None if still else Goniometer(),
        scan=scan,
        imageset=ImageSetReference(images=names),
    )
    return ExperimentList([expt])
