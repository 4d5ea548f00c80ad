"""The written interface of every extension point (one module per step).

Each extension point named in :data:`friedel.hookspecs.EXTENSION_POINTS` has a contract: an
abstract base class in ``friedel.contracts.<step>`` that states the construction signature,
the call signature with units and frames, the return type and the invariants. A plugin class
may subclass it (the base classes remove the repeated skeleton) or simply match it.

:data:`CONTRACTS` maps the extension point to ``"module:Class"`` of its contract, imported only
when a plugin of that point is checked or built, so that start-up stays fast.

How a contract is read (by :func:`check_plugin` at registration and by
:func:`friedel.plugin_manager.build_plugin`):

* **construction** — the contract's ``__init__``: a plugin with a ``Params`` scope gets its
  parameters as the first positional argument, a plugin without ``Params`` gets none; the
  keyword-only arguments of the contract's ``__init__`` are the step-specific construction
  arguments, always passed by keyword. A contract may override this with a classmethod
  ``construct(plugin, params, **kwargs)`` (and ``construction_problems(plugin)``).
* **calls** — every abstract method of the contract: the plugin must accept each way the
  contract's signature can be called (all positional arguments up to the optional ones, and
  the keyword-only ones by keyword).
* ``subclass_of`` (``"module:Class"``) — plugins must subclass this (formats, commands).
"""

from __future__ import annotations

import importlib
import inspect

#: extension point -> "module:Class" of its contract (added by each step as it is built)
CONTRACTS: dict[str, str] = {
    "symmetry_methods": "friedel.contracts.symmetry:SymmetryMethod",
    "background_algorithms": "friedel.contracts.integration:BackgroundModel",
    "profile_models": "friedel.contracts.integration:ProfileModel",
    "commands": "friedel.contracts.commands:CommandPlugin",
    "formats": "friedel.contracts.formats:FormatReader",
    "spotfinder_thresholds": "friedel.contracts.spotfinding:Threshold",
    "spotfinder_filters": "friedel.contracts.spotfinding:SpotFilter",
    "indexing_methods": "friedel.contracts.indexing:IndexingMethod",
    "refinement_parameterisations": "friedel.contracts.refinement:Parameterisation",
    "refinement_engines": "friedel.contracts.refinement:Engine",
    "outlier_rejectors": "friedel.contracts.refinement:OutlierRejector",
    "exporters": "friedel.contracts.export:Exporter",
    "scaling_models": "friedel.contracts.scaling:ScalingModel",
}


class PluginBase:
    """Optional base of plugins with parameters: stores ``self.params`` (defaults when None).

    Removes the skeleton every plugin repeated::

        def __init__(self, params=None):
            self.params = params or MyParams()
    """

    name: str = ""
    Params = None

    def __init__(self, params=None):
        if params is None and self.Params is not None:
            params = self.Params()
        self.params = params


def _load(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def contract_for(point: str) -> type | None:
    """The contract class of an extension point (None for a point without a written contract)."""
    target = CONTRACTS.get(point)
    return _load(target) if target else None


def check_plugin(point: str, plugin) -> list[str]:
    """What is wrong with ``plugin`` as a plugin of ``point`` (empty: it fits its contract)."""
    from friedel.phil import is_scope

    if not isinstance(plugin, type):
        return [f"{plugin!r} is not a class (a hook returns plugin classes or LazyPlugin declarations)"]
    problems = []
    name = plugin.__dict__.get("name", getattr(plugin, "name", None))
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(f"class {plugin.__module__}.{plugin.__qualname__} has no usable `name` "
                        f"(got {name!r}; it must be an identifier such as 'my_method')")
    params = getattr(plugin, "Params", None)
    if params is not None and not is_scope(params):
        problems.append(f"its Params ({params!r}) is not a parameter scope (decorate it with friedel.phil.scope)")
    contract = contract_for(point)
    if contract is None:
        return problems
    base = getattr(contract, "subclass_of", None)
    base_cls = _load(base) if base else None
    if base_cls is not None and not issubclass(plugin, base_cls):
        problems.append(f"it must subclass {base.replace(':', '.')}")
    for method in sorted(getattr(contract, "__abstractmethods__", ())):
        owner = next((c for c in plugin.__mro__ if method in c.__dict__), None)
        if base_cls is not None and owner is not None and owner in base_cls.__mro__:
            problems.append(f"it does not implement {method} (the base class {base_cls.__name__} only declares it)")
            continue
        problems += _method_problems(contract, plugin, method)
    custom = getattr(contract, "construction_problems", None)
    problems += custom(plugin) if custom is not None else _construction_problems(contract, plugin)
    return problems


def construct(contract, plugin, params, **kwargs):
    """Build ``plugin`` as its contract says (see the module docstring)."""
    custom = getattr(contract, "construct", None) if contract is not None else None
    if custom is not None:
        return custom(plugin, params, **kwargs)
    return plugin(params, **kwargs) if params is not None else plugin(**kwargs)


# -- signature checks ---------------------------------------------------------------------------
def _callable_signature(cls, name):
    """(signature without self/cls, how it is bound) of ``cls.name``; None if not a method."""
    static = inspect.getattr_static(cls, name, None)
    attr = getattr(cls, name, None)
    if attr is None or not callable(attr):
        return None
    try:
        sig = inspect.signature(attr)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if not isinstance(static, (staticmethod, classmethod)) and params and inspect.isfunction(attr):
        params = params[1:]  # an instance method looked up on the class: drop self
    return sig.replace(parameters=params)


def _call_shapes(sig):
    """Every (n positional, keyword names) the contract's signature can be called with."""
    positional = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    keywords = [p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY]
    return [(n, keywords) for n in range(len(required), len(positional) + 1)]


def _method_problems(contract, plugin, method) -> list[str]:
    expected = _callable_signature(contract, method)
    attr = getattr(plugin, method, None)
    if attr is None or getattr(attr, "__isabstractmethod__", False):
        return [f"it has no method {method}{expected} (required by {contract.__name__})"]
    actual = _callable_signature(plugin, method)
    if actual is None or expected is None:
        return []
    for n, keywords in _call_shapes(expected):
        try:
            actual.bind(*range(n), **{k: None for k in keywords})
        except TypeError:
            return [f"{method}{actual} cannot be called as {method}{expected} ({contract.__name__}'s signature)"]
    return []


def _construction_problems(contract, plugin) -> list[str]:
    init = contract.__dict__.get("__init__") or next(
        (c.__dict__["__init__"] for c in contract.__mro__ if "__init__" in c.__dict__ and c is not object), None)
    keywords = []
    if init is not None:
        sig = inspect.signature(init)
        keywords = [p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY]
    has_params = getattr(plugin, "Params", None) is not None
    try:
        sig = inspect.signature(plugin)
    except (TypeError, ValueError):
        return []
    args = ["params"] if has_params else []
    try:
        sig.bind(*args, **{k: None for k in keywords})
    except TypeError as exc:
        shown = ", ".join([*args, *(f"{k}=..." for k in keywords)])
        return [f"it cannot be constructed as {plugin.__name__}({shown}) ({exc}); a plugin "
                + ("with Params receives them as its first argument" if has_params else "without Params gets none")]
    return []
