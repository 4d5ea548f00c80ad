"""``friedel symmetry`` and ``friedel cosym``."""

from __future__ import annotations

import logging
import os

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.plugins.symmetry.params import CosymCommandParams, SymmetryParams

log = logging.getLogger("friedel")


def _check_outputs(output, files) -> None:
    from friedel.io.atomic import check_not_overwriting_input

    paths = [output.experiments, output.reflections, output.json]
    for path in paths:
        check_not_overwriting_input(path, files)
    if len(set(map(os.path.abspath, paths))) != len(paths):
        raise FriedelError("output.experiments, output.reflections and output.json must be different files")


def _write(outcome, output) -> None:
    from friedel.io import write_experiments, write_reflections
    from friedel.plugins.symmetry.report import write_json

    write_experiments(outcome.experiments, output.experiments)
    write_reflections(outcome.reflections, output.reflections)
    write_json(output.json, outcome.summary)
    log.info("Saving reindexed experiments to %s", output.experiments)
    log.info("Saving reindexed reflections to %s", output.reflections)


class SymmetryCommand(Command):
    """Determine the Laue group from the correlation of reflections related by each rotation
    of the lattice symmetry (Evans-style likelihoods), then the space group from screw-axis
    absences; reindex to the best setting and write symmetrized.expt/.refl and
    friedel.symmetry.json."""

    name = "symmetry"
    help = "Laue group and space group of a crystal from its integrated intensities"
    usage = "friedel symmetry integrated.expt integrated.refl [laue_group=P4/mmm] [space_group=P41212] [data.d_min=2]"
    Params = SymmetryParams

    def run(self, params, files):
        from friedel.plugins.symmetry.runs import run_symmetry

        experiments, reflections = self.load_experiments_and_reflections(files)
        _check_outputs(params.output, files)
        outcome = run_symmetry(experiments, reflections, params)
        log.info(outcome.text)
        _write(outcome, params.output)


class CosymCommand(Command):
    """Resolve indexing ambiguities between many data sets and find their Laue group: pairwise
    correlations under every lattice operation embedded in a few dimensions (Gildea & Winter
    2018); data sets of another cell or too weak are excluded. Writes symmetrized.expt/.refl
    (every data set reindexed) and friedel.cosym.json."""

    name = "cosym"
    help = "Consistent indexing and Laue group of many data sets (crystals or sweeps)"
    usage = "friedel cosym integrated.expt integrated.refl [more.expt more.refl ...] [space_group=P4] [dimensions=Auto]"
    Params = CosymCommandParams

    def run(self, params, files):
        from friedel.plugins.symmetry.runs import run_cosym

        experiments, reflections = load_many(self, files)
        _check_outputs(params.output, files)
        outcome = run_cosym(experiments, reflections, params)
        log.info(outcome.text)
        _write(outcome, params.output)


def load_many(command: Command, files):
    """One or more .expt/.refl pairs (in the same order) as one experiment list and table."""
    import numpy as np

    from friedel.io import read_experiments, read_reflections
    from friedel.models.experiment import ExperimentList
    from friedel.reflection_table import ReflectionTable

    groups = command.split_files(files, ".expt", ".refl")
    expt_files, refl_files = groups[".expt"], groups[".refl"]
    if not expt_files or not refl_files:
        raise FriedelError(f"friedel {command.name} needs .expt and .refl files (integrated or scaled)")
    if len(expt_files) != len(refl_files):
        raise FriedelError(f"give one .refl per .expt (got {len(expt_files)} .expt and {len(refl_files)} .refl files)")
    if len(expt_files) == 1:
        return read_experiments(expt_files[0]), read_reflections(refl_files[0])
    experiments = ExperimentList()
    tables = []
    for e_path, r_path in zip(expt_files, refl_files):
        expts = read_experiments(e_path)
        refl = read_reflections(r_path)
        offset = len(experiments)
        ids = np.asarray(refl["id"]).copy()
        ids[ids >= 0] += offset
        refl["id"] = ids.astype(np.int32)
        refl.experiment_identifiers = {k + offset: v for k, v in refl.experiment_identifiers.items()}
        experiments.extend(expts)
        tables.append(refl)
    common = set.intersection(*(set(t.keys()) for t in tables))
    for t in tables:
        for name in set(t.keys()) - common:
            del t[name]
    table = ReflectionTable.concatenate(tables)
    identifiers = {}
    for t in tables:
        identifiers.update(t.experiment_identifiers)
    table.experiment_identifiers = identifiers
    return experiments, table
