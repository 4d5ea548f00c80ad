"""Every extension point of friedel, in one place (pluggy hook specifications).

A plugin package registers a module under the entry-point group ``friedel``; that module (its
*hook module*, which must be cheap to import) implements any of these hooks with
``@friedel.hookspecs.hookimpl``. Each hook returns a list of plugin *classes*, or of
:class:`LazyPlugin` declarations whose class is imported only when it is chosen (this keeps
``friedel --help`` fast). A plugin class has:

* ``name`` — the value a user types to choose it (``indexing.method=fft1d``);
* a docstring — shown as help next to the choice;
* optionally ``Params`` — an attrs scope (see :mod:`friedel.phil`) whose parameters appear
  under the step's scope, named after the plugin (``indexing.fft3d.n_points``);
* the methods of its extension point's **contract** (named in each hook's docstring; the
  contracts live in :mod:`friedel.contracts` and are checked when a plugin registers).

Built-in plugins are registered through friedel's own entry points in exactly this way; a
third-party plugin can never replace a built-in one of the same name (see
:mod:`friedel.plugin_manager`). A hook marked "not yet called" has no consumer yet: its
interface may still change.
"""

import pluggy

hookspec = pluggy.HookspecMarker("friedel")
hookimpl = pluggy.HookimplMarker("friedel")


class LazyPlugin:
    """A plugin declared by name, imported only when chosen (or listed by ``friedel plugins``).

    ``LazyPlugin("fft1d", "friedel.plugins.indexing.fft1d:Fft1d", help="1D FFTs",
    params="friedel.plugins.indexing.params:Fft1dParams")``: ``target`` is ``"module:Class"``;
    ``help`` is the one line shown in lists (for commands: ``friedel --help``); ``params`` is
    ``"module:Class"`` of the plugin's ``Params`` scope in a cheap module, or None when it has
    none, so that parameter trees (``friedel index --help``) need not import the plugin; left
    out, the plugin is imported when its parameters are needed. The class is checked against
    its contract when it is imported; its ``name`` (and ``Params``) must equal the declared ones.
    """

    __slots__ = ("name", "target", "help", "params")

    def __init__(self, name: str, target: str, help: str = "", params=...):  # noqa: A002
        self.name, self.target, self.help, self.params = name, target, help, params

    def __repr__(self) -> str:
        return f"LazyPlugin({self.name!r}, {self.target!r})"

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
    "profile_models": "friedel_profile_models",
    "scaling_models": "friedel_scaling_models",
    "exporters": "friedel_exporters",
    "symmetry_methods": "friedel_symmetry_methods",
}


@hookspec
def friedel_commands():
    """Return command classes (subclasses of :class:`friedel.cli.command.Command`).

    Contract: :class:`friedel.contracts.commands.CommandPlugin`. Each class's ``name`` becomes
    ``friedel <name>``; declare commands with :class:`LazyPlugin` (``help=`` is the line of
    ``friedel --help``) so that only the chosen command's module is imported.
    """


@hookspec
def friedel_formats():
    """Return image format reader classes (subclasses of ``friedel.formats.base.Format``).

    Contract: :class:`friedel.contracts.formats.FormatReader`. Called when files are imported
    or images are opened. For each file the readers whose ``understand(path)`` is true are
    ranked by ``priority``; the most specific one reads it.
    """


@hookspec
def friedel_spotfinder_thresholds():
    """Return threshold algorithms for spot finding (``spotfinder.threshold.algorithm=``).

    Contract: :class:`friedel.contracts.spotfinding.Threshold` — ``Threshold(params)`` (or
    ``Threshold()`` without ``Params``), called per panel image as
    ``threshold(image, mask, trusted_range) -> bool array`` of strong pixels.
    """


@hookspec
def friedel_spotfinder_filters():
    """Return spot filters, each applied to the table of found spots after labelling.

    Contract: :class:`friedel.contracts.spotfinding.SpotFilter` — every registered filter runs;
    called as ``spot_filter(reflections, experiments, filter_params) -> bool array`` of spots
    to keep; its ``Params`` appear as ``spotfinder.filter.<name>.*``.
    """


@hookspec
def friedel_indexing_methods():
    """Return basis-vector searches for indexing (``indexing.method=``).

    Contract: :class:`friedel.contracts.indexing.IndexingMethod` —
    ``find_vectors(rlp [1/A, crystal frame at phi=0], max_cell [A], d_min [A], unit_cell=None)
    -> (vectors (m, 3) in A, scores (m,))``.
    """


@hookspec
def friedel_refinement_parameterisations():
    """Return model parameterisations for geometry refinement (``refinement.parameterisation.models=``).

    Contract: :class:`friedel.contracts.refinement.Parameterisation` — the classmethod
    ``build(experiments, refinement_params)`` gives one parameterisation per model of its kind,
    each with values, ``set_values`` and analytic ``derivatives``.
    """


@hookspec
def friedel_refinement_engines():
    """Return least-squares engines for refinement (``refinement.engine=``).

    Contract: :class:`friedel.contracts.refinement.Engine` — ``Engine(max_iterations=n)``,
    ``engine.run(problem) -> history``.
    """


@hookspec
def friedel_outlier_rejectors():
    """Return outlier rejection algorithms (``refinement.outlier.algorithm=mcd|tukey|...``).

    Contract: :class:`friedel.contracts.refinement.OutlierRejector` —
    ``rejector(residuals (n, k), variances=None) -> bool array`` of outliers.
    """


@hookspec
def friedel_background_algorithms():
    """Return background models for integration (``integration.background.algorithm=``).

    Contract: :class:`friedel.contracts.integration.BackgroundModel` — constructed once per
    experiment with ``experiment=`` and ``background_scope=`` (the ``integration.background`` scope);
    called on a window of shoeboxes (flat pixel arrays, DIALS mask codes) and fills the
    per-pixel background (counts per pixel) in place.
    """


@hookspec
def friedel_profile_models():
    """Return reflection profile models (``profile.algorithm=``).

    Contract: :class:`friedel.contracts.integration.ProfileModel` — constructed per experiment
    with ``experiment=``; estimates its widths from the strong indexed spots, gives each
    predicted reflection its bounding box, foreground radius, rocking width and partiality,
    and serialises itself into ``integrated.expt``.
    """


@hookspec
def friedel_scaling_models():
    """Return scaling models (``friedel scale model=``; built in: ``physical``, ``KB``).

    Contract: :class:`friedel.contracts.scaling.ScalingModel` — constructed once per data set
    as ``Model(params, experiment=..., data=ScalingModelData)`` (per-row d, rotation angle,
    s1, image), it gives the inverse scale factor g of every row and its Jacobian
    (``inverse_scales(p) -> (g, JacobianRows)``), optional restraint residuals, and its
    ``scaled.expt`` dictionary (``to_dict()``); the scaler refines all data sets jointly.
    """


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
