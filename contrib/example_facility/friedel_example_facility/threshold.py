"""A robust global threshold: pixels far above the image median, in MAD units."""

from __future__ import annotations

import numpy as np

from friedel.phil import param, scope


@scope
class RobustGlobalParams:
    """Parameters of the robust global threshold."""

    n_sigma: float = param(6.0, help="Strong pixels are this many robust sigmas above the median")
    min_counts: float = param(1.0, help="Never call a pixel with fewer counts strong")


class RobustGlobalThreshold:
    """Global threshold at median + n_sigma * max(1.4826 MAD, sqrt(median)) of good pixels."""

    name = "robust_global"
    Params = RobustGlobalParams

    def __init__(self, params: RobustGlobalParams | None = None):
        self.params = params or RobustGlobalParams()

    def __call__(self, image, mask, trusted_range=(-np.inf, np.inf)) -> np.ndarray:
        good = mask & (image > trusted_range[0]) & (image <= trusted_range[1])
        values = image[good].astype(float)
        if values.size == 0:
            return np.zeros(image.shape, bool)
        median = np.median(values)
        spread = max(1.4826 * np.median(np.abs(values - median)), np.sqrt(max(median, 1.0)))
        cut = max(median + self.params.n_sigma * spread, self.params.min_counts)
        return good & (image > cut)
