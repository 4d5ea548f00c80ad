"""Simulated integrated sweeps for the scaling tests (no images: seconds)."""

from __future__ import annotations


def simulated(n_images: int = 140, anomalous: float = 0.0, seed: int = 0, **overrides):
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    kwargs = {"scan.n_images": n_images, "crystal.anomalous": anomalous, "seed": seed}
    kwargs.update(overrides)
    return simulate_integrated(make_params("tiny", **kwargs))
