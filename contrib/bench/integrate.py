"""Benchmark of ``friedel integrate``: images/s, reflections/s, peak memory, accuracy vs the truth.

    python contrib/bench/integrate.py [--dir DIR] [--images 100] [--nproc 2] [--dials] [--long 4]

Simulates a thaumatin sweep (``friedel simulate preset=thaumatin``, PILATUS 6M, 0.2 degree
images) and refines it: with ``--dials`` by DIALS's own chain (dials.import, find_spots,
index, refine), and then both ``friedel integrate`` and ``dials.integrate`` integrate the same
``refined.expt/.refl``; otherwise by friedel's chain. Prints wall time, images/s,
reflections/s and peak RSS (the whole process tree, sampled) of each, and the CC / SD of
(I - I_true)/sigma of summation and profile fitting against the simulated truth.

``--long K`` also simulates a K times longer sweep and integrates both lengths from the true
models with the strong spots indexed from the truth (no refinement), to show that peak memory
is set by the shoeboxes alive at one frame, not by the length of the sweep.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "plugins"))

from integration.conftest import _index_with_truth  # noqa: E402
from integration.scoring import score  # noqa: E402

from friedel.io import read_experiments, read_reflections  # noqa: E402


def run(cmd, cwd, log, single=None):
    """Run ``cmd`` in ``cwd``; return (wall seconds, peak RSS of the process tree in MB).

    ``single`` (a list), if given, receives the peak RSS of the largest single process (MB).
    """
    import psutil

    start = time.perf_counter()
    with open(Path(cwd) / log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = [0, 0]

        def sample():
            try:
                p = psutil.Process(proc.pid)
                while proc.poll() is None:
                    try:
                        each = [p.memory_info().rss] + [c.memory_info().rss for c in p.children(recursive=True)]
                        peak[0] = max(peak[0], sum(each))
                        peak[1] = max(peak[1], max(each))
                    except psutil.Error:
                        pass
                    time.sleep(0.05)
            except psutil.Error:
                pass

        t = threading.Thread(target=sample, daemon=True)
        t.start()
        rc = proc.wait()
        t.join()
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (see {cwd}/{log})")
    if single is not None:
        single.append(peak[1] / 1e6)
    return time.perf_counter() - start, peak[0] / 1e6


def simulate(directory: Path, n_images: int):
    if (directory / "truth.expt").exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    run(["friedel", "simulate", "preset=thaumatin", f"scan.n_images={n_images}", "output.directory=."],
        directory, "simulate.log")


def aligned(integrated, experiments, truth_experiments):
    """Integrated rows re-indexed onto the truth lattice (DIALS may pick another setting)."""
    t = integrated
    for i, e in enumerate(experiments):
        M = np.rint(np.linalg.inv(truth_experiments[0].crystal.A) @ e.crystal.A).astype(int)
        sel = t["id"] == i
        t["miller_index"][sel] = t["miller_index"][sel] @ M.T
    return t


def accuracy(directory: Path, expt: str, refl: str) -> str:
    truth = read_reflections(directory / "truth_reflections.refl")
    te = read_experiments(directory / "truth.expt")
    t = aligned(read_reflections(refl), read_experiments(expt), te)
    parts = []
    for kind in ("sum", "prf"):
        if f"intensity.{kind}.value" not in t:
            continue
        s = score(t, truth, kind)
        parts.append(f"{kind}: n {s['n']}, CC(full) {s['cc_full']:.5f}, SD z {s['sd_z']:.3f}, "
                     f"rms weak half {s['rms_weak']:.1f}")
    return "; ".join(parts)


def friedel_chain(d: Path):
    if (d / "refined.expt").exists():
        return d / "refined.expt", d / "refined.refl"
    run(["friedel", "import", *sorted(str(p) for p in d.parent.glob("sim_*.cbf"))], d, "import.log")
    run(["friedel", "find_spots", "imported.expt"], d, "find_spots.log")
    run(["friedel", "index", "imported.expt", "strong.refl", "space_group=P41212"], d, "index.log")
    run(["friedel", "refine", "indexed.expt", "indexed.refl"], d, "refine.log")
    return d / "refined.expt", d / "refined.refl"


def dials_chain(d: Path):
    if (d / "refined.expt").exists():
        return d / "refined.expt", d / "refined.refl"
    run(["dials.import", *sorted(str(p) for p in d.parent.glob("sim_*.cbf"))], d, "import.log")
    run(["dials.find_spots", "imported.expt"], d, "find_spots.log")
    run(["dials.index", "imported.expt", "strong.refl", "space_group=P41212"], d, "index.log")
    run(["dials.refine", "indexed.expt", "indexed.refl"], d, "refine.log")
    return d / "refined.expt", d / "refined.refl"


def report(label, wall, rss, n_images, refl, single=None):
    n = len(read_reflections(refl))
    largest = f", largest process {single[-1]:.0f} MB" if single else ""
    print(f"{label:28s} wall {wall:7.1f} s  {n_images / wall:6.2f} images/s  {n / wall:8.0f} reflections/s  "
          f"peak RSS {rss:7.0f} MB (all processes{largest})  ({n} integrated)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "friedel_bench_integrate"))
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--dials", action="store_true", help="refine with DIALS and time dials.integrate too")
    ap.add_argument("--long", type=int, default=0, help="also a sweep this many times longer (memory)")
    args = ap.parse_args()
    base = Path(args.dir)
    short = base / f"thaumatin_{args.images}"
    simulate(short, args.images)
    chain = "dials" if args.dials and shutil.which("dials.integrate") else "friedel"
    work = short / chain
    work.mkdir(exist_ok=True)
    expt, refl = (dials_chain if chain == "dials" else friedel_chain)(work)
    print(f"{args.images} images, refined by {chain}: {expt}")
    out = work / "friedel_out"
    out.mkdir(exist_ok=True)
    single = []
    wall, rss = run(["friedel", "integrate", str(expt), str(refl), f"nproc={args.nproc}"], out, "integrate.log",
                    single)
    report("friedel integrate", wall, rss, args.images, out / "integrated.refl", single)
    print("   vs truth:", accuracy(short, out / "integrated.expt", out / "integrated.refl"))
    if args.dials and shutil.which("dials.integrate"):
        dout = work / "dials_out"
        dout.mkdir(exist_ok=True)
        single = []
        wall, rss = run(["dials.integrate", str(expt), str(refl), f"nproc={args.nproc}"], dout, "integrate.log",
                        single)
        report("dials.integrate", wall, rss, args.images, dout / "integrated.refl", single)
        print("   vs truth:", accuracy(short, dout / "integrated.expt", dout / "integrated.refl"))
    if args.long:
        for n_images, d in ((args.images, short), (args.images * args.long, base / f"thaumatin_{args.images * args.long}")):
            simulate(d, n_images)
            if not (d / "indexed.refl").exists():
                if not (d / "strong.refl").exists():  # header.expt: truth.expt's crystal does not pickle (find_spots)
                    run(["friedel", "find_spots", "header.expt"], d, "find_spots.log")
                _index_with_truth(str(d))
            mem = d / "memory"
            mem.mkdir(exist_ok=True)
            single = []
            wall, rss = run(["friedel", "integrate", "../truth.expt", "../indexed.refl", f"nproc={args.nproc}"], mem,
                            "integrate.log", single)
            report(f"friedel, {n_images} images", wall, rss, n_images, mem / "integrated.refl", single)


if __name__ == "__main__":
    main()
