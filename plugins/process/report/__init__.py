"""HTML reports: one self-contained page (plots embedded, opens offline) for one or more steps.

>>> write_report(["03_index", "07_scale"], "report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os

from friedel.io import atomic_write
from friedel.plugins.process.report import figures
from friedel.plugins.process.report.html import Section, render_page

#: which plots a step folder gets, by the command that made it
BUILDERS = {
    "find_spots": [figures.spots],
    "index": [figures.reciprocal_lattice],
    "integrate": [figures.integration],
    "scale": [figures.scaling],
}


def command_of(folder: str) -> str | None:
    """The command whose output a folder holds (from its friedel.<command>.log/json)."""
    for pattern in ("friedel.*.log", "friedel.*.json"):
        for path in sorted(glob.glob(os.path.join(folder, pattern))):
            name = os.path.basename(path)[len("friedel."):].rsplit(".", 1)[0]
            if name not in ("process", "process_step"):
                return name
    return None


def build_sections(folders: list[str]) -> list[Section]:
    sections = []
    for folder in folders:
        command = command_of(folder) or os.path.basename(os.path.normpath(folder))
        section = Section(f"{os.path.basename(os.path.normpath(folder))}: {command}",
                          anchor=os.path.basename(os.path.normpath(folder)) or command)
        for builder in BUILDERS.get(command, []):
            builder(folder, section)
        figures.json_tables(folder, section)
        if section.items:
            sections.append(section)
    return sections


def write_report(folders: list[str], path: str, title: str = "friedel report") -> str:
    """Write the report of the step folders ``folders`` to ``path`` (atomically); returns ``path``."""
    sections = build_sections(folders)
    if not sections:
        raise ValueError("nothing to report: no friedel output files in " + ", ".join(folders))
    page = render_page(title, sections)
    with atomic_write(path, mode="w") as handle:
        handle.write(page)
    return path
