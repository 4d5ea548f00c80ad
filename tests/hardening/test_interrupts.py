"""Ctrl-C at any moment of ``friedel find_spots nproc=2``: it ends promptly and quietly, and leaves
either every output (it had finished) or none, never a half-written or temporary file."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def friedel_program() -> str:
    """The installed ``friedel`` script (Ctrl-C may arrive while it imports friedel)."""
    beside = Path(sys.executable).parent / "friedel"
    return str(beside) if beside.exists() else shutil.which("friedel")

IMAGES = ("sim_00001.cbf", "sim_00002.cbf", "sim_00003.cbf")


@pytest.mark.parametrize("delay", [0.3, 0.8, 2.0, 3.5])  # before 0.1 s Python itself is still starting
def test_ctrl_c_of_find_spots(work, delay):
    folder = work("imported.expt", *IMAGES)
    data = json.loads((folder / "imported.expt").read_text())
    for imageset in data["imageset"]:
        imageset["template"] = str(folder / "sim_#####.cbf")
    (folder / "imported.expt").write_text(json.dumps(data))
    proc = subprocess.Popen([friedel_program(), "find_spots", "imported.expt", "nproc=2"], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 20, "did not end promptly after Ctrl-C"
    assert "Traceback" not in err + out, err
    assert not list(folder.glob(".friedel-*")), "a temporary file was left behind"
    if proc.returncode == 0:  # it had finished before the signal arrived: complete outputs
        assert (folder / "strong.refl").exists()
    else:
        assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, err)
        assert len([line for line in err.splitlines() if line.strip()]) == 1 and "interrupted" in err, err
        assert not (folder / "strong.refl").exists() and not (folder / "friedel.find_spots.json").exists()
