"""``friedel refine_bravais_settings`` and ``friedel reindex``."""

from __future__ import annotations

import json
import logging
import os

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.io.atomic import atomic_write, check_not_overwriting_input, check_output_path
from friedel.phil import param, scope, types
from friedel.plugins.refinement.params import RefinementParams

log = logging.getLogger("friedel")


@scope
class BravaisOutputParams:
    """Output files."""

    prefix: str = param("bravais_setting_", help="Experiments of solution N go to <prefix>N.expt")
    summary: str = param("bravais_summary.json", type=types.Path(), help="Table of all solutions (JSON)")
    directory: str = param(".", type=types.Path(), help="Folder for the output files")


@scope
class RecommendationParams:
    """When a solution is starred: by its metric fit (RMSD) alone; intensity correlations are shown
    as information (the point group may be lower than the lattice's)."""

    rmsd_ratio: float = param(1.5, type=types.Float(min=1.0),
                              help="Largest RMSD relative to the triclinic solution (plus 10% for noise)")


@scope
class RefineBravaisSettingsParams:
    """friedel refine_bravais_settings: refine the triclinic solution in every compatible Bravais lattice."""

    lepage_max_delta: float = param(5.0, type=types.Float(min=0.0, max=30.0),
                                    help="Largest obliquity of a lattice twofold axis (degrees)")
    crystal_id: int = param(0, type=types.Int(min=0), help="Which crystal (experiment) to analyse")
    intensity_column: str = param("intensity.sum.value", help="Intensities compared between related reflections",
                                  expert_level=1)
    recommendation: RecommendationParams = param(RecommendationParams)
    refinement: RefinementParams = param(RefinementParams)
    output: BravaisOutputParams = param(BravaisOutputParams)


class RefineBravaisSettingsCommand(Command):
    """Enumerate the Bravais lattices compatible with the triclinic cell (Le Page), refine the
    crystal in each with the lattice's symmetry constraints and report metric fit, RMSD,
    intensity correlations and the change of basis to each standard setting."""

    name = "refine_bravais_settings"
    help = "Refine the indexed crystal in every compatible Bravais lattice"
    usage = "friedel refine_bravais_settings indexed.expt indexed.refl [lepage_max_delta=5] [crystal_id=0]"
    Params = RefineBravaisSettingsParams

    def run(self, params, files):
        from friedel.io import write_experiments
        from friedel.models.experiment import ExperimentList
        from friedel.plugins.bravais.settings import format_table, refine_bravais_settings

        experiments, reflections = self.load_experiments_and_reflections(files)
        out = params.output
        summary_path = os.path.join(out.directory, out.summary)
        check_not_overwriting_input(summary_path, files)
        if os.path.exists(out.directory) and not os.path.isdir(out.directory):
            raise FriedelError(f"output.directory={out.directory} is a file, not a folder; choose another folder")
        check_output_path(summary_path)
        rec = params.recommendation
        settings = refine_bravais_settings(
            experiments, reflections, max_delta=params.lepage_max_delta, crystal_id=params.crystal_id,
            refinement_params=params.refinement, rmsd_ratio=rec.rmsd_ratio,
            intensity_column=params.intensity_column,
        )
        log.info(format_table(settings))
        paths = [os.path.join(out.directory, f"{out.prefix}{s.number}.expt") for s in settings]
        for p in paths:
            check_not_overwriting_input(p, files)
        os.makedirs(out.directory, exist_ok=True)
        for s, path in zip(settings, paths):
            write_experiments(ExperimentList([s.experiment]), path)
        summary = {str(s.number): s.summary() for s in settings}
        with atomic_write(summary_path, "w") as fh:
            json.dump(summary, fh, indent=2)
        log.info("Saved %d settings (%s1..%d.expt) and %s", len(settings), out.prefix, len(settings), summary_path)


@scope
class ReindexOutputParams:
    """Output files."""

    experiments: str = param("reindexed.expt", type=types.Path(), help="Reindexed experiments (if given)")
    reflections: str = param("reindexed.refl", type=types.Path(), help="Reindexed reflections")


@scope
class ReindexParams:
    """friedel reindex: change the basis of the indexing (and optionally the space group)."""

    change_of_basis_op: str = param("a,b,c", help="New basis in terms of the old (b+c,a+c,a+b), or 'auto' "
                                    "to take solution= from the Bravais summary")
    solution: int | None = param(None, help="With change_of_basis_op=auto: solution number in the summary "
                                 "(default: the highest-symmetry recommended one)")
    summary: str = param("bravais_summary.json", type=types.Path(),
                         help="Summary written by friedel refine_bravais_settings")
    space_group: str | None = param(None, type=types.SpaceGroup(), help="Space group of the reindexed crystal")
    reference: str | None = param(None, type=types.Path(), help="Reference .refl with intensities in the same "
                                  "space group: choose the indexing-ambiguity operator that best correlates with it")
    max_delta: float = param(3.0, help="Obliquity tolerance (degrees) of the twin laws tried against the reference",
                             expert_level=1)
    output: ReindexOutputParams = param(ReindexOutputParams)


class ReindexCommand(Command):
    """Apply a change of basis to Miller indices and crystal models, set a space group, or
    resolve an indexing ambiguity against a reference data set."""

    name = "reindex"
    help = "Change the indexing basis of reflections/experiments (or match a reference)"
    usage = ("friedel reindex indexed.refl [indexed.expt] change_of_basis_op=b+c,a+c,a+b | "
             "change_of_basis_op=auto solution=N | reference=ref.refl [space_group=P4]")
    Params = ReindexParams

    def run(self, params, files):
        from friedel.io import write_experiments, write_reflections
        from friedel.plugins.bravais.reindex import (
            cb_op_from_summary,
            cb_op_from_reference,
            reindex_experiments,
            reindex_reflections,
        )
        from friedel.lattice import ChangeOfBasis

        experiments, reflections = self.load_experiments_and_reflections(files, need_experiments=False)
        check_not_overwriting_input(params.output.reflections, files)
        if experiments is not None:
            check_not_overwriting_input(params.output.experiments, files)

        text = str(params.change_of_basis_op).strip()
        if params.reference:
            cb_op = cb_op_from_reference(experiments, reflections, params.reference, params.max_delta)
        elif text.lower() == "auto":
            cb_op = cb_op_from_summary(params.summary, params.solution)
        else:
            cb_op = ChangeOfBasis.from_string(text)
        log.info("Change of basis: %s", cb_op.as_abc())

        # compute everything before writing anything
        new_reflections = reindex_reflections(reflections, cb_op)
        new_experiments = (reindex_experiments(experiments, cb_op, params.space_group)
                           if experiments is not None else None)
        if new_experiments is not None:
            for e in new_experiments:
                log.info("Crystal: %s", e.crystal)
        write_reflections(new_reflections, params.output.reflections)
        if new_experiments is not None:
            write_experiments(new_experiments, params.output.experiments)
            log.info("Saved %s and %s", params.output.reflections, params.output.experiments)
        else:
            log.info("Saved %s", params.output.reflections)
