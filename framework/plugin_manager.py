"""Discovery of plugins through the ``friedel`` entry-point group, the registry of choices, and
the one function that builds a chosen plugin.

>>> from friedel.plugin_manager import plugin_entries, build_plugin
>>> sorted(plugin_entries("indexing_methods"))  # doctest: +SKIP
['fft1d', 'fft3d', 'real_space_grid_search']
>>> method = build_plugin("indexing_methods", params.indexing.method, params.indexing)  # doctest: +SKIP

How a plugin gets into the registry
-----------------------------------
1. Every entry point of the group ``friedel`` is loaded (its *hook module*, which must be cheap
   to import). A hook module that fails to import is listed by ``friedel plugins`` as BROKEN,
   with the error, and ignored.
2. The first time an extension point is used, its hook is called in every hook module (built-in
   ones first). A hook returns plugin classes, or :class:`friedel.hookspecs.LazyPlugin`
   declarations (name, ``"module:Class"``, help) whose class is imported only when chosen.
3. Each plugin is checked (:func:`friedel.contracts.check_plugin`): a name, the methods of the
   point's contract with the right arity, ``Params`` a :func:`friedel.phil.scope`. Classes are
   checked at registration, declared plugins when their class is first imported.

What the registry refuses (each refusal is a one-line warning and a line of ``friedel plugins``;
friedel keeps working without the refused plugin):

* a plugin that does not fit its contract, or whose class cannot be imported;
* a name that is already taken: **a built-in plugin is never replaced** — the third-party plugin
  of the same name is ignored (between two third-party packages the first in alphabetical order
  of distribution name is kept), whatever the installation order;
* a plugin with ``Params`` whose name is the name of a parameter or scope beside its choice
  (``indexing.refine``): its parameters would have nowhere to go.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
import warnings
from importlib import metadata

import pluggy

from friedel import hookspecs
from friedel.errors import FriedelError, ParameterError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "friedel"
#: plugins from this distribution are the built-ins: they cannot be shadowed
BUILTIN_DISTRIBUTION = "friedel"


class PluginWarning(UserWarning):
    """A plugin was refused or could not be loaded (friedel carries on without it)."""


class PluginError(FriedelError):
    """The chosen plugin cannot be used (it could not be imported or does not fit its contract)."""


class PluginInfo:
    """Where one registered entry point came from, and whether it loaded."""

    def __init__(self, name: str, value: str, distribution: str, version: str, error: str | None = None):
        self.name, self.value, self.distribution, self.version, self.error = name, value, distribution, version, error
        self.provides: dict[str, list[str]] = {}

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def label(self) -> str:
        return f"{self.distribution} {self.version} ({self.name} = {self.value})"


class PluginEntry:
    """One plugin of one extension point: its name, where it came from, and its class (loaded lazily)."""

    def __init__(self, point: str, name: str, source: PluginInfo, cls: type | None = None,
                 target: str | None = None, help: str = "", params=...):  # noqa: A002
        self.point, self.name, self.source, self.target = point, name, source, target
        self._cls = cls
        self._params = params if cls is None else getattr(cls, "Params", None)  # ...: not declared
        self.help = help or (_first_line(cls.__doc__) if cls is not None else "")
        self.error: str | None = None

    def params_class(self):
        """The plugin's ``Params`` scope (None without); imports only the declared params module."""
        if self.error is not None:
            raise PluginError(self.error)
        if self._params is ...:
            return getattr(self.load(), "Params", None)
        if isinstance(self._params, str):
            from friedel.phil import is_scope

            try:
                params = _import(self._params)
            except Exception as exc:
                self._fail(f"declares params={self._params}, which cannot be imported ({type(exc).__name__}: {exc})")
            if not is_scope(params):
                self._fail(f"declares params={self._params}, which is not a parameter scope (friedel.phil.scope)")
            self._params = params
        return self._params

    @property
    def builtin(self) -> bool:
        return self.source.builtin

    @property
    def loaded(self) -> bool:
        return self._cls is not None

    def load(self) -> type:
        """The plugin class (imported on first use, then checked against its contract)."""
        if self._cls is not None:
            return self._cls
        if self.error is not None:
            raise PluginError(self.error)
        try:
            cls = _import(self.target)
        except Exception as exc:  # a third-party module may fail in any way
            self._fail(f"cannot be imported from {self.target} ({type(exc).__name__}: {exc})")
        if getattr(cls, "name", None) != self.name:
            self._fail(f"is declared as '{self.name}' but {self.target} is named {getattr(cls, 'name', None)!r}")
        if self._params is not ... and self.params_class() is not getattr(cls, "Params", None):
            self._fail(f"declares params={self._params!r} but its class has Params={getattr(cls, 'Params', None)!r}")
        problems = _problems(self.point, cls)
        if problems:
            self._fail("; ".join(problems))
        self._cls = cls
        if not self.help:
            self.help = _first_line(cls.__doc__)
        return cls

    def _fail(self, what: str):
        self.error = f"{self.point} plugin '{self.name}' from {self.source.distribution} {what}"
        _refuse(self.point, self.name, self.source, what)
        raise PluginError(self.error)


