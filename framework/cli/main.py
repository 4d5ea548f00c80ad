"""``friedel <command> [files] [key=value ...]``: the one entry point of every command.

Arguments that contain ``=`` (and are not existing files) set parameters, ``.phil`` files
hold parameters in brace syntax, everything else is an input file. Options:
``-h/--help``, ``-c`` (show the configuration; ``-e N`` to expert level N, ``-a`` with
help), ``-i`` (read file names from standard input), ``-v`` (verbose), ``-q/--quiet`` (only
warnings and errors on the terminal; the log file is unchanged), ``--debug`` (tracebacks).
``friedel.<command>`` is an alias of ``friedel <command>``.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
import warnings

from friedel import __version__
from friedel import log as friedel_log
from friedel.errors import FriedelError
from friedel.plugin_manager import PluginWarning, plugin_entries

USAGE = "usage: friedel <command> [files] [parameter=value ...] [-c [-e N]] [-q] [--debug]"

#: True while a command given -q/--quiet runs: commands it runs in turn (process's steps) are quiet too
_quiet = False


def quiet() -> bool:
    """Whether the running command shows only warnings and errors on the terminal (-q)."""
    return _quiet


def _commands() -> dict:
    """Command entries by name; a command's module is imported only when it is run."""
    return {name: e for name, e in plugin_entries("commands").items() if e.error is None}


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginWarning):
        print(f"friedel: warning: {message}", file=sys.stderr)
    elif issubclass(category, RuntimeWarning):
        # numpy's "invalid value encountered in divide" (with a source path) reads like a crash to
        # users and says nothing they can act on: it goes to the command's log file only
        logging.getLogger("friedel").debug("%s:%s: %s: %s", filename, lineno, category.__name__, message)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _print_overview() -> None:
    print(f"friedel {__version__}: diffraction data processing\n{USAGE}\n\ncommands:")
    for name, entry in sorted(_commands().items()):
        print(f"  {name:<26} {entry.help}")
    print("\n`friedel <command> --help` describes a command and its main parameters.")


def _command_help(cls, tree: ParameterTree | None) -> str:
    parts = [f"friedel {cls.name}: {cls.help}"]
    if cls.usage:
        parts.append(f"\nusage: {cls.usage}")
    doc = (cls.__doc__ or "").strip()
    if doc:
        parts.append("\n" + doc)
    if tree is not None:
        parts.append("\nparameters (friedel {} -c -e 1 for more):\n".format(cls.name) + tree.format(with_help=True))
    return "\n".join(parts)


def _parse_arguments(args: list[str]):
    options = {"help": False, "config": False, "expert": 0, "attributes": False, "stdin": False,
               "verbose": 0, "debug": False, "quiet": False}
    files, assignments, phil_files = [], [], []
    it = iter(range(len(args)))
    skip = False
    for i in it:
        if skip:
            skip = False
            continue
        a = args[i]
        if a in ("-h", "--help"):
            options["help"] = True
        elif a in ("-c", "--show-config"):
            options["config"] = True
        elif a in ("-a", "--attributes"):
            options["attributes"] = True
        elif a in ("-e", "--expert-level"):
            if i + 1 >= len(args) or not args[i + 1].isdigit():
                raise FriedelError("-e needs an expert level number, e.g. -c -e 1")
            options["expert"] = int(args[i + 1])
            skip = True
        elif a.startswith("-e") and a[2:].isdigit():
            options["expert"] = int(a[2:])
        elif a == "-i":
            options["stdin"] = True
        elif a in ("-v", "--verbose"):
            options["verbose"] += 1
        elif a == "--debug":
            options["debug"] = True
        elif a in ("-q", "--quiet"):
            options["quiet"] = True
        elif a.startswith("-") and not os.path.exists(a):
            raise FriedelError(f"unknown option {a}; options are -h, -c, -e N, -a, -i, -v, -q, --debug")
        elif a.endswith(".phil") and os.path.isfile(a):
            phil_files.append(a)
        elif "=" in a and not os.path.exists(a):
            assignments.append(a)
        else:
            files.append(a)
    return options, files, assignments, phil_files


def _is_own_parameter(tree: ParameterTree, assignment: str) -> bool:
    try:
        tree.resolve(assignment.split("=", 1)[0])
        return True
    except FriedelError:
        return False


