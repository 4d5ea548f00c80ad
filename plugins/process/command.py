"""``friedel process IMAGES...``: import → ... → merged MTZ, each step in a numbered folder."""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.plugins.process import steps as S
from friedel.plugins.process.parameters import ProcessParams, route_assignments, shared_assignments
from friedel.plugins.process.runner import StepResult, attach_process_log, run_step
from friedel.plugins.process.summary import cell_and_space_group, statistics_of_scaled, timing_table

log = logging.getLogger("friedel")


class ProcessCommand(Command):
    """Process rotation images to a merged MTZ in one go: import, find_spots, index, refine
    (static + scan-varying), integrate, symmetry (one crystal) or cosym (several), scale,
    estimate_resolution (and scale again at the suggested limit), merge and export. Each step
    runs in its own numbered folder with its usual files, log and JSON; running again resumes at
    the first step whose inputs or parameters changed. Any step's parameter passes through as
    <step>.<parameter>=value (index.indexing.method=fft1d) or by a name only some steps have."""

    name = "process"
    help = "Images to merged MTZ in one command (every step in its own numbered folder)"
    usage = "friedel process IMAGES... [d_min=1.8] [anomalous=True] [index.indexing.method=fft1d]"
    Params = ProcessParams
    #: assignments that are not process's own are handed to the steps (see parameters.py)
    passes_parameters_through = True
    passthrough: list[str] = []

    def run(self, params, files):
        from friedel.plugin_manager import registry

        if not files:
            raise FriedelError("friedel process needs image files (or an image template), e.g. friedel process data/*.cbf")
        missing = [f for f in files if not os.path.exists(f) and "#" not in f]
        if missing:
            raise FriedelError(f"image file {missing[0]} does not exist")
        available = set(registry("commands"))
        needed = [s.command for s in S.ALL_STEPS if s.command not in ("cosym",)]
        absent = [c for c in needed if c not in available]
        if absent:
            raise FriedelError(f"friedel process needs the {', '.join(absent)} step(s), which are not installed")
        routed = route_assignments(list(self.passthrough), available)
        shared = shared_assignments(params, available)
        arguments = {c: shared[c] + routed[c] for c in S.STEP_NAMES}
        log_path = os.path.abspath("friedel.process.log")
        attach_process_log(log_path)
        pipeline = _Pipeline(params, arguments, log_path, [os.path.abspath(f) if "#" not in f else f for f in files])
        try:
            pipeline.run_all()
        finally:
            _finish(pipeline, params)
        return 0


