"""``friedel merge``: scaled observations to a merged MTZ with amplitudes and statistics."""

from __future__ import annotations

import logging
import time

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.phil import param, scope, types

log = logging.getLogger("friedel")


@scope
class MergeOutputParams:
    """Output files."""

    mtz: str = param("merged.mtz", type=types.Path(), help="Merged MTZ")
    project_name: str = param("FRIEDEL", help="MTZ project name")
    crystal_name: str = param("XTAL", help="MTZ crystal name")
    dataset_name: str = param("NATIVE", help="MTZ dataset name (with _WAVE<n> for several wavelengths)")


@scope
class MergeParams:
    """Parameters of friedel merge."""

    anomalous: bool = param(True, help="Also write I(+)/I(-) (and F(+)/F(-), DANO) per Friedel half")
    truncate: bool = param(True, help="French-Wilson amplitudes F, SIGF (Wilson prior in resolution shells)")
    d_min: float | None = param(None, optional=True, help="High-resolution limit (Angstrom)")
    d_max: float | None = param(None, optional=True, help="Low-resolution limit (Angstrom)")
    wavelength_tolerance: float = param(1e-4, help="Experiments within this wavelength (Angstrom) are one dataset; "
                                                   "several wavelengths become datasets of one MTZ")
    partiality_threshold: float = param(0.4, help="Leave out observations with a smaller partiality")
    unit_cell: tuple | None = param(None, type=types.UnitCell(), optional=True,
                                    help="Cell of the file (default: median of the experiments' cells)")
    allow_unscaled: bool = param(False, help="Merge unscaled (integrated) intensities too; they are "
                                             "profile-fitted (else summation) intensities with LP/QE applied")
    n_bins: int = param(20, type=types.Int(min=1), help="Resolution shells of the merging-statistics table")
    fw_min_reflections: int = param(200, expert_level=1,
                                    help="Below this many reflections no Wilson prior is fitted (flat prior)")
    overwrite: bool = param(False, help="Replace an existing output file")
    output: MergeOutputParams = param(MergeOutputParams)


class MergeCommand(Command):
    """Merge symmetry-equivalent scaled observations (inverse-variance weighted) into IMEAN and,
    with anomalous=True, I(+)/I(-); convert to amplitudes by French-Wilson; write merged.mtz and
    the merging-statistics table."""

    name = "merge"
    help = "Merge scaled reflections into merged.mtz (IMEAN, I+/-, F, DANO) with merging statistics"
    usage = "friedel merge scaled.expt scaled.refl [anomalous=True] [truncate=True] [d_min=2.0]"
    Params = MergeParams

    def run(self, params, files):
        from friedel.merging_statistics import merging_statistics
        from friedel.plugins.export.merge import merge_intensities
        from friedel.plugins.export.merged_mtz import build_merged_mtz
        from friedel.plugins.export.mtz_file import write_mtz
        from friedel.plugins.export.observations import is_scaled, select_observations
        from friedel.plugins.export.outputs import check_outputs, write_command_json

        experiments, reflections = self.load_experiments_and_reflections(files)
        check_outputs([params.output.mtz], files, params.overwrite)
        if is_scaled(reflections):
            intensity = "scale"
        elif params.allow_unscaled:
            log.warning("Warning: the reflections are not scaled; merging integrated intensities as asked "
                        "(allow_unscaled=True). Scale them (friedel scale) for meaningful merged data.")
            intensity = "profile" if "intensity.prf.value" in reflections else "sum"
        else:
            raise FriedelError("the reflections are not scaled (no intensity.scale.value / inverse_scale_factor): "
                               "run friedel scale first, or set allow_unscaled=True to merge them anyway")
        start = time.perf_counter()
        data = select_observations(experiments, reflections, intensity=intensity,
                                   partiality_threshold=params.partiality_threshold, min_isigi=None,
                                   d_min=params.d_min, d_max=params.d_max, unit_cell=params.unit_cell,
                                   wavelength_tolerance=params.wavelength_tolerance)
        sg, cell = data.space_group, data.unit_cell
        log.info(f"Space group {sg.xhm()}, cell {' '.join(f'{x:.4f}' for x in cell.parameters)}")
        if params.anomalous and sg.is_centrosymmetric():
            log.info("The space group is centrosymmetric: no anomalous columns")
        anomalous = params.anomalous and not sg.is_centrosymmetric()
        groups, summaries = [], []
        for g, wl in enumerate(data.wavelengths):
            sel = data.dataset == g
            if not np.any(sel):
                raise FriedelError(f"wavelength group {g + 1} ({wl:.5f} A) has no reflections left to merge")
            hkl = data.hkl[sel]
            intensity_g = data.columns["I"][sel]
            variance_g = data.columns["SIGI"][sel] ** 2
            merged = merge_intensities(hkl, intensity_g, variance_g, sg, cell, anomalous=anomalous,
                                       truncate=params.truncate, fw_min_reflections=params.fw_min_reflections)
            stats = merging_statistics(hkl, intensity_g, variance_g, sg, cell, anomalous=anomalous,
                                       n_bins=params.n_bins, d_min=params.d_min, d_max=params.d_max)
            title = f"wavelength {wl:.5f} A" + (f" (dataset {g + 1})" if len(data.wavelengths) > 1 else "")
            log.info(f"\nMerging statistics, {title}:\n{stats.table()}")
            for note in merged.notes + stats.notes:
                log.info(note)
            log.info(f"{len(merged)} unique reflections from {int(sel.sum())} observations")
            groups.append(merged)
            summaries.append({"wavelength": wl, "n_observations": int(sel.sum()), "n_unique": len(merged),
                              "merging_statistics": stats.as_dict(), "notes": merged.notes})
        mtz = build_merged_mtz(groups, data.wavelengths, sg, cell, project=params.output.project_name,
                               crystal=params.output.crystal_name, dataset=params.output.dataset_name)
        write_mtz(mtz, params.output.mtz)
        log.info(f"Merging took {time.perf_counter() - start:.2f} s")
        log.info(f"Saved {mtz.nreflections} unique reflections ({', '.join(mtz.column_labels())}) "
                 f"to {params.output.mtz}")
        write_command_json(self.name, {"mtz": params.output.mtz, "space_group": sg.xhm(),
                                       "unit_cell": list(cell.parameters), "anomalous": anomalous,
                                       "truncate": params.truncate, "intensity": data.intensity_kind,
                                       "datasets": summaries})
