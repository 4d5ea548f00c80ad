"""Benchmark of friedel export (unmerged MTZ) and friedel merge: throughput and peak memory.

    python contrib/bench/export.py [n_images] [--dials] [--real]

Simulates an integrated thaumatin sweep (no images, ``simulate_integrated``), gives it its true
inverse scales as a "scaled" table, and times ``friedel export`` and ``friedel merge`` on it,
in a scratch folder. ``--real`` adds DIALS's scaled l-cysteine files (two sweeps) from
$FRIEDEL_DATA. With ``--dials`` it runs ``dials.export`` and ``dials.merge`` on the same files
(if installed) and compares: the unmerged rows (decoded to observed indices and batches) and
the merged IMEAN and F (correlation).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "plugins" / "export"))

from conftest import scaled_like  # noqa: E402

from friedel.io import write_experiments, write_reflections  # noqa: E402


def peak_rss_mb() -> float:
    """Peak RSS of this process (the simulation and the comparisons)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_child(args):
    """Wall time and peak RSS (MB) of one command run as a child process (start-up included)."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(args)} failed: {child.stderr.read()[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0


def timed_friedel(args):
    return run_child(["friedel", *args])


def timed_dials(args):
    return run_child(args)[0]


def decoded_rows(path):
    import gemmi

    mtz = gemmi.read_mtz_file(path)
    mtz.switch_to_original_hkl()
    data = np.array(mtz, copy=False)
    batch = data[:, mtz.column_labels().index("BATCH")]
    return sorted(zip(map(tuple, data[:, :3].astype(int).tolist()), batch.astype(int).tolist()))


def merged_cc(ours, theirs):
    import gemmi

    a, b = gemmi.read_mtz_file(ours), gemmi.read_mtz_file(theirs)
    A, B = np.array(a, copy=False), np.array(b, copy=False)
    ka = {tuple(r[:3].astype(int)): i for i, r in enumerate(A)}
    kb = {tuple(r[:3].astype(int)): i for i, r in enumerate(B)}
    common = sorted(set(ka) & set(kb))
    out = {"unique": (len(ka), len(kb), len(common))}
    for label in ("IMEAN", "F", "DANO"):
        if label in a.column_labels() and label in b.column_labels():
            x = A[[ka[k] for k in common], a.column_labels().index(label)]
            y = B[[kb[k] for k in common], b.column_labels().index(label)]
            ok = np.isfinite(x) & np.isfinite(y)
            out[label] = float(np.corrcoef(x[ok], y[ok])[0, 1])
    return out


def run_case(name, expt, refl, dials: bool):
    import gemmi

    print(f"\n== {name}")
    wall, peak = timed_friedel(["export", expt, refl, "mtz.hklout=friedel_unmerged.mtz", "overwrite=True"])
    n_rows = gemmi.read_mtz_file("friedel_unmerged.mtz").nreflections
    print(f"friedel export: {n_rows} rows in {wall:.2f} s wall incl. start-up ({n_rows / wall:,.0f} rows/s), "
          f"peak RSS {peak:.0f} MB")
    wall_m, peak_m = timed_friedel(["merge", expt, refl, "output.mtz=friedel_merged.mtz", "overwrite=True"])
    print(f"friedel merge:  {n_rows} observations in {wall_m:.2f} s wall incl. start-up "
          f"({n_rows / wall_m:,.0f} obs/s), peak RSS {peak_m:.0f} MB")
    if dials and shutil.which("dials.export"):
        t_e = timed_dials(["dials.export", expt, refl, "mtz.hklout=dials_unmerged.mtz"])
        t_m = timed_dials(["dials.merge", expt, refl, "output.mtz=dials_merged.mtz"])
        same = decoded_rows("friedel_unmerged.mtz") == decoded_rows("dials_unmerged.mtz")
        print(f"dials.export:   {t_e:.2f} s; same rows (observed hkl, batch) as friedel: {same}")
        cc = merged_cc("friedel_merged.mtz", "dials_merged.mtz")
        print(f"dials.merge:    {t_m:.2f} s; unique (friedel, dials, common) {cc['unique']}; "
              + ", ".join(f"CC {k} {v:.7f}" for k, v in cc.items() if k != "unique"))


def simulate(n_images: int) -> None:
    """Write sim_scaled.expt/.refl (run in a child process, so that the children timed later do
    not inherit this process's peak memory)."""
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    start = time.perf_counter()
    experiments, reflections = scaled_like(*simulate_integrated(make_params("thaumatin", **{"scan.n_images": n_images})))
    print(f"simulated {len(reflections)} reflections on {n_images} images in {time.perf_counter() - start:.1f} s")
    write_experiments(experiments, "sim_scaled.expt")
    write_reflections(reflections, "sim_scaled.refl")


def main():
    n_images = int(next((a for a in sys.argv[1:] if a.isdigit()), 100))
    if "--simulate-only" in sys.argv:
        simulate(n_images)
        return
    dials = "--dials" in sys.argv
    work = tempfile.mkdtemp(prefix="friedel-bench-export-")
    os.chdir(work)
    subprocess.run([sys.executable, __file__, str(n_images), "--simulate-only"], check=True)
    run_case(f"simulated thaumatin, {n_images} images", "sim_scaled.expt", "sim_scaled.refl", dials)
    if "--real" in sys.argv:
        data = Path(os.environ.get("FRIEDEL_DATA", REPO.parent / "shared" / "data")) / "real" / "scaled" / "l_cysteine"
        run_case("DIALS-scaled l-cysteine (2 sweeps)", str(data / "scaled_20_25.expt"),
                 str(data / "scaled_20_25.refl"), dials)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB; files in {work}")


if __name__ == "__main__":
    main()