class _Pipeline:
    """The state of one process run: the latest file of each kind and the steps run so far."""

    def __init__(self, params, arguments: dict, log_path: str, images: list[str]):
        self.params = params
        self.arguments = arguments
        self.log_path = log_path
        self.latest: dict = {}
        self.images = images
        self.results: list[StepResult] = []
        self.number = 1
        self.d_min_used: float | None = params.d_min

    def step(self, step: S.Step, suffix: str = "", extra: list[str] | None = None) -> StepResult:
        inputs = []
        for kind in step.inputs:
            inputs += self.images if kind == "images" else [self.latest[kind]]
        folder = step.folder(self.number, suffix)
        self.number += 1
        result = run_step(step.command, folder, inputs, self.arguments[step.command] + list(extra or []),
                          step.outputs, self.params.resume, self.log_path)
        self.results.append(result)
        if not result.ok:
            raise FriedelError(f"step {folder} ({step.command}) failed: {result.error} — see {folder}/friedel."
                               f"{step.command}.log; fix the cause and run friedel process again "
                               "(finished steps are not repeated)")
        self.latest.update(result.outputs)
        return result

    def run_all(self) -> None:
        self.step(S.IMPORT)
        self.step(S.FIND_SPOTS)
        self.step(S.INDEX)
        self._index_more_lattices_if_needed()
        self.step(S.REFINE)
        self.step(S.INTEGRATE)
        n_crystals = _count_crystals(self.latest["expt"])
        if n_crystals > 1:
            log.info("%d crystals (or separately indexed sweeps): cosym makes their indexing consistent", n_crystals)
            self.step(S.COSYM)
        else:
            self.step(S.SYMMETRY)
        before_scaling = dict(self.latest)
        self.step(S.SCALE)
        self.step(S.ESTIMATE_RESOLUTION)
        self._rescale_if_suggested(before_scaling)
        self.step(S.MERGE)
        self.step(S.EXPORT)

    def _index_more_lattices_if_needed(self) -> None:
        """What a careful user tries when many strong spots stay unindexed: sweeps indexed
        separately (they may be different crystals), then more lattices. A retry is kept only
        when it indexes clearly more spots."""
        given = self.arguments["index"]
        retries = []
        if _count_sweeps(self.results[0].outputs["expt"]) > 1 and not _given(given, "joint_indexing"):
            retries.append(("_separately", ["joint_indexing=False"],
                            "indexing the sweeps separately (they may be different crystals)"))
        if not _given(given, "max_lattices"):
            retries.append(("_multi_lattice", ["max_lattices=3"], "looking for more lattices (max_lattices=3)"))
        strong = self.results[1].outputs["refl"]  # strong.refl: the sweep of every spot
        fraction = _indexed_fraction(self.latest["refl"], strong)
        extra: list[str] = []
        for suffix, assignment, what in retries:
            if fraction is None or fraction >= self.params.min_indexed_fraction:
                return
            log.info("only %.0f%% of the strong spots indexed (of the worst-indexed sweep): %s", 100 * fraction, what)
            kept = dict(self.latest)
            self.latest["expt"] = self.results[0].outputs["expt"]  # imported.expt
            self.latest["refl"] = self.results[1].outputs["refl"]  # strong.refl
            result = self.step(S.INDEX, suffix=suffix, extra=extra + assignment)
            better = _indexed_fraction(result.outputs["refl"], strong) or 0.0
            if better < fraction + 0.05:
                log.info("that indexed %.0f%%: keeping the previous indexing", 100 * better)
                self.latest = kept
            else:
                fraction, extra = better, extra + assignment

    def _rescale_if_suggested(self, before_scaling: dict) -> None:
        suggested = _suggested_d_min(self.latest.get("resolution"))
        if suggested is None:
            return
        if self.params.d_min is not None or not self.params.rescale_to_suggested_resolution:
            log.info("estimate_resolution suggests %.2f A (not applied: %s)", suggested,
                     "d_min was given" if self.params.d_min is not None else "rescale_to_suggested_resolution=False")
            return
        data_d_min = _data_d_min(self.latest["refl"])
        if data_d_min is not None and suggested <= data_d_min + 0.005:
            log.info("estimate_resolution suggests the whole resolution range (%.2f A)", suggested)
            return
        log.info("estimate_resolution suggests %.2f A: scaling again to that limit", suggested)
        scaled = {k: self.latest[k] for k in ("expt", "refl")}
        self.latest.update({k: before_scaling[k] for k in ("expt", "refl")})
        try:
            self.step(S.SCALE, suffix="_d_min", extra=[f"d_min={suggested:.2f}"])
            self.d_min_used = round(suggested, 2)
        except FriedelError as exc:
            log.info("scaling at %.2f A failed (%s); keeping the full-range scaling", suggested, exc)
            self.latest.update(scaled)


def _given(assignments: list[str], name: str) -> bool:
    return any(a.split("=", 1)[0].split(".")[-1] == name for a in assignments)


def _count_sweeps(expt_path: str) -> int:
    from friedel.io import read_experiments

    return len({id(e.imageset) for e in read_experiments(expt_path)})


def _count_crystals(expt_path: str) -> int:
    from friedel.io import read_experiments

    return len(read_experiments(expt_path).crystals)


def _indexed_fraction(refl_path: str, strong_path: str | None = None) -> float | None:
    """The indexed fraction of the strong spots of the worst-indexed sweep.

    Per sweep, not overall: when the sweeps are different crystals, joint indexing indexes
    one of them fully and the others only by chance (about a fifth of their spots fall near
    a wrong lattice's nodes), which overall can still look like 60%. The sweep of each spot
    is its ``id`` in ``strong.refl`` (find_spots numbers spots by imageset); spots are matched
    by panel and centroid.
    """
    from friedel.io import read_reflections

    try:
        refl = read_reflections(refl_path)
        strong = read_reflections(strong_path) if strong_path else None
    except (OSError, ValueError):
        return None
    if not len(refl) or "id" not in refl:
        return None
    indexed = refl["id"] >= 0
    sweep = _sweep_of_spots(refl, strong) if strong is not None else None
    if sweep is None:
        return float(np.count_nonzero(indexed) / len(refl))
    fractions = [np.count_nonzero(indexed[sweep == k]) / np.count_nonzero(sweep == k)
                 for k in np.unique(sweep[sweep >= 0])]
    return float(min(fractions)) if fractions else None


