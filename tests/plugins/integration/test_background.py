"""Background models on synthetic shoeboxes: unbiased at low counts, robust to a neighbour's peak."""

from __future__ import annotations

import numpy as np
import pytest

from friedel.flags import MaskCode
from friedel.plugin_manager import build_plugin
from friedel.plugins.integration.params import BackgroundParams


def boxes(rng, mu, n_boxes=400, shape=(2, 9, 9), hot=0):
    """Boxes with a Poisson(mu) background, a 3x3 foreground in the middle and ``hot`` pixels of
    a neighbour's peak (50 mu) in each background."""
    size = int(np.prod(shape))
    data = rng.poisson(mu, (n_boxes, size)).astype(np.float32)
    mask = np.full((n_boxes, size), int(MaskCode.valid | MaskCode.background), np.uint8)
    fg = np.zeros(shape, bool)
    fg[:, 3:6, 3:6] = True
    mask[:, fg.ravel()] = int(MaskCode.valid | MaskCode.foreground)
    if hot:
        bg_idx = np.flatnonzero(~fg.ravel())[:hot]
        data[:, bg_idx] += rng.poisson(50 * mu + 20, (n_boxes, hot))
    offsets = np.arange(n_boxes + 1, dtype=np.int64) * size
    shapes = np.tile(np.array(shape, np.int64), (n_boxes, 1))
    return data.ravel(), mask.ravel(), offsets, shapes


def model(name):
    scope = BackgroundParams(algorithm=name)
    return build_plugin("background_algorithms", name, scope, experiment=None, background_scope=scope)


@pytest.mark.parametrize("mu", [0.5, 2.0, 20.0])
def test_glm_is_unbiased_at_low_counts(mu):
    data, mask, offsets, shapes = boxes(np.random.default_rng(1), mu)
    bg = np.zeros_like(data)
    ok, mean, var = model("glm")(data, mask, offsets, shapes, bg)
    assert ok.all()
    assert abs(mean.mean() / mu - 1) < 0.02
    # the stated variance of the level is the scatter of the levels
    assert 0.8 < np.var(mean) / np.mean(var) < 1.25
    used = (mask & int(MaskCode.background_used)) != 0
    assert used.sum() == ((mask & int(MaskCode.background)) != 0).sum()


def test_glm_and_simple_resist_a_neighbouring_peak():
    mu = 2.0
    data, mask, offsets, shapes = boxes(np.random.default_rng(2), mu, hot=3)
    for name, tol in (("glm", 0.08), ("simple", 0.08)):
        m = mask.copy()
        ok, mean, _ = model(name)(data, m, offsets, shapes, np.zeros_like(data))
        assert ok.all() and abs(mean.mean() / mu - 1) < tol, (name, mean.mean())
    # without outlier rejection the peak drags the mean up
    scope = BackgroundParams(algorithm="simple")
    plain = build_plugin("background_algorithms", "simple", scope, experiment=None, background_scope=scope)
    plain.params.outlier = "null"
    _, mean, _ = plain(data, mask.copy(), offsets, shapes, np.zeros_like(data))
    assert mean.mean() / mu > 1.5


def test_overlapped_and_invalid_pixels_are_never_background():
    rng = np.random.default_rng(3)
    data, mask, offsets, shapes = boxes(rng, 1.0, n_boxes=10)
    mask[::2] |= int(MaskCode.overlapped)
    data[::2] = 1000.0  # would wreck the level if used
    ok, mean, _ = model("glm")(data, mask, offsets, shapes, np.zeros_like(data))
    assert ok.all() and mean.max() < 3.0
    assert not np.any((mask[::2] & int(MaskCode.background_used)) != 0)
    few = mask.copy()
    few[:] = int(MaskCode.valid | MaskCode.foreground)
    ok, _, _ = model("simple")(data, few, offsets, shapes, np.zeros_like(data))
    assert not ok.any()
