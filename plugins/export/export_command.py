"""``friedel export``: unmerged reflections to MTZ (default), SHELX or mmCIF."""

from __future__ import annotations

import logging
import time

from friedel.cli.command import Command
from friedel.phil import param, plugin_choice, scope, types

log = logging.getLogger("friedel")


@scope
class ExportParams:
    """Parameters of friedel export."""

    format: str = plugin_choice("exporters", default="mtz", help="Output format")
    intensity: str = param("auto", choices=["auto", "scale", "profile", "sum", "profile+sum", "best"],
                           help="Intensities to write: auto = scale for scaled data, else profile+sum "
                                "(IPR profile-fitted, I summation), else what exists; best = one I, "
                                "profile-fitted where fitting worked, else summation")
    combine_partials: bool = param(True, help="Add up the parts of reflections split across integration blocks "
                                              "(same partial_id) before the partiality cut (integrated data)")
    partiality_threshold: float = param(0.4, help="Leave out observations with a smaller (combined) partiality")
    min_isigi: float | None = param(-5.0, optional=True,
                                    help="Leave out rows with any written intensity below this I/sigma (None: keep)")
    d_min: float | None = param(None, optional=True, help="High-resolution limit (Angstrom)")
    d_max: float | None = param(None, optional=True, help="Low-resolution limit (Angstrom)")
    unit_cell: tuple | None = param(None, type=types.UnitCell(), optional=True,
                                    help="Cell of the file (default: median of the experiments' cells)")
    wavelength_tolerance: float = param(1e-4, help="Experiments within this wavelength (Angstrom) form one dataset")
    project_name: str = param("FRIEDEL", help="MTZ project name")
    crystal_name: str = param("XTAL", help="MTZ crystal name")
    dataset_name: str = param("FROMFRIEDEL", help="MTZ dataset name")
    overwrite: bool = param(False, help="Replace existing output files")


class ExportCommand(Command):
    """Write unmerged integrated or scaled reflections for other programs: an MTZ in CCP4
    conventions (ASU indices with M/ISYM, batch numbers unique across sweeps and lattices, batch
    headers), SHELX HKLF 4 or mmCIF."""

    name = "export"
    help = "Write unmerged reflections as MTZ (CCP4 conventions), SHELX HKLF 4 or mmCIF"
    usage = "friedel export scaled.expt scaled.refl [format=mtz|shelx|mmcif] [intensity=auto] [mtz.hklout=...]"
    Params = ExportParams

    def run(self, params, files):
        from friedel.plugin_manager import build_plugin
        from friedel.plugins.export.observations import select_observations
        from friedel.plugins.export.outputs import check_outputs, write_command_json

        experiments, reflections = self.load_experiments_and_reflections(files)
        exporter = build_plugin("exporters", params.format, params)
        start = time.perf_counter()
        data = select_observations(
            experiments, reflections, intensity=params.intensity, partiality_threshold=params.partiality_threshold,
            min_isigi=params.min_isigi, d_min=params.d_min, d_max=params.d_max, unit_cell=params.unit_cell,
            wavelength_tolerance=params.wavelength_tolerance, project_name=params.project_name,
            crystal_name=params.crystal_name, dataset_name=params.dataset_name,
            combine_partials=params.combine_partials,
        )
        log_batches(data)
        outputs = exporter.outputs(data)
        check_outputs(outputs, files, params.overwrite)
        written = exporter.write(data)
        log.info(f"Export took {time.perf_counter() - start:.2f} s")
        write_command_json(self.name, {
            "format": params.format, "intensity": data.intensity_kind, "n_reflections": len(data),
            "files": written, "space_group": data.space_group.xhm(), "unit_cell": list(data.unit_cell.parameters),
            "wavelengths": data.wavelengths,
            "batches": [{"experiment": r.experiment, "identifier": experiments[r.experiment].identifier,
                         "images": [r.first_image, r.last_image], "offset": r.offset,
                         "batches": [r.first, r.last]} for r in data.batch_ranges],
        })


def log_batches(data) -> None:
    """The batch range of every experiment, so that users see the offsets that were applied."""
    log.info("Batches (image number + offset):")
    log.info("  expt  images        offset   batches       wavelength")
    for r in data.batch_ranges:
        wl = data.wavelengths[data.dataset_of_experiment[r.experiment]]
        log.info(f"  {r.experiment:4d}  {r.first_image:5d}-{r.last_image:<6d} {r.offset:7d}   "
                 f"{r.first:5d}-{r.last:<6d}  {wl:.5f}")