class Refusal:
    """A plugin the registry did not accept, and why."""

    def __init__(self, point: str, name: str, source: PluginInfo, reason: str):
        self.point, self.name, self.source, self.reason = point, name, source, reason

    def __str__(self) -> str:
        return f"{self.point} plugin '{self.name}' from {self.source.distribution} is ignored: {self.reason}"


_broken: list[PluginInfo] = []
_sources: dict[str, PluginInfo] = {}  # pluggy plugin name -> where it came from
_refusals: dict[tuple, Refusal] = {}


def _import(target: str):
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n")[0]


def _refuse(point: str, name: str, source: PluginInfo, reason: str) -> None:
    key = (point, name, source.distribution, source.name)
    if key in _refusals:
        return
    _refusals[key] = refusal = Refusal(point, name, source, reason)
    warnings.warn(PluginWarning(str(refusal)), stacklevel=3)


@functools.lru_cache(maxsize=None)
def get_plugin_manager() -> pluggy.PluginManager:
    """Load every entry point of the ``friedel`` group once; broken ones are reported, not fatal."""
    pm = pluggy.PluginManager("friedel")
    pm.add_hookspecs(hookspecs)
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    # built-ins first, then third-party packages in a fixed order (not the installation order)
    dist_of = {id(ep): (getattr(ep, "dist", None)) for ep in eps}
    eps.sort(key=lambda ep: (_dist_name(dist_of[id(ep)]) != BUILTIN_DISTRIBUTION, _dist_name(dist_of[id(ep)]), ep.name))
    seen = set()
    for ep in eps:
        dist = dist_of[id(ep)]
        info = PluginInfo(ep.name, ep.value, _dist_name(dist), dist.version if dist else "?")
        key = (info.distribution, ep.name)
        if key in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(key)
        try:
            module = ep.load()
            pm.register(module, name=f"{info.distribution}:{ep.name}")
        except Exception as exc:  # a third-party plugin must not take the program down
            info.error = f"{type(exc).__name__}: {exc}"
            _broken.append(info)
            warnings.warn(PluginWarning(
                f"plugin entry point '{ep.name}' from {info.distribution} could not be loaded ({info.error}); "
                "it is ignored"), stacklevel=2)
            continue
        _sources[f"{info.distribution}:{ep.name}"] = info
    return pm


def _dist_name(dist) -> str:
    return dist.metadata["Name"] if dist is not None else "?"


def _source_of(impl) -> PluginInfo:
    info = _sources.get(impl.plugin_name)
    if info is None:  # registered directly with pm.register (tests, embedding applications)
        label = getattr(impl.plugin, "__name__", None) or type(impl.plugin).__name__
        info = PluginInfo(impl.plugin_name, label, label, "")
        _sources[impl.plugin_name] = info
    return info


