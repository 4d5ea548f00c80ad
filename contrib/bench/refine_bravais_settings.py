"""Throughput of friedel refine_bravais_settings on a simulated cubic (I 21 3) case
(22 candidate settings, each refined): python contrib/bench/refine_bravais_settings.py"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "plugins", "bravais"))
from simulated import simulated_indexed  # noqa: E402

from friedel.plugins.bravais.lattice_search import find_lattices  # noqa: E402
from friedel.plugins.bravais.settings import refine_bravais_settings  # noqa: E402

experiments, refl, _ = simulated_indexed("insulin", d_min=3.0, n_images=60)
t0 = time.perf_counter()
for _ in range(20):
    candidates = find_lattices(experiments[0].crystal.unit_cell, 5.0)
t1 = time.perf_counter()
print(f"lattice search: {len(candidates)} settings, {(t1 - t0) / 20 * 1000:.1f} ms per search")
t0 = time.perf_counter()
settings = refine_bravais_settings(experiments, refl, use_refinement=False)
t1 = time.perf_counter()
print(f"transform + correlations (no refinement): {len(refl)} spots x {len(settings)} settings in {t1 - t0:.2f} s")
t0 = time.perf_counter()
settings = refine_bravais_settings(experiments, refl)
t1 = time.perf_counter()
print(f"with refinement: {t1 - t0:.2f} s, {len(refl) * len(settings) / (t1 - t0):.0f} spot-settings/s")
