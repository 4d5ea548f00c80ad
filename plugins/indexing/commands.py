"""``friedel index`` and ``friedel search_beam_position``."""

from __future__ import annotations

import logging

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.io import write_experiments, write_reflections
from friedel.io.atomic import check_not_overwriting_input
from friedel.plugins.indexing.params import IndexParams, SearchBeamPositionParams

log = logging.getLogger("friedel")


class IndexCommand(Command):
    name = "index"
    help = "Find the crystal lattice(s), assign Miller indices and refine the models"
    usage = ("friedel index imported.expt strong.refl [indexing.method=fft3d|fft1d|real_space_grid_search] "
             "[space_group=P41212 unit_cell=a,b,c,al,be,ga] [max_lattices=2] [joint_indexing=False]")
    Params = IndexParams

    def run(self, params, files):
        from friedel.plugins.indexing.indexer import index

        experiments, reflections = self.load_experiments_and_reflections(files)
        for out in (params.output.experiments, params.output.reflections):
            check_not_overwriting_input(out, files)
        if len(reflections) == 0:
            raise FriedelError("the reflection file has no spots; run friedel find_spots first")
        if "xyzobs.px.value" not in reflections:
            raise FriedelError("the reflection file has no spot centroids (xyzobs.px.value); give strong.refl "
                               "from friedel find_spots")
        strong = reflections
        if "id" in strong:
            strong = strong.select(strong["id"] >= 0) if (strong["id"] < 0).any() else strong
        refinement = getattr(params, "refinement", None)
        result = index(experiments, strong, params.indexing, refinement)
        n_idx = int(np.sum(result.reflections["id"] >= 0))
        log.info("%d of %d spots indexed (%.1f%%) in %d experiment(s)", n_idx, len(result.reflections),
                 100.0 * n_idx / len(result.reflections), len(result.experiments))
        write_experiments(result.experiments, params.output.experiments)
        write_reflections(result.reflections, params.output.reflections)
        _write_json(result, experiments)
        log.info("Saved %s and %s", params.output.experiments, params.output.reflections)


def _write_json(result, inputs) -> None:
    """``friedel.index.json`` beside the log: the numbers of the tables (for friedel report)."""
    import json

    from friedel.io import atomic_write

    ids = result.reflections["id"]
    summary = {
        "max_cell": float(result.max_cell),
        "n_spots": int(len(ids)),
        "n_indexed": int(np.sum(ids >= 0)),
        "experiments": [{"identifier": e.identifier,
                         "unit_cell": list(map(float, e.crystal.unit_cell.parameters)),
                         "space_group": e.crystal.space_group_symbol,
                         "n_indexed": int(np.sum(ids == i)),
                         "distance": float(e.detector[0].distance)} for i, e in enumerate(result.experiments)],
        "input_distances": [float(e.detector[0].distance) for e in inputs],
        "macro_cycles": [c.as_dict() for c in result.cycles],
        "misorientations": [{"lattices": [int(i) + 1, int(j) + 1], "degrees": float(a)}
                            for i, j, a in result.misorientations],
    }
    with atomic_write("friedel.index.json", "w") as handle:
        json.dump(summary, handle, indent=1)


class SearchBeamPositionCommand(Command):
    name = "search_beam_position"
    help = "Find a better beam centre: the one that puts the spots on a lattice through the reciprocal origin"
    usage = "friedel search_beam_position imported.expt strong.refl [max_shift=3.0] [max_cell=100]"
    Params = SearchBeamPositionParams

    def run(self, params, files):
        from friedel.plugins.indexing.beam_search import search_beam_position

        experiments, reflections = self.load_experiments_and_reflections(files)
        check_not_overwriting_input(params.output.experiments, files)
        before = [e.detector.beam_centre_px(e.beam.s0) for e in experiments]
        shift, moved = search_beam_position(experiments, reflections, params)
        after = [e.detector.beam_centre_px(e.beam.s0) for e in moved]
        for i, (b, a) in enumerate(zip(before, after)):
            log.info("Experiment %d: beam centre (%.2f, %.2f) px -> (%.2f, %.2f) px", i, b[0], b[1], a[0], a[1])
        write_experiments(moved, params.output.experiments)
        log.info("Saved %s", params.output.experiments)
