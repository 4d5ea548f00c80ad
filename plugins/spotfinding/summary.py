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


def per_image_table(per_image, reflections, experiments) -> str:
    """Per image: strong pixels, spots, spots on ice-free resolution shells, highest resolution."""
    from .filters import spot_resolution

    d = spot_resolution(reflections, experiments) if len(reflections) else np.zeros(0)
    image_of_spot = np.floor(reflections["xyzobs.px.value"][:, 2]).astype(np.int64) + 1 if len(reflections) else []
    rows = []
    for expt, image, n_strong, n_spots in per_image:
        sel = (reflections["id"] == expt) & (image_of_spot == image) if len(reflections) else np.zeros(0, bool)
        ds = d[sel]
        d_best = f"{np.min(ds):.2f}" if len(ds) else "-"
        total = float(reflections["intensity.sum.value"][sel].sum()) if len(ds) else 0.0
        rows.append([expt, image, n_strong, n_spots, int(np.count_nonzero(ds < 4.0)), d_best, f"{total:.0f}"])
    return table(["expt", "image", "strong px", "spots", "spots d<4A", "d_min", "total I"], rows)
