"""Benchmark of ``friedel process`` against the same DIALS commands run one after another.

    python contrib/bench/process.py [--dir DIR] [--preset thaumatin] [--images 100] [--nproc 2]
                                    [--no-dials] [--sim KEY=VALUE ...] [--process KEY=VALUE ...]

Simulates a sweep (``friedel simulate preset=thaumatin``: PILATUS 6M, 100 images of 0.2 deg,
unless told otherwise) into DIR/images, then

* ``friedel process images/*.cbf nproc=N`` in DIR/friedel (every step in its numbered folder);
* unless ``--no-dials``: dials.import, find_spots, index, refine, integrate, symmetry, scale,
  merge, export in DIR/dials, each timed on its own (nproc=N where the command takes it).

Prints per-step wall times, peak memory (RSS of the process tree, sampled every 0.05 s; for
friedel also each step's high-water mark from friedel.process.json) and, for both, the space
group, cell and CC(merged IMEAN, true I) against images/truth_intensities.mtz (the comparison
of ``friedel demo``: the indexing that fits the truth best among the lattice's twin laws).
Everything is kept in DIR, so a second run only repeats what is missing (delete DIR/friedel or
DIR/dials to time them again). The machine's load (``os.getloadavg``) is printed before and
after: on a shared machine the numbers are indicative.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

DIALS_STEPS = [
    # (name, command line, output that shows the step is done)
    ("import", ["dials.import", "IMAGES"], "imported.expt"),
    ("find_spots", ["dials.find_spots", "imported.expt", "nproc=N"], "strong.refl"),
    ("index", ["dials.index", "imported.expt", "strong.refl"], "indexed.refl"),
    ("refine", ["dials.refine", "indexed.expt", "indexed.refl"], "refined.refl"),
    ("integrate", ["dials.integrate", "refined.expt", "refined.refl", "nproc=N"], "integrated.refl"),
    ("symmetry", ["dials.symmetry", "integrated.expt", "integrated.refl"], "symmetrized.refl"),
    ("scale", ["dials.scale", "symmetrized.expt", "symmetrized.refl"], "scaled.refl"),
    ("merge", ["dials.merge", "scaled.expt", "scaled.refl"], "merged.mtz"),
    ("export", ["dials.export", "scaled.expt", "scaled.refl"], "scaled.mtz"),
]


def run(cmd, cwd, log_name):
    """Run ``cmd`` in ``cwd``; (wall seconds, peak RSS of the process tree in MB, return code)."""
    import psutil

    start = time.perf_counter()
    with open(Path(cwd) / log_name, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = [0]

        def sample():
            try:
                p = psutil.Process(proc.pid)
                while proc.poll() is None:
                    try:
                        peak[0] = max(peak[0], p.memory_info().rss + sum(
                            c.memory_info().rss for c in p.children(recursive=True)))
                    except psutil.Error:
                        pass
                    time.sleep(0.05)
            except psutil.Error:
                pass

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        rc = proc.wait()
        thread.join()
    return time.perf_counter() - start, peak[0] / 1e6, rc


def simulate(directory: Path, preset: str, n_images: int | None, extra: list[str]) -> list[str]:
    images = sorted(glob.glob(str(directory / "*.cbf")))
    if not (directory / "truth_intensities.mtz").exists() or not images:
        directory.mkdir(parents=True, exist_ok=True)
        cmd = ["friedel", "simulate", f"preset={preset}", "output.directory=.", *extra]
        if n_images:
            cmd.append(f"scan.n_images={n_images}")
        seconds, _, rc = run(cmd, directory, "simulate.log")
        if rc:
            raise SystemExit(f"friedel simulate failed: see {directory}/simulate.log")
        print(f"simulated {preset} in {seconds:.0f} s")
        images = sorted(glob.glob(str(directory / "*.cbf")))
    return images


def run_friedel(work: Path, images: list[str], nproc: int, extra: list[str]) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "friedel.process.json").exists():
        seconds, peak, rc = run(["friedel", "process", *images, f"nproc={nproc}", *extra], work, "process.out")
        (work / "bench.json").write_text(json.dumps({"seconds": seconds, "peak_mb": peak, "rc": rc}))
    wall = json.loads((work / "bench.json").read_text()) if (work / "bench.json").exists() else {}
    if not (work / "friedel.process.json").exists():
        return {"steps": [], "wall": wall.get("seconds"), "peak_mb": wall.get("peak_mb"), "ok": False}
    summary = json.loads((work / "friedel.process.json").read_text())
    steps = [(s["folder"], s["seconds"], s.get("peak_rss_mb", 0.0), s.get("peak_worker_rss_mb", 0.0),
              "ok" if s["ok"] else "FAILED: " + s["error"]) for s in summary["steps"]]
    return {"steps": steps, "wall": wall.get("seconds"), "peak_mb": wall.get("peak_mb"),
            "ok": all(s["ok"] for s in summary["steps"]) and "merged_mtz" in summary["outputs"]}


def run_dials(work: Path, images: list[str], nproc: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    times_file = work / "bench.json"
    done = json.loads(times_file.read_text()) if times_file.exists() else {}
    for name, template, output in DIALS_STEPS:
        if name in done and (work / output).exists():
            continue
        cmd = []
        for arg in template:
            cmd += images if arg == "IMAGES" else [arg.replace("=N", f"={nproc}")]
        seconds, peak, rc = run(cmd, work, f"{name}.out")
        done[name] = {"seconds": seconds, "peak_mb": peak, "rc": rc}
        times_file.write_text(json.dumps(done, indent=1))
        if rc:
            print(f"dials.{name} failed (see {work}/{name}.out)")
            break
    return done


def compare(merged_mtz: Path, scaled_expt: Path, truth: Path) -> dict | None:
    from friedel.plugins.demo.command import compare_mtz_with_truth

    if not merged_mtz.exists() or not scaled_expt.exists():
        return None
    logging.getLogger("friedel").setLevel(logging.WARNING)
    return compare_mtz_with_truth(str(merged_mtz), str(scaled_expt), str(truth))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="bench_process")
    parser.add_argument("--preset", default="thaumatin")
    parser.add_argument("--images", type=int, default=None, help="images to simulate (default: the preset's)")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--no-dials", action="store_true")
    parser.add_argument("--sim", nargs="*", default=[], help="more friedel simulate parameters (key=value)")
    parser.add_argument("--process", nargs="*", default=[], help="more friedel process parameters (key=value)")
    args = parser.parse_args(argv)

    root = Path(args.dir).resolve()
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    images = simulate(root / "images", args.preset, args.images, args.sim)
    print(f"{len(images)} images of preset {args.preset}, nproc={args.nproc}")

    friedel = run_friedel(root / "friedel", images, args.nproc, args.process)
    print("\nfriedel process" + ("" if friedel["ok"] else "  (FAILED)"))
    print(f"  {'step':<28s}{'wall (s)':>9s}{'peak MB':>9s}{'workers':>9s}")
    for folder, seconds, peak, workers, status in friedel["steps"]:
        print(f"  {folder:<28s}{seconds:9.1f}{peak:9.0f}{workers:9.0f}  {status if status != 'ok' else ''}")
    print(f"  {'total (whole command)':<28s}{friedel['wall'] or 0:9.1f}{friedel['peak_mb'] or 0:9.0f}"
          "   (peak: whole process tree, sampled)")

    results = {"friedel": friedel}
    last_scaled = sorted(glob.glob(str(root / "friedel" / "*_scale*" / "scaled.expt")))
    last_merged = sorted(glob.glob(str(root / "friedel" / "*_merge" / "merged.mtz")))
    if last_scaled and last_merged:
        results["friedel_truth"] = compare(Path(last_merged[-1]), Path(last_scaled[-1]), root / "images")

    if not args.no_dials:
        dials = run_dials(root / "dials", images, args.nproc)
        print("\nDIALS, one command after another")
        print(f"  {'step':<28s}{'wall (s)':>9s}{'peak MB':>9s}")
        for name, _, _ in DIALS_STEPS:
            if name in dials:
                d = dials[name]
                print(f"  {'dials.' + name:<28s}{d['seconds']:9.1f}{d['peak_mb']:9.0f}  {'FAILED' if d['rc'] else ''}")
        total = sum(d["seconds"] for d in dials.values())
        print(f"  {'total':<28s}{total:9.1f}{max((d['peak_mb'] for d in dials.values()), default=0):9.0f}")
        results["dials"] = dials
        results["dials_truth"] = compare(root / "dials" / "merged.mtz", root / "dials" / "scaled.expt", root / "images")
        if friedel["wall"]:
            print(f"\nfriedel process / DIALS wall time: {friedel['wall'] / total:.2f}")

    print("\nagainst the truth")
    for who in ("friedel", "dials"):
        t = results.get(f"{who}_truth")
        if t:
            cell = " ".join(f"{v:.2f}" for v in t["unit_cell"])
            print(f"  {who:<8s} {t['space_group']:<12s} cell {cell}  CC(merged, truth) {t['cc_truth']:.4f} "
                  f"({t['n_matched']} unique, indexed as {t['reindexing']}), completeness {t['completeness']:.1f}%")
        elif who in results or who == "friedel":
            print(f"  {who:<8s} no merged MTZ")
    print(f"\nload average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())} (a shared machine: indicative numbers)")
    (root / "bench_summary.json").write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
