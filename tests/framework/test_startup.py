"""Start-up stays light: ``friedel --help`` and ``friedel <command> --help`` import no plugin
implementation (numba kernels, scipy, HDF5), and declared help lines match the commands'."""

import json
import subprocess
import sys

import pytest

HEAVY = ("numba", "scipy.stats", "scipy.fft", "scipy.sparse", "scipy.optimize", "scipy.ndimage", "h5py", "fabio",
         "hdf5plugin")
PROBE = """
import contextlib, io, json, sys
from friedel.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*args):
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["code"] == 0
    return set(out["modules"])


def test_friedel_help_imports_no_numerical_library():
    modules = imported_by("--help")
    assert not {m for m in modules if m.split(".")[0] in ("numpy", "scipy", "numba", "gemmi", "h5py")}
    # only the packages and their hook modules: no command is imported to list the commands
    loaded = [m.split(".")[2:] for m in modules if m.startswith("friedel.plugins.")]
    assert all(len(p) == 1 or (len(p) == 2 and p[1] == "hooks") for p in loaded), sorted(loaded)


@pytest.mark.parametrize("command", ["import", "find_spots", "index", "refine", "simulate", "integrate", "symmetry", "scale",
                                     "merge", "export", "process"])
def test_command_help_imports_no_plugin_implementation(command):
    modules = imported_by(command, "--help")
    assert not [m for m in modules if m in HEAVY], sorted(m for m in modules if m in HEAVY)


def test_declared_command_help_matches_the_command():
    from friedel.plugin_manager import plugin_entries

    for name, entry in plugin_entries("commands").items():
        if entry.target is not None and entry.builtin and entry.error is None:
            # the same line, but for a parenthesis the declaration cannot compute (simulate's presets)
            declared, actual = entry.help.split(" (")[0], entry.load().help.split(" (")[0]
            assert declared == actual, (name, entry.help, entry.load().help)
