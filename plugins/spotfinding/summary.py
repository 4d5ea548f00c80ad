"""Text summaries of a spot search: per-image histogram, per-image table, filter counts."""

from __future__ import annotations

import numpy as np


def spot_count_histogram(image_numbers, counts, width: int = 60, max_rows: int = 20) -> str:
    """ASCII histogram of spots per image; consecutive images are binned into ``max_rows`` rows."""
    image_numbers = np.asarray(image_numbers)
    counts = np.asarray(counts)
    if len(counts) == 0:
        return "(no images)"
    if len(counts) == 1:
        return f"{int(counts[0])} spots found on image {int(image_numbers[0])}"
    n_rows = min(max_rows, len(counts))
    edges = np.linspace(0, len(counts), n_rows + 1).round().astype(int)
    rows = []
    peak = max(max(np.add.reduceat(counts, edges[:-1])), 1) if len(counts) else 1
    for a, b in zip(edges[:-1], edges[1:]):
        total = int(counts[a:b].sum())
        first, last = int(image_numbers[a]), int(image_numbers[b - 1])
        label = f"{first}" if first == last else f"{first}-{last}"
        bar = "*" * int(round(width * total / peak))
        rows.append((label, total, bar))
    lw = max(len(r[0]) for r in rows)
    cw = max(len(str(r[1])) for r in rows)
    return "\n".join(f"{label:>{lw}} {total:>{cw}} {bar}" for label, total, bar in rows)


def table(header, rows) -> str:
    """A plain-text table with right-aligned columns."""
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def per_image_records(per_image, reflections, experiments) -> list[dict]:
    """Per image: experiment, image number, strong pixels, spots, spots at d < 4 A, highest
    resolution (A, None without spots) and total intensity of its spots."""
    from .filters import spot_resolution

    n = len(reflections)
    d = spot_resolution(reflections, experiments) if n else np.zeros(0)
    image_of_spot = np.floor(reflections["xyzobs.px.value"][:, 2]).astype(np.int64) + 1 if n else np.zeros(0, int)
    ids = np.asarray(reflections["id"]) if n else np.zeros(0, int)
    intensity = np.asarray(reflections["intensity.sum.value"], float) if n else np.zeros(0)
    records = []
    for expt, image, n_strong, n_spots in per_image:
        sel = (ids == expt) & (image_of_spot == image)
        ds = d[sel]
        records.append(dict(experiment=int(expt), image=int(image), strong_pixels=int(n_strong), spots=int(n_spots),
                            spots_d_lt_4A=int(np.count_nonzero(ds < 4.0)),
                            d_min=float(np.min(ds)) if len(ds) else None, total_intensity=float(intensity[sel].sum())))
    return records


def per_image_table(per_image, reflections, experiments) -> str:
    """Per image: strong pixels, spots, spots on ice-free resolution shells, highest resolution."""
    rows = [[r["experiment"], r["image"], r["strong_pixels"], r["spots"], r["spots_d_lt_4A"],
             "-" if r["d_min"] is None else f"{r['d_min']:.2f}", f"{r['total_intensity']:.0f}"]
            for r in per_image_records(per_image, reflections, experiments)]
    return table(["expt", "image", "strong px", "spots", "spots d<4A", "d_min", "total I"], rows)
