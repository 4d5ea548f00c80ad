"""Base class of every ``friedel <command>``, and the loader of its ``.expt``/``.refl`` inputs.

A command is a plugin (hook ``friedel_commands``)::

    class FindSpots(Command):
        name = "find_spots"
        help = "Find strong spots on every image"
        usage = "friedel find_spots imported.expt [min_spot_size=3] [nproc=4]"
        Params = FindSpotsParams          # an attrs scope from friedel.phil

        def run(self, params, files):
            experiments, _ = self.load_experiments_and_reflections(files, need_reflections=False)
            ...

The CLI parses ``files`` and ``key=value`` arguments, builds ``params`` (plugin scopes
included), sets up logging to the terminal and ``friedel.<name>.log``, logs the modified
parameters, then calls :meth:`run`. Raise :class:`friedel.errors.FriedelError` for any
problem with the user's input: it becomes a one-line message and a non-zero exit.

Reading experiments and reflections
-----------------------------------
Every command that reads experiments calls :meth:`Command.load_experiments_and_reflections`
(or the module function :func:`load_experiments_and_reflections`). Like DIALS, it accepts any
number of ``.expt`` and ``.refl`` files in any order and returns **one** combined
:class:`~friedel.models.ExperimentList` and **one** combined reflection table:

* experiments are concatenated in the order their ``.expt`` files were given; each keeps its
  identifier, experiments without one get a new unique identifier, and the same identifier in
  two files is an error (usually the same file given twice);
* each reflection table is matched to the experiments it belongs to

  1. through its identifier map (``experiment_identifiers``: ``id`` -> identifier), when it has
     one: every row's ``id`` becomes the position of the experiment with that identifier in the
     combined list, wherever (in whichever ``.expt``) that experiment is;
  2. otherwise by position: with one ``.refl`` per ``.expt`` the i-th reflection file belongs
     to the i-th experiment file (its ids count from 0 within that file); a single ``.refl``
     without identifiers refers to the combined list directly (e.g. one ``strong.refl`` found
     on ``a.expt b.expt``). A table whose identifiers match *none* of the experiments (another
     data set, or the images were imported again, which makes new identifiers) is refused, as
     is one whose identifiers match only some;
  3. anything else is ambiguous and a one-line error says what to give instead;

* ``id`` values of -1 (unassigned reflections) stay -1; the combined table's identifier map
  names the experiment of every id present;
* columns that not every table has are dropped (with a warning naming them);
* reflections must fit their experiments (:func:`check_reflections_fit_experiments`): finite
  observed centroids on an existing panel, inside the panel and the scan's images; anything
  else is a file of another data set or a damaged one, and is refused naming the file.

So a new command needs no file handling of its own::

    experiments, reflections = self.load_experiments_and_reflections(files)
    for i, expt in enumerate(experiments):
        mine = reflections.select(reflections["id"] == i)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

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

    def load_experiments_and_reflections(self, files: list[str], need_reflections: bool = True,
                                         need_experiments: bool = True, allow_reflections: bool = True):
        """All ``.expt`` and ``.refl`` files of the command line, combined and matched up.

        Parameters
        ----------
        files : list of str
            The command's file arguments, ``.expt`` and ``.refl`` in any order and number.
        need_reflections : bool
            At least one ``.refl`` file is required.
        need_experiments : bool
            At least one ``.expt`` file is required (``False``: reflections alone are accepted,
            and ``experiments`` is ``None`` when no ``.expt`` is given).
        allow_reflections : bool
            ``False`` for commands that read only experiments: a ``.refl`` is then an error.

        Returns
        -------
        (ExperimentList or None, ReflectionTable or None)
            The combined experiments (unique identifiers) and the combined reflections (``id``
            remapped to positions in the combined list, identifier map kept), ``None`` where no
            file of that kind was given.  See the module docstring for the matching rules.
        """
        return load_experiments_and_reflections(
            files, command=self.name, need_reflections=need_reflections, need_experiments=need_experiments,
            allow_reflections=allow_reflections)


# -- outputs ---------------------------------------------------------------------------------------

#: output parameters by their last name: files a command writes (directories and prefixes are not files)
OUTPUT_FILE_NAMES = frozenset({"experiments", "reflections", "json", "mtz", "summary", "hklout", "html", "log"})


def output_file_parameters(tree, params) -> dict[str, str]:
    """Path -> file name of every output file parameter that is set: a parameter of an ``output``
    scope named like a file (``output.experiments``, ``output.json``, ...), any ``hklout``, and a
    top-level ``output`` path (``friedel report``)."""
    from friedel.phil import types

    out = {}
    for path, definition in tree.definitions.items():
        segments = path.split(".")
        is_file = (("output" in segments[:-1] and segments[-1] in OUTPUT_FILE_NAMES) or segments[-1] == "hklout"
                   or (path == "output" and isinstance(definition.value_type, types.Path)))
        if not is_file or definition.info.multiple:
            continue
        value = tree.value_of(params, path)
        if isinstance(value, str):
            out[path] = value
    return out


def check_output_parameters(tree, params) -> None:
    """Refuse, before any work, an output file that cannot be written: an empty name, a directory of
    that name, a folder that is a file or is not writable (:func:`friedel.io.check_output_path`)."""
    from friedel.io.atomic import check_output_path

    for path, value in output_file_parameters(tree, params).items():
        if not value.strip():
            default = tree.definitions[path].default
            hint = f"e.g. {path}={default}" if default else "or leave it out for the default name"
            raise FriedelError(f"{path} is empty; give a file name ({hint})")
        try:
            check_output_path(value)
        except FriedelError as exc:
            raise FriedelError(f"{path}: {exc}") from None


# -- the loader ------------------------------------------------------------------------------------

@dataclass
class _ExperimentFile:
    path: str
    experiments: object  # ExperimentList
    first: int           # position of its first experiment in the combined list


def load_experiments_and_reflections(files: list[str], command: str = "", need_reflections: bool = True,
                                     need_experiments: bool = True, allow_reflections: bool = True):
    """Read every ``.expt`` and ``.refl`` in ``files`` and combine them (see the module docstring).

    Returns ``(experiments, reflections)``; either is ``None`` when no file of its kind was given
    and it is not required.  Raises :class:`FriedelError` with a one-line message on a missing
    file, a missing kind, a duplicated identifier or reflections that cannot be matched.
    """
    from friedel.io import read_experiments, read_reflections

    prog = f"friedel {command}" if command else "this command"
    groups = Command.split_files(files, ".expt", ".refl")
    if need_experiments and not groups[".expt"]:
        raise FriedelError(f"{prog} needs at least one .expt file (e.g. imported.expt or indexed.expt)")
    if groups[".refl"] and not allow_reflections:
        raise FriedelError(f"{prog} reads experiments only; remove {', '.join(groups['.refl'])} from the command line")
    if need_reflections and not groups[".refl"]:
        raise FriedelError(f"{prog} needs at least one .refl file besides the .expt file(s)")
    refuse_repeated_files(groups[".expt"] + groups[".refl"])
    expt_files = []
    for path in groups[".expt"]:
        first = sum(len(f.experiments) for f in expt_files)
        expt_files.append(_ExperimentFile(path, read_experiments(path), first))
    tables = [(path, read_reflections(path)) for path in groups[".refl"]]

    experiments = combine_experiment_lists(expt_files) if expt_files else None
    reflections = None
    if tables:
        if experiments is None:
            reflections = _combine_without_experiments(tables)
        else:
            reflections = combine_reflection_tables(tables, expt_files, experiments)
    if experiments is not None:
        for e in experiments:
            e.ensure_identifier()
        if reflections is not None:
            reflections.experiment_identifiers = {}
            reflections.assign_identifiers(experiments)
    return experiments, reflections


def refuse_repeated_files(paths: list[str]) -> None:
    """A FriedelError if the same file (by its real path) is among ``paths`` twice."""
    seen = {}
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:
            raise FriedelError(f"{p} is given twice (also as {seen[key]}); give each file once")
        seen[key] = p


def combine_experiment_lists(expt_files: list[_ExperimentFile]):
    """One ExperimentList of all files in order; a non-empty identifier may appear only once."""
    from friedel.models import ExperimentList

    combined = ExperimentList()
    owner: dict[str, str] = {}
    for f in expt_files:
        for e in f.experiments:
            if e.identifier:
                if e.identifier in owner:
                    raise FriedelError(
                        f"experiment identifier {e.identifier} is in both {owner[e.identifier]} and {f.path}: "
                        "the same experiments were given twice; give each data set once")
                owner[e.identifier] = f.path
            combined.append(e)
    return combined


def _ids(table) -> np.ndarray:
    if "id" not in table:
        return np.zeros(len(table), dtype=np.int64)
    return np.asarray(table["id"], dtype=np.int64)


def _remap_by_identifier(path, table, position_of: dict[str, int]) -> np.ndarray:
    """New ids from the table's identifier map; -1 stays -1."""
    ids = _ids(table)
    new = np.full(len(ids), -1, dtype=np.int64)
    for old in np.unique(ids[ids >= 0]):
        ident = table.experiment_identifiers.get(int(old))
        if ident is None:
            raise FriedelError(
                f"{path}: reflections with id {old} have no experiment identifier in the file's identifier map "
                "(the file is inconsistent; re-run the step that wrote it)")
        if ident not in position_of:
            raise FriedelError(
                f"{path}: reflections with id {old} belong to experiment {ident}, which none of the given .expt "
                "files contains; give the .expt file these reflections were made from (after a new import, "
                "run find_spots again)")
        new[ids == old] = position_of[ident]
    return new


