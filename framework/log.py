"""Logging set-up for commands: terminal (messages only) and ``friedel.<command>.log``."""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "friedel"


def configure(command: str, verbose: int = 0, log_file: str | None = None) -> logging.Logger:
    """Send INFO to stdout and everything to the command's log file; returns the logger."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    terminal = logging.StreamHandler(sys.stdout)
    terminal.setLevel(logging.DEBUG if verbose else logging.INFO)
    terminal.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(terminal)
    if log_file:
        to_file = logging.FileHandler(log_file, mode="w", encoding="utf-8")
        to_file.setLevel(logging.DEBUG)
        to_file.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(to_file)
    return logger


def close() -> None:
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
