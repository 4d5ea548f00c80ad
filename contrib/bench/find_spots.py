"""Throughput of spot finding: images/s and Mpixel/s, next to the time to just decode the images.

usage: python contrib/bench/find_spots.py [--stills DIR] [--sweep imported.expt] [--nproc 1 2]
                                          [--algorithm dispersion_extended] [--dials]

(a) the real Pilatus3 6M thaumatin stills (../shared/data/real/images/thaumatin_grid), one
    experiment per still built from the image headers;
(b) a simulated sweep, e.g. ``friedel simulate preset=thaumatin output.directory=sim`` then
    ``--sweep sim/header.expt`` (100 images, Pilatus 6M).
Each case is run once to warm up (numba caches), then timed. Peak memory (ru_maxrss of this
process, which runs every worker's share with nproc=1) is printed at the end. ``--dials`` also
runs ``dials.import`` + ``dials.find_spots nproc=N`` (as a black box, in a temporary folder)
on the same image files for a side-by-side time; DIALS's own time is taken from the wall
clock of its find_spots run.
"""

from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from friedel.formats.base import open_file
from friedel.formats.images import open_images
from friedel.io import read_experiments
from friedel.models import Experiment, ExperimentList, ImageSetReference
from friedel.plugins.spotfinding.finder import SpotfinderParams, find_spots

REPO = Path(__file__).resolve().parents[2]


def stills_experiments(folder: str) -> ExperimentList:
    out = ExperimentList()
    for path in sorted(glob.glob(os.path.join(folder, "*.cbf*"))):
        fmt = open_file(path)
        out.append(Experiment(beam=fmt.beam, detector=fmt.detector, scan=fmt.scan,
                              imageset=ImageSetReference(images=[path])))
    return out


def n_images_and_pixels(experiments) -> tuple[int, float]:
    n = sum(len(open_images(e)) for e in experiments)
    px = sum(len(open_images(e)) * sum(p.image_size[0] * p.image_size[1] for p in e.detector) for e in experiments)
    return n, px


def time_decode(experiments) -> float:
    start = time.perf_counter()
    for e in experiments:
        images = open_images(e)
        for i in range(len(images)):
            images.get_raw_data(i)
    return time.perf_counter() - start


def time_find(experiments, nproc: int, algorithm: str) -> tuple[float, int]:
    params = SpotfinderParams()
    params.mp.nproc = nproc
    params.threshold.algorithm = algorithm
    start = time.perf_counter()
    result = find_spots(experiments, params)
    return time.perf_counter() - start, len(result.reflections)


def time_dials(experiments, nproc: int) -> tuple[float, int] | None:
    """Wall time and spot count of dials.find_spots on the same image files (None without DIALS)."""
    if shutil.which("dials.find_spots") is None:
        return None
    paths = sorted({p for e in experiments for p in e.image_paths()})
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dials.import", *paths], cwd=tmp, check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run(["dials.find_spots", "imported.expt", f"nproc={nproc}"], cwd=tmp, check=True,
                       capture_output=True)
        elapsed = time.perf_counter() - start
        from friedel.io import read_reflections

        return elapsed, len(read_reflections(os.path.join(tmp, "strong.refl")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stills", default=str(REPO.parent / "shared/data/real/images/thaumatin_grid"))
    ap.add_argument("--sweep", default=None, help="imported/header .expt of a simulated sweep")
    ap.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--algorithm", default="dispersion_extended")
    ap.add_argument("--dials", action="store_true", help="also time dials.find_spots on the same files")
    args = ap.parse_args()

    cases = []
    if args.stills and os.path.isdir(args.stills):
        cases.append(("thaumatin stills (real, 6M)", stills_experiments(args.stills)))
    if args.sweep:
        cases.append((f"simulated sweep {os.path.basename(os.path.dirname(os.path.abspath(args.sweep)))}",
                      read_experiments(args.sweep)))
    # warm-up: compile/load the numba kernels on one image
    warm = ExperimentList([cases[0][1][0]]) if cases else None
    if warm:
        time_find(warm, 1, args.algorithm)

    rows = []
    for label, experiments in cases:
        n, px = n_images_and_pixels(experiments)
        t = time_decode(experiments)
        rows.append((label, "decode only", n, t, None))
        for nproc in args.nproc:
            t, n_spots = time_find(experiments, nproc, args.algorithm)
            rows.append((label, f"find_spots {args.algorithm} nproc={nproc}", n, t, n_spots))
        for row in rows[-len(args.nproc) - 1:]:
            row_px = px
            _, what, n_img, secs, spots = row
            print(f"{label:<30} {what:<36} {n_img:4d} img {secs:7.2f} s {n_img / secs:7.2f} img/s "
                  f"{row_px / secs / 1e6:8.1f} Mpx/s" + (f"  {spots} spots" if spots is not None else ""))
        if args.dials:
            for nproc in args.nproc:
                res = time_dials(experiments, nproc)
                if res is None:
                    print("dials.find_spots not found on PATH")
                    break
                secs, spots = res
                print(f"{label:<30} {f'dials.find_spots nproc={nproc}':<36} {n:4d} img {secs:7.2f} s "
                      f"{n / secs:7.2f} img/s {px / secs / 1e6:8.1f} Mpx/s  {spots} spots")
    print(f"peak memory (ru_maxrss of this process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
