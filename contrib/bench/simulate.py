"""Benchmark ``friedel simulate``: images per second for a preset (default: thaumatin,
100 images of a PILATUS 6M).

    python contrib/bench/simulate.py [preset] [nproc] [format]

Prints wall time, CPU seconds per image (summed over worker processes) and throughput.
On a machine shared with other work the wall time is longer than CPU / nproc.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time

from friedel.plugins.simulate.params import make_params
from friedel.plugins.simulate.sweep import simulate


def main() -> None:
    preset = sys.argv[1] if len(sys.argv) > 1 else "thaumatin"
    nproc = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    fmt = sys.argv[3] if len(sys.argv) > 3 else "cbf"
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as directory:
        params = make_params(preset, **{"output.directory": directory, "mp.nproc": nproc, "output.format": fmt})
        t0 = time.perf_counter()
        summary = simulate(params)
        wall = time.perf_counter() - t0
    n = summary["n_images"]
    print(f"simulate preset={preset} format={fmt} nproc={nproc}: {n} images, {summary['n_reflections']} reflections")
    print(f"  wall {wall:.1f} s ({n / wall:.2f} images/s); model {summary['seconds_model']:.1f} s; "
          f"rendering {summary['seconds_render']:.1f} s wall, {summary['cpu_seconds_render'] / n:.3f} CPU s/image "
          f"(ideal on {nproc} free cores: {summary['cpu_seconds_render'] / nproc + summary['seconds_model']:.1f} s)")


if __name__ == "__main__":
    main()
