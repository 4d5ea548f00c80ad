import numpy as np
import pytest

from friedel.errors import ParameterError
from friedel.plugins.spotfinding.filters import (
    BackgroundGradient, FilterParams, IceRings, MaxSeparation, MinSpotSize, ResolutionRange, UntrustedRegions,
    ice_ring_d_spacings, spot_resolution)
from friedel.plugins.spotfinding.finder import SpotfinderParams, find_spots
from friedel.plugins.spotfinding.labelling import PEAK_COLUMN
from friedel.plugins.spotfinding.synthetic import SyntheticImages, SyntheticOpener, synthetic_experiment
from friedel.reflection_table import ReflectionTable


def table_at(xy, experiments, n_signal=None):
    n = len(xy)
    t = ReflectionTable()
    t["xyzobs.px.value"] = np.c_[np.asarray(xy, float), np.full(n, 0.5)]
    t["id"] = np.zeros(n, np.int32)
    t["panel"] = np.zeros(n, np.int64)
    t["n_signal"] = np.asarray(n_signal if n_signal is not None else np.full(n, 5))
    return t


@pytest.fixture
def still():
    images = SyntheticImages(np.zeros((0, 3)), [], shape=(300, 300), n_images=1)
    return images, synthetic_experiment(images, still=True, distance=60.0)


def test_ice_ring_d_spacings_are_those_of_hexagonal_ice():
    d = ice_ring_d_spacings(1.9)
    for ring in (3.897, 3.669, 3.441, 2.671, 2.249, 2.072):
        assert np.min(np.abs(d - ring)) < 0.005
    assert not np.any(np.abs(d - 4.49) < 0.05)  # (001) of ice Ih is absent (6_3 screw)


def test_resolution_and_ice_ring_filters(still):
    _, experiments = still
    x = np.linspace(150, 299, 400)
    t = table_at(np.c_[x, np.full_like(x, 150.0)], experiments)
    d = spot_resolution(t, experiments)
    params = FilterParams(d_min=2.5, d_max=6.0)
    keep = ResolutionRange()(t, experiments, params)
    assert np.array_equal(keep, (d >= 2.5) & (d <= 6.0)) and 0 < keep.sum() < len(d)
    with pytest.raises(ParameterError):
        ResolutionRange()(t, experiments, FilterParams(d_min=3, d_max=2))
    params.ice_rings.filter = True
    removed = ~IceRings()(t, experiments, params)
    on_ring = np.min(np.abs(1 / d[:, None] ** 2 - 1 / ice_ring_d_spacings(1.0)[None] ** 2), axis=1) <= 0.001
    assert removed.any() and np.array_equal(removed, on_ring)


def test_untrusted_regions_size_and_separation(still):
    _, experiments = still
    t = table_at([[10, 10], [50, 50], [100, 100], [200, 250]], experiments, n_signal=[2, 3, 10, 4])
    params = FilterParams()
    params.untrusted.rectangle = [(0, 0, 20, 0, 20)]
    params.untrusted.circle = [(0, 50, 52, 3)]
    params.untrusted.polygon = [(0, 190, 240, 210, 240, 200, 260)]
    assert list(UntrustedRegions()(t, experiments, params)) == [False, False, True, False]
    assert list(MinSpotSize()(t, experiments, params)) == [False, True, True, True]
    t[PEAK_COLUMN] = t["xyzobs.px.value"] + np.array([[0, 0, 0], [3, 0, 0], [1, 1, 0], [0, 0, 2.5]])
    assert list(MaxSeparation()(t, experiments, params)) == [True, False, True, False]


def test_background_gradient_filter_removes_spots_on_a_ring():
    yy, xx = np.mgrid[:200, :200]
    # a broad powder ring (part of the background) with spots on its flank, plus isolated spots
    spots_on_ring = np.array([[100 + 64 * np.cos(a), 100 + 64 * np.sin(a), 0.5] for a in (0.3, 1.9, 4.0)])
    isolated = np.array([[30, 30, 0.5], [170, 30, 0.5], [100, 100, 0.5]])
    ring = 30.0 * np.exp(-((np.hypot(xx + 0.5 - 100, yy + 0.5 - 100) - 60) ** 2) / (2 * 4.0**2))

    class RingImages(SyntheticImages):
        def expected(self, i):
            return super().expected(i) + ring

    images = RingImages(np.r_[spots_on_ring, isolated], np.full(6, 3000.0), shape=(200, 200), n_images=1,
                        background=2.0, sigma=(1.0, 0.3))
    experiments = synthetic_experiment(images, still=True)
    params = SpotfinderParams()
    params.mp.method = "none"
    without = find_spots(experiments, params, opener=SyntheticOpener(images)).reflections
    assert len(without) == 6
    params.filter.background_gradient.filter = True
    result = find_spots(experiments, params, opener=SyntheticOpener(images))
    kept = result.reflections["xyzobs.px.value"][:, :2]
    assert result.removed["background_gradient"] == 3
    for x, y, _ in isolated:
        assert np.min(np.hypot(kept[:, 0] - x, kept[:, 1] - y)) < 0.5
