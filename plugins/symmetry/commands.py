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

        experiments, reflections = self.load_experiments_and_reflections(files)
        _check_outputs(params.output, files)
        outcome = run_cosym(experiments, reflections, params)
        log.info(outcome.text)
        _write(outcome, params.output)
