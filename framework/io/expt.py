"""Read and write DIALS experiment-list files (``.expt``, JSON)."""

from __future__ import annotations

import json
import os

from friedel.errors import FileFormatError
from friedel.io.atomic import atomic_write
from friedel.models.experiment import ExperimentList


def read_experiments(path: str, resolve_paths: bool = True) -> ExperimentList:
    """Load models from an ``.expt`` file without opening any image.

    With ``resolve_paths``, relative image paths are made absolute against the file's folder.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise FileFormatError(f"experiment file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{path} is not a valid .expt (JSON) file: {exc}") from None
    try:
        experiments = ExperimentList.from_dict(data)
        if resolve_paths:
            base = os.path.dirname(os.path.abspath(path))
            for imageset in experiments.imagesets:
                imageset.resolve_relative_to(base)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        # a damaged or hand-edited file: a model missing, or a value of the wrong kind
        raise FileFormatError(f"{path} is not a DIALS experiment list (damaged or incomplete: {exc!r})") from None
    from friedel.io.validate import check_models

    check_models(experiments, path)
    return experiments


def experiments_to_json(experiments: ExperimentList) -> str:
    return json.dumps(experiments.to_dict(), indent=2)


def write_experiments(experiments: ExperimentList, path: str) -> None:
    """Write ``experiments`` to ``path`` atomically (dxtbx layout, 2-space indented JSON)."""
    text = experiments_to_json(experiments)
    with atomic_write(path, "w") as handle:
        handle.write(text)
