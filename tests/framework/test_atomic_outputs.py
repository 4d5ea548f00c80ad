"""Outputs: written whole or not at all, together when they belong together, with the user's umask."""

import os
import stat

import pytest

from friedel.errors import FriedelError
from friedel.io import atomic_write, check_output_path, committed_together


def test_files_get_the_permissions_the_umask_gives(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "out.txt", mode="w") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "out.txt").st_mode) == 0o644


def test_outputs_written_together_are_all_or_nothing(tmp_path):
    (tmp_path / "a.expt").write_text("old a")
    (tmp_path / "a.refl").write_text("old refl")
    with pytest.raises(RuntimeError):
        with committed_together():
            with atomic_write(tmp_path / "a.expt", mode="w") as handle:
                handle.write("new a")
            raise RuntimeError("the second file could not be written")
    assert (tmp_path / "a.expt").read_text() == "old a"
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".friedel-")]
    with committed_together():
        for name in ("a.expt", "a.refl"):
            with atomic_write(tmp_path / name, mode="w") as handle:
                handle.write("new")
        assert (tmp_path / "a.expt").read_text() == "old a"  # nothing renamed before the end
    assert (tmp_path / "a.expt").read_text() == (tmp_path / "a.refl").read_text() == "new"


@pytest.mark.parametrize("case", ["empty", "directory", "unwritable"])
def test_bad_output_paths_are_refused_before_any_work(tmp_path, case):
    if case == "empty":
        path = ""
    elif case == "directory":
        path = tmp_path / "indexed.expt"
        path.mkdir()
    else:
        if os.geteuid() == 0:
            pytest.skip("root can write into read-only folders")
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        path = folder / "x.expt"
    with pytest.raises(FriedelError, match="output file name is empty|directory of that name|not writable"):
        check_output_path(path)