def plugin_sources() -> tuple[list[PluginInfo], list[PluginInfo]]:
    """(loaded entry points, broken entry points)."""
    get_plugin_manager()
    return [i for i in _sources.values() if i.value], list(_broken)


def refusals() -> list[Refusal]:
    """Every plugin refused so far (by the points used so far; ``friedel plugins`` uses them all)."""
    return list(_refusals.values())


@functools.lru_cache(maxsize=None)
def plugin_entries(point: str) -> dict[str, PluginEntry]:
    """The accepted plugins of one extension point, by name, built-ins first; classes not imported."""
    if point not in hookspecs.EXTENSION_POINTS:
        raise KeyError(f"unknown extension point {point!r}")
    hook = getattr(get_plugin_manager().hook, hookspecs.EXTENSION_POINTS[point])
    impls = [(i, _source_of(i)) for i in hook.get_hookimpls()]
    impls.sort(key=lambda t: not t[1].builtin)  # stable: registration order within each group
    out: dict[str, PluginEntry] = {}
    for impl, source in impls:
        try:
            items = list(impl.function() or [])
        except Exception as exc:
            _refuse(point, f"<{impl.function.__name__}>", source, f"the hook raised {type(exc).__name__}: {exc}")
            continue
        for item in items:
            entry = _entry(point, item, source)
            if entry is None:
                continue
            taken = out.get(entry.name)
            if taken is not None:
                owner = "friedel's built-in plugin" if taken.builtin else f"the plugin from {taken.source.distribution}"
                _refuse(point, entry.name, source, f"the name is already taken by {owner}, which is kept; "
                        "rename the plugin")
                continue
            out[entry.name] = entry
            source.provides.setdefault(point, []).append(entry.name)
    return out


def _entry(point: str, item, source: PluginInfo) -> PluginEntry | None:
    if isinstance(item, hookspecs.LazyPlugin):
        if not _valid_name(item.name):
            _refuse(point, str(item.name), source, "a plugin name must be a lower-case identifier")
            return None
        return PluginEntry(point, item.name, source, target=item.target, help=item.help, params=item.params)
    name = getattr(item, "name", None)
    label = name if isinstance(name, str) and name else getattr(item, "__name__", repr(item))
    problems = _problems(point, item)
    if problems:
        _refuse(point, label, source, "; ".join(problems))
        return None
    return PluginEntry(point, name, source, cls=item)


def _valid_name(name) -> bool:
    return isinstance(name, str) and name.isidentifier()


def _problems(point: str, cls) -> list[str]:
    from friedel.contracts import check_plugin

    return check_plugin(point, cls)


def _reserved_collision(entry: PluginEntry, params) -> str | None:
    """Why a plugin's name cannot hold its parameters (a parameter of that name is beside its choice)."""
    if params is None:
        return None  # a plugin without parameters has no scope to lose
    from friedel.phil import reserved_names

    clash = reserved_names(entry.point).get(entry.name)
    if clash is None:
        return None
    return (f"its name is the name of the parameter '{entry.name}' of {clash} (the scope of its choice), so its "
            f"own parameters ({entry.name}.*) would have nowhere to go; rename the plugin")


def _usable(entry: PluginEntry) -> type:
    usable_params(entry)
    return entry.load()


def usable_params(entry: PluginEntry):
    """The entry's ``Params`` (None without) after the name-collision check; raises PluginError."""
    params = entry.params_class()
    why = _reserved_collision(entry, params)
    if why is not None:
        entry._fail(why)
    return params


def plugin_params_classes(point: str) -> dict:
    """name -> ``Params`` scope of every usable plugin of ``point`` that has one (for parameter
    trees); imports only declared params modules, or the plugin where none is declared."""
    out = {}
    for name, entry in plugin_entries(point).items():
        try:
            params = usable_params(entry)
        except PluginError:
            continue
        if params is not None:
            out[name] = params
    return out


