"""Wall time of ``friedel index`` per real spot list and method; optionally dials.index for comparison.

    python contrib/bench/index.py [--data ../shared/data/real] [--dials]

Prints one line per case and method: spots, % indexed, cell, seconds. With ``--dials`` (DIALS
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

CASES = {
    "centroid": ["fft3d", "fft1d"],
    "phi_scan": ["fft3d", "fft1d"],
    "l_cysteine_4x10img": ["fft3d", "fft1d"],
    "quartz_ED": ["fft3d", "fft1d"],
}


def run_friedel(spots: Path, method: str):
    expts = read_experiments(spots / "imported.expt")
    refl = read_reflections(spots / "strong.refl")
    p = IndexingParams()
    p.method = method
    t0 = time.perf_counter()
    result = index(expts, refl, p)
    dt = time.perf_counter() - t0
    frac = float(np.mean(result.reflections["id"] >= 0))
    cell = result.experiments[0].crystal.unit_cell.parameters
    return dt, len(refl), frac, cell


def run_dials(spots: Path, method: str):
    if shutil.which("dials.index") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        proc = subprocess.run(["dials.index", str(spots / "imported.expt"), str(spots / "strong.refl"),
                               f"indexing.method={method}"], cwd=tmp, capture_output=True, text=True)
        dt = time.perf_counter() - t0
    return dt if proc.returncode == 0 else f"failed ({dt:.1f} s)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("FRIEDEL_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data" / "real")))
    ap.add_argument("--dials", action="store_true", help="also time dials.index (report only)")
    args = ap.parse_args()
    logging.getLogger("friedel").setLevel(logging.WARNING)
    root = Path(args.data) / "spots"
    print(f"{'case':22s} {'method':8s} {'spots':>6s} {'indexed':>8s} {'friedel s':>10s} {'dials s':>10s}  cell")
    for case, methods in CASES.items():
        for method in methods:
            try:
                dt, n, frac, cell = run_friedel(root / case, method)
            except Exception as exc:  # a benchmark reports failures and goes on
                print(f"{case:22s} {method:8s} failed: {exc}")
                continue
            d = run_dials(root / case, method) if args.dials else None
            d_text = f"{d:10.2f}" if isinstance(d, float) else f"{str(d or '-'):>10s}"
            cell_text = " ".join(f"{x:.2f}" for x in cell)
            print(f"{case:22s} {method:8s} {n:6d} {100 * frac:7.1f}% {dt:10.2f} {d_text}  {cell_text}")


if __name__ == "__main__":
    main()
