"""Benchmark of static geometry refinement: wall time per step (macro-cycle) on ~100k reflections.

    python contrib/bench/refine.py [n_reflections] [--dials]

Simulates one rotation sweep (tetragonal protein cell, Pilatus-6M-like detector), adds
centroid noise, perturbs the geometry (distance 1 mm, beam centre 0.5 mm, orientation
0.5 deg, cell 1%) and refines with every reflection. With --dials it also writes the same
input as DIALS files and times ``dials.refine`` on it (if DIALS is installed).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gemmi
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "plugins" / "refinement"))

from simulated import make_experiment, observe  # noqa: E402

from friedel.models import ExperimentList  # noqa: E402
from friedel.models.crystal import B_matrix  # noqa: E402
from friedel.models.geometry import axis_angle_matrix  # noqa: E402
from friedel.plugins.refinement import RefinementParams, refine  # noqa: E402
from friedel.plugins.refinement.refiner import (  # noqa: E402
    RefinementProblem, _build_parameterisations, _observations, _variances,
)


def simulate(n_target):
    truth = ExperimentList([make_experiment(n_images=360, width=0.25, seed=3)])
    refl = observe(truth, d_min=1.6)
    if len(refl) > n_target:
        refl = refl.select(np.sort(np.random.default_rng(0).choice(len(refl), n_target, replace=False)))
    start = copy.deepcopy(truth)
    p = start[0].detector[0]
    p.origin = p.origin + np.array([0.4, -0.3, -1.0])
    c = start[0].crystal
    cell = c.unit_cell
    c.A = axis_angle_matrix([1, 2, 3], np.radians(0.5)) @ c.U @ B_matrix(
        gemmi.UnitCell(cell.a * 1.01, cell.b * 1.01, cell.c * 0.99, 90, 90, 90))
    return truth, start, refl


def main():
    n_target = int(next((a for a in sys.argv[1:] if a.isdigit()), 100_000))
    truth, start, refl = simulate(n_target)
    print(f"{len(refl)} indexed reflections, 1 experiment")
    params = RefinementParams()
    params.reflections.use_all_reflections = True

    # one step = predict all, gradients of all, normal matrix, solve
    expts = copy.deepcopy(start)
    sel = np.ones(len(refl), bool)
    var = _variances(expts, refl, sel)
    problem = RefinementProblem(expts, _observations(expts, refl, sel, var),
                                _build_parameterisations(expts, params), params)
    problem.evaluate(gradients=True)
    t = time.perf_counter()
    repeats = 3
    for _ in range(repeats):
        problem.evaluate(gradients=True)
    per_eval = (time.perf_counter() - t) / repeats
    print(f"one step (predict + {problem.n_params}-parameter gradients + normal matrix): {per_eval:.3f} s")

    for algorithm in ("null", "mcd"):
        params.outlier.algorithm = algorithm
        t = time.perf_counter()
        result = refine(start, refl, params)
        wall = time.perf_counter() - t
        steps = len(result.history)
        x, y, phi = result.rmsds[0]
        print(f"refine outlier.algorithm={algorithm}: {wall:.2f} s for {steps} steps "
              f"({wall / steps:.3f} s/step), {len(refl) / wall:,.0f} reflections/s; "
              f"RMSD {x / 0.172:.3f} px, {y / 0.172:.3f} px, {np.degrees(phi) / 0.25:.3f} images")

    if "--dials" in sys.argv and shutil.which("dials.refine"):
        from friedel.io import write_experiments, write_reflections

        with tempfile.TemporaryDirectory() as tmp:
            write_experiments(start, os.path.join(tmp, "indexed.expt"))
            write_reflections(refl, os.path.join(tmp, "indexed.refl"))
            t = time.perf_counter()
            proc = subprocess.run(["dials.refine", "indexed.expt", "indexed.refl", "reflections_per_degree=None",
                                   "scan_varying=False"], cwd=tmp, capture_output=True, text=True)
            wall = time.perf_counter() - t
            status = "ok" if proc.returncode == 0 else f"failed: {proc.stderr.strip().splitlines()[-1:]}"
            print(f"dials.refine (same input, all reflections, static): {wall:.2f} s ({status})")
            log = Path(tmp, "dials.refine.log")
            if log.exists():
                lines = log.read_text().splitlines()
                for i, line in enumerate(lines):
                    if line.startswith("Refinement steps"):
                        print("\n".join(lines[i:i + 20]))
                        break


if __name__ == "__main__":
    main()
