"""``friedel report FOLDERS_OR_FILES``: one offline HTML page with the plots of each step."""

from __future__ import annotations

import logging
import os

from friedel.cli.command import Command
from friedel.errors import FriedelError
from friedel.phil import param, scope, types

log = logging.getLogger("friedel")


@scope
class ReportParams:
    """Where the report goes."""

    output: str = param("friedel_report.html", type=types.Path(), help="The HTML file written")
    title: str = param("friedel report", help="Title of the page")


class ReportCommand(Command):
    """Make one self-contained HTML page (plots embedded; opens without a network) from step
    folders (as friedel process writes them) or from a step's files: spots per image, the
    reciprocal lattice in 3D, integration I/sigma and background per image and resolution,
    scale factors, merging statistics against resolution, Wilson and normal probability plots,
    and every table of the steps' friedel.<command>.json files."""

    name = "report"
    help = "One offline HTML page with the plots of processing steps"
    usage = "friedel report 05_integrate 07_scale [output=report.html]   (or: friedel report scaled.expt scaled.refl)"
    Params = ReportParams

    def run(self, params, files):
        from friedel.plugins.process.report import write_report

        folders = []
        for f in files or ["."]:
            if not os.path.exists(f):
                raise FriedelError(f"{f} does not exist: give step folders or files written by friedel")
            folder = f if os.path.isdir(f) else os.path.dirname(os.path.abspath(f))
            if folder not in folders:
                folders.append(folder)
        if os.path.isdir(params.output):
            raise FriedelError(f"output={params.output} is a directory; give a file name ending in .html")
        try:
            path = write_report(folders, params.output, title=params.title)
        except ValueError as exc:
            raise FriedelError(str(exc)) from None
        log.info("Report written to %s", os.path.abspath(path))
