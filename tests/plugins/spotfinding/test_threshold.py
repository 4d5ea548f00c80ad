import numpy as np
import pytest
from scipy import ndimage

from friedel.plugins.spotfinding.threshold import (
    DispersionExtendedThreshold, DispersionParams, DispersionThreshold, GlobalParams, GlobalThreshold)


def reference_dispersion(image, valid, p: DispersionParams):
    """Plain numpy statement of the dispersion tests (box sums by convolution)."""
    kx, ky = p.kernel_size
    box = np.ones((2 * ky + 1, 2 * kx + 1))
    img = np.where(valid, image, 0).astype(float)
    n = ndimage.convolve(valid.astype(float), box, mode="constant")
    s = ndimage.convolve(img, box, mode="constant")
    q = ndimage.convolve(img**2, box, mode="constant")
    g = p.gain
    with np.errstate(invalid="ignore", divide="ignore"):
        mean, var = s / n, (q - s * s / n) / (n - 1)
        background = var / mean > g * (1 + p.sigma_background * np.sqrt(2 / (n - 1)))
        strong = image - mean > p.sigma_strong * np.sqrt(g * mean)
    return valid & (n >= max(p.min_local, 2)) & (s > 0) & background & strong & (image > p.global_threshold)


def spotty_image(rng, shape=(120, 150), n=25):
    img = rng.poisson(3.0, shape).astype(np.int32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for cx, cy in rng.uniform(5, min(shape) - 5, (n, 2)):
        img += rng.poisson(150 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 2.0)).astype(np.int32)
    return img


@pytest.mark.parametrize("gain,kernel", [(1.0, (3, 3)), (1.5, (2, 4))])
def test_dispersion_matches_the_statistical_definition(gain, kernel):
    rng = np.random.default_rng(1)
    img = spotty_image(rng)
    mask = rng.random(img.shape) > 0.02
    img[:, 70:73] = -1  # module gap
    p = DispersionParams(gain=gain, kernel_size=kernel)
    strong = DispersionThreshold(p)(img, mask, (-1, 1e6))
    expected = reference_dispersion(img, mask & (img > -1), p)
    assert strong.sum() > 100
    assert np.array_equal(strong, expected)


def test_no_strong_pixels_on_masked_gaps_or_overloads():
    rng = np.random.default_rng(2)
    img = spotty_image(rng)
    img[:, 40:43] = -1
    img[10, 10] = 200000  # above the trusted range: an overload must not count as strong
    mask = np.ones(img.shape, bool)
    mask[50:60, 50:60] = False
    for algorithm in (DispersionThreshold(), DispersionExtendedThreshold(), GlobalThreshold(GlobalParams(threshold=20))):
        strong = algorithm(img, mask, (-1, 100000))
        assert not strong[:, 40:43].any() and not strong[50:60, 50:60].any() and not strong[10, 10]
        assert strong.any()


def test_pure_background_gives_almost_no_strong_pixels():
    img = np.random.default_rng(3).poisson(5.0, (400, 400))
    strong = DispersionThreshold()(img, np.ones(img.shape, bool))
    assert strong.mean() < 1e-4


def test_extended_finds_more_of_a_weak_broad_spot():
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:100, :100]
    expected = 2.0 + 12.0 * np.exp(-((xx - 50) ** 2 + (yy - 50) ** 2) / (2 * 3.0**2))
    img = rng.poisson(expected)
    mask = np.ones(img.shape, bool)
    plain = DispersionThreshold()(img, mask)
    extended = DispersionExtendedThreshold()(img, mask)
    core = (xx - 50) ** 2 + (yy - 50) ** 2 <= 9
    assert extended[core].sum() > plain[core].sum()
    assert extended[core].mean() > 0.6
    assert extended[(xx - 50) ** 2 + (yy - 50) ** 2 > 15**2].mean() < 1e-3
