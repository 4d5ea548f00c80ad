"""Discovery of plugins through the ``friedel`` entry-point group, and the registry of choices.

>>> from friedel.plugin_manager import registry
>>> sorted(registry("commands"))[:2]  # doctest: +SKIP
['demo', 'find_spots']
"""

from __future__ import annotations

import difflib
import functools
import logging
import warnings
from importlib import metadata

import pluggy

from friedel import hookspecs
from friedel.errors import ParameterError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "friedel"


class PluginInfo:
    """Where one registered entry point came from, and whether it loaded."""

    def __init__(self, name: str, value: str, distribution: str, version: str, error: str | None = None):
        self.name, self.value, self.distribution, self.version, self.error = name, value, distribution, version, error
        self.provides: dict[str, list[str]] = {}


_broken: list[PluginInfo] = []
_sources: list[PluginInfo] = []


@functools.lru_cache(maxsize=None)
def get_plugin_manager() -> pluggy.PluginManager:
    """Load every entry point of the ``friedel`` group once; broken ones are reported, not fatal."""
    pm = pluggy.PluginManager("friedel")
    pm.add_hookspecs(hookspecs)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        info = PluginInfo(ep.name, ep.value, dist.metadata["Name"] if dist else "?", dist.version if dist else "?")
        try:
            module = ep.load()
            pm.register(module, name=f"{info.distribution}:{ep.name}")
            for point, hook_name in hookspecs.EXTENSION_POINTS.items():
                impl = getattr(module, hook_name, None)
                if impl is not None:
                    info.provides[point] = [getattr(c, "name", c.__name__) for c in impl()]
        except Exception as exc:  # a third-party plugin must not take the program down
            info.error = f"{type(exc).__name__}: {exc}"
            _broken.append(info)
            warnings.warn(
                f"plugin '{ep.name}' from {info.distribution} could not be loaded ({info.error}); it is ignored",
                stacklevel=2,
            )
            continue
        _sources.append(info)
    return pm


def plugin_sources() -> tuple[list[PluginInfo], list[PluginInfo]]:
    """(loaded entry points, broken entry points)."""
    get_plugin_manager()
    return list(_sources), list(_broken)


@functools.lru_cache(maxsize=None)
def registry(point: str) -> dict[str, type]:
    """All plugin classes of one extension point, by name (first registration of a name wins)."""
    if point not in hookspecs.EXTENSION_POINTS:
        raise KeyError(f"unknown extension point {point!r}")
    hook = getattr(get_plugin_manager().hook, hookspecs.EXTENSION_POINTS[point])
    out: dict[str, type] = {}
    # pluggy calls the most recently registered first; reverse so built-ins come first
    for result in reversed(hook()):
        for cls in result or []:
            out.setdefault(getattr(cls, "name", cls.__name__), cls)
    return out


def get_plugin(point: str, name: str) -> type:
    """The plugin called ``name``; an unknown name is an error that lists the choices."""
    plugins = registry(point)
    if name in plugins:
        return plugins[name]
    close = difflib.get_close_matches(name, plugins, n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise ParameterError(f"'{name}' is not one of the available {point.replace('_', ' ')}: {', '.join(sorted(plugins))}.{hint}")



def build_plugin(point: str, name: str, scope=None, **kwargs):
    """Construct the plugin ``name`` of extension point ``point`` — the one way every step does it.

    ``scope`` is the parameter scope that holds the step's choice (e.g. ``params.indexing``);
    a plugin with a ``Params`` class receives its own sub-scope (``scope.<name>``, or a default
    ``Params()`` when the scope has none) as the first argument. ``kwargs`` are the
    step-specific construction arguments the extension point's contract documents
    (see :mod:`friedel.contracts`).
    """
    cls = get_plugin(point, name)
    plugin_params = getattr(cls, "Params", None)
    if plugin_params is None:
        return cls(**kwargs)
    own = getattr(scope, name, None) if scope is not None else None
    if own is None or not isinstance(own, plugin_params):
        own = plugin_params()
    return cls(own, **kwargs)
