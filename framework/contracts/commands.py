"""Contract of the ``commands`` extension point: ``friedel <name>``.

Construction: ``Command()`` (no arguments; the CLI builds the parameters from ``Params``).

Call: ``command.run(params, files) -> int | None`` with ``params`` an instance of the command's
``Params`` scope (or None when it has none), filled from defaults, ``.phil`` files and
``name=value`` arguments, and ``files`` the remaining command-line arguments (strings, in
order). Return None or 0 for success; raise :class:`friedel.errors.FriedelError` for bad input
(the CLI prints it on one line and exits non-zero). Class attributes: ``name``, ``help`` (one
line for ``friedel --help``), ``usage``, ``Params``, ``accepts_stdin_files``.
"""

from __future__ import annotations

import abc


class CommandPlugin(abc.ABC):
    """A ``friedel`` command: a subclass of :class:`friedel.cli.command.Command`."""

    subclass_of = "friedel.cli.command:Command"

    @abc.abstractmethod
    def run(self, params, files):
        """Run the command; ``files`` is a list of str."""

    @staticmethod
    def construction_problems(plugin) -> list[str]:
        # Params of a command is the master scope of its parameter tree, not a constructor argument
        return []

    @staticmethod
    def construct(plugin, params, **kwargs):
        return plugin()
