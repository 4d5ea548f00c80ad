"""Wall time of ``friedel index`` per real spot list and method; optionally dials.index for comparison.

    python contrib/bench/index.py [--data ../shared/data/real] [--dials]

Prints one line per case and method: spots, % indexed, experiments indexed (stills: images
indexed of all), seconds, the first cell. With ``--dials`` (DIALS
installed) runs ``dials.index`` on the same files in a temporary folder and prints its time
(report only; nothing of DIALS is used by friedel).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from friedel.io import read_experiments, read_reflections
from friedel.plugins.indexing.indexer import index
from friedel.plugins.indexing.params import IndexingParams

# (case, experiments file, reflections file, methods, known symmetry (space group, cell) or None)
SWEEPS = [(case, "imported.expt", "strong.refl", ["fft3d", "fft1d"], None)
          for case in ("centroid", "phi_scan", "l_cysteine_4x10img", "quartz_ED")]
STILLS = [
    ("i24_lyso_still", "imported.expt", "strong.refl", ["fft3d"], ("P 1", (38.06, 78.78, 78.91, 90, 90, 90))),
    ("ssx_CuNiR", "imported_with_ref_5.expt", "strong_5.refl", ["fft3d", "real_space_grid_search"],
     ("P 21 3", (96.4, 96.4, 96.4, 90, 90, 90))),
]


def run_friedel(spots: Path, expt_name: str, refl_name: str, method: str, symmetry):
    expts = read_experiments(spots / expt_name)
    refl = read_reflections(spots / refl_name)
    p = IndexingParams()
    p.method = method
    if symmetry is not None:
        p.known_symmetry.space_group, p.known_symmetry.unit_cell = symmetry
    t0 = time.perf_counter()
    result = index(expts, refl, p)
    dt = time.perf_counter() - t0
    frac = float(np.mean(result.reflections["id"] >= 0))
    cell = result.experiments[0].crystal.unit_cell.parameters
    return dt, len(refl), frac, cell, f"{len(result.experiments)}/{len(expts)}"


def run_dials(spots: Path, expt_name: str, refl_name: str, method: str, symmetry):
    if shutil.which("dials.index") is None:
        return None
    args = [f"indexing.method={method}"]
    if symmetry is not None:
        args += [f"known_symmetry.space_group={symmetry[0].replace(' ', '')}",
                 "known_symmetry.unit_cell=" + ",".join(str(x) for x in symmetry[1]), "joint_indexing=False"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(["dials.index", str(spots / expt_name), str(spots / refl_name), *args],
                              cwd=tmp, capture_output=True, text=True)
        dt = time.perf_counter() - t0
    return dt if proc.returncode == 0 else f"failed ({dt:.1f} s)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("FRIEDEL_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data" / "real")))
    ap.add_argument("--dials", action="store_true", help="also time dials.index (report only)")
    args = ap.parse_args()
    logging.getLogger("friedel").setLevel(logging.WARNING)
    root = Path(args.data) / "spots"
    print(f"{'case':20s} {'method':22s} {'spots':>6s} {'indexed':>8s} {'expts':>5s} {'friedel s':>10s} "
          f"{'dials s':>10s}  first cell")
    for case, expt_name, refl_name, methods, symmetry in SWEEPS + STILLS:
        for method in methods:
            try:
                dt, n, frac, cell, n_expts = run_friedel(root / case, expt_name, refl_name, method, symmetry)
            except Exception as exc:  # a benchmark reports failures and goes on
                print(f"{case:20s} {method:22s} failed: {exc}")
                continue
            d = run_dials(root / case, expt_name, refl_name, method, symmetry) if args.dials else None
            d_text = f"{d:10.2f}" if isinstance(d, float) else f"{str(d or '-'):>10s}"
            cell_text = " ".join(f"{x:.2f}" for x in cell)
            print(f"{case:20s} {method:22s} {n:6d} {100 * frac:7.1f}% {n_expts:>5s} {dt:10.2f} {d_text}  {cell_text}")


if __name__ == "__main__":
    main()
