"""``friedel integrate``: measure every predicted reflection (summation and profile fitting)."""

from __future__ import annotations

import logging

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.plugins.integration.params import IntegrateParams

log = logging.getLogger("friedel")


class IntegrateCommand(Command):
    """Predict every reflection of the refined experiments, model the profile from the strong
    spots, and integrate each reflection by summation and 3D profile fitting, reading the images
    in blocks of frames within a memory budget. Writes integrated.expt (with the profile model)
    and integrated.refl (DIALS columns and flags)."""

    name = "integrate"
    help = "Integrate the reflections of refined experiments (summation and profile fitting)"
    usage = "friedel integrate refined.expt refined.refl [nproc=4] [background.algorithm=glm] [profile.fitting=False]"
    Params = IntegrateParams

    def run(self, params, files):
        from friedel.io import write_experiments, write_reflections
        from friedel.io.atomic import check_not_overwriting_input
        from friedel.plugins.integration.integrator import integrate
        from friedel.plugins.integration.report import build_report, format_report, write_json

        experiments, reflections = self.load_experiments_and_reflections(files)
        outputs = [params.output.experiments, params.output.reflections]
        for out in outputs:
            check_not_overwriting_input(out, files)
        if params.output.experiments == params.output.reflections:
            raise FriedelError("output.experiments and output.reflections name the same file")
        result = integrate(experiments, reflections, params)
        del reflections  # the strong spots are not needed for the outputs (memory while writing)
        from friedel.plugins.integration.blocks import release_freed_memory

        release_freed_memory()
        report = build_report(result)
        log.info(format_report(report))
        t = result.timing
        log.info("Timing: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))
        write_experiments(result.experiments, params.output.experiments)
        write_reflections(result.reflections, params.output.reflections)
        write_json(report)
        log.info(f"Saved {len(result.reflections)} integrated reflections to {params.output.reflections}")
        log.info(f"Saved experiments with the profile model to {params.output.experiments}")
