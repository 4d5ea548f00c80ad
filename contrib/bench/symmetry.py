"""Benchmark of ``friedel symmetry`` / ``friedel cosym`` against ``dials.symmetry`` / ``dials.cosym``.

    python contrib/bench/symmetry.py [--dials] [--wedges N] [--only NAME]

Cases (each run as a fresh process; wall time and peak memory from /usr/bin/time):

* the real DIALS-integrated files in $FRIEDEL_DATA/real/integrated (centroid, L-cysteine sweep 20,
  quartz; cosym on the two L-cysteine sweeps);
* a simulated thaumatin sweep (90 deg, 2.5 A, ~66k reflections, P1 indexing);
* cosym on N simulated insulin wedges (I 21 3, 8 deg each, one crystal form, random orientations),
  each relabelled by a random indexing-ambiguity operation, plus one wedge of a different
  crystal (another cell), which must be excluded; the output is checked against the truth.

With --dials the matching DIALS command runs on the very same files. The answer (Laue group,
space group, consistency of the indexing) and the times are printed side by side.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "plugins" / "symmetry"))

DATA = Path(os.environ.get("FRIEDEL_DATA", REPO.parent / "shared" / "data")) / "real" / "integrated"


def timed(cmd, cwd) -> tuple[float, float, str]:
    """(wall s, peak MB, output) of one command in its own process."""
    start = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "PEAK_KB %M", *map(str, cmd)], cwd=cwd, capture_output=True,
                       text=True)
    wall = time.perf_counter() - start
    peak = re.findall(r"PEAK_KB (\d+)", r.stderr)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        print(f"  {' '.join(map(str, cmd[:2]))} failed: {out.strip().splitlines()[-2:]}")
    return wall, (int(peak[-1]) / 1024 if peak else float("nan")), out


def answer_from_log(text: str) -> tuple[str, str]:
    best = re.findall(r"Best solution: (.+)", text)
    sg = re.findall(r"Recommended space group: (.+)", text)
    if not sg:
        sg = re.findall(r"in space group (.+)", text)
    return (best[-1].strip() if best else "?"), (sg[-1].strip() if sg else "?")


def consistency(cwd: Path, space_group: str) -> str:
    """How many output data sets agree with the majority about the true intensities."""
    from symmetry_synthetic import inconsistent_datasets

    from friedel.io import read_experiments, read_reflections

    refl_path = cwd / "symmetrized.refl"
    if not refl_path.exists() or "intensity.true.value" not in read_reflections(str(refl_path)):
        return "-"
    refl = read_reflections(str(refl_path))
    expts = read_experiments(str(cwd / "symmetrized.expt"))
    sg = space_group if space_group != "?" else expts[0].crystal.space_group_symbol

    class Out:
        reflections = refl
        summary = {"space_group": sg}

    bad = inconsistent_datasets(Out)
    return f"{len(expts) - len(bad)}/{len(expts)} consistent"


def write_wedges(folder: Path, n: int, seed: int = 1) -> None:
    """n insulin wedges (+1 different crystal) as one integrated.expt/.refl pair."""
    from symmetry_synthetic import FOURFOLD_C, ambiguous_wedges

    from friedel.io import write_experiments, write_reflections
    from friedel.plugins.simulate.integrated import simulate_integrated
    from friedel.plugins.simulate.params import make_params
    from friedel.reflection_table import ReflectionTable
    from symmetry_synthetic import as_p1

    expts, refl = ambiguous_wedges(n, seed=seed, R_conv=FOURFOLD_C)
    # a different crystal: another cubic cell, 1 in n+1 of the data sets
    e, r = simulate_integrated(make_params("insulin", **{"seed": 99, "crystal.unit_cell": (84.0, 84.0, 84.0, 90, 90, 90),
                                                         "scan.n_images": 8, "scan.oscillation": (0.0, 1.0),
                                                         "crystal.d_min": 3.5}))
    e, r = as_p1(e, r)
    e[0].identifier = "different-crystal"
    r["id"] = np.full(len(r), n, np.int32)
    r.experiment_identifiers = {n: "different-crystal"}
    expts.append(e[0])
    table = ReflectionTable.concatenate([refl, r])
    table.experiment_identifiers = {**refl.experiment_identifiers, n: "different-crystal"}
    write_experiments(expts, str(folder / "integrated.expt"))
    write_reflections(table, str(folder / "integrated.refl"))


def write_thaumatin(folder: Path) -> None:
    from friedel.io import write_experiments, write_reflections
    from symmetry_synthetic import simulated

    e, r = simulated("thaumatin", **{"seed": 3, "scan.n_images": 45, "scan.oscillation": (0.0, 2.0),
                                     "crystal.d_min": 2.5})
    for x in e:
        x.ensure_identifier()
    r.assign_identifiers(e)
    write_experiments(e, str(folder / "integrated.expt"))
    write_reflections(r, str(folder / "integrated.refl"))


def main():
    run_dials = "--dials" in sys.argv
    n_wedges = int(sys.argv[sys.argv.index("--wedges") + 1]) if "--wedges" in sys.argv else 20
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    work = Path(tempfile.mkdtemp(prefix="friedel-bench-symmetry-"))
    cases = []
    if DATA.is_dir():
        cases += [
            ("centroid", "symmetry", [DATA / "centroid/integrated.expt", DATA / "centroid/integrated.refl"]),
            ("l_cysteine_20", "symmetry", [DATA / "l_cysteine/20_integrated.expt", DATA / "l_cysteine/20_integrated.refl"]),
            ("quartz", "symmetry", [DATA / "quartz_ED/integrated.expt", DATA / "quartz_ED/integrated.refl"]),
            ("l_cysteine_2sweeps", "cosym", [DATA / "l_cysteine/20_integrated.expt", DATA / "l_cysteine/20_integrated.refl",
                                             DATA / "l_cysteine/25_integrated.expt", DATA / "l_cysteine/25_integrated.refl"]),
        ]
    sim = work / "thaumatin"
    sim.mkdir()
    write_thaumatin(sim)
    cases.append(("sim_thaumatin_90deg", "symmetry", [sim / "integrated.expt", sim / "integrated.refl"]))
    wedges = work / "wedges"
    wedges.mkdir()
    t0 = time.perf_counter()
    write_wedges(wedges, n_wedges)
    print(f"simulated {n_wedges}+1 wedges in {time.perf_counter() - t0:.1f} s")
    cases.append((f"sim_insulin_{n_wedges}+1_wedges", "cosym", [wedges / "integrated.expt", wedges / "integrated.refl"]))

    rows = []
    for name, command, files in cases:
        if only and only not in name:
            continue
        results = {}
        for tool in ("friedel", "dials") if run_dials else ("friedel",):
            cwd = work / name / tool
            cwd.mkdir(parents=True, exist_ok=True)
            cmd = ["friedel", command, *files] if tool == "friedel" else [f"dials.{command}", *files]
            wall, peak, out = timed(cmd, cwd)
            best, sg = answer_from_log(out)
            if sg == "?" and (cwd / "symmetrized.expt").exists():  # dials.cosym does not print it
                from friedel.io import read_experiments

                sg = read_experiments(str(cwd / "symmetrized.expt"))[0].crystal.space_group_symbol
            check = consistency(cwd, sg) if command == "cosym" else ""
            results[tool] = (wall, peak, best, sg, check)
            if tool == "friedel":
                summary = json.loads((cwd / f"friedel.{command}.json").read_text()) if (
                    cwd / f"friedel.{command}.json").exists() else {}
                excluded = summary.get("excluded", {})
                if excluded:
                    print(f"  {name}: friedel excluded {list(excluded)}")
        rows.append((name, command, results))
        for tool, (wall, peak, best, sg, check) in results.items():
            print(f"{name:28s} {tool:8s} {wall:7.2f} s {peak:7.0f} MB  {best:14s} {sg:14s} {check}")
        if "dials" in results:
            ratio = results["friedel"][0] / results["dials"][0]
            print(f"{'':28s} friedel/dials wall time {ratio:.2f}")
    print(f"(files in {work})")


if __name__ == "__main__":
    main()
