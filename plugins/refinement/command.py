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


#: a refined model this far from where it started, or fitting this badly, is not a refinement but a
#: sign that the reflections do not belong to the experiments (issue 19: 3000 A cells, 10 px RMSDs)
MAX_CELL_LENGTH_CHANGE = 0.10  # relative
MAX_RMSD_PX = 5.0


def refuse_absurd_result(result, cells_before) -> None:
    """Raise FriedelError (nothing is written) if a cell length moved by more than 10 % or the
    positional RMSD exceeds 5 pixels."""
    import numpy as np

    for i, expt in enumerate(result.experiments):
        before = cells_before[i] if i < len(cells_before) else None
        if before is not None and expt.crystal is not None:
            after = expt.crystal.unit_cell.parameters
            change = max(abs(a / b - 1.0) for a, b in zip(after[:3], before[:3]))
            if not np.isfinite(change) or change > MAX_CELL_LENGTH_CHANGE:
                raise FriedelError(
                    f"refinement of experiment {i} moved the cell from {_cell(before)} to {_cell(after)}: not "
                    "a refinement; the reflections probably do not belong to these experiments (give the .expt "
                    "and .refl written together by index) or the indexing is wrong; nothing was written")
        rmsd = result.rmsds.get(i)
        if rmsd is None or expt.detector is None:
            continue
        pixel = min(expt.detector[0].pixel_size)
        xy_px = max(float(rmsd[0]), float(rmsd[1])) / pixel
        if not np.isfinite(xy_px) or xy_px > MAX_RMSD_PX:
            raise FriedelError(
                f"refinement of experiment {i} ends with a positional RMSD of {xy_px:.1f} px (more than "
                f"{MAX_RMSD_PX:g}): the model does not fit the spots; the reflections probably do not belong to "
                "these experiments, or the indexing is wrong; nothing was written")


def _cell(cell) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in cell) + ")"


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
        cells_before = [e.crystal.unit_cell.parameters if e.crystal is not None else None for e in experiments]
        result = refine(experiments, reflections, params.refinement)
        log.info(result.summary())
        log.info(f"Refinement took {time.perf_counter() - start:.2f} s")
        refuse_absurd_result(result, cells_before)
        write_experiments(result.experiments, params.output.experiments)
        write_reflections(result.reflections, params.output.reflections)
        _write_json(result)
        log.info(f"Saved refined experiments to {params.output.experiments}")
        log.info(f"Saved reflections to {params.output.reflections}")
