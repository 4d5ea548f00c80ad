"""``friedel import``: read image headers, group files into sweeps and stills, write imported.expt."""
from __future__ import annotations

import logging
import os

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError, ParameterError
from friedel.formats.base import open_file
from friedel.io import write_experiments
from friedel.io.atomic import check_not_overwriting_input
from friedel.models import Experiment, ExperimentList, ImageSetReference, Scan
from friedel.phil import param, scope, types
from friedel.plugins.importer.grouping import Stills, Sweep, check_single_detector, group_files

log = logging.getLogger("friedel")


@scope
class BeamGeometry:
    wavelength: float | None = param(None, help="Override the wavelength (Angstrom)")


@scope
class DetectorGeometry:
    distance: float | None = param(None, help="Override the sample-detector distance (mm), keeping the beam centre")
    mosflm_beam_centre: tuple | None = param(
        None, type=types.Floats(size=2), help="Beam centre in Mosflm convention: (X along slow, Y along fast) in mm")
    slow_fast_beam_centre: tuple | None = param(
        None, type=types.Floats(size=2), help="Beam centre as (slow, fast) pixel coordinates on panel 0")


@scope
class GeometryParams:
    beam: BeamGeometry = param(BeamGeometry)
    detector: DetectorGeometry = param(DetectorGeometry)


@scope
class OutputParams:
    experiments: str = param("imported.expt", help="The experiment list written")


@scope
class ImportParams:
    image_range: tuple | None = param(None, type=types.Ints(size=2),
                                      help="Only images first,last (inclusive) of each sweep")
    geometry: GeometryParams = param(GeometryParams)
    output: OutputParams = param(OutputParams)


# -- geometry overrides -------------------------------------------------------------------------

def set_beam_centre(detector, beam, fast_px: float, slow_px: float) -> None:
    """Move panel 0 (and every other panel rigidly) in its plane so the beam hits (fast, slow) px."""
    p0 = detector[0]
    old = np.asarray(p0.beam_centre_mm(beam.s0))
    new = np.array([fast_px * p0.pixel_size[0], slow_px * p0.pixel_size[1]])
    shift = (old - new)[0] * p0.fast_axis + (old - new)[1] * p0.slow_axis
    for p in detector:
        p.origin = p.origin + shift


def set_distance(detector, beam, distance: float) -> None:
    """Move the detector along panel 0's normal to ``distance`` mm, keeping the beam centre."""
    p0 = detector[0]
    fast, slow = np.asarray(p0.beam_centre_mm(beam.s0)) / np.asarray(p0.pixel_size)
    shift = (distance - p0.distance) * p0.normal
    for p in detector:
        p.origin = p.origin + shift
    set_beam_centre(detector, beam, fast, slow)


def apply_overrides(params, beams, detectors) -> None:
    g = params.geometry
    for beam in beams:
        if g.beam.wavelength is not None:
            if g.beam.wavelength <= 0:
                raise ParameterError("geometry.beam.wavelength must be positive")
            beam.wavelength = float(g.beam.wavelength)
    for detector, beam in zip(detectors, beams):
        if g.detector.distance is not None:
            if g.detector.distance <= 0:
                raise ParameterError("geometry.detector.distance must be positive (mm)")
            set_distance(detector, beam, g.detector.distance)
        if g.detector.mosflm_beam_centre is not None:
            x_slow, y_fast = g.detector.mosflm_beam_centre
            p0 = detector[0]
            set_beam_centre(detector, beam, y_fast / p0.pixel_size[0], x_slow / p0.pixel_size[1])
        if g.detector.slow_fast_beam_centre is not None:
            slow, fast = g.detector.slow_fast_beam_centre
            set_beam_centre(detector, beam, fast, slow)


# -- building experiments -----------------------------------------------------------------------