def registry(point: str) -> dict[str, type]:
    """All usable plugin classes of one extension point, by name (imports every one of them).

    Prefer :func:`plugin_entries` (names and help without importing) or :func:`get_plugin`.
    """
    out = {}
    for name, entry in plugin_entries(point).items():
        try:
            out[name] = _usable(entry)
        except PluginError:
            continue
    return out


def plugin_names(point: str) -> list[str]:
    """Names of the accepted plugins of a point (no class is imported), built-ins first."""
    return [n for n, e in plugin_entries(point).items() if e.error is None]


def reset(entry_points: bool = False) -> None:
    """Forget every registry (tests, or after registering plugins by hand with ``pm.register``).

    ``entry_points=True`` also forgets the loaded entry points, so that distributions added to
    ``sys.path`` since are discovered on next use.
    """
    plugin_entries.cache_clear()
    _refusals.clear()
    if entry_points:
        get_plugin_manager.cache_clear()
        _sources.clear()
        _broken.clear()


registry.cache_clear = reset  # older callers clear the registry this way


def get_plugin(point: str, name: str) -> type:
    """The plugin class called ``name``; an unknown name is an error that lists the choices."""
    entries = plugin_entries(point)
    if name in entries:
        return _usable(entries[name])
    known = plugin_names(point)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    refused = [r for r in _refusals.values() if r.point == point and r.name == name]
    if refused:
        hint += f" (A plugin of that name was refused: {refused[0].reason}.)"
    raise ParameterError(f"'{name}' is not one of the available {point.replace('_', ' ')}: "
                         f"{', '.join(sorted(known))}.{hint}")


def plugin_params(point: str, cls: type, name: str, scope=None):
    """The parameters a plugin is built with: its own scope ``scope.<name>`` (or defaults).

    A plugin may share the scope of another plugin of the same point by naming it in
    ``params_from`` (``dispersion_extended`` reads ``spotfinder.threshold.dispersion.*``).
    Returns None for a plugin without parameters.
    """
    scope_name = getattr(cls, "params_from", None) or name
    params_cls = getattr(cls, "Params", None)
    if params_cls is None and scope_name != name:
        params_cls = getattr(get_plugin(point, scope_name), "Params", None)
    if params_cls is None:
        return None
    own = getattr(scope, scope_name, None) if scope is not None else None
    if own is None:  # a scope built in code, not from a parameter tree: the plugin's defaults
        return params_cls()
    if not isinstance(own, params_cls):
        raise PluginError(f"{scope_name} in the given scope is a {type(own).__name__}, not the plugin's "
                          f"{params_cls.__name__}; pass the scope that holds the choice")
    return own


def build_plugin(point: str, name: str, scope=None, **kwargs):
    """Construct the plugin ``name`` of extension point ``point`` — the one way every step does it.

    Parameters
    ----------
    point : str
        The extension point (a key of :data:`friedel.hookspecs.EXTENSION_POINTS`).
    name : str
        The chosen plugin (usually the value of the step's ``plugin_choice``).
    scope : attrs scope, optional
        The parameter scope that holds the choice (e.g. ``params.indexing``). A plugin with a
        ``Params`` class receives its own sub-scope ``scope.<name>`` (defaults when the scope
        has none) as the first argument.
    **kwargs
        The step-specific construction arguments the point's contract documents
        (:mod:`friedel.contracts`), e.g. ``max_iterations=`` for refinement engines.

    Raises
    ------
    ParameterError
        ``name`` is not a registered plugin (the message lists the choices).
    PluginError
        The plugin cannot be imported or does not fit its contract.
    """
    cls = get_plugin(point, name)
    params = plugin_params(point, cls, name, scope)
    from friedel.contracts import construct, contract_for

    return construct(contract_for(point), cls, params, **kwargs)