def _remap_by_position(path, table, first: int, count: int, what: str) -> np.ndarray:
    ids = _ids(table)
    bad = ids >= count
    if bad.any():
        raise FriedelError(
            f"{path}: reflections have experiment id up to {int(ids.max())} but {what} holds {count} "
            f"experiment(s); give the .expt file(s) these reflections were made from")
    return np.where(ids >= 0, ids + first, -1)


def _has_identifier_map(table, experiments) -> bool:
    """True if the table names its experiments and those names can be looked up."""
    return bool(table.experiment_identifiers) and any(e.identifier for e in experiments)


def combine_reflection_tables(tables, expt_files, experiments):
    """Match each (path, table) to the experiments and concatenate with remapped ``id``."""
    position_of = {e.identifier: i for i, e in enumerate(experiments) if e.identifier}
    positional = len(tables) == len(expt_files)
    remapped = []
    for k, (path, table) in enumerate(tables):
        by_identifier = _has_identifier_map(table, experiments)
        if by_identifier and not (set(table.experiment_identifiers.values()) & set(position_of)):
            # none of its identifiers is known: the reflections were made from other experiments (another
            # data set, or the images were imported again, which makes new identifiers)
            names = sorted(set(table.experiment_identifiers.values()))
            raise FriedelError(
                f"{path} does not belong to the given .expt file(s): its reflections were made from experiment(s) "
                f"{', '.join(names[:3])}{' ...' if len(names) > 3 else ''}, which none of them contains; give the "
                ".expt file written together with it (after a new import, run find_spots again)")
        if by_identifier:
            new_ids = _remap_by_identifier(path, table, position_of)
        elif positional:
            f = expt_files[k]
            new_ids = _remap_by_position(path, table, f.first, len(f.experiments), f.path)
        elif len(tables) == 1:
            names = expt_files[0].path if len(expt_files) == 1 else f"the {len(expt_files)} .expt files together"
            new_ids = _remap_by_position(path, table, 0, len(experiments), names)
        else:
            raise FriedelError(
                f"cannot tell which experiments the reflections in {path} belong to: it has no experiment "
                f"identifiers, and {len(expt_files)} .expt file(s) were given with {len(tables)} .refl files; "
                "give one .refl per .expt file (in the same order), or files written with identifiers")
        table["id"] = new_ids  # tables were just read from their files: changed in place
        check_reflections_fit_experiments(path, table, experiments)
        remapped.append((path, table))
    return _concatenate(remapped)