def run_command(name: str, args: list[str]) -> int:
    """Run one command with its arguments; returns the exit code."""
    commands = _commands()
    if name not in commands:
        import difflib

        close = difflib.get_close_matches(name, list(commands), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        print(f"friedel: unknown command '{name}'.{hint} Run `friedel --help` for the list.", file=sys.stderr)
        return 2
    global _quiet
    debug = "--debug" in args
    logger = None
    outer_quiet = _quiet
    try:
        from friedel.phil.tree import ParameterTree

        cls = commands[name].load()
        options, files, assignments, phil_files = _parse_arguments(args)
        tree = ParameterTree(cls.Params) if cls.Params is not None else None
        if options["help"]:
            print(_command_help(cls, tree))
            return 0
        if options["config"]:
            if tree is None:
                print(f"friedel {name} has no parameters")
            else:
                print(tree.format(expert_level=options["expert"], with_help=options["attributes"] or options["expert"] > 0))
            return 0
        parsed, passthrough = [], []
        if tree is not None:
            for f in phil_files:
                with open(f, encoding="utf-8") as handle:
                    parsed += tree.parse_phil(handle.read(), f)
            for a in assignments:
                # a command that hands other commands their parameters (process) keeps the
                # names it does not know itself, and checks them against those commands
                if getattr(cls, "passes_parameters_through", False) and not _is_own_parameter(tree, a):
                    passthrough.append(a)
                    continue
                parsed.append(tree.parse_assignment(a))
        elif assignments or phil_files:
            raise FriedelError(f"friedel {name} takes no parameters")
        if options["stdin"]:
            if not cls.accepts_stdin_files:
                raise FriedelError(f"friedel {name} does not read file names from standard input (-i)")
            files += [line.strip() for line in sys.stdin if line.strip()]
        params = tree.extract(parsed) if tree is not None else None
        logger = friedel_log.configure(name, options["verbose"], log_file=f"friedel.{name}.log")
        if outer_quiet or options["quiet"]:
            _quiet = True
            _quieten(logger)
        logger.debug("friedel %s %s", __version__, " ".join([name, *args]))
        if tree is not None:
            modified = tree.modified(params)
            if modified:
                logger.info("The following parameters have been modified:\n%s\n",
                            tree.format(params, expert_level=99, only=set(modified)))
            logger.debug("Effective parameters:\n%s\n", tree.format(params, expert_level=99))
        if tree is not None:  # an output that cannot be written is refused before the work, not after
            from friedel.cli.command import check_output_parameters

            check_output_parameters(tree, params)
        command = cls()
        if passthrough:
            command.passthrough = passthrough
        from friedel.io import committed_together

        with committed_together():  # a command's outputs appear together when it succeeds
            result = command.run(params, files)
        return int(result or 0)
    except FriedelError as exc:
        _report(name, f"error: {exc}", logger, debug)
        return 1
    except KeyboardInterrupt:
        _report(name, "interrupted; no partial output was written", logger, debug)
        return 130
    except Exception as exc:  # noqa: BLE001 - never show a bare traceback to a user
        _report(name, f"internal error: {type(exc).__name__}: {exc} "
                      "(run again with --debug for the traceback, and please report it)", logger, debug)
        return 2
    finally:
        if _quiet and not outer_quiet:
            import friedel.progress

            friedel.progress.enabled = True
        _quiet = outer_quiet
        friedel_log.close()


def _quieten(logger) -> None:
    """-q: the terminal shows warnings and errors only, no progress bars; the log file keeps everything."""
    import friedel.progress

    for handler in logger.handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)
    friedel.progress.enabled = False


def _report(name: str, message: str, logger, debug: bool) -> None:
    print(f"friedel {name}: {message}", file=sys.stderr)
    if debug:
        traceback.print_exc()
    if logger is not None:
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.stream.write(f"{message}\n{traceback.format_exc()}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``friedel`` and of the ``friedel.<command>`` aliases."""
    argv = list(sys.argv if argv is None else ["friedel", *argv])
    warnings.showwarning = _show_plugin_warning
    program = os.path.basename(argv[0])
    args = argv[1:]
    if program.startswith("friedel.") and len(program) > len("friedel."):
        return run_command(program[len("friedel."):], args)
    if not args or args[0] in ("-h", "--help", "help"):
        _print_overview()
        return 0
    if args[0] in ("--version", "-V", "version"):
        print(f"friedel {__version__}")
        return 0
    return run_command(args[0], args[1:])


def console_main() -> None:
    try:
        code = main()
    except KeyboardInterrupt:  # Ctrl-C before a command started (while importing): one line
        print("friedel: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
