"""``friedel plugins``: what is installed, from which distribution, and what failed to load."""

from __future__ import annotations

import logging

from friedel.cli.command import Command
from friedel.hookspecs import EXTENSION_POINTS
from friedel.plugin_manager import plugin_sources, registry

log = logging.getLogger("friedel")


class PluginsCommand(Command):
    """List every extension point with its plugins, and the entry points that provide them."""

    name = "plugins"
    help = "List installed plugins by extension point and distribution"
    usage = "friedel plugins"

    def run(self, params, files):
        loaded, broken = plugin_sources()
        origin = {}
        for info in loaded:
            for point, names in info.provides.items():
                for n in names:
                    origin.setdefault((point, n), f"{info.distribution} {info.version} ({info.name} = {info.value})")
        for point in EXTENSION_POINTS:
            plugins = registry(point)
            if not plugins:
                continue
            log.info("%s:", point)
            for name, cls in sorted(plugins.items()):
                doc = (cls.__doc__ or "").strip().split("\n")[0]
                log.info("  %-26s %-60s [%s]", name, doc[:60], origin.get((point, name), "?"))
        log.info("\nentry points (group 'friedel'):")
        for info in loaded:
            log.info("  %-22s %s  from %s %s", info.name, info.value, info.distribution, info.version)
        for info in broken:
            log.info("  %-22s %s  from %s %s  BROKEN: %s", info.name, info.value, info.distribution, info.version,
                     info.error)
