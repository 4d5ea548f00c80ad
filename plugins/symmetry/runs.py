"""The two procedures: ``run_symmetry`` (one crystal, or several indexed alike) and ``run_cosym``
(many data sets, consistent indexing). Each returns the reindexed experiments and reflections,
the log text and the JSON summary; the commands only read and write files."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import gemmi
import numpy as np

from friedel.errors import FriedelError
from friedel.plugin_manager import build_plugin
from friedel.plugins.symmetry import report
from friedel.plugins.symmetry.absences import assess_absences
from friedel.plugins.symmetry.lattice import (
    LatticeSearch,
    as_int,
    find_lattice_group,
    hkl_text,
    key,
    subgroup_setting,
    subgroups,
)
from friedel.plugins.symmetry.output import reindexed_outputs
from friedel.plugins.symmetry.prepare import (
    lattice_space_group,
    merged_datasets,
    observations_for,
    prepare_common,
    resolution_limit,
)

log = logging.getLogger("friedel")

MIN_UNIQUE = 10  # fewer merged reflections than this cannot say anything about symmetry


@dataclass
class Outcome:
    experiments: object
    reflections: object
    summary: dict
    text: str


class SettingCache:
    """Best settings of subgroups, computed once each."""

    def __init__(self, search: LatticeSearch):
        self.search = search
        self._cache = {}

    def __getitem__(self, keys):
        if keys not in self._cache:
            rotations = [np.array(k, dtype=np.int64).reshape(3, 3) for k in sorted(keys)]
            self._cache[keys] = subgroup_setting(rotations, self.search)
        return self._cache[keys]

    def of(self, rotations):
        return self[frozenset(key(R) for R in rotations)]


def allowed_groups(search: LatticeSearch, settings: SettingCache, laue_group: str | None, space_group: str | None):
    """Subgroups matching the user's Laue group or space group (None: all allowed)."""
    if laue_group is None and space_group is None:
        return None
    wanted = gemmi.SpaceGroup(space_group or laue_group)
    out = []
    for g in subgroups(search.group.rotations):
        st = settings.of(g)
        if space_group is not None:
            ops = gemmi.SpaceGroup(st.rotation_group).operations()
            match = ops.has_same_rotations(wanted.operations()) and ops.has_same_centring(wanted.operations())
        else:
            match = gemmi.SpaceGroup(st.patterson_group).laue_str() == wanted.laue_str()
        if match:
            out.append(g)
    if not out:
        what = f"space_group={space_group}" if space_group else f"laue_group={laue_group}"
        raise FriedelError(f"{what} is not compatible with the lattice symmetry {search.group.lattice} of the cell "
                           f"{tuple(round(v, 2) for v in search.group.unit_cell)}")
    return out


def _choose_space_group(params, setting, hkl_best, intensity, variance, d, d_min):
    if params.space_group is not None:
        return params.space_group, None
    if not params.systematic_absences.check:
        return setting.rotation_group, None
    sel = np.ones(len(hkl_best), bool) if d_min is None else d >= d_min
    result = assess_absences(hkl_best[sel], intensity[sel], variance[sel], setting,
                             params.systematic_absences.significance_level)
    return result.space_group, result


def _data_summary(datasets, d_min, resolution_info, excluded):
    return {"d_min": d_min, "resolution": resolution_info,
            "datasets": [{"identifier": d.identifier, "n_unique": len(d)} for d in datasets],
            "excluded": excluded}


