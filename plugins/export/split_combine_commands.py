"""``friedel split_experiments`` and ``friedel combine_experiments``."""

from __future__ import annotations

import logging

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.phil import param, scope, types

log = logging.getLogger("friedel")


@scope
class SplitOutputParams:
    """Output files."""

    prefix: str = param("split", type=types.Path(), help="Files are <prefix>_<n>.expt and <prefix>_<n>.refl")


@scope
class SplitParams:
    """Parameters of friedel split_experiments."""

    by: str = param("experiment", choices=["experiment", "wavelength"],
                    help="One output per experiment, or per wavelength group")
    wavelength_tolerance: float = param(1e-4, help="Experiments within this wavelength (Angstrom) stay together")
    overwrite: bool = param(False, help="Replace existing output files")
    output: SplitOutputParams = param(SplitOutputParams)


class SplitExperimentsCommand(Command):
    """Split an experiment list (and its reflections) into one file pair per experiment or per
    wavelength; reflection ids are renumbered, experiment identifiers kept."""

    name = "split_experiments"
    help = "Split experiments and reflections by experiment or by wavelength"
    usage = "friedel split_experiments scaled.expt scaled.refl [by=experiment|wavelength] [output.prefix=split]"
    Params = SplitParams

    def run(self, params, files):
        from friedel.io import write_experiments, write_reflections
        from friedel.plugins.export.experiment_lists import split_experiments
        from friedel.plugins.export.outputs import check_outputs, write_command_json

        groups = self.split_files(files, ".expt", ".refl")
        if len(groups[".expt"]) != 1 or len(groups[".refl"]) > 1:
            raise FriedelError("friedel split_experiments needs one .expt file and at most one .refl file")
        experiments, reflections = self.load_experiments_and_reflections(files, need_reflections=bool(groups[".refl"]))
        parts = split_experiments(experiments, reflections, by=params.by,
                                  wavelength_tolerance=params.wavelength_tolerance)
        width = len(str(len(parts) - 1))
        names = [f"{params.output.prefix}_{i:0{width}d}" for i in range(len(parts))]
        outputs = [n + ".expt" for n in names] + ([n + ".refl" for n in names] if reflections is not None else [])
        check_outputs(outputs, files, params.overwrite)
        summary = []
        for name, (expts, refl) in zip(names, parts):
            write_experiments(expts, name + ".expt")
            if refl is not None:
                write_reflections(refl, name + ".refl")
            wl = sorted({round(e.beam.wavelength, 6) for e in expts})
            n_refl = len(refl) if refl is not None else 0
            log.info(f"{name}: {len(expts)} experiment(s), {n_refl} reflections, wavelength {wl}")
            summary.append({"name": name, "experiments": [e.identifier for e in expts], "n_reflections": n_refl,
                            "wavelengths": wl})
        write_command_json(self.name, {"by": params.by, "outputs": summary})


@scope
class CombineOutputParams:
    """Output files."""

    experiments: str = param("combined.expt", type=types.Path(), help="Combined experiment list")
    reflections: str = param("combined.refl", type=types.Path(), help="Combined reflections")


@scope
class CombineParams:
    """Parameters of friedel combine_experiments."""

    overwrite: bool = param(False, help="Replace existing output files")
    output: CombineOutputParams = param(CombineOutputParams)


class CombineExperimentsCommand(Command):
    """Combine several .expt/.refl pairs (given in matching order) into one pair; experiment
    identifiers stay unique (clashing ones are replaced) and reflection ids are renumbered."""

    name = "combine_experiments"
    help = "Combine several experiment/reflection file pairs into one"
    usage = "friedel combine_experiments a.expt a.refl b.expt b.refl [output.experiments=combined.expt]"
    Params = CombineParams

    def run(self, params, files):
        from friedel.io import read_experiments, read_reflections, write_experiments, write_reflections
        from friedel.plugins.export.experiment_lists import combine_experiments
        from friedel.plugins.export.outputs import check_outputs, write_command_json

        groups = self.split_files(files, ".expt", ".refl")
        expts, refls = groups[".expt"], groups[".refl"]
        if not expts:
            raise FriedelError("friedel combine_experiments needs .expt files (each with its .refl, in the same order)")
        if refls and len(refls) != len(expts):
            raise FriedelError(f"{len(expts)} .expt but {len(refls)} .refl files: give one .refl per .expt, "
                               "in the same order")
        outputs = [params.output.experiments] + ([params.output.reflections] if refls else [])
        check_outputs(outputs, files, params.overwrite)
        pairs = [(read_experiments(e), read_reflections(r) if refls else None)
                 for e, r in zip(expts, refls or [None] * len(expts))]
        from friedel.cli.command import check_pair_belongs_together, refuse_repeated_files

        refuse_repeated_files(expts + refls)  # the same data twice would be counted twice
        for r, (experiments, table) in zip(refls, pairs):
            check_pair_belongs_together(r, table, experiments)
        combined, table, notes = combine_experiments(pairs)
        for note in notes:
            log.info(note)
        write_experiments(combined, params.output.experiments)
        if table is not None:
            write_reflections(table, params.output.reflections)
        n_refl = len(table) if table is not None else 0
        log.info(f"Combined {len(pairs)} inputs: {len(combined)} experiments, {n_refl} reflections")
        log.info(f"Saved {', '.join(outputs)}")
        write_command_json(self.name, {"inputs": [list(p) for p in zip(expts, refls or [None] * len(expts))],
                                       "n_experiments": len(combined), "n_reflections": n_refl,
                                       "identifiers": combined.identifiers(), "notes": notes})
