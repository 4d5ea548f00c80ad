"""``friedel demo``: simulate a sweep, process it from images to a merged MTZ, compare with the truth.

The demo is the first thing a newcomer runs: ``friedel simulate`` writes images and the truth
into ``images/``, ``friedel process`` runs every step in numbered folders (as it would on real
data) and writes ``report.html``, and the result is compared with what the simulator knows:
the cell and space group, the correlation of the merged intensities with the true ones, and
the completeness.
"""

from __future__ import annotations

import glob
import logging
import os
import time

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.parallel import MpParams
from friedel.phil import param, scope

log = logging.getLogger("friedel")


@scope
class DemoParams:
    """What to simulate for the demo."""

    preset: str = param("tiny", help="Simulation preset (see friedel simulate -c)")
    n_images: int = param(40, help="Number of images to simulate")
    seed: int = param(1, help="Random seed of the simulation")
    mp: MpParams = param(MpParams)


class DemoCommand(Command):
    """Simulate a sweep into OUTPUT_DIR (default friedel_demo), process it from images to a
    merged MTZ with friedel process, and compare the result with the truth (cell, space group,
    CC of the merged intensities with the true ones, completeness)."""

    name = "demo"
    help = "Simulate a sweep, process it to a merged MTZ and compare with the truth"
    usage = "friedel demo [output_dir] [preset=tiny] [n_images=40]"
    Params = DemoParams

    def run(self, params, files):
        from friedel.cli.main import main
        from friedel.plugins.process.runner import attach_process_log

        if len(files) > 1:
            raise FriedelError("friedel demo takes at most one argument: the output directory")
        directory = os.path.abspath(files[0] if files else "friedel_demo")
        if os.path.exists(directory) and os.listdir(directory):
            raise FriedelError(f"{directory} exists and is not empty; give a new directory: friedel demo NEW_DIR")
        os.makedirs(directory, exist_ok=True)
        here = os.getcwd()
        t0 = time.perf_counter()
        try:
            os.chdir(directory)
            log_path = os.path.abspath("friedel.demo.log")
            code = main(["simulate", f"preset={params.preset}", f"scan.n_images={params.n_images}",
                         f"seed={params.seed}", "output.directory=images", f"mp.method={params.mp.method}",
                         f"mp.nproc={params.mp.nproc}"])
            attach_process_log(log_path)
            if code != 0:
                raise FriedelError("the simulation failed; see images/ and friedel.simulate.log")
            images = sorted(glob.glob(os.path.join("images", "*.cbf")))
            nproc = [] if params.mp.nproc == "Auto" else [f"nproc={params.mp.nproc}"]
            code = main(["process", *images, *nproc])
            attach_process_log(log_path)
            if code != 0:
                raise FriedelError(f"friedel process failed on the simulated images; see {directory}/friedel.process.log")
            compare_with_truth(".", "images")
        finally:
            os.chdir(here)
        log.info("\nThe demo took %.1f s. Everything is in %s (report: %s)", time.perf_counter() - t0, directory,
                 os.path.join(directory, "report.html"))
        return 0


def compare_with_truth(folder: str, truth_folder: str) -> dict:
    """Cell, space group, CC(merged IMEAN, true I) and completeness of a process run against the truth."""
    merged_files = sorted(glob.glob(os.path.join(folder, "*_merge", "merged.mtz")))
    scaled_files = sorted(glob.glob(os.path.join(folder, "*_scale*", "scaled.expt")))
    if not merged_files or not scaled_files:
        raise FriedelError("no merged.mtz to compare with the truth")
    return compare_mtz_with_truth(merged_files[-1], scaled_files[-1], truth_folder)


def compare_mtz_with_truth(merged_mtz: str, scaled_expt: str, truth_folder: str) -> dict:
    """Cell (from ``scaled_expt``), space group, CC(IMEAN, true I) and completeness of a merged MTZ
    (friedel's or dials.merge's) against the truth that ``friedel simulate`` wrote in ``truth_folder``."""
    import gemmi

    from friedel.io import read_experiments
    from friedel.plugins.simulate.truth import read_intensities_mtz

    truth = read_intensities_mtz(os.path.join(truth_folder, "truth_intensities.mtz"))
    true_expt = read_experiments(os.path.join(truth_folder, "truth.expt"))
    mtz = gemmi.read_mtz_file(merged_mtz)
    crystal = read_experiments(scaled_expt).crystals[0]
    true_crystal = true_expt.crystals[0]
    log.info("\n== comparison with the truth ==")
    log.info("  space group: %s (true %s)", mtz.spacegroup.xhm(), true_crystal.space_group.xhm())
    log.info("  unit cell:   %s", " ".join(f"{v:.2f}" for v in crystal.unit_cell.parameters))
    log.info("  true cell:   %s", " ".join(f"{v:.2f}" for v in true_crystal.unit_cell.parameters))
    data = np.array(mtz, copy=False)
    labels = mtz.column_labels()
    hkl = data[:, :3].astype(np.int64)
    imean = data[:, labels.index("IMEAN")]
    # where the lattice has more symmetry than the crystal, the indexing of the result may
    # differ from the truth's by a twin law (an indexing ambiguity, like k,h,-l in P 43): the
    # comparison is made in the indexing that fits best, and that operator is reported
    sg = gemmi.SpaceGroup(truth["space_group"])
    ambiguities = [gemmi.Op("x,y,z")] + list(gemmi.find_twin_laws(true_crystal.unit_cell, sg, 3.0, False))
    best = None
    for op in ambiguities:
        rotation = np.array(op.rot, dtype=np.int64) // op.DEN
        cc, n = _cc_with_truth(hkl @ rotation, imean, truth, sg)
        if best is None or np.nan_to_num(cc, nan=-2.0) > np.nan_to_num(best[0], nan=-2.0):
            best = (cc, n, op.as_hkl().triplet())
    cc, n_matched, reindexing = best
    d = np.asarray(mtz.cell.calculate_d_array(hkl.astype(np.int32)))
    possible = gemmi.make_miller_array(mtz.cell, mtz.spacegroup, float(d.min()), 0.0, unique=True)
    completeness = 100.0 * len(hkl) / max(len(possible), 1)
    log.info("  CC(merged IMEAN, true I) = %.4f over %d unique reflections%s", cc, n_matched,
             "" if reindexing == "h,k,l" else f" (indexed as {reindexing} of the truth: an indexing ambiguity)")
    log.info("  completeness %.1f%% to %.2f A", completeness, d.min())
    return {"cc_truth": cc, "n_matched": n_matched, "reindexing": reindexing, "completeness": completeness,
            "space_group": mtz.spacegroup.xhm(), "unit_cell": crystal.unit_cell.parameters}


def _cc_with_truth(hkl, imean, truth: dict, space_group) -> tuple[float, int]:
    """CC of merged intensities with the true ones (matched in the truth's ASU) and how many matched."""
    from friedel.miller import asu_mapping, hkl_key

    mapped = asu_mapping(hkl, space_group).hkl
    true_keys = hkl_key(truth["hkl"])
    order = np.argsort(true_keys)
    pos = np.clip(np.searchsorted(true_keys[order], hkl_key(mapped)), 0, len(order) - 1)
    found = true_keys[order][pos] == hkl_key(mapped)
    true_i = truth["IMEAN"][order][pos]
    ok = found & np.isfinite(imean)
    if ok.sum() <= 2:
        return float("nan"), int(ok.sum())
    return float(np.corrcoef(imean[ok], true_i[ok])[0, 1]), int(ok.sum())
