"""``friedel scale`` and ``friedel estimate_resolution``."""

from __future__ import annotations

import logging
import time

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.phil import param, scope, types
from friedel.plugins.scaling.params import ScaleParams

log = logging.getLogger("friedel")


def load_pairs(command: Command, files: list[str]):
    """(experiments, reflections) pairs from matching numbers of .expt and .refl files, in order."""
    from friedel.io import read_experiments, read_reflections

    groups = command.split_files(files, ".expt", ".refl")
    expts, refls = groups[".expt"], groups[".refl"]
    if not expts or len(expts) != len(refls):
        raise FriedelError(f"friedel {command.name} needs pairs of .expt and .refl files "
                           f"(got {len(expts)} .expt and {len(refls)} .refl)")
    from friedel.cli.command import check_pair_belongs_together

    pairs = [(read_experiments(e), read_reflections(r)) for e, r in zip(expts, refls)]
    for r, (experiments, table) in zip(refls, pairs):
        if len(table) == 0:
            raise FriedelError(f"{r} holds no reflections: give the output of friedel integrate (or symmetry)")
        check_pair_belongs_together(r, table, experiments)
    return pairs


class ScaleCommand(Command):
    """Scale symmetry-equivalent intensities of one or more sweeps or stills onto a common scale
    (physical or KB models refined jointly by weighted least squares), reject outliers, fit the
    error model, and print the merging statistics. Writes scaled.expt and scaled.refl."""

    name = "scale"
    help = "Scale intensities of sweeps/stills jointly, fit the error model, report merging statistics"
    usage = ("friedel scale symmetrized.expt symmetrized.refl [more.expt more.refl ...] [model=auto|physical|KB] "
             "[anomalous=True] [d_min=1.8] [intensity_choice=combine]")
    Params = ScaleParams

    def run(self, params, files):
        from friedel.io import write_experiments, write_reflections
        from friedel.io.atomic import check_not_overwriting_input
        from friedel.plugins.scaling import report
        from friedel.plugins.scaling.data import join_inputs
        from friedel.plugins.scaling.output import scaled_table, store_models
        from friedel.plugins.scaling.scaler import run_scaling

        start = time.perf_counter()
        out = params.output
        for path in (out.experiments, out.reflections, out.json):
            check_not_overwriting_input(path, files)
        if out.experiments == out.reflections:
            raise FriedelError("output.experiments and output.reflections name the same file")
        experiments, table = join_inputs(load_pairs(self, files))
        sp = params.scaling
        from threadpoolctl import threadpool_limits

        # the normal equations are tall-skinny products: one BLAS thread is fastest, and a
        # multi-threaded OpenBLAS on shared cores was fifty times slower
        with threadpool_limits(limits=1, user_api="blas"):
            result = run_scaling(experiments, table, sp)
            if sp.filtering.method == "deltacchalf":
                from friedel.plugins.scaling.filtering import deltacchalf_filter

                experiments, table, result = deltacchalf_filter(experiments, table, result, sp)
        log.info(report.model_table(result))
        scaled = scaled_table(table, result)
        store_models(experiments, result)
        hkl, intensity, variance, d, _ = report.scaled_observations(scaled)
        space_group = result.data.space_group
        stats = report.statistics(experiments, hkl, intensity, variance, space_group, sp.anomalous, sp.n_bins,
                                  d_min=sp.cut.d_min, d_max=sp.cut.d_max)
        fine = report.statistics(experiments, hkl, intensity, variance, space_group, False,
                                 min(100, max(10, len(hkl) // 200)), d_min=sp.cut.d_min, d_max=sp.cut.d_max)
        criteria = report.resolution_suggestion(fine, d, intensity, variance, stats.overall.d_min)
        log.info("\nMerging statistics (scaled data, outliers removed):\n" + stats.table())
        if criteria and criteria[0].d_min is not None:
            c = criteria[0]
            log.info(f"\nResolution limit suggested from CC1/2 fit (limit CC1/2 = {c.limit:g}): {c.d_min:.2f}"
                     + (f" ({c.note})" if c.note else ""))
        write_experiments(experiments, out.experiments)
        write_reflections(scaled, out.reflections)
        seconds = time.perf_counter() - start
        report.write_json(report.scale_json(result, stats, criteria, seconds), out.json)
        log.info(f"\nScaling took {seconds:.1f} s")
        log.info(f"Saved scaled experiments to {out.experiments}")
        log.info(f"Saved scaled reflections to {out.reflections}")


@scope
class EstimateResolutionOutputParams:
    json: str = param("friedel.estimate_resolution.json", help="The criteria, shells and fits (for friedel report)")


@scope
class EstimateResolutionParams:
    """Parameters of friedel estimate_resolution."""

    cc_half: float | None = param(0.3, help="CC1/2 at which the tanh fit is cut (None: do not use)")
    isigma: float | None = param(None, help="Mean unmerged I/sigma(I) limit (None: do not use)")
    misigma: float | None = param(None, help="Mean merged I/sigma(I) limit (None: do not use)")
    completeness: float | None = param(None, help="Completeness limit in percent (None: do not use)")
    n_bins: int = param(100, type=types.Int(min=5), help="Resolution shells to fit (fewer when the data are few)")
    reflections_per_bin: int = param(10, type=types.Int(min=1),
                                     help="At least this many unique reflections per shell", expert_level=1)
    anomalous: bool = param(False, help="Keep I+ and I- apart when merging")
    output: EstimateResolutionOutputParams = param(EstimateResolutionOutputParams)


class EstimateResolutionCommand(Command):
    """Suggest a high-resolution limit from scaled data: CC1/2 against resolution is fitted with a
    tanh curve and cut at cc_half (0.3); optional criteria on I/sigma (unmerged, merged) and
    completeness each give their own limit."""

    name = "estimate_resolution"
    help = "Suggest a resolution limit from scaled data (CC1/2 tanh fit, optional I/sigma, completeness)"
    usage = "friedel estimate_resolution scaled.expt scaled.refl [cc_half=0.3] [isigma=2] [misigma=1] [completeness=50]"
    Params = EstimateResolutionParams

    def run(self, params, files):
        import numpy as np

        from friedel.plugins.scaling import report
        from friedel.plugins.scaling.resolution import criteria_table, estimate, unmerged_isigma_per_shell

        experiments, table = self.load_experiments_and_reflections(files)
        hkl, intensity, variance, d, _ = report.scaled_observations(table)
        if d is None:
            from friedel.miller import d_spacing

            d = d_spacing(hkl, experiments[0].crystal.unit_cell)
        sgs = {e.crystal.space_group.xhm() for e in experiments if e.crystal is not None}
        if len(sgs) != 1:
            raise FriedelError("the experiments are not in one space group: give the output of friedel scale")
        sg = sgs.pop()
        from friedel.miller import asu_mapping

        n_unique = asu_mapping(hkl, sg).n_groups
        n_bins = int(max(5, min(params.n_bins, n_unique // params.reflections_per_bin)))
        stats = report.statistics(experiments, hkl, intensity, variance, sg, params.anomalous, n_bins)
        isig = unmerged_isigma_per_shell(d, intensity, variance, stats)
        criteria = estimate(stats.shells, isig, stats.overall.d_min, cc_half=params.cc_half,
                            isigma=params.isigma, misigma=params.misigma, completeness=params.completeness)
        log.info(f"{len(hkl)} scaled observations, {n_unique} unique, in {n_bins} resolution shells")
        head = f"{'d_max':>7} {'d_min':>6} {'#uniq':>6} {'cc1/2':>7} {'<I/sI>':>7} {'<I/sI>m':>8} {'%comp':>6}"
        lines = [head]
        for sh, u in zip(stats.shells, isig):
            lines.append(f"{sh.d_max:7.3f} {sh.d_min:6.3f} {sh.n_unique:6d} {sh.cc_half:7.3f} {u:7.2f} "
                         f"{sh.mean_i_over_sigma:8.2f} {sh.completeness:6.1f}")
        log.info("\n".join(lines))
        log.info(criteria_table(criteria))
        payload = {"n_observations": int(len(hkl)), "n_unique": int(n_unique), "n_bins": n_bins,
                   "shells": [{"d_max": s.d_max, "d_min": s.d_min, "n_unique": s.n_unique, "cc_half": s.cc_half,
                               "cc_half_significant": s.cc_half_significant, "isigma": float(u),
                               "misigma": s.mean_i_over_sigma, "completeness": s.completeness}
                              for s, u in zip(stats.shells, np.asarray(isig))],
                   "criteria": [c.as_dict() for c in criteria]}
        report.write_json(payload, params.output.json)
