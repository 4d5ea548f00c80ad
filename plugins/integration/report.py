"""Summary tables of integration (per image, per resolution shell, overall) and their JSON."""

from __future__ import annotations

import json

import numpy as np

from friedel.flags import Flags
from friedel.io import atomic_write
from friedel.text_table import boxed_table as text_table


def _stats(t, sel) -> dict:
    flags = t["flags"][sel]
    s = (flags & int(Flags.integrated_sum)) != 0
    p = (flags & int(Flags.integrated_prf)) != 0
    part = t["partiality"][sel]
    out = {
        "n_full": int(np.count_nonzero(part > 0.99)),
        "n_partial": int(np.count_nonzero(part <= 0.99)),
        "n_overloaded": int(np.count_nonzero(flags & int(Flags.overloaded))),
        "n_overlapped": int(np.count_nonzero(flags & int(Flags.overlapped_fg))),
        "n_sum": int(np.count_nonzero(s)),
        "n_prf": int(np.count_nonzero(p)),
        "mean_background": float(np.mean(t["background.mean"][sel])) if sel.any() else 0.0,
    }
    with np.errstate(invalid="ignore", divide="ignore"):
        isum = t["intensity.sum.value"][sel][s] / np.sqrt(t["intensity.sum.variance"][sel][s])
        out["i_over_sigma_sum"] = float(np.mean(isum)) if len(isum) else 0.0
        if "intensity.prf.value" in t:
            iprf = t["intensity.prf.value"][sel][p] / np.sqrt(t["intensity.prf.variance"][sel][p])
            out["i_over_sigma_prf"] = float(np.mean(iprf)) if len(iprf) else 0.0
            cc = t["profile.correlation"][sel][p]
            out["cc_prf"] = float(np.mean(cc)) if len(cc) else 0.0
        else:
            out["i_over_sigma_prf"] = 0.0
            out["cc_prf"] = 0.0
    return out


def per_image(t, experiment, experiment_id: int) -> list[dict]:
    scan = experiment.scan
    mine = t["id"] == experiment_id
    image = scan.image_range[0] + np.floor(t["xyzcal.px"][:, 2] - scan.array_range[0]).astype(int)
    rows = []
    for number in range(scan.image_range[0], scan.image_range[1] + 1):
        sel = mine & (image == number)
        rows.append({"image": number, **_stats(t, sel)})
    return rows


def per_resolution(t, experiment_id: int, n_bins: int = 20) -> list[dict]:
    from friedel.miller import ResolutionBins

    mine = t["id"] == experiment_id
    d = t["d"][mine]
    if len(d) < 2:
        return []
    bins = ResolutionBins(d, n_bins=min(n_bins, max(len(d) // 10, 1)))
    index = np.full(len(t), -1)
    index[mine] = bins.index
    return [{"d_max": float(bins.d_max[k]), "d_min": float(bins.d_min[k]), **_stats(t, index == k)}
            for k in range(len(bins.d_max))]


_COLUMNS = [("# full", "n_full", "d"), ("# part", "n_partial", "d"), ("# over", "n_overloaded", "d"),
            ("# ovl", "n_overlapped", "d"), ("# sum", "n_sum", "d"), ("# prf", "n_prf", "d"),
            ("Ibg", "mean_background", ".2f"), ("I/sigI (sum)", "i_over_sigma_sum", ".2f"),
            ("I/sigI (prf)", "i_over_sigma_prf", ".2f"), ("CC prf", "cc_prf", ".2f")]


def _fmt(rows, lead):
    header = [h for h, _, _ in lead] + [h for h, _, _ in _COLUMNS]
    body = [[format(r[k], f) for _, k, f in lead + _COLUMNS] for r in rows]
    return text_table(header, body)


def build_report(result) -> dict:
    """Everything the log shows and ``friedel.integrate.json`` stores."""
    t = result.reflections
    experiments = result.experiments
    out = {"counts": result.counts, "timing_s": result.timing, "memory": result.memory, "experiments": []}
    for i, e in enumerate(experiments):
        est = result.profile_estimates[i]
        mine = t["id"] == i
        out["experiments"].append({
            "id": i, "identifier": e.identifier,
            "profile": dict(e.profile or {}),
            "profile_spots": {"sigma_b": est.n_spots_sigma_b, "sigma_m": est.n_spots_sigma_m, "given": est.given},
            "overall": _stats(t, mine),
            "per_image": per_image(t, e, i),
            "per_resolution": per_resolution(t, i),
        })
    if result.profiles is not None:
        out["reference_profiles"] = result.profiles.summary_rows()
    return out


def format_report(report: dict) -> str:
    parts = []
    for e in report["experiments"]:
        prof = e["profile"]
        parts.append(f"Profile model of experiment {e['id']}: {prof.get('__id__', '?')}, sigma_b "
                     f"{prof.get('sigma_b', 0):.4f} deg, sigma_m {prof.get('sigma_m', 0):.4f} deg, n_sigma "
                     f"{prof.get('n_sigma', 0):g}" + ("" if e["profile_spots"]["given"] else
                     f" (estimated from {e['profile_spots']['sigma_b']} spots)"))
        parts.append(f"Summary vs image number (experiment {e['id']}):")
        parts.append(_fmt(e["per_image"], [("Image", "image", "d")]))
        if e["per_resolution"]:
            parts.append(f"Summary vs resolution (experiment {e['id']}):")
            parts.append(_fmt(e["per_resolution"], [("d min", "d_min", ".2f")]))
        o = e["overall"]
        parts.append(f"Experiment {e['id']}: {o['n_full']} fully and {o['n_partial']} partially recorded; "
                     f"{o['n_sum']} by summation, {o['n_prf']} by profile fitting; {o['n_overloaded']} overloaded, "
                     f"{o['n_overlapped']} with overlapping foregrounds; <I/sigI> sum {o['i_over_sigma_sum']:.2f}, "
                     f"prf {o['i_over_sigma_prf']:.2f}; <CC prf> {o['cc_prf']:.3f}")
    if "reference_profiles" in report:
        rp = report["reference_profiles"]
        rows = [[r["profile"], r["experiment"], r["region_u"], r["region_v"], r["scan_block"], r["n_reflections"],
                 f"{r['weight']:.1f}", "yes" if r["valid"] else "no"] for r in rp]
        parts.append("Reference profiles:")
        parts.append(text_table(["#", "Expt", "Region u", "Region v", "Scan block", "# reflections", "Weight",
                                 "Used"], rows))
    c = report["counts"]
    parts.append(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in c.items()))
    return "\n".join(parts)


def write_json(report: dict, path: str = "friedel.integrate.json") -> str:
    def plain(o):
        if isinstance(o, dict):
            return {str(k): plain(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [plain(v) for v in o]
        if isinstance(o, np.generic):
            o = o.item()
        if isinstance(o, float) and not np.isfinite(o):
            return None
        return o

    with atomic_write(path, "w") as handle:
        json.dump(plain(report), handle, indent=1)
    return path
