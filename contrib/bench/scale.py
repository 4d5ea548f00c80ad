"""``friedel scale`` against ``dials.scale`` on the same integrated (or symmetrized) files.

    python contrib/bench/scale.py [--dials] [--make PRESET [--images N]] [FILES ...] [key=value ...]

With ``--make PRESET`` a sweep is simulated without images
(``friedel.plugins.simulate.integrated.simulate_integrated``: integrated-like tables with the
truth, e.g. ``--make thaumatin --images 450`` for 90 degrees) and written to
``bench_scale/integrated.{expt,refl}``; otherwise FILES are pairs of .expt/.refl. Each program
runs in its own sub-folder, timed from start-up to exit (wall and CPU seconds of the child,
peak memory as ru_maxrss). Printed: observations per second, peak MB, the error model, CC1/2,
mean I/sigma and Rmeas of both, and, when the input carries the truth
(``intensity.true.value``), CC(merged, truth) over I/sigma > 10 and the robust spread of
(merged − truth)/sigma after one overall scale and B (honest sigmas give 1).
DIALS is a black-box reference only (``--dials``); friedel never uses it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def run(cmd, cwd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(cmd)} failed: {tail}")
    return wall, cpu, after.ru_maxrss / 1024.0, proc.stdout


def make(directory: Path, preset: str, n_images: int | None):
    from friedel.io import write_experiments, write_reflections
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params

    directory.mkdir(parents=True, exist_ok=True)
    overrides = {"scan.n_images": n_images} if n_images else {}
    experiments, refl = simulate_integrated(make_params(preset, **overrides))
    write_experiments(experiments, str(directory / "integrated.expt"))
    write_reflections(refl, str(directory / "integrated.refl"))
    return [str((directory / "integrated.expt").resolve()), str((directory / "integrated.refl").resolve())]


def evaluate(refl_path, expt_path):
    """Numbers of a scaled file: n, CC1/2, <I/sigma>, Rmeas, and against the truth if present."""
    from friedel.flags import Flags
    from friedel.io import read_experiments, read_reflections
    from friedel.merging_statistics import merge_equivalents, merging_statistics
    from friedel.miller import d_spacing

    t = read_reflections(refl_path)
    e = read_experiments(expt_path)
    flags = t["flags"]
    sel = ((flags & int(Flags.scaled)) != 0) & ((flags & int(Flags.bad_for_scaling)) == 0)
    sel &= t["inverse_scale_factor"] > 0
    g = t["inverse_scale_factor"][sel]
    I = t["intensity.scale.value"][sel] / g
    V = t["intensity.scale.variance"][sel] / g**2
    sg = e[0].crystal.space_group
    cell = e[0].crystal.unit_cell
    stats = merging_statistics(t["miller_index"][sel], I, V, sg, cell)
    out = {"n_obs": int(sel.sum()), "cc_half": stats.overall.cc_half,
           "mean_i_over_sigma": stats.overall.mean_i_over_sigma, "r_meas": stats.overall.r_meas}
    if "intensity.true.value" in t:
        m = merge_equivalents(t["miller_index"][sel], I, V, sg)
        n = len(m.intensity)
        true = np.bincount(m.group, t["intensity.true.value"][sel], n) / np.bincount(m.group, None, n)
        strong = m.intensity / m.sigma > 10
        out["cc_truth_strong"] = float(np.corrcoef(m.intensity[strong], true[strong])[0, 1])
        d = d_spacing(m.hkl, cell)
        ok = strong & (true > 0)
        coef = np.polyfit(1 / d[ok] ** 2, np.log(m.intensity[ok] / true[ok]), 1)
        z = (m.intensity - np.exp(np.polyval(coef, 1 / d**2)) * true) / m.sigma
        out["sigma_spread"] = float(np.median(np.abs(z[true > 0])) / 0.6745)
    return out


def dials_error_model(log_text: str):
    import re

    found = re.findall(r"Parameters: a = ([0-9.]+), b = ([0-9.]+)", log_text)
    return [float(x) for x in found[-1]] if found else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*")
    parser.add_argument("--make", metavar="PRESET")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--dials", action="store_true", help="also run dials.scale on the same input")
    parser.add_argument("--out", default="bench_scale")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    files = [a for a in args.files if "=" not in a]
    extra = [a for a in args.files if "=" in a]
    if args.make:
        files = make(out, args.make, args.images)
    files = [str(Path(f).resolve()) for f in files]
    from friedel.io import read_reflections

    n_input = sum(len(read_reflections(f)) for f in files if f.endswith(".refl"))
    rows = []
    (out / "friedel").mkdir(exist_ok=True)
    wall, cpu, mb, _ = run(["friedel", "scale", *files, *extra], out / "friedel")
    result = evaluate(str(out / "friedel" / "scaled.refl"), str(out / "friedel" / "scaled.expt"))
    em = json.load(open(out / "friedel" / "friedel.scale.json"))["error_models"]
    result["error_model"] = [em[0]["a"], em[0]["b"]] if em and em[0]["refined"] else None
    rows.append(("friedel", wall, cpu, mb, result))
    if args.dials:
        (out / "dials").mkdir(exist_ok=True)
        wall, cpu, mb, stdout = run(["dials.scale", *files, "output.html=None"], out / "dials")
        result = evaluate(str(out / "dials" / "scaled.refl"), str(out / "dials" / "scaled.expt"))
        result["error_model"] = dials_error_model(stdout)
        rows.append(("dials", wall, cpu, mb, result))
    print(f"input: {n_input} reflections in {len(files) // 2} file pair(s)")
    print(f"{'program':>8} {'wall s':>8} {'cpu s':>8} {'refl/s(cpu)':>12} {'peak MB':>8} {'CC1/2':>8} "
          f"{'<I/sI>':>8} {'Rmeas':>7} {'a':>7} {'b':>8} {'CC(truth)':>10} {'z spread':>9}")
    for name, wall, cpu, mb, r in rows:
        a, b = r["error_model"] or (float("nan"), float("nan"))
        print(f"{name:>8} {wall:8.1f} {cpu:8.1f} {n_input / max(cpu, 1e-9):12.0f} {mb:8.0f} {r['cc_half']:8.5f} "
              f"{r['mean_i_over_sigma']:8.2f} {r['r_meas']:7.4f} {a:7.4f} {b:8.5f} "
              f"{r.get('cc_truth_strong', float('nan')):10.6f} {r.get('sigma_spread', float('nan')):9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
