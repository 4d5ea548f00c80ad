"""The plots of each step, made from the files the step wrote (and its friedel.<command>.json).

Every builder takes a step folder and a :class:`~friedel.plugins.process.report.html.Section`
and adds what it can; a file that is absent or unreadable only leaves its plot out. Plots are
computed from the data files themselves (strong.refl, indexed.refl, integrated.refl,
scaled.refl) so that they do not depend on how a step formats its log; the JSON tables a
step writes are shown as tables and line plots as well.
"""

from __future__ import annotations

import glob
import json
import os

import numpy as np


def _go():
    import plotly.graph_objects as go

    return go


def _read(folder: str, name: str):
    from friedel.io import read_experiments, read_reflections

    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    try:
        return read_experiments(path) if name.endswith(".expt") else read_reflections(path)
    except Exception:  # noqa: BLE001 - a damaged file only leaves its plot out
        return None


def _layout(fig, title: str, x: str, y: str):
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white",
                      margin=dict(l=60, r=20, t=50, b=50))
    return fig


def _image_number(refl) -> np.ndarray:
    z = refl["xyzobs.px.value"][:, 2] if "xyzobs.px.value" in refl else refl["xyzcal.px"][:, 2]
    return np.floor(z).astype(int) + 1


def _one_over_d2_axis(fig):
    """Label a 1/d² axis in d (Angstrom), as crystallographers read it."""
    ticks = np.array([10, 5, 4, 3, 2.5, 2, 1.8, 1.6, 1.5, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8])
    fig.update_xaxes(tickvals=(1 / ticks**2).tolist(), ticktext=[f"{t:g}" for t in ticks], title="resolution (A)")
    return fig


