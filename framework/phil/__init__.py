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
"""

from __future__ import annotations

import attrs

from friedel.phil import types

__all__ = ["param", "plugin_choice", "scope", "types", "ParamInfo", "is_scope"]


@attrs.define(frozen=True)
class ParamInfo:
    help: str = ""
    expert_level: int = 0
    value_type: types.ValueType | None = None
    optional: bool | None = None
    plugin_point: str | None = None  # set for plugin_choice fields
    multiple: bool = False


def scope(cls=None, **kwargs):
    """Make a class a parameter scope (an attrs class; instances accept extra plugin scopes)."""

    def wrap(c):
        c = attrs.define(c, kw_only=True, slots=False, **kwargs)
        c.__friedel_scope__ = True
        return c

    return wrap if cls is None else wrap(cls)


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
    from friedel.plugin_manager import registry

    info = ParamInfo(
        help=help,
        expert_level=expert_level,
        value_type=types.Choice(lambda: sorted(registry(point))),
        optional=False,
        plugin_point=point,
    )
    return attrs.field(default=default, metadata={"friedel": info})
