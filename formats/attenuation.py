"""X-ray attenuation of detector sensor materials, for the parallax correction (Panel.mu).

Mass attenuation coefficients (total, with coherent scattering; cm^2/g) from the NIST
X-ray attenuation tables (Hubbell & Seltzer), interpolated log-log in energy.
"""
from __future__ import annotations

import numpy as np

HC_KEV_A = 12.398419843320026  # photon energy (keV) x wavelength (A)

# energy (keV), mu/rho (cm^2/g); the K edge appears twice
_SI = np.array([
    (1.0, 1570.0), (1.5, 535.5), (1.8389, 309.2), (1.8389, 3192.0), (2.0, 2777.0), (3.0, 978.4),
    (4.0, 452.9), (5.0, 245.0), (6.0, 147.0), (8.0, 64.68), (10.0, 33.89), (15.0, 10.34),
    (20.0, 4.464), (30.0, 1.436), (40.0, 0.7012), (50.0, 0.4385), (60.0, 0.3207), (80.0, 0.2228),
    (100.0, 0.1835), (150.0, 0.1448),
])
_DENSITY = {"Si": 2.33}
_TABLES = {"Si": _SI}


def attenuation_coefficient(material: str, wavelength: float) -> float:
    """Linear attenuation coefficient mu (1/mm) of ``material`` at ``wavelength`` (A); 0 if unknown."""
    table = _TABLES.get(material)
    if table is None or wavelength <= 0:
        return 0.0
    energy = HC_KEV_A / wavelength
    e, m = table[:, 0], table[:, 1]
    # above an absorption edge use the upper branch: search from the right
    i = int(np.clip(np.searchsorted(e, energy, side="right") - 1, 0, len(e) - 2))
    if e[i + 1] == e[i]:
        i += 1
    slope = np.log(m[i + 1] / m[i]) / np.log(e[i + 1] / e[i])
    mass_mu = m[i] * np.exp(slope * np.log(energy / e[i]))
    return float(mass_mu * _DENSITY[material] / 10.0)
