"""Base class of every ``friedel <command>``.

A command is a plugin (hook ``friedel_commands``)::

    class FindSpots(Command):
        name = "find_spots"
        help = "Find strong spots on every image"
        usage = "friedel find_spots imported.expt [min_spot_size=3] [nproc=4]"
        Params = FindSpotsParams          # an attrs scope from friedel.phil

        def run(self, params, files):
            experiments = self.load_experiments(files)
            ...

The CLI parses ``files`` and ``key=value`` arguments, builds ``params`` (plugin scopes
included), sets up logging to the terminal and ``friedel.<name>.log``, logs the modified
parameters, then calls :meth:`run`. Raise :class:`friedel.errors.FriedelError` for any
problem with the user's input: it becomes a one-line message and a non-zero exit.
"""

from __future__ import annotations

import logging
import os

from friedel.errors import FriedelError

log = logging.getLogger("friedel")


class Command:
    name: str = ""
    help: str = ""
    usage: str = ""
    Params: type | None = None
    #: True if the command reads file names from standard input with ``-i``
    accepts_stdin_files: bool = False

    def run(self, params, files: list[str]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    # -- helpers most commands need ------------------------------------------------------------
    @staticmethod
    def split_files(files: list[str], *suffixes: str) -> dict[str, list[str]]:
        """Group input files by suffix (e.g. ``.expt``, ``.refl``); an unexpected file is an error."""
        out: dict[str, list[str]] = {s: [] for s in suffixes}
        for f in files:
            for s in suffixes:
                if f.endswith(s):
                    out[s].append(f)
                    break
            else:
                raise FriedelError(f"unexpected input file {f}: expected files ending in {', '.join(suffixes)}")
        for f in files:
            if not os.path.exists(f):
                raise FriedelError(f"input file {f} does not exist")
        return out

    def load_experiments_and_reflections(self, files: list[str], need_reflections: bool = True):
        """Read exactly one ``.expt`` and (optionally) one ``.refl`` from the command's files."""
        from friedel.io import read_experiments, read_reflections

        groups = self.split_files(files, ".expt", ".refl")
        if len(groups[".expt"]) != 1:
            raise FriedelError(f"friedel {self.name} needs one .expt file, got {len(groups['.expt'])}")
        experiments = read_experiments(groups[".expt"][0])
        reflections = None
        if need_reflections:
            if len(groups[".refl"]) != 1:
                raise FriedelError(f"friedel {self.name} needs one .refl file, got {len(groups['.refl'])}")
            reflections = read_reflections(groups[".refl"][0])
        return experiments, reflections
