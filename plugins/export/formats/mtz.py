"""``format=mtz``: the unmerged MTZ (one file, or one per experiment)."""

from __future__ import annotations

import logging
import os

from friedel.contracts.export import Exporter, UnmergedData
from friedel.phil import param, scope, types

log = logging.getLogger("friedel")


@scope
class MtzExportParams:
    """Unmerged MTZ output."""

    hklout: str | None = param(None, type=types.Path(), optional=True,
                               help="Output file (default scaled_unmerged.mtz for scaled data, else integrated.mtz)")
    per_experiment: bool = param(False, help="One MTZ per experiment (name_0.mtz, name_1.mtz, ...) instead of one "
                                             "file; batch numbers stay unique across the files")


class MtzExporter(Exporter):
    """Unmerged MTZ in CCP4 conventions (H K L in the ASU with M/ISYM, unique BATCH numbers,
    batch headers for every image), read by pointless, aimless, careless and reciprocalspaceship."""

    name = "mtz"
    Params = MtzExportParams


    def _base(self, data: UnmergedData) -> str:
        if self.params.hklout:
            return self.params.hklout
        return "scaled_unmerged.mtz" if data.intensity_kind == "scale" else "integrated.mtz"

    def _groups(self, data: UnmergedData):
        if not self.params.per_experiment:
            return [(self._base(data), None)]
        stem, ext = os.path.splitext(self._base(data))
        present = sorted({int(i) for i in data.experiment})
        return [(f"{stem}_{i}{ext or '.mtz'}", [i]) for i in present]

    def outputs(self, data: UnmergedData) -> list[str]:
        return [path for path, _ in self._groups(data)]

    def write(self, data: UnmergedData) -> list[str]:
        from friedel.plugins.export.mtz_file import write_mtz
        from friedel.plugins.export.unmerged_mtz import build_unmerged_mtz

        written = []
        for path, rows in self._groups(data):
            mtz = build_unmerged_mtz(data, rows)
            write_mtz(mtz, path)
            log.info(f"Saved {mtz.nreflections} reflections and {len(mtz.batches)} batches to {path}")
            written.append(path)
        return written
