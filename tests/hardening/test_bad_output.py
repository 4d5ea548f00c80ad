"""Outputs that cannot be written: refused before the work, or reported as what they are after it,
with nothing half-written and the old outputs untouched."""

from __future__ import annotations

import resource
import sys

import pytest

from harness import assert_refused, run


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))  # like `ulimit -f 300` (512-byte blocks)


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE semantics")
def test_file_size_limit_during_index(work):
    """indexed.refl cannot be written (file size limit): neither output appears, the old pair stays."""
    import subprocess

    folder = work("imported.expt", "strong.refl", "indexed.expt", "indexed.refl")
    from harness import _CONSOLE, snapshot

    before = snapshot(folder)
    proc = subprocess.run([sys.executable, "-c", _CONSOLE, "index", "imported.expt", "strong.refl"], cwd=folder,
                          capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    after = snapshot(folder)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "could not write" in lines[0] and "larger than allowed" in lines[0], proc.stderr
    assert {k: v for k, v in after.items() if not k.startswith("friedel.")} == before
    assert not list(folder.glob(".friedel-*.tmp"))


@pytest.mark.parametrize("command, files, assignment", [
    ("index", ("imported.expt", "strong.refl"), "output.experiments=missing_folder_is_a_file/x.expt"),
    ("refine", ("indexed.expt", "indexed.refl"), "output.reflections=  "),
    ("symmetry", ("integrated.expt", "integrated.refl"), "output.json="),
])
def test_output_refused_before_the_work(work, command, files, assignment):
    folder = work(*files)
    (folder / "missing_folder_is_a_file").write_text("a file")
    o = run([command, *files, assignment], folder)
    assert_refused(o, assignment.split("=")[0].split(".")[-1])
    assert o.seconds < 10  # refused at once, not after the computation
