"""``friedel show``: a readable summary of experiment lists and reflection tables."""

from __future__ import annotations

import logging

import numpy as np

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.phil import param, scope

log = logging.getLogger("friedel")


@scope
class ShowParams:
    """What to show."""

    show_panels: bool = param(False, help="List every panel of multi-panel detectors")
    max_columns_stats: int = param(60, help="Show value ranges for at most this many columns", expert_level=1)


def describe_experiments(experiments, show_panels: bool = False) -> str:
    lines = [f"{len(experiments)} experiment(s)"]
    for i, e in enumerate(experiments):
        lines.append(f"\nExperiment {i}" + (f" ({e.identifier})" if e.identifier else ""))
        if e.imageset is not None:
            what = e.imageset.template or f"{len(e.imageset.images)} image file(s), first {e.imageset.images[0]}"
            lines.append(f"  Images: {what}")
        if e.beam is not None:
            b = e.beam
            lines.append(f"  Beam: wavelength {b.wavelength:.6f} A, s0 ({', '.join(f'{v:.5f}' for v in b.s0)}), "
                         f"polarization fraction {b.polarization_fraction:.3f}")
        if e.detector is not None:
            d = e.detector
            p0 = d[0]
            lines.append(f"  Detector: {len(d)} panel(s), {p0.image_size[0]}x{p0.image_size[1]} px of "
                         f"{p0.pixel_size[0]:.4f}x{p0.pixel_size[1]:.4f} mm, trusted range {p0.trusted_range[0]:g} to "
                         f"{p0.trusted_range[1]:g}, thickness {p0.thickness:.3f} mm")
            lines.append(f"    distance {p0.distance:.3f} mm")
            if e.beam is not None:
                try:
                    x, y = d.beam_centre_px(e.beam.s0, 0)
                    xm, ym = p0.beam_centre_mm(e.beam.s0)
                    lines.append(f"    beam centre (panel 0): {xm:.3f}, {ym:.3f} mm = {x:.2f}, {y:.2f} px (fast, slow)")
                    lines.append(f"    max resolution at corners: {d.max_resolution(e.beam.s0):.3f} A")
                except (np.linalg.LinAlgError, ValueError):
                    pass
            if show_panels:
                for j, p in enumerate(d):
                    lines.append(f"    panel {j}: {p!r} origin ({', '.join(f'{v:.3f}' for v in p.origin)})")
        if e.goniometer is not None:
            g = e.goniometer
            lines.append(f"  Goniometer: rotation axis ({', '.join(f'{v:.5f}' for v in g.rotation_axis)})"
                         + (f", axes {g.names} angles {g.angles} scan axis {g.scan_axis}" if g.is_multi_axis else ""))
        if e.scan is not None:
            s = e.scan
            kind = "stills" if s.is_still else f"{s.oscillation[1]:.4f} deg/image"
            lo, hi = s.oscillation_range
            lines.append(f"  Scan: images {s.image_range[0]}-{s.image_range[1]} ({s.num_images}), start "
                         f"{s.oscillation[0]:.3f} deg, {kind}, {lo:.2f} to {hi:.2f} deg; exposure "
                         f"{(s.exposure_times[0] if len(s.exposure_times) else 0):.4f} s")
        if e.crystal is not None:
            c = e.crystal
            cell = c.unit_cell
            lines.append(f"  Crystal: space group {c.space_group_symbol}")
            lines.append(f"    unit cell: {cell.a:.4f}, {cell.b:.4f}, {cell.c:.4f}, "
                         f"{cell.alpha:.3f}, {cell.beta:.3f}, {cell.gamma:.3f}  (volume {cell.volume:.1f} A^3)")
            for label, m in (("U", c.U), ("B", c.B), ("A", c.A)):
                rows = ["{" + ", ".join(f"{v:8.4f}" for v in row) + "}" for row in m]
                lines.append(f"    {label} = {{{rows[0]},\n{'':10}{rows[1]},\n{'':10}{rows[2]}}}")
            if c.A_at_scan_points is not None:
                lines.append(f"    scan-varying: A at {len(c.A_at_scan_points)} scan points")
    return "\n".join(lines)


def describe_reflections(table, max_columns: int = 60) -> str:
    lines = [f"{len(table)} reflections"]
    if "id" in table:
        ids, counts = np.unique(table["id"], return_counts=True)
        lines.append("  per experiment id: " + ", ".join(f"{i}: {c}" for i, c in zip(ids, counts)))
    if table.experiment_identifiers:
        lines.append(f"  experiment identifiers: {len(table.experiment_identifiers)}")
    lines.append(f"  {'column':<32} {'min':>14} {'max':>14} {'mean':>14}")
    for name in sorted(table.keys())[:max_columns]:
        values = table[name]
        if not isinstance(values, np.ndarray) or values.dtype == object or len(values) == 0:
            lines.append(f"  {name:<32} {'(' + type(values).__name__ + ')':>14}")
            continue
        v = values.astype(float).reshape(len(values), -1)
        finite = np.where(np.isfinite(v), v, np.nan)
        fmt = lambda a: ", ".join(f"{x:.4g}" for x in a)  # noqa: E731
        lines.append(f"  {name:<32} {fmt(np.nanmin(finite, 0)):>14} {fmt(np.nanmax(finite, 0)):>14} "
                     f"{fmt(np.nanmean(finite, 0)):>14}")
    if "flags" in table:
        counts = {k: v for k, v in table.flag_counts().items() if v}
        lines.append("  flags: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none set"))
    return "\n".join(lines)


class ShowCommand(Command):
    """Summarise experiment lists (.expt) and reflection tables (.refl)."""

    name = "show"
    help = "Print a readable summary of .expt and .refl files"
    usage = "friedel show imported.expt [strong.refl ...]"
    Params = ShowParams

    def run(self, params, files):
        from friedel.io import read_experiments, read_reflections

        if not files:
            raise FriedelError("friedel show needs at least one .expt or .refl file")
        groups = self.split_files(files, ".expt", ".refl")
        for path in groups[".expt"]:
            log.info("%s:\n%s\n", path, describe_experiments(read_experiments(path), params.show_panels))
        for path in groups[".refl"]:
            log.info("%s:\n%s\n", path, describe_reflections(read_reflections(path), params.max_columns_stats))
