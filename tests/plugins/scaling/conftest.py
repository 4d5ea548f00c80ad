"""Small simulated integrated sweeps (no images) shared by the scaling tests."""

from __future__ import annotations

import pytest

from .scaling_simulation import simulated


@pytest.fixture(scope="session")
def tiny_sweep():
    """A 70-degree lysozyme sweep (tiny preset, 140 x 0.5 deg) with scale drift and decay."""
    return simulated(140, physics__scale_drift=0.1, physics__radiation_damage=3.0)


@pytest.fixture(scope="session")
def anomalous_sweep():
    """A 60-degree sweep with Bijvoet differences (10% relative)."""
    return simulated(120, anomalous=0.1, seed=3)
