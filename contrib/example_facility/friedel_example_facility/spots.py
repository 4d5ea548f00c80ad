"""Spot finding: a robust global threshold and a total-counts spot filter."""

import numpy as np

from friedel.contracts.spotfinding import SpotFilter, Threshold
from friedel.phil import param, scope


@scope
class RobustGlobalParams:
    n_sigma: float = param(6.0, help="Strong pixels are this many robust sigmas above the median")


class RobustGlobalThreshold(Threshold):
    """Pixels above median + n_sigma * max(1.4826 MAD, sqrt(median)) of the image's good pixels."""

    name, Params = "robust_global", RobustGlobalParams

    def __call__(self, image, mask, trusted_range):
        good = mask & (image > trusted_range[0]) & (image <= trusted_range[1])
        median = np.median(values := image[good].astype(float)) if good.any() else 0.0
        spread = max(1.4826 * np.median(np.abs(values - median)), np.sqrt(max(median, 1.0)))
        return good & (image > median + self.params.n_sigma * spread)


@scope
class MinCountsParams:
    min_counts: float = param(0.0, help="Remove spots whose summed counts are below this")


class MinCounts(SpotFilter):
    """Remove spots whose summed counts are below min_counts."""

    name, Params = "min_counts", MinCountsParams

    def __call__(self, reflections, experiments, filter_params):
        return reflections["intensity.sum.value"] >= self.params.min_counts