#: how far (pixels, images) an observed centroid may lie outside its panel or scan and still be believed
_EDGE_PX = 2.0
_EDGE_IMAGES = 1.0
#: integrated reflections at a panel edge or a scan end can have centroids just outside it (the
#: real CuNiR stills have 5 at x = -6 px): a pair is refused only when many rows are far out
_OFF_TOLERATED = 0.01


def _too_many(off: np.ndarray) -> bool:
    return off.sum() > max(10, _OFF_TOLERATED * len(off))


def check_pair_belongs_together(path, table, experiments) -> None:
    """For commands that read ``.expt``/``.refl`` pairs themselves (scale): refuse a table whose
    experiment identifiers are not those of its experiment list, or whose reflections do not fit
    the experiments (:func:`check_reflections_fit_experiments`)."""
    ids = _ids(table)
    position_of = {e.identifier: i for i, e in enumerate(experiments) if e.identifier}
    if table.experiment_identifiers and position_of:
        positions = np.full(len(ids), -1, dtype=np.int64)
        for old in np.unique(ids[ids >= 0]):
            ident = table.experiment_identifiers.get(int(old))
            if ident not in position_of:
                raise FriedelError(
                    f"{path} does not belong to its .expt file: its reflections with id {int(old)} were made from "
                    f"experiment {ident}, which that file does not contain; give the .expt and .refl written "
                    "together")
            positions[ids == old] = position_of[ident]
        ids = positions
    elif ids.size and ids.max() >= len(experiments):
        raise FriedelError(f"{path}: reflections have experiment id up to {int(ids.max())} but its .expt file holds "
                           f"{len(experiments)} experiment(s); give the .expt and .refl written together")
    check_reflections_fit_experiments(path, table, experiments, ids=ids)