def _sweep_experiment(sweep: Sweep, image_range) -> Experiment:
    first = sweep.readers[0]
    if first.is_container:
        scan = first.scan
        lo, hi = scan.image_range
        template = os.path.abspath(first.path)
    else:
        lo, hi = sweep.numbers[0], sweep.numbers[-1]
        exposure = np.concatenate([r.scan.exposure_times for r in sweep.readers])
        epochs = np.concatenate([r.scan.epochs for r in sweep.readers])
        scan = Scan((lo, hi), first.scan.oscillation, exposure_times=exposure, epochs=epochs)
        template = sweep.template
    if image_range is not None:
        a, b = image_range
        if a > b or a < lo or b > hi:
            raise ParameterError(f"image_range={a},{b} is outside the sweep {template} (images {lo} to {hi})")
        scan = scan[a - lo: b - lo + 1]
    # dxtbx reads a single-file sequence through the indices of its images in the file
    indices = list(range(scan.image_range[0] - 1, scan.image_range[1])) if first.is_container else None
    imageset = ImageSetReference(template=template, single_file_indices=indices)
    return Experiment(beam=first.beam, detector=first.detector, goniometer=first.goniometer, scan=scan,
                      imageset=imageset)


def _stills_experiment(stills: Stills) -> Experiment:
    first = stills.readers[0]
    paths, indices = [], []
    for r in stills.readers:
        for i in range(r.num_images()):
            paths.append(os.path.abspath(r.path))
            indices.append(i)
    container = any(r.is_container for r in stills.readers)
    imageset = ImageSetReference(images=paths, single_file_indices=indices if container else None)
    return Experiment(beam=first.beam, detector=first.detector, imageset=imageset)


def import_files(files: list[str], params=None) -> ExperimentList:
    """Read the headers of ``files`` and build the experiment list (no output written)."""
    if params is None:
        params = ImportParams()
    if not files:
        raise FriedelError("no image files given: friedel import <image files> (or -i to read names from stdin)")
    seen, unique = set(), []
    for f in files:
        a = os.path.abspath(f)
        if a not in seen:
            seen.add(a)
            unique.append(f)
    readers = [open_file(f) for f in unique]
    check_single_detector(readers)
    experiments = ExperimentList()
    for group in group_files(readers):
        if isinstance(group, Sweep):
            experiments.append(_sweep_experiment(group, params.image_range))
        else:
            experiments.append(_stills_experiment(group))
    apply_overrides(params, experiments.unique("beam"), [e.detector for e in experiments])
    for e in experiments:
        e.ensure_identifier()
    return experiments


def summarise(experiments: ExperimentList, format_name: str) -> str:
    lines = []
    n_sweeps = sum(1 for e in experiments if e.scan is not None)
    n_stills = sum(len(e.imageset.images) for e in experiments if e.scan is None)
    lines.append(f"Format: {format_name}")
    for e in experiments:
        p0 = e.detector[0]
        fast, slow = e.detector.beam_centre_px(e.beam.s0)
        geometry = (f"wavelength {e.beam.wavelength:.5f} A, distance {p0.distance:.2f} mm, "
                    f"beam centre (fast, slow) ({fast:.2f}, {slow:.2f}) px, {len(e.detector)} panel(s) "
                    f"{p0.image_size[0]}x{p0.image_size[1]}")
        if e.scan is not None:
            lo, hi = e.scan.image_range
            a, b = e.scan.oscillation_range
            lines.append(f"  sweep {e.imageset.template}: images {lo}-{hi} ({e.scan.num_images}), "
                         f"{e.scan.oscillation[1]:g} deg/image, {a:.2f} to {b:.2f} deg")
        else:
            lines.append(f"  stills: {len(e.imageset.images)} image(s), first {e.imageset.images[0]}")
        lines.append(f"    {geometry}")
    lines.append(f"Sweeps: {n_sweeps}, stills: {n_stills}, experiments: {len(experiments)}")
    return "\n".join(lines)


class ImportCommand(Command):
    name = "import"
    help = "Read image headers, group files into sweeps and stills, write imported.expt"
    usage = ("friedel import data/th_8_2_0*.cbf [image_range=1,450] [geometry.beam.wavelength=0.979]\n"
             "       find . -name '*.cbf' | friedel import -i")
    Params = ImportParams
    accepts_stdin_files = True

    def run(self, params, files: list[str]) -> None:
        check_not_overwriting_input(params.output.experiments, files)
        experiments = import_files(files, params)
        format_name = type(open_file(files[0])).name
        log.info(summarise(experiments, format_name))
        write_experiments(experiments, params.output.experiments)
        log.info("Saved %d experiment(s) to %s", len(experiments), params.output.experiments)
