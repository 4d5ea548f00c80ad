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


def _stills_experiments(stills: Stills) -> list[Experiment]:
    """One experiment per still image (as DIALS does), sharing the beam and detector models."""
    first = stills.readers[0]
    experiments = []
    for r in stills.readers:
        for i in range(r.num_images()):
            imageset = ImageSetReference(images=[os.path.abspath(r.path)],
                                         single_file_indices=[i] if r.is_container else None)
            experiments.append(Experiment(beam=first.beam, detector=first.detector, imageset=imageset))
    return experiments


def _warn_unused_two_theta(readers) -> None:
    """A miniCBF text header may state a 2theta arm that only its imgCIF axis tables could place."""
    angles = {round(float(r.header.get("detector_2theta", 0.0)), 4) for r in readers
              if getattr(r, "name", "") == "minicbf" and isinstance(getattr(r, "header", None), dict)}
    angles.discard(0.0)
    if angles:
        log.warning("The miniCBF headers give Detector_2theta %s deg but no axis tables: the detector is "
                    "modelled normal to the beam (as DIALS reads such files); refine the detector, or "
                    "convert the files to imgCIF with axis tables, if it really is on a 2theta arm",
                    ", ".join(f"{a:g}" for a in sorted(angles)))


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
    _warn_unused_two_theta(readers)
    experiments = ExperimentList()
    for group in group_files(readers):
        if isinstance(group, Sweep):
            experiments.append(_sweep_experiment(group, params.image_range))
        else:
            experiments.extend(_stills_experiments(group))
    apply_overrides(params, experiments.unique("beam"), [e.detector for e in experiments])
    for e in experiments:
        e.ensure_identifier()
    return experiments


def _geometry(e: Experiment) -> str:
    p0 = e.detector[0]
    panel, xy = e.detector.ray_intersection(e.beam.s0[None])
    if panel[0] >= 0:
        p = e.detector[int(panel[0])]
        fast, slow = p.mm_to_px(xy[0])
        centre = f"beam centre (fast, slow) ({fast:.2f}, {slow:.2f}) px on panel {panel[0]}"
    else:
        centre = "the direct beam misses every panel"
    return (f"wavelength {e.beam.wavelength:.5f} A, distance {p0.distance:.2f} mm, {centre}, "
            f"{len(e.detector)} panel(s) {p0.image_size[0]}x{p0.image_size[1]}")


def summarise(experiments: ExperimentList, format_name: str) -> str:
    lines = [f"Format: {format_name}"]
    sweeps = [e for e in experiments if e.scan is not None]
    stills = [e for e in experiments if e.scan is None]
    for e in sweeps:
        lo, hi = e.scan.image_range
        a, b = e.scan.oscillation_range
        lines.append(f"  sweep {e.imageset.template}: images {lo}-{hi} ({e.scan.num_images}), "
                     f"{e.scan.oscillation[1]:g} deg/image, {a:.2f} to {b:.2f} deg")
        lines.append(f"    {_geometry(e)}")
    if stills:
        lines.append(f"  stills: {len(stills)} image(s), one experiment each, first {stills[0].imageset.images[0]}"
                     + (f", last {stills[-1].imageset.images[0]}" if len(stills) > 1 else ""))
        lines.append(f"    {_geometry(stills[0])}")
    lines.append(f"Sweeps: {len(sweeps)}, stills: {len(stills)}, experiments: {len(experiments)}")
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
        write_json(experiments, format_name)


def summary_records(experiments: ExperimentList) -> list[dict]:
    """One record per sweep or still: images, oscillation and header geometry."""
    records = []
    for e in experiments:
        p0 = e.detector[0]
        panel, xy = e.detector.ray_intersection(e.beam.s0[None])
        fast, slow = e.detector[int(panel[0])].mm_to_px(xy[0]) if panel[0] >= 0 else (np.nan, np.nan)
        rec = dict(kind="sweep" if e.scan is not None else "still",
                   images=e.imageset.template if e.scan is not None else e.imageset.images[0],
                   first_image=None, last_image=None, n_images=1, oscillation_start=None, oscillation_width=None,
                   wavelength=float(e.beam.wavelength), distance=float(p0.distance),
                   beam_panel=int(panel[0]) if panel[0] >= 0 else None,
                   beam_centre_fast_px=float(fast) if panel[0] >= 0 else None,
                   beam_centre_slow_px=float(slow) if panel[0] >= 0 else None, panels=len(e.detector))
        if e.scan is not None:
            rec.update(first_image=int(e.scan.image_range[0]), last_image=int(e.scan.image_range[1]),
                       n_images=int(e.scan.num_images), oscillation_start=float(e.scan.oscillation[0]),
                       oscillation_width=float(e.scan.oscillation[1]))
        records.append(rec)
    return records


def write_json(experiments: ExperimentList, format_name: str, path: str = "friedel.import.json") -> None:
    """``friedel.import.json`` beside the log: the sweeps and stills found (for friedel report)."""
    import json

    from friedel.io import atomic_write

    records = summary_records(experiments)
    summary = dict(format=format_name, n_sweeps=sum(r["kind"] == "sweep" for r in records),
                   n_stills=sum(r["kind"] == "still" for r in records), experiments=records)
    with atomic_write(path, "w") as handle:
        json.dump(summary, handle, indent=1)
