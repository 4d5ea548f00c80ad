"""Shared test fixtures.

Real data from ../shared/data is found through the FRIEDEL_DATA environment variable
(default: the ``shared/data`` folder beside the repository); tests that need it skip with
a clear reason where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return Path(os.environ.get("FRIEDEL_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Path to shared/data/real, or skip the test when it is not there."""
    path = data_root() / "real"
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (set FRIEDEL_DATA to the shared/data folder)")
    return path


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Run the test inside a fresh temporary folder (commands write their outputs to the cwd)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