def _sweep_of_spots(refl, strong) -> np.ndarray | None:
    """The sweep (strong.refl ``id``) of every row of ``refl``, -1 where no strong spot matches."""
    if "id" not in strong or "xyzobs.px.value" not in strong or "xyzobs.px.value" not in refl:
        return None

    def keys(table):
        panel = table["panel"].astype(np.float64) if "panel" in table else np.zeros(len(table))
        both = np.ascontiguousarray(np.column_stack([panel, table["xyzobs.px.value"]]))
        return both.view(np.dtype((np.void, both.dtype.itemsize * 4))).ravel()

    strong_keys, refl_keys = keys(strong), keys(refl)
    if len(strong_keys) == len(refl_keys) and np.array_equal(strong_keys, refl_keys):
        return np.asarray(strong["id"])
    order = np.argsort(strong_keys)
    pos = np.clip(np.searchsorted(strong_keys[order], refl_keys), 0, len(order) - 1)
    found = strong_keys[order][pos] == refl_keys
    return np.where(found, np.asarray(strong["id"])[order][pos], -1)


def _data_d_min(refl_path: str) -> float | None:
    from friedel.io import read_reflections

    refl = read_reflections(refl_path)
    return float(np.min(refl["d"])) if "d" in refl and len(refl) else None


def _suggested_d_min(json_path: str | None) -> float | None:
    """The CC½-based limit from friedel.estimate_resolution.json."""
    if not json_path or not os.path.exists(json_path):
        return None
    with open(json_path, encoding="utf-8") as handle:
        data = json.load(handle)
    for key in ("suggested_d_min", "d_min"):
        if isinstance(data.get(key), (int, float)):
            return float(data[key])
    # {"criteria": [{"criterion": "cc_half", "d_min": 1.9, ...}, ...]}
    for criterion in data.get("criteria") or []:
        if isinstance(criterion, dict) and criterion.get("criterion") == "cc_half":
            d_min = criterion.get("d_min")
            return float(d_min) if isinstance(d_min, (int, float)) else None
    return None


def _finish(pipeline: _Pipeline, params) -> None:
    """Summary (statistics, cell, files, times), friedel.process.json and the report.

    Written also when a step failed (they say which and how far the run got): each in a write
    group of its own, which commits when it ends, not with the failed command's outputs.
    """
    from friedel.io import atomic_write, committed_together

    log.info("\n== friedel process summary ==")
    summary = {"steps": [r.__dict__ for r in pipeline.results], "outputs": {}}
    current = {r.folder for r in pipeline.results}
    stale = sorted(f for f in os.listdir(".") if os.path.isdir(f) and f[:2].isdigit() and f[2:3] == "_"
                   and f not in current)
    if stale:  # step numbers shift when a run takes another path (a retry, a rescale)
        log.info("from an earlier run, not part of this one (left in place): %s", ", ".join(stale))
        summary["stale_folders"] = stale
    expt, refl = pipeline.latest.get("expt"), pipeline.latest.get("refl")
    if expt and refl and "scaled" in os.path.basename(refl):
        stats = statistics_of_scaled(expt, refl, params.anomalous, pipeline.d_min_used)
        if stats is not None:
            log.info("%s\n", stats.summary())
            summary["merging_statistics"] = stats.as_dict()
        cell, space_group = cell_and_space_group(expt)
        log.info("Space group %s, unit cell %s", space_group, cell)
        summary.update(space_group=space_group, unit_cell=cell)
    for kind in ("merged_mtz", "unmerged_mtz", "expt", "refl"):
        if kind in pipeline.latest:
            summary["outputs"][kind] = pipeline.latest[kind]
            log.info("  %-13s %s", kind.replace("_", " "), pipeline.latest[kind])
    log.info("\n%s", timing_table(pipeline.results))
    if params.report and pipeline.results:
        try:
            from friedel.plugins.process.report import write_report

            with committed_together():
                path = write_report([r.folder for r in pipeline.results], "report.html", title="friedel process")
            summary["outputs"]["report"] = path
            log.info("\nReport: %s", os.path.abspath(path))
        except (ImportError, OSError, ValueError) as exc:
            log.info("(no report written: %s)", exc)
    summary["ok"] = bool(pipeline.results) and all(r.ok for r in pipeline.results) and "merged_mtz" in summary["outputs"]
    with committed_together(), atomic_write("friedel.process.json", mode="w") as handle:
        json.dump(summary, handle, indent=1, default=str)
