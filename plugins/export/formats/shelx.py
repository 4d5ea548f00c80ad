"""``format=shelx``: SHELX HKLF 4 (h k l I sigma, unmerged, observed indices) for small molecules."""

from __future__ import annotations

import logging

import numpy as np

from friedel.contracts.export import Exporter, UnmergedData
from friedel.io import atomic_write
from friedel.phil import param, scope, types

log = logging.getLogger("friedel")

#: an F8.2 field holds at most 99999.99: intensities are scaled to stay below this
F8_MAX = 99999.0


@scope
class ShelxExportParams:
    """SHELX HKLF 4 output."""

    hklout: str = param("friedel.hkl", type=types.Path(), help="Output .hkl file")
    scale: float | None = param(None, optional=True,
                                help="Multiply I and sigma by this (default: the largest |I| becomes 99999 "
                                     "if it would not fit the F8.2 fields, else 1)")


def hklf4_text(hkl: np.ndarray, intensity: np.ndarray, sigma: np.ndarray) -> str:
    """Lines ``(3I4, 2F8.2)`` and the terminating ``0 0 0`` record."""
    rows = [f"{h:4d}{k:4d}{l:4d}{i:8.2f}{s:8.2f}" for (h, k, l), i, s in zip(hkl.tolist(), intensity, sigma)]
    rows.append(f"{0:4d}{0:4d}{0:4d}{0.0:8.2f}{0.0:8.2f}")
    return "\n".join(rows) + "\n"


class ShelxExporter(Exporter):
    """SHELX HKLF 4: unmerged h k l (as indexed), I, sigma(I), scaled to fit the fixed format."""

    name = "shelx"
    Params = ShelxExportParams


    def outputs(self, data: UnmergedData) -> list[str]:
        return [self.params.hklout]

    def write(self, data: UnmergedData) -> list[str]:
        i = data.columns["I"]
        s = data.columns["SIGI"]
        if np.any(np.abs(data.hkl) > 999):
            raise ValueError("Miller indices beyond 999 do not fit the HKLF 4 format")
        scale = self.params.scale
        if scale is None:
            biggest = float(np.max(np.abs(i))) if len(i) else 0.0
            scale = F8_MAX / biggest if biggest > F8_MAX else 1.0
        i, s = i * scale, np.maximum(s * scale, 0.01)  # a printed sigma of 0.00 means "unknown"
        path = self.params.hklout
        with atomic_write(path, "w") as handle:
            handle.write(hklf4_text(data.hkl, i, s))
        log.info(f"Saved {len(i)} reflections to {path} (HKLF 4, intensities x {scale:.6g})")
        return [path]
