"""Centroid accuracy and recall of strong spots against the simulator's truth (and DIALS).

usage: python contrib/bench/spot_centroids.py SIM_DIR strong.refl [other_strong.refl ...]

``SIM_DIR`` is a ``friedel simulate`` output folder (``truth_reflections.refl`` with the true
``xyzcal.px`` of every reflection, ``truth_partials.npz``). Each strong-spot file (friedel's or
``dials.find_spots``'s on the same images) is scored:

* every spot is matched to the nearest true reflection in (x, y) px among those centred within
  ``--dz`` frames of it; matches farther than ``--max-px`` are "unmatched";
* centroid error: median (and 90th percentile) of the (x, y) distance and of |z| error, over
  matched spots, and over the spots *every* file matched to the same true reflection (so that
  the files are compared on the same spots);
* recall of true reflections with at least ``--min-counts`` expected photons;
* with two or more files: the fraction of the first file's spots (e.g. DIALS's) that the others
  also found (a spot of the other file matched to the same true reflection).

Prints one table; ``--json`` writes the numbers too.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
from scipy.spatial import cKDTree

from friedel.io import read_reflections


def match_to_truth(strong_xyz: np.ndarray, truth_xyz: np.ndarray, max_px: float, dz: float) -> tuple:
    """(index of the matched true reflection or -1, xy distance) of every spot."""
    # scale z so that a kd-tree in 3-D finds candidates within dz frames, then keep the xy-nearest
    tree = cKDTree(np.column_stack([truth_xyz[:, 0], truth_xyz[:, 1], truth_xyz[:, 2] * (max_px / dz)]))
    query = np.column_stack([strong_xyz[:, 0], strong_xyz[:, 1], strong_xyz[:, 2] * (max_px / dz)])
    dist, idx = tree.query(query, k=4, distance_upper_bound=2.0 * max_px)
    best = np.full(len(strong_xyz), -1)
    best_d = np.full(len(strong_xyz), np.inf)
    for k in range(idx.shape[1]):
        ok = idx[:, k] < len(truth_xyz)
        j = np.where(ok, idx[:, k], 0)
        dxy = np.hypot(*(strong_xyz[:, :2] - truth_xyz[j, :2]).T)
        dzk = np.abs(strong_xyz[:, 2] - truth_xyz[j, 2])
        better = ok & (dxy < best_d) & (dzk <= dz)
        best[better] = j[better]
        best_d[better] = dxy[better]
    unmatched = best_d > max_px
    best[unmatched] = -1
    return best, best_d


def score(path: str, truth, max_px: float, dz: float) -> dict:
    t = read_reflections(path)
    xyz = np.asarray(t["xyzobs.px.value"], float)
    panel = np.asarray(t["panel"]) if "panel" in t else np.zeros(len(t), int)
    truth_xyz = np.asarray(truth["xyzcal.px"], float)
    truth_panel = np.asarray(truth["panel"])
    match = np.full(len(t), -1)
    dxy = np.full(len(t), np.inf)
    for p in np.unique(panel):
        sel, tsel = np.flatnonzero(panel == p), np.flatnonzero(truth_panel == p)
        m, d = match_to_truth(xyz[sel], truth_xyz[tsel], max_px, dz)
        match[sel] = np.where(m >= 0, tsel[np.maximum(m, 0)], -1)
        dxy[sel] = d
    ok = match >= 0
    dzs = np.abs(xyz[ok, 2] - truth_xyz[match[ok], 2])
    return dict(path=path, n=len(t), matched=int(ok.sum()), match=match, dxy=dxy,
                z_err=np.abs(xyz[:, 2] - truth_xyz[np.maximum(match, 0), 2]),
                median_xy=float(np.median(dxy[ok])), p90_xy=float(np.percentile(dxy[ok], 90)),
                median_z=float(np.median(dzs)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sim_dir")
    ap.add_argument("strong", nargs="+")
    ap.add_argument("--max-px", type=float, default=2.0, help="largest xy distance of a match (px)")
    ap.add_argument("--dz", type=float, default=2.0, help="largest z distance of a match (frames)")
    ap.add_argument("--min-counts", type=float, default=100.0,
                    help="true reflections with at least this many expected photons count for recall")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    truth = read_reflections(os.path.join(args.sim_dir, "truth_reflections.refl"))
    expected = np.asarray(truth["counts.expected"], float)
    wanted = expected >= args.min_counts
    scores = [score(p, truth, args.max_px, args.dz) for p in args.strong]
    # spots every file matched to the same true reflection: the like-for-like comparison
    common = set(scores[0]["match"][scores[0]["match"] >= 0])
    for s in scores[1:]:
        common &= set(s["match"][s["match"] >= 0])
    common = np.array(sorted(common))
    out = []
    print(f"{'file':<44} {'spots':>7} {'matched':>8} {'med xy':>7} {'p90 xy':>7} {'med |z|':>7} "
          f"{'common med xy':>13} {'recall':>7}")
    for s in scores:
        m = s["match"]
        first = {}
        for i in np.flatnonzero(m >= 0):  # one spot per true reflection: the closest
            if m[i] not in first or s["dxy"][i] < s["dxy"][first[m[i]]]:
                first[m[i]] = i
        common_d = np.array([s["dxy"][first[j]] for j in common]) if len(common) else np.array([np.nan])
        found = np.zeros(len(truth), bool)
        found[list(first)] = True
        recall = float(found[wanted].mean())
        row = dict(file=s["path"], spots=s["n"], matched=s["matched"], median_xy_px=s["median_xy"],
                   p90_xy_px=s["p90_xy"], median_z_frames=s["median_z"],
                   common_spots=int(len(common)), common_median_xy_px=float(np.median(common_d)),
                   recall=recall, min_counts=args.min_counts)
        out.append(row)
        print(f"{os.path.relpath(s['path'])[-44:]:<44} {s['n']:7d} {s['matched']:8d} {s['median_xy']:7.3f} "
              f"{s['p90_xy']:7.3f} {s['median_z']:7.3f} {row['common_median_xy_px']:13.3f} {recall:7.3f}")
    if len(scores) > 1:
        ref = set(scores[0]["match"][scores[0]["match"] >= 0])
        for s in scores[1:]:
            mine = set(s["match"][s["match"] >= 0])
            frac = len(ref & mine) / max(len(ref), 1)
            print(f"{os.path.relpath(s['path'])}: finds {100 * frac:.1f}% of the true reflections "
                  f"{os.path.relpath(scores[0]['path'])} found ({len(ref & mine)} of {len(ref)}); "
                  f"{len(mine - ref)} that it did not")
            out.append(dict(file=s["path"], reference=scores[0]["path"], fraction_of_reference=frac))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
