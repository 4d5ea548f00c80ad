"""Entry-point module of the export plugins (registered in pyproject.toml).

Hook implementations are added here as the step's commands and plugins land.
"""

from friedel.hookspecs import hookimpl  # noqa: F401
