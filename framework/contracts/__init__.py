"""The written interface of every extension point (one module per step).

Each extension point named in :data:`friedel.hookspecs.EXTENSION_POINTS` has a contract: an
abstract base class in ``friedel.contracts.<step>`` that states the construction signature,
the call signature with units and frames, the return type and the invariants. A plugin class
may subclass it (the base classes remove the repeated skeleton) or simply match it.

:data:`CONTRACTS` maps the extension point to ``"module:Class"`` of its contract, imported only
when a plugin of that point is checked or built, so that start-up stays fast.
"""

from __future__ import annotations

#: extension point -> "module:Class" of its contract (added by each step as it is built)
CONTRACTS: dict[str, str] = {
    "symmetry_methods": "friedel.contracts.symmetry:SymmetryMethod",
    "exporters": "friedel.contracts.export:Exporter",
}
