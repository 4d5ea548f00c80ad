"""``friedel plugins``: what is installed, from which distribution, and what was refused or failed."""

from __future__ import annotations

import logging

from friedel.cli.command import Command
from friedel.contracts import CONTRACTS
from friedel.hookspecs import EXTENSION_POINTS
from friedel.plugin_manager import PluginError, plugin_entries, plugin_sources, refusals

log = logging.getLogger("friedel")


class PluginsCommand(Command):
    """List every extension point with its plugins, and the entry points that provide them.

    Every plugin class is imported and checked against its contract here (elsewhere only the
    chosen ones are), so the list of refused plugins at the end is complete: plugins that do
    not fit their contract, cannot be imported, take a built-in's name (the built-in is kept)
    or a name of a parameter beside their choice.
    """

    name = "plugins"
    help = "List installed plugins by extension point and distribution"
    usage = "friedel plugins"

    def run(self, params, files):
        from friedel.plugin_manager import registry

        loaded, broken = plugin_sources()
        for point in EXTENSION_POINTS:
            entries = plugin_entries(point)
            usable = registry(point)  # imports and checks every plugin of the point
            if not entries:
                continue
            contract = CONTRACTS.get(point, "").replace(":", ".")
            log.info("%s:%s", point, f"  (contract {contract})" if contract else "")
            for name, entry in entries.items():
                if name not in usable:
                    continue
                try:
                    doc = (entry.load().__doc__ or "").strip().split("\n")[0]
                except PluginError:  # pragma: no cover - registry() already left it out
                    continue
                log.info("  %-26s %-60s [%s]", name, doc[:60], entry.source.label)
        log.info("\nentry points (group 'friedel'):")
        for info in loaded:
            log.info("  %-22s %s  from %s %s", info.name, info.value, info.distribution, info.version)
        for info in broken:
            log.info("  %-22s %s  from %s %s  BROKEN: %s", info.name, info.value, info.distribution, info.version,
                     info.error)
        refused = refusals()
        if refused:
            log.info("\nrefused plugins (friedel works without them):")
            for r in refused:
                log.info("  %s", r)
