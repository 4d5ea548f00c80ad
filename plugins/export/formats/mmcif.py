"""``format=mmcif``: unmerged reflections as mmCIF (``_diffrn_refln``), through gemmi's MTZ->CIF."""

from __future__ import annotations

import logging

from friedel.contracts.export import Exporter, UnmergedData
from friedel.io import atomic_write
from friedel.phil import param, scope, types

log = logging.getLogger("friedel")


@scope
class MmcifExportParams:
    """Unmerged mmCIF output."""

    hklout: str | None = param(None, type=types.Path(), optional=True,
                               help="Output file (default scaled.cif for scaled data, else integrated.cif)")


class MmcifExporter(Exporter):
    """Unmerged mmCIF (PDB deposition of unmerged data): the unmerged MTZ converted by gemmi."""

    name = "mmcif"
    Params = MmcifExportParams


    def outputs(self, data: UnmergedData) -> list[str]:
        if self.params.hklout:
            return [self.params.hklout]
        return ["scaled.cif" if data.intensity_kind == "scale" else "integrated.cif"]

    def write(self, data: UnmergedData) -> list[str]:
        import gemmi

        from friedel.plugins.export.unmerged_mtz import build_unmerged_mtz

        mtz = build_unmerged_mtz(data)
        converter = gemmi.MtzToCif()
        text = converter.write_cif_to_string(mtz)
        path = self.outputs(data)[0]
        with atomic_write(path, "w") as handle:
            handle.write(text)
        log.info(f"Saved {mtz.nreflections} reflections to {path} (mmCIF)")
        return [path]
