"""``friedel find_spots imported.expt``: find strong spots on every image, write strong.refl."""

from __future__ import annotations

import logging
import time

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.io import write_reflections
from friedel.io.atomic import check_not_overwriting_input
from friedel.phil import param, scope

from .params import SpotfinderParams
from .summary import per_image_table, spot_count_histogram

log = logging.getLogger("friedel")


@scope
class OutputParams:
    reflections: str = param("strong.refl", help="Strong spots (DIALS layout)")
    shoeboxes: bool = param(True, help="Keep the strong pixels of each spot (the shoebox column)")


@scope
class FindSpotsParams:
    """Parameters of friedel find_spots."""

    spotfinder: SpotfinderParams = param(SpotfinderParams)
    output: OutputParams = param(OutputParams)
    per_image_statistics: bool = param(False, help="Print a table of spots and strong pixels per image")


class FindSpots(Command):
    """Find strong spots (Bragg peaks) on every image and write them to strong.refl.

    Strong pixels are found by a threshold algorithm (default: local index of dispersion),
    grouped into spots in 3D across the images of a rotation sweep (2D on stills), and
    filtered (size, peak-centroid separation, resolution, ice rings, untrusted regions).
    """

    name = "find_spots"
    help = "Find strong spots on every image (writes strong.refl)"
    usage = ("friedel find_spots imported.expt [more.expt ...] [min_spot_size=3] [d_min=2.0] [nproc=4] "
             "[scan_range=1,100]")
    Params = FindSpotsParams

    def run(self, params, files):
        experiments, _ = self.load_experiments_and_reflections(files, need_reflections=False,
                                                               allow_reflections=False)
        if len(experiments) == 0:
            raise FriedelError("the experiment file holds no experiments; import images first")
        check_not_overwriting_input(params.output.reflections, files)
        n_images = sum(len(e.image_paths()) if e.scan is None else e.scan.num_images for e in experiments)
        log.info("Finding spots on %d image(s) of %d experiment(s)", n_images, len(experiments))

        from friedel.progress import Progress

        from .finder import find_spots  # the numba kernels load when spots are found, not for --help

        start = time.perf_counter()
        with Progress(n_images, "Finding spots") as bar:
            result = find_spots(experiments, params.spotfinder, progress=bar.advance)
        elapsed = time.perf_counter() - start
        refl = result.reflections
        self.report(result, experiments, params, elapsed)
        if not params.output.shoeboxes:
            del refl["shoebox"]
        write_reflections(refl, params.output.reflections)
        log.info("Saved %d strong spots to %s", len(refl), params.output.reflections)
        self.write_json(result, experiments, params, elapsed)

    @staticmethod
    def write_json(result, experiments, params, elapsed: float, path: str = "friedel.find_spots.json") -> None:
        """The numbers behind the log's tables (for friedel report), beside the log."""
        import json

        from friedel.io import atomic_write

        from .summary import per_image_records

        refl = result.reflections
        summary = dict(
            threshold_algorithm=params.spotfinder.threshold.algorithm,
            n_images=len(result.per_image), n_spots=len(refl), n_spots_before_filters=int(result.n_found),
            n_strong_pixels=int(sum(r[2] for r in result.per_image)), seconds=round(float(elapsed), 3),
            removed_by_filter={k: int(v) for k, v in result.removed.items()},
            per_image=per_image_records(result.per_image, refl, experiments))
        with atomic_write(path, "w") as handle:
            json.dump(summary, handle, indent=1)

    @staticmethod
    def report(result, experiments, params, elapsed: float) -> None:
        refl = result.reflections
        n_px = sum(r[2] for r in result.per_image)
        log.info("Found %d strong pixels on %d image(s); %d spots extracted", n_px, len(result.per_image),
                 result.n_found)
        for name, n in result.removed.items():
            log.info("  removed %6d spots by filter %s", n, name)
        per_image = np.array([r for r in result.per_image], dtype=np.int64).reshape(-1, 4)
        experiment_ids = np.unique(per_image[:, 0])
        if len(per_image) == len(experiment_ids):  # stills: one image per experiment, one histogram
            log.info("\nHistogram of spot count per still (labelled by experiment index):\n%s",
                     spot_count_histogram(per_image[:, 0], per_image[:, 3], max_rows=50))
        else:
            for i_expt in experiment_ids:
                rows = per_image[per_image[:, 0] == i_expt]
                log.info("\nHistogram of per-image spot count for experiment %d:\n%s", i_expt,
                         spot_count_histogram(rows[:, 1], rows[:, 3]))
        log.info("\n%d spots on %d image(s) (%.1f images/s)", len(refl), len(per_image),
                 len(per_image) / max(elapsed, 1e-9))
        if params.per_image_statistics:
            log.info("\n%s", per_image_table(result.per_image, refl, experiments))