def _mean_per(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` in each of ``n`` bins (0 where a bin is empty)."""
    return np.bincount(index, values, minlength=n) / np.maximum(np.bincount(index, minlength=n), 1)


def _shells_in_s(s: np.ndarray, n: int = 20):
    """(centres, index): ``n`` equal steps of s = 1/d^2 over its range, and each value's step."""
    edges = np.linspace(s.min(), s.max(), n + 1)
    return 0.5 * (edges[1:] + edges[:-1]), np.clip(np.digitize(s, edges) - 1, 0, n - 1)


def _i_over_sigma(refl, kind: str):
    """(I/sigma, usable) of one intensity kind; rows without a positive variance are not usable."""
    v = refl[f"intensity.{kind}.variance"]
    ok = v > 0
    return np.where(ok, refl[f"intensity.{kind}.value"] / np.sqrt(np.where(ok, v, 1.0)), 0.0), ok


def spots(folder: str, section) -> None:
    """Strong spots per image and their resolution (find_spots)."""
    go = _go()
    refl = _read(folder, "strong.refl")
    if refl is None or not len(refl):
        return
    image = _image_number(refl)
    counts = np.bincount(image - image.min())
    frames = np.arange(image.min(), image.min() + len(counts))
    fig = go.Figure(go.Scatter(x=frames, y=counts, mode="lines+markers", name="spots"))
    section.figure(_layout(fig, "Strong spots per image", "image", "spots"))
    d = _spot_resolution(folder, refl)
    if d is not None:
        fig = go.Figure(go.Scattergl(x=image, y=d, mode="markers", marker=dict(size=3, opacity=0.4)))
        fig.update_yaxes(autorange="reversed")
        section.figure(_layout(fig, "Resolution of the strong spots", "image", "d (A)"))
    section.text(f"{len(refl)} strong spots on {len(counts)} images.")


def _spot_resolution(folder: str, refl):
    inputs = glob.glob(os.path.join(folder, "..", "*_import", "imported.expt"))
    experiments = _read(os.path.dirname(inputs[0]), "imported.expt") if inputs else None
    if experiments is None or "xyzobs.px.value" not in refl:
        return None
    expt = experiments[0]
    panel_ids = refl["panel"] if "panel" in refl else np.zeros(len(refl), int)
    d = np.full(len(refl), np.nan)
    s0 = np.asarray(expt.beam.s0, float)
    for p in np.unique(panel_ids):
        sel = panel_ids == p
        lab = expt.detector[int(p)].pixel_to_lab(refl["xyzobs.px.value"][sel, :2])
        s1 = lab / np.linalg.norm(lab, axis=1)[:, None] * np.linalg.norm(s0)
        d[sel] = 1.0 / np.linalg.norm(s1 - s0, axis=1)
    return d


def reciprocal_lattice(folder: str, section) -> None:
    """The reciprocal lattice points of the spots, indexed and not, per lattice (index)."""
    go = _go()
    refl = _read(folder, "indexed.refl")
    if refl is None or "rlp" not in refl or not len(refl):
        return
    rlp, ids = refl["rlp"], refl["id"]
    if len(rlp) > 20000:  # a browser draws 20k points smoothly
        pick = np.random.default_rng(0).choice(len(rlp), 20000, replace=False)
        rlp, ids = rlp[pick], ids[pick]
    fig = go.Figure()
    for i in np.unique(ids):
        sel = ids == i
        fig.add_trace(go.Scatter3d(x=rlp[sel, 0], y=rlp[sel, 1], z=rlp[sel, 2], mode="markers",
                                   marker=dict(size=1.5), name="unindexed" if i < 0 else f"lattice {i}"))
    fig.update_layout(title="Reciprocal lattice (drag to rotate)", height=600,
                      scene=dict(xaxis_title="x*", yaxis_title="y*", zaxis_title="z*", aspectmode="data"))
    section.figure(fig)
    n_indexed = int(np.count_nonzero(refl["id"] >= 0))
    section.text(f"{n_indexed} of {len(refl)} spots indexed ({100 * n_indexed / len(refl):.1f}%).")


def integration(folder: str, section) -> None:
    """I/sigma, background and profile correlation per image and per resolution (integrate)."""
    go = _go()
    refl = _read(folder, "integrated.refl")
    if refl is None or not len(refl):
        return
    image = _image_number(refl)
    frames = np.arange(image.min(), image.max() + 1)
    frame_index = image - frames[0]
    kinds = [k for k in ("sum", "prf") if f"intensity.{k}.value" in refl]
    fig = go.Figure()
    for kind in kinds:
        ios, ok = _i_over_sigma(refl, kind)
        fig.add_trace(go.Scatter(x=frames, y=_mean_per(frame_index[ok], ios[ok], len(frames)), mode="lines",
                                 name=f"I/sigma ({kind})"))
    section.figure(_layout(fig, "Mean I/sigma per image", "image", "I/sigma"))
    for column, title, axis in (("background.mean", "Mean background per image", "counts per pixel"),
                                ("profile.correlation", "Mean profile correlation per image", "CC")):
        if column in refl:
            fig = go.Figure(go.Scatter(x=frames, y=_mean_per(frame_index, refl[column], len(frames)), mode="lines"))
            section.figure(_layout(fig, title, "image", axis))
    if "d" in refl and kinds:
        centres, shell = _shells_in_s(1.0 / refl["d"] ** 2)
        fig = go.Figure()
        for kind in kinds:
            ios, ok = _i_over_sigma(refl, kind)
            fig.add_trace(go.Scatter(x=centres, y=_mean_per(shell[ok], ios[ok], len(centres)),
                                     mode="lines+markers", name=kind))
        section.figure(_one_over_d2_axis(_layout(fig, "Mean I/sigma against resolution", "", "I/sigma")))


def scaling(folder: str, section, anomalous: bool = False) -> None:
    """Scale factors, merging statistics against resolution, Wilson and normal probability plots."""
    from friedel.plugins.process.summary import scaled_intensities, statistics_of_scaled

    go = _go()
    refl = _read(folder, "scaled.refl")
    if refl is None or "inverse_scale_factor" not in refl:
        return
    image = _image_number(refl)
    ids = refl["id"] if "id" in refl else np.zeros(len(refl), int)
    fig = go.Figure()
    for i in np.unique(ids[ids >= 0]):
        sel = ids == i
        fr = image[sel]
        n = fr.max() - fr.min() + 1
        per = _mean_per(fr - fr.min(), refl["inverse_scale_factor"][sel], n)
        x = np.arange(fr.min(), fr.min() + n)
        fig.add_trace(go.Scatter(x=x[per > 0], y=per[per > 0], mode="lines", name=f"data set {i}"))
    section.figure(_layout(fig, "Mean inverse scale factor per image", "image", "g"))
    stats = statistics_of_scaled(os.path.join(folder, "scaled.expt"), os.path.join(folder, "scaled.refl"), anomalous)
    if stats is not None:
        merging_statistics_plots(stats.as_dict(), section)
        section.preformatted(stats.table())
    try:
        hkl, intensity, variance = scaled_intensities(refl)
    except ValueError:
        return
    _normal_probability(hkl, intensity, variance, folder, section)


def merging_statistics_plots(stats: dict, section, d_min_suggested: float | None = None) -> None:
    """CC½, I/sigma, completeness, multiplicity and Rpim against resolution."""
    go = _go()
    shells = stats.get("shells") or []
    if not shells:
        return
    x = [1.0 / ((s["d_min"] + s["d_max"]) / 2) ** 2 for s in shells]

    def series(key):
        return [s.get(key) if s.get(key) is not None else None for s in shells]

    fig = go.Figure(go.Scatter(x=x, y=series("cc_half"), mode="lines+markers", name="CC1/2"))
    if stats.get("anomalous"):
        fig.add_trace(go.Scatter(x=x, y=series("cc_anom"), mode="lines+markers", name="CC anom"))
    if d_min_suggested:
        fig.add_vline(x=1 / d_min_suggested**2, line_dash="dash", annotation_text=f"{d_min_suggested:.2f} A")
    section.figure(_one_over_d2_axis(_layout(fig, "CC1/2 against resolution", "", "CC")))
    for key, title, axis in (("mean_i_over_sigma", "Mean I/sigma(I) of merged reflections", "I/sigma"),
                             ("completeness", "Completeness", "%"), ("multiplicity", "Multiplicity", ""),
                             ("r_pim", "Rpim", "")):
        fig = go.Figure(go.Scatter(x=x, y=series(key), mode="lines+markers"))
        section.figure(_one_over_d2_axis(_layout(fig, f"{title} against resolution", "", axis)))


def _normal_probability(hkl, intensity, variance, folder, section) -> None:
    """Normalised deviations of observations from their merged means against the normal quantiles."""
    from scipy import stats as sps

    from friedel.merging_statistics import merge_equivalents

    go = _go()
    experiments = _read(folder, "scaled.expt")
    if experiments is None:
        return
    crystal = experiments.crystals[0]
    merged = merge_equivalents(hkl, intensity, variance, crystal.space_group)
    n = merged.multiplicity[merged.group]
    sel = n > 1
    if sel.sum() < 10:
        return
    g = merged.group[sel]
    i, v = intensity[sel], variance[sel]
    w = 1 / v
    sw = np.bincount(g, w, minlength=len(merged.hkl))
    swi = np.bincount(g, w * i, minlength=len(merged.hkl))
    mean_others = (swi[g] - w * i) / (sw[g] - w)
    var_others = 1 / (sw[g] - w)
    z = (i - mean_others) / np.sqrt(v + var_others)
    z = np.sort(z[np.isfinite(z)])
    if len(z) > 5000:
        z = z[np.linspace(0, len(z) - 1, 5000).astype(int)]
    q = sps.norm.ppf((np.arange(len(z)) + 0.5) / len(z))
    fig = go.Figure([go.Scattergl(x=q, y=z, mode="markers", marker=dict(size=3), name="observations"),
                     go.Scatter(x=[-4, 4], y=[-4, 4], mode="lines", name="ideal")])
    section.figure(_layout(fig, "Normal probability plot of normalised deviations", "expected (normal)", "observed"))
    from friedel.miller import d_spacing

    centres, b = _shells_in_s(1.0 / d_spacing(merged.hkl, crystal.unit_cell) ** 2)
    ok = np.isfinite(merged.intensity)
    mean_i = _mean_per(b[ok], merged.intensity[ok], len(centres))
    good = mean_i > 0
    fig = go.Figure(go.Scatter(x=centres[good], y=np.log(mean_i[good]), mode="lines+markers"))
    section.figure(_one_over_d2_axis(_layout(fig, "Wilson plot", "", "ln <I>")))


def json_tables(folder: str, section) -> None:
    """Every table (a list of records) in the step's friedel.<command>.json, and a plot of it."""
    go = _go()
    for path in sorted(glob.glob(os.path.join(folder, "friedel.*.json"))):
        if path.endswith("process_step.json"):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        for name, records in _tables(data):
            keys = [k for k, v in records[0].items() if isinstance(v, (int, float, str, type(None)))]
            if len(keys) < 2:
                continue
            rows = [[r.get(k) for k in keys] for r in records[:MAX_TABLE_ROWS]]
            caption = f"{os.path.basename(path)}: {name}"
            if len(records) > MAX_TABLE_ROWS:
                caption += f" (first {MAX_TABLE_ROWS} of {len(records)} rows)"
            section.table(keys, rows, caption=caption)
            fig = _series_figure(name, keys, records)
            if fig is not None:
                section.figure(fig)


MAX_TABLE_ROWS = 60
#: column names that make a sensible x axis of a table's plot (per image, per shell, per cycle)
X_AXES = ("image", "frame", "batch", "cycle", "iteration", "d_min", "d", "resolution", "shell", "phi", "angle")
#: columns that label rows rather than measure something: never plotted
LABELS = ("id", "experiment", "region", "block", "panel", "profile", "index", "lattice", "n_", "flag")


def _series_figure(name: str, keys: list[str], records: list[dict]):
    """A line plot of a table's measured columns against its axis column, when it has one."""
    go = _go()
    numeric = [k for k in keys if all(isinstance(r.get(k), (int, float)) or r.get(k) is None for r in records)]
    x_key = next((k for k in numeric if k.lower() in X_AXES), None)
    if x_key is None or len(records) < 3:
        return None
    y_keys = [k for k in numeric if k != x_key and not any(k.lower().startswith(l) or k.lower() == l.strip("_")
                                                          for l in LABELS)]
    if not y_keys:
        return None
    x = [r.get(x_key) for r in records]
    fig = go.Figure([go.Scatter(x=x, y=[r.get(k) for r in records], mode="lines+markers", name=k) for k in y_keys[:6]])
    return _layout(fig, name, x_key, "")


def _tables(data, prefix: str = ""):
    """(name, list of dicts) for each list of records anywhere in a JSON document."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _tables(v, f"{prefix}.{k}" if prefix else k)
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        yield prefix, data