def single_blas_thread(function):
    """Run with one BLAS thread: the matrices here are small (eigen-decompositions of at most a
    few thousand rows), and a multi-threaded OpenBLAS on shared cores was 5-15x slower."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return wrapper


@single_blas_thread
def run_symmetry(experiments, reflections, params) -> Outcome:
    """Laue group and space group of experiments that are indexed alike (one crystal)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(params.data.seed)
    observations = [o for o in observations_for(experiments, reflections, params.data) if len(o)]
    if not observations:
        raise FriedelError("no usable integrated reflections (after the partiality and I/sigma cuts)")
    lat = params.lattice
    prepared, excluded = prepare_common(experiments, observations, lat.lattice_symmetry_max_delta,
                                        lat.relative_length_tolerance, lat.absolute_angle_tolerance)
    for ident, why in excluded.items():
        log.warning("Experiment %s excluded: %s", ident, why)
    search = prepared[0].search
    log.info("Lattice symmetry: %s (max. obliquity %.2f deg), cell %s, cb_op input->lattice %s",
             search.group.lattice, search.group.max_delta, _cell_text(search.group.unit_cell), search.cb_op)
    d_min, res_info = _resolution(params, prepared, None, rng)
    datasets = merged_datasets(prepared, params.data.normalisation, d_min, combine=True, rng=rng)
    _log_data(prepared, datasets)
    if len(datasets[0]) < MIN_UNIQUE:
        raise FriedelError(f"only {len(datasets[0])} unique reflections after merging (need at least {MIN_UNIQUE}) "
                           "to judge the symmetry; give more data or a lower d_min")
    settings = SettingCache(search)
    allowed = allowed_groups(search, settings, params.laue_group, params.space_group)
    method = build_plugin("symmetry_methods", params.method, params)
    result = method(datasets, search.group, allowed)
    best = settings.of(result.laue_rotations)

    hkl_std = np.concatenate([p.hkl for p in prepared])
    I = np.concatenate([p.observations.intensity for p in prepared])
    V = np.concatenate([p.observations.variance for p in prepared])
    d = np.concatenate([p.d for p in prepared])
    space_group, absences = _choose_space_group(params, best, best.cb_op.apply_to_miller_indices(hkl_std), I, V, d,
                                                d_min)
    total = search.cb_op.then(best.cb_op)
    changes = {p.observations.experiment_index: (total, space_group) for p in prepared}
    out_expts, out_refl = reindexed_outputs(experiments, reflections, changes)

    text, summary = _report(result, settings, best, space_group, absences, total, search.cb_op)
    summary["best_solution"]["chosen_by"] = "scores" if allowed is None else "user"
    summary.update(_data_summary(datasets, d_min, res_info, excluded))
    summary["lattice"] = {"lattice": search.group.lattice, "max_delta": search.group.max_delta,
                          "unit_cell": list(search.group.unit_cell), "cb_op_inp_lattice": search.cb_op.as_abc()}
    summary["timing"] = {"total": time.perf_counter() - t0}
    return Outcome(out_expts, out_refl, summary, text)


def _log_data(prepared, datasets) -> None:
    columns = sorted({p.observations.column for p in prepared})
    n_obs = sum(len(p.observations) for p in prepared)
    n_unique = sum(len(d) for d in datasets)
    log.info("%d observations from %d experiment(s) (%s intensities); %d unique reflections (P1, Friedel mates "
             "together, epsilon = 1 in the lattice group) in %d data set(s)", n_obs, len(prepared),
             "/".join(columns), n_unique, len(datasets))


def _resolution(params, prepared, merge_group, rng):
    if params.data.d_min is not None:
        return params.data.d_min, {"d_min": params.data.d_min, "note": "given by the user"}
    d_min, info = resolution_limit(prepared, merge_group, params.data.min_i_mean_over_sigma_mean,
                                   params.data.min_cc_half, rng)
    if d_min is not None:
        log.info("High resolution limit set to: %.2f", d_min)
    else:
        log.info("High resolution limit: all data used (%s)", info.get("note", "no fall-off below the thresholds"))
    return d_min, info


def _cell_text(cell) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in cell) + ")"


def _report(result, settings, best, space_group, absences, total_cb, input_cb=None):
    details = result.details
    elements = details["elements"] if isinstance(details, dict) else details.elements
    ranked = details["subgroups"] if isinstance(details, dict) else details.subgroups
    rows = report.subgroup_rows(ranked, settings, input_cb)
    parts = []
    head = report.header_lines(details)
    if head:
        parts.append(head)
    parts += [report.element_table(elements), report.subgroup_table(rows)]
    parts.append("\n".join([
        f"Best solution: {best.patterson_group}" + ("" if ranked and ranked[0].keys == best.keys
                                                    else " (as requested; the scores above prefer another)"),
        f"Unit cell: {_cell_text(best.unit_cell)}",
        f"Reindex operator: {total_cb.as_abc()}",
        f"Laue group probability: {result.likelihood:.3f}",
        f"Laue group confidence: {result.confidence:.3f}",
    ]))
    if absences is not None:
        parts.append(report.absence_tables(absences))
    else:
        parts.append(f"Space group: {space_group}")
    summary = dict(result.scores)
    summary["subgroup_scores"] = rows
    summary.update({"best_solution": {"patterson_group": best.patterson_group, "likelihood": result.likelihood,
                                      "confidence": result.confidence, "unit_cell": list(best.unit_cell),
                                      "cb_op_inp_best": total_cb.as_abc()},
                    "space_group": space_group,
                    "systematic_absences": None if absences is None else absences.as_dict()})
    return "\n\n".join(parts), summary


