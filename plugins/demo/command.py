"""``friedel demo``: simulate a small sweep, then run every available step on it.

The pipeline follows the DIALS file conventions: import -> imported.expt; find_spots ->
strong.refl; index -> indexed.expt/refl; refine -> refined.expt/refl; integrate ->
integrated.expt/refl; symmetry -> symmetrized.expt/refl; scale -> scaled.expt/refl;
merge -> merged.mtz; export -> scaled.mtz. Steps are run in-process through
:func:`friedel.cli.main.main`, and only those registered as commands at run time: a
missing step is noted and the next one takes the latest files available. At the end the
results are compared with the truth (cell of the indexed lattice, spots found).
"""

from __future__ import annotations

import glob
import json
import logging
import os
import time

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.parallel import MpParams
from friedel.phil import param, scope

log = logging.getLogger("friedel")

#: (command, inputs, outputs): inputs name the latest files of a kind ("expt", "refl")
PIPELINE = [
    ("find_spots", ["expt"], {"refl": "strong.refl"}),
    ("index", ["expt", "refl"], {"expt": "indexed.expt", "refl": "indexed.refl"}),
    ("refine", ["expt", "refl"], {"expt": "refined.expt", "refl": "refined.refl"}),
    ("integrate", ["expt", "refl"], {"expt": "integrated.expt", "refl": "integrated.refl"}),
    ("symmetry", ["expt", "refl"], {"expt": "symmetrized.expt", "refl": "symmetrized.refl"}),
    ("scale", ["expt", "refl"], {"expt": "scaled.expt", "refl": "scaled.refl"}),
    ("merge", ["expt", "refl"], {"mtz": "merged.mtz"}),
    ("export", ["expt", "refl"], {"mtz": "scaled.mtz"}),
]


@scope
class DemoParams:
    """What to simulate for the demo."""

    preset: str = param("tiny", help="Simulation preset (see friedel simulate -c)")
    n_images: int = param(20, help="Number of images to simulate")
    seed: int = param(1, help="Random seed of the simulation")
    mp: MpParams = param(MpParams)


class DemoCommand(Command):
    """Simulate a small sweep into OUTPUT_DIR (default friedel_demo) and run every
    processing step that is installed on it, printing each step's summary."""

    name = "demo"
    help = "Simulate a small sweep and run every available processing step on it"
    usage = "friedel demo [output_dir] [preset=tiny] [n_images=20]"
    Params = DemoParams

    def run(self, params, files):
        from friedel.cli.main import main
        from friedel.plugin_manager import registry

        if len(files) > 1:
            raise FriedelError("friedel demo takes at most one argument: the output directory")
        directory = os.path.abspath(files[0] if files else "friedel_demo")
        if os.path.exists(directory) and os.listdir(directory):
            raise FriedelError(f"{directory} exists and is not empty; give a new directory: friedel demo NEW_DIR")
        os.makedirs(directory, exist_ok=True)
        commands = registry("commands")
        t_start = time.perf_counter()
        here = os.getcwd()
        timings, skipped, failed = [], [], []
        try:
            os.chdir(directory)
            steps = [("simulate", ["simulate", f"preset={params.preset}", f"scan.n_images={params.n_images}",
                                   f"seed={params.seed}", "output.directory=images", f"mp.method={params.mp.method}",
                                   f"mp.nproc={params.mp.nproc}"])]
            for name, argv in steps:
                self._run_step(main, name, argv, timings, failed)
            if "simulate" in failed:
                raise FriedelError("the simulation failed; nothing to process")
            latest = {}
            images = sorted(glob.glob(os.path.join("images", "*.cbf")))
            if "import" in commands:
                if self._run_step(main, "import", ["import", *images], timings, failed) and os.path.exists("imported.expt"):
                    latest["expt"] = "imported.expt"
            else:
                skipped.append("import")
            if "expt" not in latest:
                log.info("(using the simulation's header geometry images/header.expt as imported.expt)")
                latest["expt"] = os.path.join("images", "header.expt")
            for name, inputs, outputs in PIPELINE:
                if name not in commands:
                    skipped.append(name)
                    continue
                if any(kind not in latest for kind in inputs):
                    skipped.append(f"{name} (no input)")
                    continue
                ok = self._run_step(main, name, [name, *[latest[k] for k in inputs]], timings, failed)
                if ok:
                    for kind, path in outputs.items():
                        if os.path.exists(path):
                            latest[kind] = path
            self._compare_with_truth(latest)
        finally:
            os.chdir(here)
        total = time.perf_counter() - t_start
        log.info("\n== demo summary (%s) ==", directory)
        for name, seconds, ok in timings:
            log.info("  %-12s %6.1f s  %s", name, seconds, "ok" if ok else "FAILED")
        if skipped:
            log.info("  not available yet: %s", ", ".join(skipped))
        log.info("  total %.1f s", total)
        return 1 if failed else 0

    @staticmethod
    def _run_step(main, name, argv, timings, failed) -> bool:
        shown = [a for a in argv if not a.endswith(".cbf")]
        if len(shown) < len(argv):
            shown.append("images/*.cbf")
        log.info("\n== friedel %s ==", " ".join(shown))
        t0 = time.perf_counter()
        code = main(argv)
        # each command reconfigures the shared logger for its own log file; restore ours
        _restore_logging()
        ok = code == 0
        timings.append((name, time.perf_counter() - t0, ok))
        if not ok:
            failed.append(name)
            log.info("friedel %s failed (exit code %d); continuing with the steps that do not need it", name, code)
        return ok

    @staticmethod
    def _compare_with_truth(latest: dict) -> None:
        from friedel.io import read_experiments, read_reflections

        truth_path = os.path.join("images", "truth.json")
        if not os.path.exists(truth_path):
            return
        with open(truth_path, encoding="utf-8") as handle:
            truth = json.load(handle)
        log.info("\n== comparison with the truth ==")
        true_cell = truth["lattices"][0]["unit_cell"]
        log.info("  true cell: %s (%s)", " ".join(f"{v:.2f}" for v in true_cell), truth["lattices"][0]["space_group"])
        if os.path.exists("strong.refl"):
            strong = read_reflections("strong.refl")
            true_refl = read_reflections(os.path.join("images", "truth_reflections.refl"))
            n_true = int(np.count_nonzero(true_refl["counts.expected"] > 200))
            log.info("  spots found: %d (reflections with > 200 expected photons: %d)", len(strong), n_true)
        expt = latest.get("expt", "")
        if expt and not expt.endswith("header.expt") and expt != "imported.expt":
            experiments = read_experiments(expt)
            for i, crystal in enumerate(experiments.crystals):
                c = crystal.unit_cell.parameters
                log.info("  lattice %d in %s: %s (%s)", i, expt, " ".join(f"{v:.2f}" for v in c),
                         crystal.space_group_symbol)


def _restore_logging() -> None:
    """Re-attach a terminal handler after a nested command closed the shared logger."""
    import sys

    logger = logging.getLogger("friedel")
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