def check_reflections_fit_experiments(path, table, experiments, ids=None) -> None:
    """Refuse reflections that cannot have come from the experiments they are matched to.

    Observed centroids must be finite and lie on their panel and inside their scan's images;
    panel numbers must exist on the experiment's detector. A reflection file of another data
    set, a damaged file (flipped bytes turn numbers into nonsense) or a pair of files that were
    not written together fails here with a message naming the file, instead of giving "no
    lattice found" or a refinement that wanders off to a 3000 A cell.
    """
    n = len(table)
    if n == 0:
        return
    ids = _ids(table) if ids is None else ids
    panels = np.asarray(table["panel"], dtype=np.int64) if "panel" in table else np.zeros(n, dtype=np.int64)
    if (panels < 0).any():
        raise FriedelError(f"{path}: {int((panels < 0).sum())} reflection(s) have a negative panel number; "
                           "the file is corrupt")
    for column in ("xyzobs.px.value", "xyzobs.mm.value"):
        if column in table:
            values = np.asarray(table[column], dtype=float)
            bad = ~np.isfinite(values).all(axis=1) if values.ndim == 2 else ~np.isfinite(values)
            if bad.any():
                raise FriedelError(f"{path}: {int(bad.sum())} reflection(s) have a {column} that is not a number "
                                   "(nan or inf); the file is corrupt: make it again with the step that wrote it")
    xyz = np.asarray(table["xyzobs.px.value"], dtype=float) if "xyzobs.px.value" in table else None
    for i in np.unique(ids[ids >= 0]):
        expt = experiments[int(i)]
        rows = ids == i
        detector = expt.detector
        if detector is None:
            continue
        n_panels = len(detector)
        if panels[rows].max(initial=0) >= n_panels:
            raise FriedelError(
                f"{path}: reflections of experiment {int(i)} are on panel {int(panels[rows].max())} but its detector "
                f"has {n_panels} panel(s) (numbered from 0); these reflections belong to another detector or data "
                "set: give the .expt file they were made from")
        if xyz is None:
            continue
        sizes = np.array([p.image_size for p in detector], dtype=float)  # (fast, slow) per panel
        x, y, z = xyz[rows, 0], xyz[rows, 1], xyz[rows, 2]
        seen = (x != 0) | (y != 0) | (z != 0)  # predictions never observed have (0, 0, 0), as in DIALS
        p, x, y, z = panels[rows][seen], x[seen], y[seen], z[seen]
        off = (x < -_EDGE_PX) | (y < -_EDGE_PX) | (x > sizes[p, 0] + _EDGE_PX) | (y > sizes[p, 1] + _EDGE_PX)
        if _too_many(off):
            k = int(np.argmax(off))
            raise FriedelError(
                f"{path}: {int(off.sum())} reflection(s) of experiment {int(i)} lie outside their panel (e.g. at "
                f"x={x[k]:.1f}, y={y[k]:.1f} px on a {int(sizes[p[k], 0])} x {int(sizes[p[k], 1])} panel); these "
                "reflections belong to another detector or data set, or the file is corrupt")
        scan = expt.scan
        if scan is not None and not expt.is_still and np.any(z != 0):
            first, last = scan.array_range
            outside = (z < first - _EDGE_IMAGES) | (z > last + _EDGE_IMAGES)
            if _too_many(outside):
                k = int(np.argmax(outside))
                raise FriedelError(
                    f"{path}: {int(outside.sum())} reflection(s) of experiment {int(i)} are on images outside its "
                    f"scan (e.g. at image {z[k] + 1:.1f}, the scan has images {scan.image_range[0]}-"
                    f"{scan.image_range[1]}); these reflections belong to another data set, or the file is corrupt")


def _combine_without_experiments(tables):
    """Reflections alone: one table as it is; several only if identifiers tell them apart."""
    if len(tables) == 1:
        return tables[0][1]
    position_of: dict[str, int] = {}
    remapped = []
    for path, table in tables:
        if not table.experiment_identifiers:
            raise FriedelError(
                f"{path} has no experiment identifiers, so several .refl files cannot be combined without their "
                ".expt files; give the .expt files as well")
        for ident in table.experiment_identifiers.values():
            position_of.setdefault(ident, len(position_of))
        table["id"] = _remap_by_identifier(path, table, position_of)
        remapped.append((path, table))
    out = _concatenate(remapped)
    out.experiment_identifiers = {i: ident for ident, i in position_of.items()}
    return out


def _concatenate(tables):
    """Concatenate (path, table) pairs; columns missing from some tables are dropped with a warning."""
    from friedel.reflection_table import ReflectionTable

    if len(tables) == 1:
        return tables[0][1]
    common = set(tables[0][1].keys())
    for _, t in tables[1:]:
        common &= set(t.keys())
    for path, t in tables:
        dropped = sorted(set(t.keys()) - common)
        if dropped:
            log.warning("%s: column(s) %s are not in every reflection file and are left out", path,
                        ", ".join(dropped))
    out = ReflectionTable()
    for _, t in tables:
        for name in list(t.keys()):
            if name not in common:
                del t[name]
        t.experiment_identifiers = {}
        out.extend(t)
    return out
