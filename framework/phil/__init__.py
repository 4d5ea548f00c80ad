"""A PHIL-like hierarchical parameter system on attrs.

Declaring parameters::

    from friedel.phil import scope, param, plugin_choice, types

    @scope
    class Fft3dParams:
        \"\"\"3D FFT basis-vector search.\"\"\"
        n_points: int = param(256, help="Grid points along each axis", expert_level=1)
        d_min: float | None = param(None, help="Resolution limit of the FFT (Angstrom)")

    @scope
    class IndexingParams:
        method: str = plugin_choice("indexing_methods", default="fft3d", help="Basis-vector search")
        unit_cell: tuple | None = param(None, type=types.UnitCell(), help="Known cell")

Each field carries help text, an expert level, a value type (from the annotation or
``type=``) and allowed choices. ``plugin_choice`` fills its choices from the plugin
registry, and each registered plugin with a ``Params`` scope appears beside the choice
under its own name (``indexing.fft3d.n_points``). A nested scope is a field whose
default is another scope class: ``threshold: ThresholdParams = param(ThresholdParams)``.

Parsing command lines, ``.phil`` files, showing and diffing is in
:class:`friedel.phil.tree.ParameterTree`.

Plugins that are all used rather than chosen (spot filters) get their scopes beside the
parameters of a scope declared with ``@scope(plugins=("spotfinder_filters",))``. A scope that
holds a choice (or ``plugins=``) reserves its field names: a plugin with ``Params`` whose name
is one of them is refused by the registry (see :func:`reserved_names`).
"""

from __future__ import annotations

import attrs

from friedel.phil import types

__all__ = ["param", "plugin_choice", "plugin_choices", "scope", "types", "ParamInfo", "is_scope", "reserved_names"]

#: extension point -> scope classes that hold its plugins' scopes (their field names are reserved)
_PLUGIN_SCOPES: dict[str, list[type]] = {}


@attrs.define(frozen=True)
class ParamInfo:
    help: str = ""
    expert_level: int = 0
    value_type: types.ValueType | None = None
    optional: bool | None = None
    plugin_point: str | None = None  # set for plugin_choice fields
    multiple: bool = False


def scope(cls=None, *, plugins: tuple = (), **kwargs):
    """Make a class a parameter scope (an attrs class; instances accept extra plugin scopes).

    ``plugins`` names extension points whose every plugin's ``Params`` appear in this scope
    under the plugin's name (for plugins that all run, such as spot filters); plugins that are
    chosen get their scopes beside their :func:`plugin_choice` automatically.
    """

    def wrap(c):
        c = attrs.define(c, kw_only=True, slots=False, **kwargs)
        c.__friedel_scope__ = True
        c.__friedel_plugin_points__ = tuple(plugins)
        points = set(plugins)
        for field in attrs.fields(c):
            info = field.metadata.get("friedel")
            if info is not None and info.plugin_point:
                points.add(info.plugin_point)
        for point in points:
            _PLUGIN_SCOPES.setdefault(point, []).append(c)
        return c

    return wrap if cls is None else wrap(cls)


def reserved_names(point: str) -> dict[str, str]:
    """Names a plugin of ``point`` with ``Params`` cannot take: field name -> the scope holding it.

    These are the parameters and sub-scopes of every scope (defined so far) that holds the
    point's plugin scopes; a plugin scope of the same name would have nowhere to go.
    """
    out = {}
    for c in _PLUGIN_SCOPES.get(point, ()):
        for field in attrs.fields(c):
            out.setdefault(field.name, c.__name__)
    return out


def is_scope(obj) -> bool:
    return getattr(obj, "__friedel_scope__", False) is True


def param(default=None, *, help: str = "", type: types.ValueType | None = None,  # noqa: A002
          choices=None, expert_level: int = 0, optional: bool | None = None, multiple: bool = False):
    """Declare one parameter (or a nested scope, when ``default`` is a scope class)."""
    if choices is not None and type is None:
        type = types.Choice(choices)
    info = ParamInfo(help=help, expert_level=expert_level, value_type=type, optional=optional, multiple=multiple)
    if is_scope(default):
        return attrs.field(factory=default, metadata={"friedel": info})
    if isinstance(default, (list, dict, set)):
        value = default
        return attrs.field(factory=lambda: value.copy(), metadata={"friedel": info})
    return attrs.field(default=default, metadata={"friedel": info})



def plugin_choice(point: str, default: str, *, help: str = "", expert_level: int = 0):
    """Declare a choice among the plugins of one extension point (``indexing.method=``)."""
    info = ParamInfo(
        help=help,
        expert_level=expert_level,
        value_type=types.Choice(lambda: sorted(_names(point))),
        optional=False,
        plugin_point=point,
    )
    return attrs.field(default=default, metadata={"friedel": info})


def plugin_choices(point: str, default, *, help: str = "", expert_level: int = 0):
    """Declare a choice of *several* plugins of one point (``models=beam,detector``), in order."""
    info = ParamInfo(
        help=help,
        expert_level=expert_level,
        value_type=types.Choices(lambda: _names(point)),
        optional=False,
        plugin_point=point,
    )
    value = list(default)
    return attrs.field(factory=lambda: list(value), metadata={"friedel": info})


def _names(point: str) -> list[str]:
    from friedel.plugin_manager import plugin_names

    return plugin_names(point)
