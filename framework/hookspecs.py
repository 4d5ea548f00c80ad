"""Every extension point of friedel, in one place (pluggy hook specifications).

A plugin package registers a module under the entry-point group ``friedel``; that module
implements any of these hooks with ``@friedel.hookimpl``. Each hook returns a list of
plugin *classes*. A plugin class has:

* ``name`` — the value a user types to choose it (``indexing.method=fft1d``);
* a docstring — shown as help next to the choice;
* optionally ``Params`` — an attrs scope (see :mod:`friedel.phil`) whose parameters appear
  under the step's scope, named after the plugin (``indexing.fft3d.reciprocal_space_grid.n_points``);
* optionally ``priority`` (formats only) — higher wins when several readers understand a file.

Built-in plugins are registered through friedel's own entry points in exactly this way.
"""

import pluggy

hookspec = pluggy.HookspecMarker("friedel")
hookimpl = pluggy.HookimplMarker("friedel")

#: extension point name -> hook name; the registry is keyed by the former.
EXTENSION_POINTS = {
    "commands": "friedel_commands",
    "formats": "friedel_formats",
    "spotfinder_thresholds": "friedel_spotfinder_thresholds",
    "spotfinder_filters": "friedel_spotfinder_filters",
    "indexing_methods": "friedel_indexing_methods",
    "refinement_parameterisations": "friedel_refinement_parameterisations",
    "refinement_engines": "friedel_refinement_engines",
    "outlier_rejectors": "friedel_outlier_rejectors",
    "background_algorithms": "friedel_background_algorithms",
    "centroid_algorithms": "friedel_centroid_algorithms",
    "intensity_algorithms": "friedel_intensity_algorithms",
    "profile_models": "friedel_profile_models",
    "scaling_models": "friedel_scaling_models",
    "exporters": "friedel_exporters",
    "symmetry_methods": "friedel_symmetry_methods",
}


@hookspec
def friedel_commands():
    """Return command classes (subclasses of :class:`friedel.cli.command.Command`).

    Called once when the CLI starts. Each class's ``name`` becomes ``friedel <name>``.
    """


@hookspec
def friedel_formats():
    """Return image format reader classes (subclasses of ``friedel.formats.base.Format``).

    Called when files are imported or images are opened. For each file the readers whose
    ``understand(path)`` is true are ranked by ``priority``; the most specific one reads it.
    """


@hookspec
def friedel_spotfinder_thresholds():
    """Return threshold algorithms for spot finding (``spotfinder.threshold.algorithm=``).

    Each class is constructed with its ``Params`` and called per image with
    ``(image, mask) -> boolean array of strong pixels``.
    """


@hookspec
def friedel_spotfinder_filters():
    """Return spot filters, each applied to the table of found spots after labelling.

    A filter is called with ``(reflections, experiments, params)`` and returns a boolean
    array of spots to keep; its ``name`` is used in the "removed by" summary.
    """


@hookspec
def friedel_indexing_methods():
    """Return basis-vector searches for indexing (``indexing.method=``).

    Called with reciprocal-space points and returns candidate real-space basis vectors.
    """


@hookspec
def friedel_refinement_parameterisations():
    """Return model parameterisations for geometry refinement (beam, crystal, detector...).

    Each provides parameter values and analytic derivatives of predicted (X, Y, phi).
    """


@hookspec
def friedel_refinement_engines():
    """Return least-squares engines for refinement (``refinement.engine=``)."""


@hookspec
def friedel_outlier_rejectors():
    """Return outlier rejection algorithms (``outlier.algorithm=mcd|tukey|...``).

    Called with a residual table; returns a boolean array of outliers.
    """


@hookspec
def friedel_background_algorithms():
    """Return background models for integration (``integration.background.algorithm=``)."""


@hookspec
def friedel_centroid_algorithms():
    """Return centroid algorithms used on shoeboxes (``integration.centroid.algorithm=``)."""


@hookspec
def friedel_intensity_algorithms():
    """Return intensity algorithms (summation, profile fitting) for integration."""


@hookspec
def friedel_profile_models():
    """Return reflection profile models (``profile.algorithm=``)."""


@hookspec
def friedel_scaling_models():
    """Return scaling models (``scaling.model=``)."""


@hookspec
def friedel_exporters():
    """Return exporters: output formats of ``friedel export`` (``format=mtz|shelx|mmcif|...``).

    Contract: :class:`friedel.contracts.export.Exporter` — ``Exporter(params)`` with the
    plugin's own ``<name>.*`` scope (e.g. ``mtz.hklout``); ``exporter.outputs(data) -> paths``
    names the files (the command refuses existing ones unless ``overwrite=True``) and
    ``exporter.write(data) -> paths`` writes them atomically. ``data`` is a
    :class:`friedel.contracts.export.UnmergedData`: observed hkl, unique batch numbers, corrected
    I/SIGI and the other MTZ columns, chosen and numbered once by the command for every format.
    """


@hookspec
def friedel_symmetry_methods():
    """Return Laue-group / consistent-indexing methods (``symmetry.method=``, ``cosym``).

    Contract: :class:`friedel.contracts.symmetry.SymmetryMethod` — called with merged data
    sets and the lattice group, returns a ``SymmetryResult``.
    """
