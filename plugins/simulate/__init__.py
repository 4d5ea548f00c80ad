"""``friedel simulate``: realistic rotation sweeps with known truth.

The simulator builds true models (beam, detector, goniometer, scan, one or more crystals),
predicts every reflection with :func:`friedel.prediction.predict_rotation`, draws true
intensities from Wilson statistics, spreads each reflection over the images it crosses
(partiality from mosaicity and beam divergence), applies Lorentz, polarization, scale drift
and radiation damage, renders the spots into the pixels, adds background and Poisson noise,
and writes miniCBF and/or NXmx (Eiger HDF5) images together with the truth.
"""
