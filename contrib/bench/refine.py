"""``friedel refine`` against ``dials.refine`` on DIALS's own indexed.expt / indexed.refl.

    python contrib/bench/refine.py DIR [--dials] [--make PRESET] [key=value ...]

DIR holds ``indexed.expt`` and ``indexed.refl`` written by ``dials.index``. With ``--make PRESET``
the folder is made first: ``friedel simulate preset=PRESET`` (extra ``physics.*`` etc. from the
command line, e.g. ``physics.crystal_drift=0.3``), then ``dials.import``, ``dials.find_spots``
and ``dials.index`` (DIALS is only a black-box reference here; friedel never uses it).

Each program runs in its own sub-folder as a user would run it (defaults: a static then a
scan-varying fit), timed from start-up to exit, with its peak memory (ru_maxrss of the child).
Printed: wall and CPU seconds, reflections per second, peak MB, the RMSDs each reports, the
RMSDs of both models on the reflections both used, and, where DIR holds friedel's truth
(truth_reflections.refl), how far the observed centroids of the reflections one program used
and the other rejected lie from their true positions (are the extra ones real outliers?), and
the per-image orientation error of both scan-varying models when truth.expt has scan points.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from friedel.flags import Flags
from friedel.io import read_experiments, read_reflections


def run(cmd, cwd):
    """Wall and CPU seconds and peak resident MB of one command (its own peak, through
    /usr/bin/time where present; ru_maxrss of children would report the largest child so far)."""
    timer = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    report = Path(cwd) / ".bench_time"
    full = [timer, "-f", "%M", "-o", str(report), *cmd] if timer else cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(full, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    peak = float(report.read_text().split()[-1]) / 1024.0 if timer and report.exists() else after.ru_maxrss / 1024.0
    return wall, cpu, peak


def make(directory: Path, preset: str, extra):
    directory.mkdir(parents=True, exist_ok=True)
    run(["friedel", "simulate", f"preset={preset}", "output.directory=.", *extra], directory)
    images = sorted(str(p.name) for p in directory.glob("sim_*.cbf"))
    run(["dials.import", *images], directory)
    run(["dials.find_spots", "imported.expt"], directory)
    run(["dials.index", "imported.expt", "strong.refl"], directory)


def rmsd(refl, rows, expt):
    d = refl["xyzcal.px"][rows] - refl["xyzobs.px.value"][rows]
    return np.sqrt(np.mean(d**2, axis=0))


def misorientation(U, V):
    return np.degrees(np.arccos(np.clip((np.trace(U @ V.T) - 1) / 2, -1, 1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("directory", type=Path)
    ap.add_argument("--dials", action="store_true", help="also run dials.refine")
    ap.add_argument("--make", metavar="PRESET", help="simulate PRESET and index it with DIALS first")
    args, extra = ap.parse_known_args()  # key=value for friedel simulate (with --make)
    args.extra = [a for a in extra if "=" in a]
    base = args.directory.resolve()
    if args.make:
        make(base, args.make, args.extra)
    for name in ("indexed.expt", "indexed.refl"):
        if not (base / name).exists():
            raise SystemExit(f"{base / name} does not exist (run dials.index there, or use --make)")
    n_in = len(read_reflections(base / "indexed.refl"))
    results = {}
    programs = [("friedel", ["friedel", "refine"])]
    if args.dials and shutil.which("dials.refine"):
        programs.append(("dials", ["dials.refine"]))
    for name, cmd in programs:
        out = base / f"bench_refine_{name}"
        out.mkdir(exist_ok=True)
        wall, cpu, peak = run(cmd + [str(base / "indexed.expt"), str(base / "indexed.refl")], out)
        refl = read_reflections(out / "refined.refl")
        expts = read_experiments(out / "refined.expt")
        used = refl.get_flags(Flags.used_in_refinement)
        results[name] = (refl, expts, used)
        r = rmsd(refl, used, expts[0])
        osc = expts[0].scan.oscillation[1]
        sv = expts[0].crystal.num_scan_points
        print(f"{name:8s} {wall:7.2f} s wall, {cpu:7.2f} s CPU, {n_in / wall:9,.0f} reflections/s, peak {peak:6.0f} MB; "
              f"used {used.sum():6d} of {n_in}; RMSD {r[0]:.4f} px, {r[1]:.4f} px, {r[2]:.4f} images "
              f"({osc:g} deg); scan points {sv}")
    if len(results) == 2:
        (fr, fe, fu), (dr, de, du) = results["friedel"], results["dials"]
        both = fu & du
        a, b = rmsd(fr, both, fe[0]), rmsd(dr, both, de[0])
        print(f"on the {both.sum()} reflections both used: friedel RMSD {a[0]:.4f} {a[1]:.4f} px {a[2]:.4f} images; "
              f"dials {b[0]:.4f} {b[1]:.4f} px {b[2]:.4f} images")
        truth_refl = base / "truth_reflections.refl"
        if truth_refl.exists():
            from scipy.spatial import cKDTree

            true_px = read_reflections(truth_refl)["xyzcal.px"]
            _, idx = cKDTree(true_px).query(fr["xyzobs.px.value"])
            err = np.hypot(*(fr["xyzobs.px.value"] - true_px[idx])[:, :2].T)
            for label, m in (("both used", both), ("friedel only", fu & ~du), ("dials only", du & ~fu),
                             ("neither", ~fu & ~du & (fr["id"] >= 0))):
                if m.any():
                    print(f"  {label:12s} {m.sum():6d}: true centroid error median {np.median(err[m]):.3f} px, "
                          f"90% {np.percentile(err[m], 90):.3f} px, > 1 px {100 * np.mean(err[m] > 1):.1f}%")
        truth_expt = base / "truth.expt"
        if truth_expt.exists():
            t = read_experiments(truth_expt)[0].crystal
            if t.A_at_scan_points is not None:
                from friedel.models import Crystal

                At = t.A_at_scan_points
                Ut = t.U_at_scan_points()
                for name, (_, e, _) in results.items():
                    c = e[0].crystal
                    if c.num_scan_points != len(At):
                        continue
                    # indexing may choose another basis of the same lattice: h_true = M h
                    mid = len(At) // 2
                    M = np.rint(np.linalg.inv(At[mid]) @ c.A_at_scan_points[mid])
                    same = Crystal(c.A, A_at_scan_points=c.A_at_scan_points @ np.linalg.inv(M))
                    errs = [misorientation(u, v) for u, v in zip(Ut, same.U_at_scan_points())]
                    print(f"  {name}: orientation error per image (in the truth's basis) median "
                          f"{np.median(errs):.4f} deg, max {max(errs):.4f} deg")


if __name__ == "__main__":
    sys.exit(main())