# -- cosym --------------------------------------------------------------------------------------
@single_blas_thread
def run_cosym(experiments, reflections, params) -> Outcome:
    """Consistent indexing and Laue group of many data sets."""
    from friedel.plugins.symmetry.clustering import prepare_each

    t0 = time.perf_counter()
    rng = np.random.default_rng(params.data.seed)
    observations = observations_for(experiments, reflections, params.data)
    lat = params.lattice
    prepared, excluded, lattice = prepare_each(experiments, observations, lat.lattice_symmetry_max_delta,
                                               lat.relative_length_tolerance, lat.absolute_angle_tolerance,
                                               lat.min_reflections)
    for ident, why in excluded.items():
        log.warning("Data set %s excluded: %s", ident, why)
    if not prepared:
        raise FriedelError("no data set is left to analyse (see the exclusions above)")
    if len(prepared) == 1:
        log.warning("Only one data set: cosym gives its Laue group (as friedel symmetry would); "
                    "there is no indexing ambiguity between data sets to resolve")
    # the reference setting: the data set whose cell is closest to the median
    cells = np.array([p.search.group.unit_cell for p in prepared])
    median = np.median(cells, axis=0)
    ref = prepared[int(np.argmin(np.abs(cells - median).sum(axis=1)))]
    # the reference's full search (all lower lattices) gives the settings of subgroups; its
    # standard setting is that of every data set (they share the lattice's standard rotations)
    crystal = experiments[ref.observations.experiment_index].crystal
    search = find_lattice_group(crystal.unit_cell, lat.lattice_symmetry_max_delta, crystal.space_group,
                                lattice=lattice)
    log.info("Lattice symmetry: %s, %d operations; %d data sets", lattice, len(search.group.rotations), len(prepared))
    d_min, res_info = _resolution(params, prepared, lattice_space_group(lattice), rng)
    datasets = merged_datasets(prepared, params.data.normalisation, d_min, combine=False, rng=rng)
    _log_data(prepared, datasets)
    weak = [i for i, ds in enumerate(datasets) if len(ds) < lat.min_reflections]
    for i in weak:
        excluded[prepared[i].identifier] = (f"only {len(datasets[i])} unique reflections after merging and the "
                                            f"resolution cut (min_reflections={lat.min_reflections})")
        log.warning("Data set %s excluded: %s", prepared[i].identifier, excluded[prepared[i].identifier])
    prepared = [p for i, p in enumerate(prepared) if i not in weak]
    datasets = [ds for i, ds in enumerate(datasets) if i not in weak]
    if not datasets:
        raise FriedelError("no data set has enough reflections after the resolution cut; lower d_min or min_reflections")
    settings = SettingCache(search)
    allowed = allowed_groups(search, settings, params.laue_group, params.space_group)
    method = build_plugin("symmetry_methods", params.method, params)
    result = method(datasets, search.group, allowed)
    best = settings.of(result.laue_rotations)

    # every data set: input -> its standard setting -> reindexing -> best setting of the Laue group
    from friedel.plugins.bravais.cb_op import ChangeOfBasis

    totals = [ChangeOfBasis(p.search.cb_op.P @ np.asarray(Q, float)).then(best.cb_op)
              for p, Q in zip(prepared, result.reindex)]
    hkl_best = np.concatenate([t.apply_to_miller_indices(p.observations.hkl) for t, p in zip(totals, prepared)])
    I = np.concatenate([p.observations.intensity for p in prepared])
    V = np.concatenate([p.observations.variance for p in prepared])
    d = np.concatenate([p.d for p in prepared])
    space_group, absences = _choose_space_group(params, best, hkl_best, I, V, d, d_min)
    changes = {p.observations.experiment_index: (t, space_group) for p, t in zip(prepared, totals)}
    out_expts, out_refl = reindexed_outputs(experiments, reflections, changes)

    text, summary = _report(result, settings, best, space_group, absences, best.cb_op)
    summary["best_solution"]["chosen_by"] = "scores" if allowed is None else "user"
    groups: dict[str, list] = {}
    for p, Q in zip(prepared, result.reindex):
        groups.setdefault(hkl_text(as_int(Q)), []).append(p.identifier)
    lines = ["Reindexing operators (in the lattice's standard setting, h' = h op):"]
    lines += [f"  {op}: {ids}" for op, ids in groups.items()]
    text = "\n\n".join([text, "\n".join(lines),
                        f"Embedding in {result.scores.get('dimensions')} dimensions of {len(datasets)} data sets x "
                        f"{len(search.group.rotations)} operations"])
    summary.update(_data_summary(datasets, d_min, res_info, excluded))
    summary["reindexing_operators"] = groups
    summary["cb_op_per_dataset"] = {p.identifier: t.as_abc() for p, t in zip(prepared, totals)}
    summary["lattice"] = {"lattice": lattice, "unit_cell": list(search.group.unit_cell)}
    summary["timing"] = {"total": time.perf_counter() - t0, **result.scores.get("timing", {})}
    return Outcome(out_expts, out_refl, summary, text)
