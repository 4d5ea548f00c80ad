"""Output-file rules shared by the export, merge, split and combine commands."""

from __future__ import annotations

import json
import os

import numpy as np

from friedel.errors import FriedelError
from friedel.io import atomic_write, check_not_overwriting_input


def check_outputs(paths, inputs, overwrite: bool) -> None:
    """Refuse to write over an input, twice to one path, or over an existing file unless ``overwrite``."""
    seen = set()
    for p in paths:
        check_not_overwriting_input(p, inputs)
        real = os.path.realpath(p)
        if real in seen:
            raise FriedelError(f"two outputs would be written to {p}; give them different names")
        seen.add(real)
        if os.path.exists(p) and not overwrite:
            raise FriedelError(f"{p} exists; remove it, choose another name, or set overwrite=True")


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    return obj


def write_command_json(command: str, content: dict) -> str:
    """``friedel.<command>.json`` beside the log: the numbers of the command's tables."""
    path = f"friedel.{command}.json"
    with atomic_write(path, "w") as handle:
        json.dump(_plain(content), handle, indent=2)
    return path
