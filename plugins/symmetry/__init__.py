"""Symmetry determination: ``friedel symmetry`` (Laue group by Evans-style scoring, space group
from screw-axis absences) and ``friedel cosym`` (consistent indexing of many data sets).

Modules: data (intensity choice, corrections, P1 merging, E^2), resolution (d_min from the
data), lattice (lattice group, subgroups and their settings), scoring (operator and subgroup
likelihoods), absences (screw axes -> space group), clustering (cells), cosym/ (matrix,
embedding, analysis), methods (the plugins), prepare/runs (the procedures), output, report,
params, commands.
"""
