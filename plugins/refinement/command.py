"""``friedel refine``: refine the experimental geometry against indexed spot positions."""

from __future__ import annotations

import logging
import time

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.phil import param, scope
from friedel.plugins.refinement.params import RefinementParams

log = logging.getLogger("friedel")


@scope
class RefineOutputParams:
    """Output files."""

    experiments: str = param("refined.expt", help="Refined experiment list")
    reflections: str = param("refined.refl", help="Reflections with predicted positions and refinement flags")


@scope
class RefineParams:
    """Parameters of friedel refine."""

    refinement: RefinementParams = param(RefinementParams)
    output: RefineOutputParams = param(RefineOutputParams)


def _write_json(result) -> None:
    """``friedel.refine.json`` beside the log: the numbers of the tables (for friedel report)."""
    import json

    import numpy as np

    from friedel.io.atomic import atomic_write
    from friedel.plugins.refinement.report import as_dict

    def plain(x):
        if isinstance(x, dict):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, float) and not np.isfinite(x):
            return None
        return x

    with atomic_write("friedel.refine.json", "w") as handle:
        json.dump(plain(as_dict(result)), handle, indent=1)


class RefineCommand(Command):
    """Refine beam, detector, crystal orientation and symmetry-constrained unit cell (and
    optionally the rotation axis) by weighted least squares on the observed positions
    (X, Y, phi) of indexed spots: a static fit, then (scan_varying=Auto) the crystal of every
    sweep as a smooth function of the rotation angle. Writes refined.expt (with A at every
    scan point), refined.refl and friedel.refine.json."""

    name = "refine"
    help = "Refine the experimental geometry against indexed spot positions"
    usage = "friedel refine indexed.expt indexed.refl [scan_varying=False] [interval_width_degrees=36] [crystal.fix=cell]"
    Params = RefineParams

    def run(self, params, files):
        from friedel.io import write_experiments, write_reflections
        from friedel.io.atomic import check_not_overwriting_input
        from friedel.plugins.refinement.refiner import refine

        experiments, reflections = self.load_experiments_and_reflections(files)
        outputs = [params.output.experiments, params.output.reflections]
        for out in outputs:
            check_not_overwriting_input(out, files)
        if params.output.experiments == params.output.reflections:
            raise FriedelError("output.experiments and output.reflections name the same file")
        start = time.perf_counter()
        result = refine(experiments, reflections, params.refinement)
        log.info(result.summary())
        log.info(f"Refinement took {time.perf_counter() - start:.2f} s")
        write_experiments(result.experiments, params.output.experiments)
        write_reflections(result.reflections, params.output.reflections)
        _write_json(result)
        log.info(f"Saved refined experiments to {params.output.experiments}")
        log.info(f"Saved reflections to {params.output.reflections}")
